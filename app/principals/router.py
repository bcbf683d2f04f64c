"""Principals and mandates (operator-managed; a tenant reads the principals it calls for)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.db import session_scope
from app.principals import service
from app.principals.models import Mandate, Professional
from app.principals.schemas import MandateIn, MandateOut, PrincipalIn, PrincipalOut
from app.tenancy.auth import Operator, Principal, require

router = APIRouter(prefix="/v1", tags=["principals"])

#: the operator, or any key of a tenant (which sees the principals it holds a mandate from)
Anyone = Annotated[Principal, Depends(require("operator", "compliance", "dialer"))]


def _out(r: Professional) -> PrincipalOut:
    return PrincipalOut(id=r.id, name=r.name, siren=r.siren, own_tenant=r.tenant_id,
                        created_at=r.created_at)


def _mandate(m: Mandate, tenant_name: str) -> MandateOut:
    return MandateOut(principal=m.principal_id, tenant=m.tenant_id, tenant_name=tenant_name,
                      created_at=m.created_at)


def _scope(p: Principal) -> str | None:
    return None if p.role == "operator" else p.tenant_id or ""


@router.post("/principals", status_code=201, response_model=PrincipalOut)
def create_principal(body: PrincipalIn, _: Operator) -> PrincipalOut:
    """A professional calls are made for (operator). Give call centres its mandate next."""
    with session_scope(write=True) as s:
        return _out(service.create_principal(s, body.name, body.siren))


@router.get("/principals", response_model=list[PrincipalOut])
def list_principals(p: Anyone) -> list[PrincipalOut]:
    """The operator: every principal. A tenant: those it holds a mandate from, its own
    included."""
    with session_scope() as s:
        return [_out(r) for r in service.list_principals(s, _scope(p))]


@router.get("/principals/{principal_id}", response_model=PrincipalOut)
def get_principal(principal_id: str, p: Anyone) -> PrincipalOut:
    """One principal (a tenant: only one it holds a mandate from; 404 otherwise)."""
    with session_scope() as s:
        return _out(service.get_principal(s, principal_id, _scope(p)))


@router.post("/principals/{principal_id}/mandates", status_code=201, response_model=MandateOut)
def grant_mandate(principal_id: str, body: MandateIn, _: Operator) -> MandateOut:
    """The tenant may call for the principal (operator): its campaigns, contracts and
    oppositions may name it, and the principal's counts, consents, refusals and oppositions
    then apply to its calls. 409 when the mandate exists."""
    with session_scope(write=True) as s:
        return _mandate(*service.grant_mandate(s, principal_id, body.tenant))


@router.get("/principals/{principal_id}/mandates", response_model=list[MandateOut])
def list_mandates(principal_id: str, _: Operator) -> list[MandateOut]:
    """The tenants holding a mandate from the principal (operator)."""
    with session_scope() as s:
        return [_mandate(m, n) for m, n in service.list_mandates(s, principal_id)]


@router.delete("/principals/{principal_id}/mandates/{tenant_id}", status_code=204)
def revoke_mandate(principal_id: str, tenant_id: str, _: Operator) -> Response:
    """End a mandate (operator). 409 while campaigns of the tenant name the principal, and for
    a tenant's own principal; the records made under the mandate stay the principal's."""
    with session_scope(write=True) as s:
        service.revoke_mandate(s, principal_id, tenant_id)
    return Response(status_code=204)
