"""The admin's API keys page: the tenant's keys, a new key's secret shown once, revocation."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.console.pages import apikeys
from app.console.pages.admin.common import refusal, router, see, tenant_of
from app.console.sessions import Viewer
from app.console.web import PREFIX, Admin, checked_form, field, render
from app.db import session_scope
from app.errors import ApiError
from app.tenancy import service as tenancy
from app.tenancy.schemas import KeyIn


async def _keys_page(request: Request, viewer: Viewer, *, status: int = 200,
                     error: str | None = None, created: dict[str, Any] | None = None
                     ) -> HTMLResponse:
    def load() -> list[dict[str, Any]]:
        with session_scope() as s:
            return [{"id": k.id, "role": k.role, "label": k.label, "prefix": k.prefix,
                     "created_at": k.created_at, "last_used_at": k.last_used_at,
                     "revoked_at": k.revoked_at, "mine": k.id == viewer.principal.key_id}
                    for k in tenancy.list_keys(s, tenant_of(viewer))]

    return render(request, "admin/cles.html", viewer, status=status,
                  keys=await run_in_threadpool(load), error=error, created=created,
                  revoked=request.query_params.get("revoquee"))


@router.get("/cles", response_class=HTMLResponse)
async def keys_page(request: Request, viewer: Admin) -> HTMLResponse:
    return await _keys_page(request, viewer)


@router.post("/cles", response_class=HTMLResponse)
async def create_key(request: Request, viewer: Admin) -> Response:
    """A new key of the tenant, its secret in this answer only (never stored, never in a
    URL): the page is rendered here, not redirected to."""
    form = await checked_form(request, viewer)
    data = {"role": field(form, "role"), "label": field(form, "label")}

    def create() -> dict[str, Any]:
        body = KeyIn.model_validate(data)
        return apikeys.create(body.role, tenant_of(viewer), body.label)

    try:
        created = await run_in_threadpool(create)
    except (ValidationError, ApiError) as exc:
        status, message = refusal(exc)
        return await _keys_page(request, viewer, status=status, error=message)
    return await _keys_page(request, viewer, status=201, created=created)


@router.post("/cles/{key_id}/revoquer", response_class=HTMLResponse)
async def revoke_key(request: Request, key_id: str, viewer: Admin) -> Response:
    """Revoke one of the tenant's keys (another tenant's: 404), at once on this worker as
    ``DELETE /v1/tenants/{id}/keys/{key_id}``. The key of this very session is revoked only
    when the form says the admin understood that the session ends with it."""
    form = await checked_form(request, viewer)
    own = key_id == viewer.principal.key_id
    if own and field(form, "la_mienne") != "oui":
        return await _keys_page(
            request, viewer, status=422,
            error="Cette clé est celle de votre session : la révoquer ferme votre session et "
                  "vous devrez vous reconnecter avec une autre clé d'administrateur. Cochez "
                  "« Je comprends » pour la révoquer quand même.")

    # another tenant's key: 404; revoke_key invalidates this worker's principals
    await run_in_threadpool(apikeys.revoke, key_id, tenant_of(viewer))
    if own:
        return RedirectResponse(f"{PREFIX}/connexion?fin=1", status_code=303)
    return see(f"/cles?revoquee={key_id}")
