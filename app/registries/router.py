from __future__ import annotations

from fastapi import APIRouter, Query, Response

from app.db import session_scope
from app.registries import service
from app.registries.models import Consent, Contract, Opposition
from app.registries.schemas import (
    ConsentIn,
    ConsentOut,
    ContractIn,
    ContractOut,
    OppositionIn,
    OppositionOut,
    RevokeIn,
)
from app.tenancy.auth import Admin, Compliance

router = APIRouter(prefix="/v1", tags=["registries"])
PRINCIPAL = Query(default=None, max_length=40, description="Only those of this principal.")


def _consent(r: Consent) -> ConsentOut:
    return ConsentOut(
        id=r.id, callee=r.callee, scope=r.scope, given_at=r.given_at, channel=r.channel,
        evidence=r.evidence, evidence_sha256=r.evidence_sha256, expires_at=r.expires_at,
        revoked_at=r.revoked_at, revoke_reason=r.revoke_reason,
    )


def _contract(r: Contract) -> ContractOut:
    return ContractOut(
        id=r.id, callee=r.callee, reference=r.reference, sector=r.sector,
        starts_on=r.starts_on, ends_on=r.ends_on, principal=r.principal_id or r.tenant_id,
    )


def _opposition(r: Opposition) -> OppositionOut:
    return OppositionOut(id=r.id, callee=r.callee, source=r.source, created_at=r.created_at,
                         principal=r.principal_id or r.tenant_id)


@router.post("/consents", status_code=201, response_model=ConsentOut)
def add_consent(body: ConsentIn, p: Admin) -> ConsentOut:
    with session_scope(write=True) as s:
        return _consent(service.add_consent(s, p.tenant_id or "", **body.model_dump()))


@router.get("/consents", response_model=list[ConsentOut])
def list_consents(p: Compliance, callee: str | None = Query(default=None)) -> list[ConsentOut]:
    with session_scope() as s:
        return [_consent(r) for r in service.list_consents(s, p.tenant_id or "", callee)]


@router.get("/consents/{consent_id}", response_model=ConsentOut)
def get_consent(consent_id: str, p: Compliance) -> ConsentOut:
    with session_scope() as s:
        return _consent(service.get_consent(s, p.tenant_id or "", consent_id))


@router.post("/consents/{consent_id}/revoke", response_model=ConsentOut)
def revoke_consent(consent_id: str, p: Admin, body: RevokeIn | None = None) -> ConsentOut:
    with session_scope(write=True) as s:
        row = service.revoke_consent(
            s, p.tenant_id or "", consent_id, body.reason if body else None
        )
        return _consent(row)


@router.post("/contracts", status_code=201, response_model=ContractOut)
def add_contract(body: ContractIn, p: Admin) -> ContractOut:
    with session_scope(write=True) as s:
        return _contract(service.add_contract(s, p.tenant_id or "", **body.model_dump()))


@router.get("/contracts", response_model=list[ContractOut])
def list_contracts(
    p: Compliance, callee: str | None = Query(default=None), principal: str | None = PRINCIPAL,
) -> list[ContractOut]:
    """The tenant's own contracts (those of other call centres stay theirs)."""
    with session_scope() as s:
        return [_contract(r) for r in service.list_contracts(s, p.tenant_id or "", callee,
                                                             principal)]


@router.post("/oppositions", status_code=201, response_model=OppositionOut)
def add_opposition(body: OppositionIn, p: Admin, response: Response) -> OppositionOut:
    with session_scope(write=True) as s:
        row, created = service.add_opposition(s, p.tenant_id or "", body.callee, body.source,
                                              principal=body.principal)
        if not created:
            response.status_code = 200
        return _opposition(row)


@router.get("/oppositions", response_model=list[OppositionOut])
def list_oppositions(
    p: Compliance, callee: str | None = Query(default=None), principal: str | None = PRINCIPAL,
) -> list[OppositionOut]:
    """The tenant's own oppositions (those recorded by other call centres stay theirs)."""
    with session_scope() as s:
        return [_opposition(r) for r in service.list_oppositions(s, p.tenant_id or "", callee,
                                                                 principal)]
