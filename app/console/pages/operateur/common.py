"""What the operator's pages share: their router, the home path, a service's refusal said in
French, the 303 to a page, a key form's check."""

from __future__ import annotations

import re

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from app.console.web import PREFIX
from app.errors import ApiError

#: the operator's pages all register here (``app.console.pages.operateur`` imports them)
router = APIRouter(prefix=PREFIX, include_in_schema=False)

HOME = f"{PREFIX}/operateur"


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def api_fr(exc: ApiError) -> str:
    """An ApiError of a service (English, for API clients) said in French for the page."""
    detail = str(exc.detail)
    known = (
        (r"no tenant holds the caller ID", "Aucun centre d'appels ne détient ce numéro."),
        (r"no tenant", "Ce centre d'appels n'existe pas."),
        (r"no key", "Cette clé n'existe pas."),
        (r"no principal", "Ce mandant n'existe pas."),
        (r"is not a SIREN", "Le SIREN doit compter 9 chiffres avec une clé de contrôle "
                            "valide."),
        (r"a principal with SIREN .* exists", "Un mandant porte déjà ce SIREN."),
        (r"already holds a mandate", "Ce centre d'appels détient déjà ce mandat."),
        (r"own principal", "Le mandant propre d'un centre d'appels ne se retire pas."),
        (r"campaign", "Des campagnes de ce centre d'appels nomment ce mandant : modifiez-les "
                      "d'abord."),
    )
    for pattern, french in known:
        if re.search(pattern, detail):
            return french
    return f"Refusé ({exc.status}) : {detail}"


def key_form_error(role: str, label: str | None, roles: dict[str, str]) -> str | None:
    if role not in roles:
        return f"Choisissez le rôle de la clé : {', '.join(roles.values()).lower()}."
    if label is not None and (len(label) > 100 or re.search(r"[\x00-\x1f\x7f]", label)):
        return "Le libellé compte au plus 100 caractères, sans caractère de contrôle."
    return None
