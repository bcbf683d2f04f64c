from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import now
from app.db import session_scope
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.ids import new_id
from app.principals.models import Mandate, Professional
from app.tenancy.auth import ROLES, invalidate_principals, new_key
from app.tenancy.models import ApiKey, Tenant
from app.tenancy.monitor_policy import Weakened, check_floors, floors
from app.tenancy.policy import PolicyIn, merge, policy_from_json, policy_to_json
from app.tenancy.sanctions import TARIFF_FIELDS, tariff


def create_tenant(s: Session, name: str, legal_form: str) -> Tenant:
    tenant = Tenant(
        id=new_id("ten"), name=name, legal_form=legal_form, status="active", policy={},
        created_at=now(),
    )
    s.add(tenant)
    s.flush()
    # its own principal (id = the tenant id) and the mandate to call for it (app.principals)
    s.add(Professional(id=tenant.id, name=name, siren=None, tenant_id=tenant.id,
                       created_at=tenant.created_at))
    s.flush()
    s.add(Mandate(principal_id=tenant.id, tenant_id=tenant.id, created_at=tenant.created_at))
    s.flush()
    return tenant


def get_tenant(s: Session, tenant_id: str) -> Tenant:
    tenant = s.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id}")
    return tenant


def create_key(s: Session, role: str, tenant_id: str | None,
               label: str | None = None) -> tuple[ApiKey, str]:
    if role not in ROLES:
        raise Unprocessable(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if (role == "operator") != (tenant_id is None):
        raise Unprocessable("operator keys have no tenant; every other role needs one")
    if tenant_id is not None:
        get_tenant(s, tenant_id)
    key, key_hash = new_key()
    row = ApiKey(
        id=new_id("key"), tenant_id=tenant_id, role=role, key_hash=key_hash, prefix=key[:10],
        created_at=now(), label=label,
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


# --------------------------------------------------------------------------- keys
#
# A key belongs to one tenant, or to the platform (operator keys: tenant null). ``tenant_id``
# below scopes a look-up: a key of another tenant — or an operator key, looked up under a
# tenant — is "not found", so a tenant's admin can neither see nor revoke the operator's keys.

_OPERATOR = object()  # the scope of the operator's own keys (tenant null)


def list_keys(s: Session, tenant_id: str | None, *, every_tenant: bool = False,
              active_only: bool = False) -> list[ApiKey]:
    """A tenant's keys (``tenant_id``), the operator's (``None``), or all (``every_tenant``)."""
    q = select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)
    if not every_tenant:
        if tenant_id is None:
            q = q.where(ApiKey.tenant_id.is_(None))
        else:
            get_tenant(s, tenant_id)
            q = q.where(ApiKey.tenant_id == tenant_id)
    if active_only:
        q = q.where(ApiKey.revoked_at.is_(None))
    return list(s.scalars(q))


def get_key(s: Session, key_id: str, tenant_id: str | None | object = _OPERATOR,
            *, any_tenant: bool = False) -> ApiKey:
    """The key ``key_id`` within the scope: a tenant's id, ``None`` (the operator's keys) or
    ``any_tenant``; otherwise 404."""
    row = s.get(ApiKey, key_id)
    scope = None if tenant_id is _OPERATOR else tenant_id
    if row is None or (not any_tenant and row.tenant_id != scope):
        raise NotFound(f"no key {key_id}")
    return row


def revoke_key(s: Session, row: ApiKey) -> ApiKey:
    """Revoke a key (again: nothing changes). Effective at once in this process, within the
    cache TTL everywhere else."""
    if row.revoked_at is None:
        row.revoked_at = now()
        s.flush()
    invalidate_principals()
    return row


def rotate_key(s: Session, row: ApiKey) -> tuple[ApiKey, str]:
    """A new key with the same tenant, role and label; the old one revoked."""
    if row.revoked_at is not None:
        raise Conflict(f"key {row.id} is revoked: create a new one instead")
    new_row, key = create_key(s, row.role, row.tenant_id, row.label)
    revoke_key(s, row)
    return new_row, key


def revoke_labelled(s: Session, tenant_id: str | None, role: str | None, label: str) -> int:
    """Revoke every active key with this label (of this tenant, or the operator's): the demo
    seed's earlier keys."""
    q = select(ApiKey).where(ApiKey.label == label, ApiKey.revoked_at.is_(None))
    q = q.where(ApiKey.tenant_id.is_(None) if tenant_id is None
                else ApiKey.tenant_id == tenant_id)
    if role is not None:
        q = q.where(ApiKey.role == role)
    rows = list(s.scalars(q))
    for row in rows:
        row.revoked_at = now()
    s.flush()
    invalidate_principals()
    return len(rows)


# --------------------------------------------------------------------------- sanctions


def set_sanctions(s: Session, tenant_id: str, sanctions: dict[str, Any] | None) -> Tenant:
    tenant = get_tenant(s, tenant_id)
    tenant.sanctions = sanctions or None
    s.flush()
    invalidate_principals()
    return tenant


def not_weaker(body: PolicyIn, sanctions: dict[str, Any] | None) -> None:
    """A tenant may raise a penalty or tighten a monitor, never go below the operator: 403
    naming the field and the operator's value."""
    amounts = tariff(sanctions)
    for field in TARIFF_FIELDS:
        value = getattr(body, field)
        if value is not None and value < amounts[field]:
            raise Forbidden(f"{field}: {value} is below the operator's tariff "
                            f"{amounts[field]}", extra={"field": field,
                                                        "operator_value": str(amounts[field])})
    try:
        check_floors(body.monitors or {}, floors(sanctions))
    except Weakened as exc:
        raise Forbidden(f"{exc} (the operator's sanction)",
                        extra={"field": exc.field, "operator_value": exc.operator_value}
                        ) from exc


def update_policy(tenant_id: str, body: PolicyIn) -> dict[str, Any]:
    """``PATCH /v1/policy`` (and the console's policy page): the changes merged into the
    tenant's policy, in a transaction of its own, unless one is weaker than the operator's
    sanctions; the policy in force, as ``GET /v1/policy`` shows it. Once committed, this
    worker's principals see it at once, every other worker's within the cache TTL."""
    with session_scope(write=True) as s:
        tenant = get_tenant(s, tenant_id)
        not_weaker(body, tenant.sanctions)
        tenant.policy = merge(tenant.policy, body)
        result = policy_to_json(policy_from_json(tenant.policy, tenant.sanctions),
                                tenant.policy, tenant.sanctions)
    invalidate_principals()
    return result
