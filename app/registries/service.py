"""Registry writes (one record per request) and the per-call facts the rules need.

**What a consent names** (rules-fr.md §5). ``principals`` (each held by a mandate, else 403:
``app.principals.service.require_mandates``) are written as ``consent_principals`` rows keyed
by the consent's number. Readings chosen where the text is silent:

* No ``principals`` given: a consent from the tenant's own form (``source`` "own") names the
  tenant's own principal — what every consent meant before principals existed; a partner's or
  broker's consent names **none**: "a consent collected by a broker or partner that does not
  name the principal is not a consent to be called by it", and guessing the principal would
  make up the very statement the law asks the partner to have collected. It is accepted and
  stored (the proof of what the partner collected), shown with ``principals: []`` and a
  ``names_no_principal`` warning, and lets no call through. An explicit ``[]`` names none too.
* ``conditional_on_sale: true`` is accepted and stored (a tied sale is a fact to keep); the
  rules answer ``CONSENT_INVALID``. ``notice_given: false`` is stored with a warning; what it
  changes is the rules' to decide.
* ``given_at`` more than ``CONSENT_FUTURE_SKEW`` (5 minutes) after now is refused (422 naming
  ``given_at``; a rejected row in a bulk import, judged against the import's start) — exactly 5
  minutes ahead is accepted, and is ``not_yet_valid`` until then.

**Lifetime.** ``valid_until`` is ``rules_fr.data.consent_valid_until`` under the rules in force
on today's Paris date and the tenant policy ``consent_max_age_days``: the *last* valid instant.
``status`` is read from the consent's own dates only (revoked, not yet given, expired, valid);
a refusal that withdraws consent is the proof's and the rules' (``app.numbers``).
"""

from __future__ import annotations

import hashlib
import heapq
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.campaigns.service import check_sector
from app.clock import now
from app.errors import Conflict, NotFound, Unprocessable
from app.ids import new_id
from app.principals.models import ConsentPrincipal
from app.principals.service import principal_of, require_mandates
from app.registries.models import Consent, Contract, Opposition
from app.registries.schemas import OWN
from rules_fr.data import consent_valid_until, paris_date
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


def named_principals(
    s: Session, tenant_id: str, principals: list[str] | None, source: str
) -> list[str]:
    """The principals a new consent names: those given (each held by a mandate, else 403), or
    by default the tenant's own for a consent from its own form and none for a partner's
    (rules-fr.md §5: a partner's consent that does not name the principal covers no one)."""
    if principals is None:
        return [tenant_id] if source == OWN else []
    return require_mandates(s, tenant_id, principals)


def add_consent(
    s: Session, tenant_id: str, *, callee: str, scope: str, given_at: datetime, channel: str,
    evidence: dict[str, Any], expires_at: datetime | None, principals: list[str] | None = None,
    source: str = OWN, notice_given: bool | None = None, conditional_on_sale: bool = False,
) -> Consent:
    e164 = normalise_callee(callee)
    named = named_principals(s, tenant_id, principals, source)
    row = Consent(
        id=new_id("con"), tenant_id=tenant_id, callee=e164, scope=scope,
        given_at=given_at, channel=channel, evidence=evidence,
        evidence_sha256=evidence_sha256(evidence), expires_at=expires_at, created_at=now(),
        source=source, notice_given=notice_given, conditional_on_sale=conditional_on_sale,
    )
    s.add(row)
    s.flush()
    s.add_all([ConsentPrincipal(consent_id=row.id, principal_id=p, callee=e164) for p in named])
    s.flush()
    return row


def principals_of(s: Session, consent_ids: list[str]) -> dict[str, list[str]]:
    """The principals each consent names (sorted), by consent id; [] for none."""
    out: dict[str, list[str]] = {i: [] for i in consent_ids}
    for i in range(0, len(consent_ids), 1000):
        chunk = consent_ids[i : i + 1000]
        for cid, pid in s.execute(
            select(ConsentPrincipal.consent_id, ConsentPrincipal.principal_id)
            .where(ConsentPrincipal.consent_id.in_(chunk))
            .order_by(ConsentPrincipal.consent_id, ConsentPrincipal.principal_id)
        ):
            out[cid].append(pid)
    return out


_LATEST = datetime.max.replace(tzinfo=UTC)


def valid_until(given_at: datetime, expires_at: datetime | None, on: date,
                max_age_days: int | None) -> datetime | None:
    """``rules_fr.data.consent_valid_until``, also for rows stored with extreme dates before
    dates were bounded (a ``given_at`` in year 9999: its end is past the last representable
    instant, shown as that; an ``expires_at`` in year 1: over at once). Never raises."""
    try:
        return consent_valid_until(given_at, expires_at, on, max_age_days)
    except OverflowError:
        if expires_at is not None and expires_at < datetime(2, 1, 1, tzinfo=UTC):
            return expires_at
        return _LATEST


def first_invalid(until: datetime | None) -> datetime | None:
    """The first instant a consent valid through ``until`` no longer counts (one second
    later); None when it never comes."""
    if until is None or until >= _LATEST - timedelta(seconds=1):
        return None
    return until + timedelta(seconds=1)


@dataclass(frozen=True)
class Lifetime:
    """A consent's validity now: its last valid instant and its status (``ConsentOut``)."""

    valid_until: datetime | None
    status: str


def lifetime(c: Consent, at: datetime, max_age_days: int | None) -> Lifetime:
    """``valid_until``: ``rules_fr.data.consent_valid_until`` under the rules in force today
    (Paris) and the tenant policy's ``consent_max_age_days``; ``status`` at ``at`` from the
    consent's own dates (revocation first, then not yet given, then expiry)."""
    until = valid_until(c.given_at, c.expires_at, paris_date(at), max_age_days)
    if c.revoked_at is not None and c.revoked_at <= at:
        status = "revoked"
    elif c.given_at > at:
        status = "not_yet_valid"
    elif until is not None and until < at:
        status = "expired"
    else:
        status = "valid"
    return Lifetime(until, status)


def warnings(c: Consent, principals: list[str]) -> list[dict[str, str]]:
    """What makes a stored consent cover less than it seems (``ConsentOut.warnings``)."""
    out = []
    if not principals:
        out.append({"code": "names_no_principal", "detail": (
            f"the consent (source {c.source!r}) names no principal, so it covers no "
            "principal's calls: a consent collected by a partner that does not name the "
            "principal is not a consent to be called by it (rules-fr.md §5)")})
    if c.conditional_on_sale:
        out.append({"code": "conditional_on_sale", "detail": (
            "the consent was a condition of a sale (tied sale): it is void, checks answer "
            "CONSENT_INVALID")})
    if c.notice_given is False:
        out.append({"code": "notice_not_given", "detail": (
            "the information notice was not given: the consent was not informed")})
    return out


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


# --- GET /v1/consents/expiring ---------------------------------------------------------------

EXPIRING_DEFAULT_LIMIT = 1000
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def expiring(
    s: Session, tenant_id: str, *, at: datetime, within_days: int, max_age_days: int | None,
    limit: int, after: str | None,
) -> tuple[list[Consent], str | None]:
    """This tenant's consents valid at ``at`` (not revoked, given, not expired) whose
    ``valid_until`` falls within ``within_days`` days, soonest first (then by id), one keyset
    page of ``limit``: (consents, the ``after`` of the next page or None).

    ``valid_until`` is the earlier of two ends, each an index-friendly order: collection + the
    lifetime in force (ordered by ``given_at``) and ``expires_at`` − 1 s (ordered by
    ``expires_at``). Each end is read in its own order, the two merged; a consent is taken
    from the stream of the end that decides it, so it comes once. A consent in the first
    ``limit`` of the merge is within the first ``limit`` of its stream (every consent before
    it there ends no later), so ``limit`` + 1 rows of each stream suffice."""
    on = paris_date(at)
    probe = consent_valid_until(_EPOCH, None, on, max_age_days)
    lifetime_ = probe - _EPOCH if probe is not None else None  # None: no ceiling
    horizon = at + timedelta(days=within_days)
    mark: tuple[datetime, str] | None = None
    if after:
        last = s.get(Consent, after)
        if last is None or last.tenant_id != tenant_id:
            raise Unprocessable(f"after={after!r} is not a consent of this list",
                                code="invalid_cursor")
        until = valid_until(last.given_at, last.expires_at, on, max_age_days)
        if until is None or until == _LATEST:
            raise Unprocessable(f"after={after!r} is not a consent of this list",
                                code="invalid_cursor")
        mark = (until, last.id)
    valid_now = (
        (Consent.tenant_id == tenant_id) & (Consent.given_at <= at)
        & or_(Consent.revoked_at.is_(None), Consent.revoked_at > at)
        & or_(Consent.expires_at.is_(None), Consent.expires_at > at)
    )
    streams = []
    if lifetime_ is not None:
        q = select(Consent).where(valid_now, Consent.given_at >= at - lifetime_,
                                  Consent.given_at <= horizon - lifetime_)
        if mark is not None:
            g = mark[0] - lifetime_
            q = q.where(or_(Consent.given_at > g,
                            (Consent.given_at == g) & (Consent.id > mark[1])))
        streams.append(("lifetime", s.scalars(
            q.order_by(Consent.given_at, Consent.id).limit(limit + 1)).all()))
    q = select(Consent).where(valid_now, Consent.expires_at <= horizon + _SECOND)
    if lifetime_ is not None:
        q = q.where(Consent.given_at >= at - lifetime_)
    if mark is not None:
        e = mark[0] + _SECOND
        q = q.where(or_(Consent.expires_at > e,
                        (Consent.expires_at == e) & (Consent.id > mark[1])))
    streams.append(("expires_at", s.scalars(
        q.order_by(Consent.expires_at, Consent.id).limit(limit + 1)).all()))

    def decided(stream: str, rows: list[Consent]) -> list[tuple[datetime, str, Consent]]:
        out = []
        for c in rows:
            end = (c.given_at + lifetime_ if stream == "lifetime" and lifetime_ is not None
                   else c.expires_at - _SECOND)  # type: ignore[operator]
            until = consent_valid_until(c.given_at, c.expires_at, on, max_age_days)
            ties_to_lifetime = stream == "expires_at" and lifetime_ is not None and \
                until == c.given_at + lifetime_
            if until == end and not ties_to_lifetime and until is not None and until >= at:
                out.append((until, c.id, c))
        return out

    merged = list(heapq.merge(*(decided(name, rows) for name, rows in streams),
                              key=lambda t: (t[0], t[1])))
    page = [c for _, _, c in merged[: limit]]
    return page, (page[-1].id if len(merged) > limit else None)
