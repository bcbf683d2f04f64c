from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from app import clock
from app.db import session_scope
from app.registries import service
from app.registries.models import Consent, Contract, Opposition
from app.registries.schemas import (
    ConsentIn,
    ConsentOut,
    ConsentWarning,
    ContractIn,
    ContractOut,
    ExpiringOut,
    OppositionIn,
    OppositionOut,
    RevokeIn,
)
from app.tenancy.auth import Admin, Compliance, Principal

router = APIRouter(prefix="/v1", tags=["registries"])
PRINCIPAL = Query(default=None, max_length=40, description="Only those of this principal.")


def _consents(s: Session, rows: list[Consent], p: Principal) -> list[ConsentOut]:
    """Consents as answered: the principals each names, its ``valid_until`` and status now
    (under the tenant's policy), its warnings."""
    at = clock.now()
    named = service.principals_of(s, [r.id for r in rows])
    out = []
    for r in rows:
        life = service.lifetime(r, at, p.policy.consent_max_age_days)
        out.append(ConsentOut(
            id=r.id, callee=r.callee, scope=r.scope, given_at=r.given_at, channel=r.channel,
            evidence=r.evidence, evidence_sha256=r.evidence_sha256, expires_at=r.expires_at,
            revoked_at=r.revoked_at, revoke_reason=r.revoke_reason, principals=named[r.id],
            source=r.source, notice_given=r.notice_given,
            conditional_on_sale=r.conditional_on_sale, valid_until=life.valid_until,
            status=life.status,  # type: ignore[arg-type]
            warnings=[ConsentWarning(**w) for w in service.warnings(r, named[r.id])],
        ))
    return out


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
    """Record a consent. ``principals`` must each be held by a mandate (403 otherwise);
    ``given_at`` more than 5 minutes in the future is 422. A partner's consent (``source``
    other than "own") without ``principals`` names no principal: stored, with a warning."""
    with session_scope(write=True) as s:
        row = service.add_consent(s, p.tenant_id or "", **body.model_dump())
        return _consents(s, [row], p)[0]


@router.get("/consents", response_model=list[ConsentOut])
def list_consents(p: Compliance, callee: str | None = Query(default=None)) -> list[ConsentOut]:
    with session_scope() as s:
        return _consents(s, service.list_consents(s, p.tenant_id or "", callee), p)


@router.get("/consents/expiring", response_model=ExpiringOut)
def expiring_consents(
    p: Compliance,
    within_days: int = Query(default=30, ge=1, le=365,
                             description="The window, in days from now (1…365)."),
    limit: int = Query(default=service.EXPIRING_DEFAULT_LIMIT, ge=1, le=service.LIST_LIMIT,
                       description="Consents per page."),
    after: str | None = Query(default=None, max_length=40,
                              description="Id of the last consent of the previous page (its "
                              "next_after)."),
) -> ExpiringOut:
    """The tenant's consents valid now whose ``valid_until`` falls within the next
    ``within_days`` days, soonest first: what to renew before it lapses."""
    at = clock.now()
    with session_scope() as s:
        rows, next_after = service.expiring(
            s, p.tenant_id or "", at=at, within_days=within_days,
            max_age_days=p.policy.consent_max_age_days, limit=limit, after=after)
        return ExpiringOut(at=at, within_days=within_days,
                           until=at + timedelta(days=within_days),
                           consents=_consents(s, rows, p), limit=limit, next_after=next_after)


@router.get("/consents/{consent_id}", response_model=ConsentOut)
def get_consent(consent_id: str, p: Compliance) -> ConsentOut:
    with session_scope() as s:
        return _consents(s, [service.get_consent(s, p.tenant_id or "", consent_id)], p)[0]


@router.post("/consents/{consent_id}/revoke", response_model=ConsentOut)
def revoke_consent(consent_id: str, p: Admin, body: RevokeIn | None = None) -> ConsentOut:
    with session_scope(write=True) as s:
        row = service.revoke_consent(
            s, p.tenant_id or "", consent_id, body.reason if body else None
        )
        return _consents(s, [row], p)[0]


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
