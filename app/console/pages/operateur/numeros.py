"""The operator's caller-ID verification page: numbers waiting for verification, verified."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from app.campaigns import service as campaigns
from app.console.pages.operateur.common import HOME, api_fr, router, see_other
from app.console.sessions import Viewer
from app.console.web import Operator, checked_form, render
from app.db import session_scope
from app.errors import ApiError

#: ``rules_fr.model.NumberKind`` in French (the ARCEP numbering plan's terms)
NUMBER_KINDS = {"canvassing": "polyvalent vérifié (démarchage)", "geographic": "géographique",
                "platform": "plateforme technique (09 37–09 39)",
                "non_geographic": "non géographique", "mobile": "mobile",
                "toll_free": "libre appel (08 0x)", "shared_cost": "coût partagé (08 1x, 08 2x)",
                "premium_rate": "surtaxé (08 9x)", "short_code": "numéro court",
                "satellite": "satellite", "foreign": "étranger", "other": "autre",
                "invalid": "invalide"}


def _caller_ids() -> list[dict[str, Any]]:
    with session_scope() as s:
        return [{"number": c.number, "kind": c.kind, "tenant_id": c.tenant_id,
                 "tenant_name": name, "assigned_to": c.assigned_to,
                 "created_at": c.created_at, "verified_at": c.verified_at}
                for c, name in campaigns.list_all_caller_ids(s, None)]


def _numbers_page(request: Request, viewer: Viewer, *, status: int = 200,
                  error: str | None = None) -> HTMLResponse:
    rows = _caller_ids()
    return render(request, "operateur/numeros.html", viewer, status=status, error=error,
                  required=campaigns.verification_required(), kinds=NUMBER_KINDS,
                  waiting=[r for r in rows if r["verified_at"] is None],
                  verified=[r for r in rows if r["verified_at"] is not None])


@router.get("/operateur/numeros-presentes", response_class=HTMLResponse)
async def numbers(request: Request, viewer: Operator) -> HTMLResponse:
    return await run_in_threadpool(_numbers_page, request, viewer)


async def _verify(request: Request, viewer: Viewer, number: str, verified: bool) -> Response:
    await checked_form(request, viewer)

    def act() -> None:
        with session_scope(write=True) as s:
            campaigns.set_verified(s, number, verified)

    try:
        await run_in_threadpool(act)
    except ApiError as exc:
        return await run_in_threadpool(_numbers_page, request, viewer,
                                       status=404 if exc.status == 404 else 422,
                                       error=api_fr(exc))
    return see_other(f"{HOME}/numeros-presentes")


@router.post("/operateur/numeros-presentes/{number}/verifier", response_class=HTMLResponse)
async def verify_number(request: Request, number: str, viewer: Operator) -> Response:
    return await _verify(request, viewer, number, True)


@router.post("/operateur/numeros-presentes/{number}/retirer", response_class=HTMLResponse)
async def withdraw_number(request: Request, number: str, viewer: Operator) -> Response:
    return await _verify(request, viewer, number, False)
