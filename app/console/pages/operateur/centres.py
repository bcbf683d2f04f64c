"""The operator's call-centre pages: the list of tenants and a new one, a centre's page (its
keys, its own tariff, suspension and reactivation)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from app.console.labels import TARIFF_FR
from app.console.pages import apikeys
from app.console.pages.operateur.common import HOME, api_fr, key_form_error, router, see_other
from app.console.sessions import Viewer
from app.console.web import Operator, checked_form, field, render
from app.db import session_scope
from app.errors import ApiError
from app.tenancy import service as tenancy
from app.tenancy.policy import policy_from_json, policy_to_json
from app.tenancy.sanctions import TARIFF_FIELDS, platform_tariff, valid_amount

LEGAL_FORMS = {"legal_person": "personne morale", "natural_person": "personne physique"}
TENANT_KEY_ROLES = {"admin": "Administrateur", "compliance": "Conformité", "dialer": "Automate"}


def _tenants() -> list[dict[str, Any]]:
    with session_scope() as s:
        keys: dict[str, int] = {}
        for k in tenancy.list_keys(s, None, every_tenant=True, active_only=True):
            if k.tenant_id is not None:
                keys[k.tenant_id] = keys.get(k.tenant_id, 0) + 1
        return [{"id": t.id, "name": t.name, "legal_form": t.legal_form, "status": t.status,
                 "suspended_at": t.suspended_at, "suspended_reason": t.suspended_reason,
                 "cles": keys.get(t.id, 0)}
                for t in tenancy.list_tenants(s)]


def _centres_page(request: Request, viewer: Viewer, *, status: int = 200,
                  error: str | None = None, values: dict[str, str] | None = None
                  ) -> HTMLResponse:
    return render(request, "operateur/centres.html", viewer, status=status,
                  tenants=_tenants(), error=error, values=values or {},
                  legal_forms=LEGAL_FORMS)


@router.get("/operateur", response_class=HTMLResponse)
async def tenants(request: Request, viewer: Operator) -> HTMLResponse:
    return await run_in_threadpool(_centres_page, request, viewer)


@router.post("/operateur/centres", response_class=HTMLResponse)
async def create_tenant(request: Request, viewer: Operator) -> Response:
    form = await checked_form(request, viewer)
    name, legal_form = field(form, "nom"), field(form, "forme") or "legal_person"
    values = {"nom": name or "", "forme": legal_form}
    error = None
    if name is None:
        error = "Saisissez le nom du centre d'appels."
    elif len(name) > 200:
        error = "Le nom compte au plus 200 caractères."
    elif legal_form not in LEGAL_FORMS:
        error = "Choisissez la forme juridique : personne morale ou personne physique."
    if error:
        return await run_in_threadpool(_centres_page, request, viewer, status=422, error=error,
                                       values=values)

    def create() -> str:
        with session_scope(write=True) as s:
            return tenancy.create_tenant(s, name or "", legal_form).id

    tenant_id = await run_in_threadpool(create)
    return see_other(f"{HOME}/centres/{tenant_id}?cree=1")


def _tenant(tenant_id: str) -> dict[str, Any]:
    with session_scope() as s:
        t = tenancy.get_tenant(s, tenant_id)
        in_force = policy_to_json(policy_from_json(None, t.sanctions), None,
                                  t.sanctions)["operator"]
        own = t.sanctions or {}
        keys = [{"id": k.id, "role": k.role, "label": k.label, "prefix": k.prefix,
                 "created_at": k.created_at, "last_used_at": k.last_used_at,
                 "revoked_at": k.revoked_at} for k in tenancy.list_keys(s, tenant_id)]
        return {"id": t.id, "name": t.name, "legal_form": t.legal_form, "status": t.status,
                "suspended_at": t.suspended_at, "suspended_reason": t.suspended_reason,
                "created_at": t.created_at, "cles": keys,
                "has_admin": any(k["role"] == "admin" and not k["revoked_at"] for k in keys),
                "in_force": in_force, "own_tariff": own.get("tariff") or {},
                "platform_tariff": {k: str(v) for k, v in platform_tariff().items()},
                "own_monitors": own.get("monitors") or {}}


def _tenant_page(request: Request, viewer: Viewer, tenant_id: str, *, status: int = 200,
                 **context: Any) -> HTMLResponse:
    return render(request, "operateur/centre.html", viewer, status=status,
                  t=_tenant(tenant_id), legal_forms=LEGAL_FORMS, key_roles=TENANT_KEY_ROLES,
                  **context)


@router.get("/operateur/centres/{tenant_id}", response_class=HTMLResponse)
async def tenant(request: Request, tenant_id: str, viewer: Operator,
                 cree: int = 0) -> HTMLResponse:
    return await run_in_threadpool(_tenant_page, request, viewer, tenant_id,
                                   created=bool(cree))


@router.post("/operateur/centres/{tenant_id}/cles", response_class=HTMLResponse)
async def create_tenant_key(request: Request, tenant_id: str, viewer: Operator) -> Response:
    """A key for the call centre (its first admin key, typically): the secret shown once."""
    form = await checked_form(request, viewer)
    role, label = field(form, "role") or "admin", field(form, "libelle")
    error = key_form_error(role, label, TENANT_KEY_ROLES)
    if error:
        return await run_in_threadpool(_tenant_page, request, viewer, tenant_id, status=422,
                                       error=error)

    created = await run_in_threadpool(apikeys.create, role, tenant_id, label)
    return await run_in_threadpool(_tenant_page, request, viewer, tenant_id, new_key=created)


@router.post("/operateur/centres/{tenant_id}/cles/{key_id}/revoquer",
             response_class=HTMLResponse)
async def revoke_tenant_key(request: Request, tenant_id: str, key_id: str,
                            viewer: Operator) -> Response:
    """Revoke one of the centre's keys (``DELETE /v1/keys/{id}``, scoped to the centre): it
    stops working at once on this worker, within the cache TTL on the others."""
    await checked_form(request, viewer)

    try:
        await run_in_threadpool(apikeys.revoke, key_id, tenant_id)
    except ApiError as exc:
        return await run_in_threadpool(_tenant_page, request, viewer, tenant_id, status=404,
                                       error=api_fr(exc))
    return see_other(f"{HOME}/centres/{tenant_id}")




@router.post("/operateur/centres/{tenant_id}/sanctions", response_class=HTMLResponse)
async def set_tariff(request: Request, tenant_id: str, viewer: Operator) -> Response:
    """The centre's own tariff (``PUT /v1/tenants/{id}/sanctions``'s ``tariff``; an empty
    field: the platform's). Its monitor floors, set through the API, are kept as they are.
    Penalties already written keep their amount."""
    form = await checked_form(request, viewer)
    own: dict[str, str] = {}
    for name in TARIFF_FIELDS:
        raw = (field(form, name) or "").replace(",", ".").replace("€", "").strip()
        if not raw:
            continue
        try:
            own[name] = str(valid_amount(name, raw))
        except ValueError:
            return await run_in_threadpool(
                _tenant_page, request, viewer, tenant_id, status=422,
                error=f"{TARIFF_FR[name]} doit être un montant en euros de 0 à 1 000, au "
                      f"centime près (par exemple 0,05) ; « {field(form, name)} » ne l'est "
                      "pas.")

    def act() -> None:
        with session_scope(write=True) as s:
            monitors = (tenancy.get_tenant(s, tenant_id).sanctions or {}).get("monitors")
            stored: dict[str, Any] = {}
            if own:
                stored["tariff"] = own
            if monitors:
                stored["monitors"] = monitors
            tenancy.set_sanctions(s, tenant_id, stored)

    await run_in_threadpool(act)
    return see_other(f"{HOME}/centres/{tenant_id}")


@router.post("/operateur/centres/{tenant_id}/suspendre")
async def suspend(request: Request, tenant_id: str, viewer: Operator) -> Response:
    """Suspend a call centre (its keys answer 403 at once on this worker, within the cache
    TTL elsewhere: ``set_status`` invalidates the principals, as the API's route)."""
    form = await checked_form(request, viewer)
    reason = field(form, "motif")
    error = None
    if reason is None:
        error = "Indiquez le motif de la suspension."
    elif len(reason) > 500:
        error = "Le motif compte au plus 500 caractères."
    if error:
        return await run_in_threadpool(_tenant_page, request, viewer, tenant_id, status=422,
                                       error=error, motif=reason or "")

    def act() -> None:
        with session_scope(write=True) as s:
            tenancy.set_status(s, tenant_id, "suspended", reason)

    await run_in_threadpool(act)
    return see_other(f"{HOME}/centres/{tenant_id}")


@router.post("/operateur/centres/{tenant_id}/reactiver")
async def reactivate(request: Request, tenant_id: str, viewer: Operator) -> Response:
    await checked_form(request, viewer)

    def act() -> None:
        with session_scope(write=True) as s:
            tenancy.set_status(s, tenant_id, "active")

    await run_in_threadpool(act)
    return see_other(f"{HOME}/centres/{tenant_id}")
