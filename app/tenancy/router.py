from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from app.db import session_scope
from app.errors import NotFound
from app.tenancy import service
from app.tenancy.auth import Admin, Operator, Principal, authenticate
from app.tenancy.models import ApiKey, Tenant
from app.tenancy.policy import PolicyIn, policy_from_json, policy_to_json
from app.tenancy.schemas import (
    KeyIn,
    KeyInfo,
    KeyOut,
    OperatorSanctions,
    PolicyOut,
    SanctionsIn,
    SanctionsOut,
    SuspendIn,
    TenantIn,
    TenantOut,
)

router = APIRouter(prefix="/v1", tags=["tenancy"])


def _out(t: Tenant) -> TenantOut:
    return TenantOut(id=t.id, name=t.name, legal_form=t.legal_form, status=t.status)


@router.post("/tenants", status_code=201, response_model=TenantOut)
def create_tenant(body: TenantIn, _: Operator) -> TenantOut:
    with session_scope(write=True) as s:
        return _out(service.create_tenant(s, body.name, body.legal_form))


@router.get("/tenants", response_model=list[TenantOut])
def list_tenants(_: Operator) -> list[TenantOut]:
    with session_scope() as s:
        return [_out(t) for t in service.list_tenants(s)]


def _key_info(k: ApiKey) -> KeyInfo:
    return KeyInfo(id=k.id, role=k.role, tenant=k.tenant_id, label=k.label, prefix=k.prefix,
                   created_at=k.created_at, last_used_at=k.last_used_at,
                   revoked_at=k.revoked_at)


def _new_key(row: ApiKey, key: str) -> KeyOut:
    return KeyOut(id=row.id, key=key, role=row.role, tenant=row.tenant_id, label=row.label)


def _for_tenant(principal: Principal, tenant_id: str) -> None:
    """The operator, or this tenant's admin; anyone else: as if the tenant did not exist."""
    allowed = principal.role == "operator" or (
        principal.role == "admin" and principal.tenant_id == tenant_id
    )
    if not allowed:
        raise NotFound(f"no tenant {tenant_id}")


Caller = Annotated[Principal, Depends(authenticate)]
ActiveOnly = Annotated[bool, Query(alias="active", description="Only keys not revoked.")]


@router.post("/tenants/{tenant_id}/keys", status_code=201, response_model=KeyOut)
def create_key(tenant_id: str, body: KeyIn, principal: Caller) -> KeyOut:
    _for_tenant(principal, tenant_id)
    with session_scope(write=True) as s:
        return _new_key(*service.create_key(s, body.role, tenant_id, body.label))


@router.get("/tenants/{tenant_id}/keys", response_model=list[KeyInfo])
def list_keys(tenant_id: str, principal: Caller, active: ActiveOnly = False) -> list[KeyInfo]:
    """The tenant's keys, revoked ones included (unless ``active=true``); never a secret."""
    _for_tenant(principal, tenant_id)
    with session_scope() as s:
        return [_key_info(k) for k in service.list_keys(s, tenant_id, active_only=active)]


@router.delete("/tenants/{tenant_id}/keys/{key_id}", response_model=KeyInfo)
def revoke_key(tenant_id: str, key_id: str, principal: Caller) -> KeyInfo:
    """Revoke one of the tenant's keys: 401 at once on this worker, on every worker within
    ``GATEWAY_CACHE_TTL_S``. Revoking a revoked key changes nothing."""
    _for_tenant(principal, tenant_id)
    with session_scope(write=True) as s:
        return _key_info(service.revoke_key(s, service.get_key(s, key_id, tenant_id)))


@router.post("/tenants/{tenant_id}/keys/{key_id}/rotate", status_code=201,
             response_model=KeyOut)
def rotate_key(tenant_id: str, key_id: str, principal: Caller) -> KeyOut:
    """A new key (shown once) with the same role and label; the old one revoked."""
    _for_tenant(principal, tenant_id)
    with session_scope(write=True) as s:
        return _new_key(*service.rotate_key(s, service.get_key(s, key_id, tenant_id)))


@router.get("/keys", response_model=list[KeyInfo])
def list_operator_keys(_: Operator, active: ActiveOnly = False) -> list[KeyInfo]:
    """The operator's own keys (no tenant); a tenant's: ``/v1/tenants/{id}/keys``."""
    with session_scope() as s:
        return [_key_info(k) for k in service.list_keys(s, None, active_only=active)]


@router.delete("/keys/{key_id}", response_model=KeyInfo)
def revoke_any_key(key_id: str, _: Operator) -> KeyInfo:
    """Revoke any key by its id, the operator's own or a tenant's (operator)."""
    with session_scope(write=True) as s:
        return _key_info(service.revoke_key(s, service.get_key(s, key_id, any_tenant=True)))


@router.post("/keys/{key_id}/rotate", status_code=201, response_model=KeyOut)
def rotate_any_key(key_id: str, _: Operator) -> KeyOut:
    with session_scope(write=True) as s:
        return _new_key(*service.rotate_key(s, service.get_key(s, key_id, any_tenant=True)))


@router.post("/tenants/{tenant_id}/suspend", response_model=TenantOut)
def suspend(tenant_id: str, _: Operator, body: SuspendIn | None = None) -> TenantOut:
    with session_scope(write=True) as s:
        return _out(service.set_status(s, tenant_id, "suspended", body.reason if body else None))


@router.post("/tenants/{tenant_id}/reactivate", response_model=TenantOut)
def reactivate(tenant_id: str, _: Operator) -> TenantOut:
    with session_scope(write=True) as s:
        return _out(service.set_status(s, tenant_id, "active"))


def _operator_sanctions(sanctions: dict[str, Any] | None) -> OperatorSanctions:
    return OperatorSanctions.model_validate(policy_to_json(policy_from_json(None, sanctions),
                                                           None, sanctions)["operator"])


def _sanctions_out(t: Tenant) -> SanctionsOut:
    own = t.sanctions or {}
    return SanctionsOut(tenant_id=t.id, tariff=own.get("tariff") or {},
                        monitors=own.get("monitors") or {},
                        in_force=_operator_sanctions(t.sanctions))


@router.get("/tenants/{tenant_id}/sanctions", response_model=SanctionsOut)
def get_sanctions(tenant_id: str, _: Operator) -> SanctionsOut:
    """The operator's tariff and monitor floors for this tenant: those set for it, and those
    in force (with the platform's where none is set)."""
    with session_scope() as s:
        return _sanctions_out(service.get_tenant(s, tenant_id))


@router.put("/tenants/{tenant_id}/sanctions", response_model=SanctionsOut)
def put_sanctions(tenant_id: str, body: SanctionsIn, _: Operator) -> SanctionsOut:
    """Set this tenant's tariff and monitor floors (replacing those set before; a null or
    absent value: the platform's). Penalties already written keep their amount."""
    stored: dict[str, Any] = {}
    own_tariff = {k: str(v) for k, v in body.tariff.model_dump().items() if v is not None}
    if own_tariff:
        stored["tariff"] = own_tariff
    own_floors = {name: {k: v for k, v in f.model_dump().items() if v is not None}
                  for name, f in body.monitors.items()}
    own_floors = {name: f for name, f in own_floors.items() if f}
    if own_floors:
        stored["monitors"] = own_floors
    with session_scope(write=True) as s:
        return _sanctions_out(service.set_sanctions(s, tenant_id, stored))


@router.get("/policy", response_model=PolicyOut)
def get_policy(principal: Admin) -> dict[str, Any]:
    """The tenant's policy in force (defaults from rules-fr.md, with its overrides, under the
    operator's sanctions: ``operator``)."""
    with session_scope() as s:
        tenant = service.get_tenant(s, principal.tenant_id or "")
        return policy_to_json(policy_from_json(tenant.policy, tenant.sanctions), tenant.policy,
                              tenant.sanctions)


@router.patch("/policy", response_model=PolicyOut)
def update_policy(body: PolicyIn, principal: Admin) -> dict[str, Any]:
    return service.update_policy(principal.tenant_id or "", body)
