"""Registry writes (one record per request) and the per-call facts the rules need."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.campaigns.service import check_sector
from app.clock import now
from app.errors import Conflict, NotFound, Unprocessable
from app.ids import new_id
from app.principals.service import principal_of
from app.registries.models import Consent, Contract, Opposition
from rules_fr.numbering import classify

Registry = TypeVar("Registry", Consent, Contract, Opposition)


def normalise_callee(raw: str) -> str:
    """E.164 of a number given to a registry, or a clear 422."""
    info = classify(raw)
    if info.e164 is None or not info.valid:
        raise Unprocessable(f"{raw!r} is not a valid phone number", code="CALLEE_INVALID")
    return info.e164


def evidence_sha256(evidence: dict[str, Any]) -> str:
    """SHA-256 of the evidence in canonical JSON (sorted keys, no spaces, UTF-8)."""
    canonical = json.dumps(evidence, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def add_consent(
    s: Session, tenant_id: str, *, callee: str, scope: str, given_at: datetime, channel: str,
    evidence: dict[str, Any], expires_at: datetime | None,
) -> Consent:
    row = Consent(
        id=new_id("con"), tenant_id=tenant_id, callee=normalise_callee(callee), scope=scope,
        given_at=given_at, channel=channel, evidence=evidence,
        evidence_sha256=evidence_sha256(evidence), expires_at=expires_at, created_at=now(),
    )
    s.add(row)
    s.flush()
    return row


def get_consent(s: Session, tenant_id: str, consent_id: str) -> Consent:
    row = s.get(Consent, consent_id)
    if row is None or row.tenant_id != tenant_id:
        raise NotFound(f"no consent {consent_id}")
    return row


def revoke_consent(s: Session, tenant_id: str, consent_id: str, reason: str | None) -> Consent:
    row = get_consent(s, tenant_id, consent_id)
    if row.revoked_at is None:  # revoking twice keeps the first revocation
        row.revoked_at = now()
        row.revoke_reason = reason
        s.flush()
    return row


LIST_LIMIT = 10_000


def _for_callee(
    s: Session, model: type[Registry], tenant_id: str, callee: str | None, order: Any,
    principal: str | None = None,
) -> list[Registry]:
    """This tenant's records of one registry, for one callee (any number form) or all, and
    for one principal (contracts, oppositions) or all."""
    q = select(model).where(model.tenant_id == tenant_id)
    if callee:
        q = q.where(model.callee == normalise_callee(callee))
    if principal is not None:
        q = q.where(model.principal_id == principal)
    return list(s.scalars(q.order_by(order).limit(LIST_LIMIT)))


def list_consents(s: Session, tenant_id: str, callee: str | None) -> list[Consent]:
    return _for_callee(s, Consent, tenant_id, callee, Consent.given_at)


def add_contract(
    s: Session, tenant_id: str, *, callee: str, reference: str, sector: str, starts_on: date,
    ends_on: date | None, principal: str | None = None,
) -> Contract:
    """A contract of the consumer with ``principal`` (default: the tenant's own; 403 without
    its mandate): it lets every tenant calling for that principal call within it."""
    check_sector(sector)
    e164 = normalise_callee(callee)
    principal_id = principal_of(s, tenant_id, principal)
    exists = s.scalar(
        select(Contract.id).where(Contract.tenant_id == tenant_id, Contract.reference == reference)
    )
    if exists:
        raise Conflict(f"contract reference {reference!r} exists")
    row = Contract(
        id=new_id("ctr"), tenant_id=tenant_id, callee=e164, reference=reference, sector=sector,
        principal_id=principal_id, starts_on=starts_on, ends_on=ends_on, created_at=now(),
    )
    s.add(row)
    s.flush()
    return row


def list_contracts(s: Session, tenant_id: str, callee: str | None,
                   principal: str | None = None) -> list[Contract]:
    return _for_callee(s, Contract, tenant_id, callee, Contract.starts_on, principal)


def add_opposition(
    s: Session, tenant_id: str, callee: str, source: str, attempt_id: str | None = None,
    principal: str | None = None, *, of_attempt: bool = False,
) -> tuple[Opposition, bool]:
    """The opposition for ``callee`` to ``principal`` (default: the tenant's own; 403 without
    its mandate), and whether it was created now (idempotent per tenant and principal). It
    denies every tenant calling for that principal (rules-fr.md §5). ``of_attempt``: reported
    in an attempt's outcome, for the attempt's principal — made under a mandate, and kept even
    if the mandate ended since."""
    e164 = normalise_callee(callee)
    principal_id = (principal or tenant_id) if of_attempt else principal_of(s, tenant_id,
                                                                             principal)
    row = s.scalar(
        select(Opposition).where(Opposition.tenant_id == tenant_id,
                                 Opposition.principal_id == principal_id,
                                 Opposition.callee == e164)
    )
    if row is not None:
        return row, False
    row = Opposition(
        id=new_id("opp"), tenant_id=tenant_id, callee=e164, principal_id=principal_id,
        source=source, attempt_id=attempt_id, created_at=now(),
    )
    s.add(row)
    s.flush()
    return row, True


def list_oppositions(s: Session, tenant_id: str, callee: str | None,
                     principal: str | None = None) -> list[Opposition]:
    return _for_callee(s, Opposition, tenant_id, callee, Opposition.created_at, principal)
