"""The operator's own keys page: its keys, a new key's secret shown once, revocation."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from app.console.pages import apikeys
from app.console.pages.operateur.common import HOME, api_fr, key_form_error, router, see_other
from app.console.sessions import Viewer
from app.console.web import PREFIX, Operator, checked_form, field, render
from app.db import session_scope
from app.errors import ApiError
from app.tenancy import service as tenancy


def _operator_keys() -> list[dict[str, Any]]:
    with session_scope() as s:
        return [{"id": k.id, "label": k.label, "prefix": k.prefix, "created_at": k.created_at,
                 "last_used_at": k.last_used_at, "revoked_at": k.revoked_at}
                for k in tenancy.list_keys(s, None)]


def _keys_page(request: Request, viewer: Viewer, *, status: int = 200,
               **context: Any) -> HTMLResponse:
    return render(request, "operateur/cles.html", viewer, status=status, keys=_operator_keys(),
                  current=viewer.principal.key_id, **context)


@router.get("/operateur/cles", response_class=HTMLResponse)
async def keys(request: Request, viewer: Operator) -> HTMLResponse:
    return await run_in_threadpool(_keys_page, request, viewer)


@router.post("/operateur/cles", response_class=HTMLResponse)
async def create_operator_key(request: Request, viewer: Operator) -> Response:
    """A new operator key: its secret shown once, on the answer to this POST."""
    form = await checked_form(request, viewer)
    label = field(form, "libelle")
    error = key_form_error("operator", label, {"operator": "Opérateur"})
    if error:
        return await run_in_threadpool(_keys_page, request, viewer, status=422, error=error)

    created = await run_in_threadpool(apikeys.create, "operator", None, label)
    return await run_in_threadpool(_keys_page, request, viewer, new_key=created)


@router.post("/operateur/cles/{key_id}/revoquer", response_class=HTMLResponse)
async def revoke_operator_key(request: Request, key_id: str, viewer: Operator) -> Response:
    """Revoke one of the operator's keys (``DELETE /v1/keys/{id}`` on the operator's own). The
    session's own key only when the form confirms it: the session ends with it."""
    form = await checked_form(request, viewer)
    own = key_id == viewer.principal.key_id
    if own and field(form, "confirmer") != "oui":
        return await run_in_threadpool(
            _keys_page, request, viewer, status=422,
            error="C'est la clé de votre session : la révoquer vous déconnecte. Cochez la "
                  "confirmation pour la révoquer quand même.")

    try:
        await run_in_threadpool(apikeys.revoke, key_id, None)
    except ApiError as exc:
        return await run_in_threadpool(_keys_page, request, viewer, status=404,
                                       error=api_fr(exc))
    if own:
        return see_other(f"{PREFIX}/connexion?fin=1")
    return see_other(f"{HOME}/cles")
