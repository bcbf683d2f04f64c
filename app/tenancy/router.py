from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from app.db import session_scope
from app.errors import NotFound
from app.tenancy import service
from app.tenancy.auth import Admin, Operator, Principal, authenticate, invalidate_principals
from app.tenancy.models import Tenant
from app.tenancy.policy import PolicyIn, merge, policy_from_json, policy_to_json
from app.tenancy.schemas import KeyIn, KeyOut, SuspendIn, TenantIn, TenantOut

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


@router.post("/tenants/{tenant_id}/keys", status_code=201, response_model=KeyOut)
def create_key(
    tenant_id: str, body: KeyIn, principal: Annotated[Principal, Depends(authenticate)]
) -> KeyOut:
    allowed = principal.role == "operator" or (
        principal.role == "admin" and principal.tenant_id == tenant_id
    )
    if not allowed:
        # another tenant's object: answer as if it did not exist
        raise NotFound(f"no tenant {tenant_id}")
    with session_scope(write=True) as s:
        row, key = service.create_key(s, body.role, tenant_id)
        return KeyOut(id=row.id, key=key, role=row.role, tenant=row.tenant_id)


@router.post("/tenants/{tenant_id}/suspend", response_model=TenantOut)
def suspend(tenant_id: str, _: Operator, body: SuspendIn | None = None) -> TenantOut:
    with session_scope(write=True) as s:
        return _out(service.set_status(s, tenant_id, "suspended", body.reason if body else None))


@router.post("/tenants/{tenant_id}/reactivate", response_model=TenantOut)
def reactivate(tenant_id: str, _: Operator) -> TenantOut:
    with session_scope(write=True) as s:
        return _out(service.set_status(s, tenant_id, "active"))


@router.get("/policy")
def get_policy(principal: Admin) -> dict[str, Any]:
    """The tenant's policy in force (defaults from rules-fr.md, with its overrides)."""
    with session_scope() as s:
        stored = service.get_tenant(s, principal.tenant_id or "").policy
    return policy_to_json(principal.policy, stored)


@router.patch("/policy")
def update_policy(body: PolicyIn, principal: Admin) -> dict[str, Any]:
    with session_scope(write=True) as s:
        tenant = service.get_tenant(s, principal.tenant_id or "")
        tenant.policy = merge(tenant.policy, body)
        result = policy_to_json(policy_from_json(tenant.policy), tenant.policy)
    invalidate_principals()
    return result
