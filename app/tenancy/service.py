from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import now
from app.errors import NotFound, Unprocessable
from app.ids import new_id
from app.tenancy.auth import ROLES, invalidate_principals, new_key
from app.tenancy.models import ApiKey, Tenant


def create_tenant(s: Session, name: str, legal_form: str) -> Tenant:
    tenant = Tenant(
        id=new_id("ten"), name=name, legal_form=legal_form, status="active", policy={},
        created_at=now(),
    )
    s.add(tenant)
    s.flush()
    return tenant


def get_tenant(s: Session, tenant_id: str) -> Tenant:
    tenant = s.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id}")
    return tenant


def create_key(s: Session, role: str, tenant_id: str | None) -> tuple[ApiKey, str]:
    if role not in ROLES:
        raise Unprocessable(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if (role == "operator") != (tenant_id is None):
        raise Unprocessable("operator keys have no tenant; every other role needs one")
    if tenant_id is not None:
        get_tenant(s, tenant_id)
    key, key_hash = new_key()
    row = ApiKey(
        id=new_id("key"), tenant_id=tenant_id, role=role, key_hash=key_hash, prefix=key[:10],
        created_at=now(),
    )
    s.add(row)
    s.flush()
    return row, key


def set_status(s: Session, tenant_id: str, status: str, reason: str | None = None) -> Tenant:
    tenant = get_tenant(s, tenant_id)
    tenant.status = status
    tenant.suspended_at = now() if status == "suspended" else None
    tenant.suspended_reason = reason if status == "suspended" else None
    s.flush()
    invalidate_principals()
    return tenant


def list_tenants(s: Session) -> list[Tenant]:
    return list(s.scalars(select(Tenant).order_by(Tenant.created_at)))
