"""The principals' public service: what other domains call (never this module's underscored
names), and what the API and the CLI do.

Readings chosen where the texts are silent (rules-fr.md §1):

* **Operator-managed.** Principals and mandates are created by the operator, who knows the
  contracts between advertisers and call centres; a tenant cannot grant itself a mandate.
* **A SIREN** is 9 digits with a valid Luhn key (INSEE); one principal per SIREN (409).
* **A tenant's own principal** (id = the tenant id) always keeps its own tenant's mandate:
  removing it would leave the tenant's own campaigns without a principal. Other tenants may be
  given a mandate from it (an advertiser that is also a tenant and uses a call centre).
* **A mandate is not removed while campaigns of that tenant name the principal** (409): the
  check path reads a campaign's principal from the campaign, so a campaign naming a principal
  without a mandate must never exist. Removing a mandate keeps the records (attempts, contracts,
  oppositions) made under it: they stay the principal's, and keep counting for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.campaigns.models import Campaign
from app.clock import now
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.ids import new_id
from app.principals.models import Mandate, Professional
from app.tenancy.models import Tenant

_SIREN = re.compile(r"^[0-9]{9}$")


def held_principals(s: Session, tenant_id: str) -> set[str]:
    """The principals ``tenant_id`` holds a mandate from (its own principal included)."""
    rows = s.scalars(select(Mandate.principal_id).where(Mandate.tenant_id == tenant_id))
    return set(rows) | {tenant_id}


def require_mandates(s: Session, tenant_id: str, principal_ids: Iterable[str]) -> list[str]:
    """``principal_ids`` without duplicates, in order; 403 ``forbidden`` naming those the
    tenant holds no mandate from (an unknown principal is one it holds no mandate from)."""
    wanted = list(dict.fromkeys(principal_ids))
    missing = [p for p in wanted if p not in held_principals(s, tenant_id)]
    if missing:
        raise Forbidden(
            f"no mandate from principal(s) {', '.join(missing)}: an operator grants mandates "
            "(POST /v1/principals/{id}/mandates)"
        )
    return wanted


def principal_of(s: Session, tenant_id: str, principal: str | None) -> str:
    """The principal a record names: ``principal`` when the tenant holds its mandate (403
    otherwise), the tenant's own when ``None``."""
    if principal is None:
        return tenant_id
    return require_mandates(s, tenant_id, [principal])[0]


def siren_valid(siren: str) -> bool:
    """9 digits whose Luhn sum is a multiple of 10 (the INSEE key of a SIREN)."""
    if not _SIREN.match(siren):
        return False
    total = 0
    for i, ch in enumerate(reversed(siren)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def create_principal(s: Session, name: str, siren: str) -> Professional:
    """A new principal (operator). 422 for a malformed SIREN, 409 when one holds it."""
    if not siren_valid(siren):
        raise Unprocessable(f"siren: {siren!r} is not a SIREN (9 digits with a valid key)",
                            extra={"field": "siren"})
    if s.scalar(select(exists().where(Professional.siren == siren))):
        raise Conflict(f"a principal with SIREN {siren} exists")
    row = Professional(id=new_id("prn"), name=name, siren=siren, tenant_id=None,
                       created_at=now())
    try:
        with s.begin_nested():
            s.add(row)
    except IntegrityError:  # created by someone else since the look-up above
        raise Conflict(f"a principal with SIREN {siren} exists") from None
    return row


def list_principals(s: Session, tenant_id: str | None) -> list[Professional]:
    """Every principal (``tenant_id`` None: the operator), or those the tenant holds a mandate
    from, its own included; by name then id."""
    q = select(Professional)
    if tenant_id is not None:
        q = q.where(Professional.id.in_(
            select(Mandate.principal_id).where(Mandate.tenant_id == tenant_id)
        ) | (Professional.id == tenant_id))
    return list(s.scalars(q.order_by(Professional.name, Professional.id)))


def get_principal(s: Session, principal_id: str, tenant_id: str | None) -> Professional:
    """One principal; for a tenant, only one it holds a mandate from (404 otherwise)."""
    row = s.get(Professional, principal_id)
    if row is None or (tenant_id is not None
                       and principal_id not in held_principals(s, tenant_id)):
        raise NotFound(f"no principal {principal_id}")
    return row


def list_mandates(s: Session, principal_id: str) -> list[tuple[Mandate, str]]:
    """The principal's mandates with the tenants' names, by tenant name (404: no principal)."""
    get_principal(s, principal_id, None)
    q = (select(Mandate, Tenant.name).join(Tenant, Tenant.id == Mandate.tenant_id)
         .where(Mandate.principal_id == principal_id).order_by(Tenant.name, Tenant.id))
    return [(m, name) for m, name in s.execute(q)]


def grant_mandate(s: Session, principal_id: str, tenant_id: str) -> tuple[Mandate, str]:
    """The tenant may call for the principal from now on. 404: no such principal or tenant;
    409: the mandate exists."""
    get_principal(s, principal_id, None)
    tenant = s.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id}")
    if s.get(Mandate, (principal_id, tenant_id)) is not None:
        raise Conflict(f"tenant {tenant_id} already holds a mandate from {principal_id}")
    row = Mandate(principal_id=principal_id, tenant_id=tenant_id, created_at=now())
    try:
        with s.begin_nested():
            s.add(row)
    except IntegrityError:
        raise Conflict(
            f"tenant {tenant_id} already holds a mandate from {principal_id}") from None
    return row, tenant.name


def revoke_mandate(s: Session, principal_id: str, tenant_id: str) -> None:
    """End a mandate (see the module docstring for what is refused, 409)."""
    get_principal(s, principal_id, None)
    row = s.get(Mandate, (principal_id, tenant_id))
    if row is None:
        raise NotFound(f"tenant {tenant_id} holds no mandate from {principal_id}")
    if principal_id == tenant_id:
        raise Conflict(f"{principal_id} is the tenant's own principal: its mandate stays")
    named = list(s.scalars(
        select(Campaign.id).where(Campaign.tenant_id == tenant_id,
                                  Campaign.principal_id == principal_id)
        .order_by(Campaign.id).limit(20)
    ))
    if named:
        raise Conflict(
            f"campaigns of tenant {tenant_id} call for {principal_id} "
            f"({', '.join(named)}): give them another principal first",
            extra={"campaigns": named},
        )
    s.delete(row)
    s.flush()
