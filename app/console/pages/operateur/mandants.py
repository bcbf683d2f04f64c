"""The operator's principals page: principals (SIREN), the mandates they give call centres."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from app.console.pages.operateur.common import HOME, api_fr, router, see_other
from app.console.sessions import Viewer
from app.console.web import Operator, checked_form, field, render
from app.db import session_scope
from app.errors import ApiError
from app.principals import service as principals
from app.tenancy import service as tenancy


def _principals() -> dict[str, Any]:
    with session_scope() as s:
        rows = []
        for p in principals.list_principals(s, None):
            rows.append({"id": p.id, "name": p.name, "siren": p.siren, "own": p.tenant_id,
                         "created_at": p.created_at,
                         "mandates": [{"tenant": m.tenant_id, "tenant_name": name,
                                       "created_at": m.created_at}
                                      for m, name in principals.list_mandates(s, p.id)]})
        return {"principals": rows,
                "tenants": [{"id": t.id, "name": t.name} for t in tenancy.list_tenants(s)]}


def _principals_page(request: Request, viewer: Viewer, *, status: int = 200,
                     **context: Any) -> HTMLResponse:
    return render(request, "operateur/mandants.html", viewer, status=status, **_principals(),
                  **context)


@router.get("/operateur/mandants", response_class=HTMLResponse)
async def principals_page(request: Request, viewer: Operator) -> HTMLResponse:
    return await run_in_threadpool(_principals_page, request, viewer)


async def _principal_action(request: Request, viewer: Viewer, act: Any,
                            values: dict[str, str] | None = None) -> Response:
    try:
        await run_in_threadpool(act)
    except ApiError as exc:
        return await run_in_threadpool(_principals_page, request, viewer,
                                       status=409 if exc.status == 409 else 422,
                                       error=api_fr(exc), values=values or {})
    return see_other(f"{HOME}/mandants")


@router.post("/operateur/mandants", response_class=HTMLResponse)
async def create_principal(request: Request, viewer: Operator) -> Response:
    form = await checked_form(request, viewer)
    name, siren = field(form, "nom"), (field(form, "siren") or "").replace(" ", "")
    values = {"nom": name or "", "siren": siren}
    error = None
    if name is None:
        error = "Saisissez le nom du mandant."
    elif len(name) > 200:
        error = "Le nom compte au plus 200 caractères."
    elif not principals.siren_valid(siren):
        error = "Le SIREN doit compter 9 chiffres avec une clé de contrôle valide."
    if error:
        return await run_in_threadpool(_principals_page, request, viewer, status=422,
                                       error=error, values=values)

    def act() -> None:
        with session_scope(write=True) as s:
            principals.create_principal(s, name or "", siren)

    return await _principal_action(request, viewer, act, values)


@router.post("/operateur/mandants/{principal_id}/mandats", response_class=HTMLResponse)
async def grant_mandate(request: Request, principal_id: str, viewer: Operator) -> Response:
    form = await checked_form(request, viewer)
    tenant_id = field(form, "centre")
    if tenant_id is None:
        return await run_in_threadpool(_principals_page, request, viewer, status=422,
                                       error="Choisissez le centre d'appels mandaté.")

    def act() -> None:
        with session_scope(write=True) as s:
            principals.grant_mandate(s, principal_id, tenant_id)

    return await _principal_action(request, viewer, act)


@router.post("/operateur/mandants/{principal_id}/mandats/{tenant_id}/retirer",
             response_class=HTMLResponse)
async def revoke_mandate(request: Request, principal_id: str, tenant_id: str,
                         viewer: Operator) -> Response:
    await checked_form(request, viewer)

    def act() -> None:
        with session_scope(write=True) as s:
            principals.revoke_mandate(s, principal_id, tenant_id)

    return await _principal_action(request, viewer, act)
