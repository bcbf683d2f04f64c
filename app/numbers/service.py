"""One callee's story for one tenant, the proof of one consent, and when a number may next be
called.

Read-only. Every query is filtered on the caller's tenant. The registries are small per callee
(one row per consent, contract… an admin recorded) and are returned whole; the attempts can be
many, so they come in pages, oldest first, by keyset on ``(checked_at, id)``: ``after`` is the
id of the last attempt of the previous page (stable under concurrent inserts, no OFFSET scan).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app import clock
from app.calls.models import Attempt
from app.calls.schemas import CheckIn, ReasonOut
from app.calls.service import evaluate_call
from app.campaigns.service import campaign_facts
from app.clock import PARIS, iso
from app.db import session_scope
from app.errors import NotFound, Unprocessable
from app.money import format_eur
from app.numbers.schemas import (
    AttemptEntry,
    AttemptsPage,
    ConsentEntry,
    ContractEntry,
    CurrentState,
    ErasureEntry,
    HistoryOut,
    NextWindowOut,
    OppositionEntry,
    ProofLifecycle,
    ProofOut,
    QuarantineEntry,
    RefusalEntry,
    TimelineEvent,
)
from app.principals.service import held_principals
from app.registries.models import Consent, Contract, Erasure, Opposition, Quarantine, Refusal
from app.registries.service import (
    Lifetime,
    evidence_sha256,
    first_invalid,
    get_consent,
    lifetime,
    normalise_callee,
    principals_of,
)
from app.registries.tombstones import PREFIX as TOMBSTONE_PREFIX
from app.registries.tombstones import tombstones
from app.tenancy.auth import Principal
from rules_fr import data
from rules_fr.data import CooldownVersion, RegimeVersion
from rules_fr.days import in_zone, local_midnight, plus_days
from rules_fr.model import ConsentFacts
from rules_fr.numbering import classify
from rules_fr.rules import consent_valid

DEFAULT_PAGE = 200
MAX_PAGE = 1000


def _zone_of(e164: str) -> str:
    return classify(e164).time_zone or PARIS.key


def _iso(dt: datetime | None, zone: str) -> str | None:
    return _s(dt, zone) if dt is not None else None


def _s(dt: datetime, zone: str) -> str:
    """In the callee's zone; a stored extreme the zone cannot show (9999-12-31T23:59:59Z from
    Paris) stays in UTC, the same instant."""
    return iso(dt, zone) or ""


# --- rows → entries --------------------------------------------------------------------------


def _erased(r: Any) -> bool:
    return bool(r.callee.startswith(TOMBSTONE_PREFIX))


def _consent(r: Consent, z: str, principals: list[str], life: Lifetime) -> ConsentEntry:
    return ConsentEntry(
        erased=_erased(r),
        id=r.id, scope=r.scope, channel=r.channel, given_at=_s(r.given_at, z),
        expires_at=_iso(r.expires_at, z), revoked_at=_iso(r.revoked_at, z),
        revoke_reason=r.revoke_reason, evidence=r.evidence, evidence_sha256=r.evidence_sha256,
        principals=principals, source=r.source, notice_given=r.notice_given,
        conditional_on_sale=r.conditional_on_sale, valid_until=_iso(life.valid_until, z),
        status=life.status,
    )


def _refusal(r: Refusal, z: str) -> RefusalEntry:
    return RefusalEntry(id=r.id, refused_at=_s(r.refused_at, z), attempt_id=r.attempt_id,
                        erased=_erased(r))


def _attempt(r: Attempt, z: str) -> AttemptEntry:
    return AttemptEntry(
        attempt_id=r.id, checked_at=_s(r.checked_at, z), campaign=r.campaign_id,
        caller_id=r.caller_id, agent_id=r.agent_id, external_id=r.external_id,
        decision=r.decision, reason_codes=r.reason_codes.split(),
        reasons=[ReasonOut(**x) for x in r.reasons], regime=r.regime,
        ruleset_version=r.ruleset_version, penalty_eur=format_eur(r.penalty_micros),
        next_allowed_at=_iso(r.next_allowed_at, z), outcome_status=r.outcome_status,
        sip_code=r.sip_code, duration_s=r.duration_s, consumer_refused=r.consumer_refused,
        consumer_opposed=r.consumer_opposed, outcome_at=_iso(r.outcome_at, z),
    )


def _page_size(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_PAGE
    if not 1 <= limit <= MAX_PAGE:
        raise Unprocessable(f"limit must be between 1 and {MAX_PAGE}", code="invalid_limit")
    return limit


def _attempts_page(
    s: Session, tenant_id: str, callee: str, zone: str, *, limit: int | None, after: str | None,
    start: datetime | None = None, end: datetime | None = None,
) -> AttemptsPage:
    """Attempts to ``callee`` in ``[start, end)``, oldest first, one keyset page."""
    size = _page_size(limit)
    q = select(Attempt).where(Attempt.tenant_id == tenant_id, Attempt.callee == callee)
    if start is not None:
        q = q.where(Attempt.checked_at >= start)
    if end is not None:
        q = q.where(Attempt.checked_at < end)
    if after:
        mark = s.scalar(
            select(Attempt.checked_at).where(
                Attempt.id == after, Attempt.tenant_id == tenant_id, Attempt.callee == callee
            )
        )
        if mark is None:
            raise Unprocessable(f"after={after!r} is not an attempt of this list",
                                code="invalid_cursor")
        q = q.where(
            or_(Attempt.checked_at > mark, and_(Attempt.checked_at == mark, Attempt.id > after))
        )
    rows = list(s.scalars(q.order_by(Attempt.checked_at, Attempt.id).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    return AttemptsPage(
        items=[_attempt(r, zone) for r in rows], limit=size,
        next_after=rows[-1].id if more else None,
    )


# --- readings shared by the history and the proof -------------------------------------------


def _withdrawing(at: datetime) -> bool:
    """Whether, under the rule set in force at ``at``, a refusal withdraws a consent."""
    v = data.ruleset_for(data.paris_date(at)).get("opposition")
    return isinstance(v, RegimeVersion) and v.refusal_withdraws_consent


def _consent_facts(c: Consent) -> ConsentFacts:
    return ConsentFacts(
        scope=c.scope,  # type: ignore[arg-type]
        given_at=c.given_at, expires_at=c.expires_at, revoked_at=c.revoked_at,
    )


def _withdrawing_refusals(refusals: list[datetime], at: datetime) -> list[datetime]:
    """The refusals that withdraw consent when judged at ``at`` — all of them under the opt-in
    regime (loi 2025-594), none before: the rules' own reading (``rules_fr.rules``)."""
    return refusals if _withdrawing(at) else []


def _cooldown_until(refusals: list[datetime], at: datetime, zone: str) -> datetime | None:
    """End of the refusal cooldown running at ``at`` (same reading as the rule: a refusal on
    local day R blocks through R+60; calls resume at R+61 00:00), or None."""
    v = data.ruleset_for(data.paris_date(at)).get("refusal_cooldown")
    if not isinstance(v, CooldownVersion):
        return None
    tz = ZoneInfo(zone)
    ends = [
        local_midnight(plus_days(in_zone(r, tz).date(), v.full_days + 1), tz)
        for r in refusals
        if r <= at
    ]
    end = max(ends, default=None)
    return end if end is not None and end > at else None


def _registry(
    s: Session, model: Any, tenant_id: str, callees: list[str], order: Any
) -> list[Any]:
    q = select(model).where(model.tenant_id == tenant_id, model.callee.in_(callees))
    return list(s.scalars(q.order_by(order, model.id)))


# --- GET /v1/numbers/{number}/history --------------------------------------------------------


def history(
    tenant_id: str, number: str, *, limit: int | None, after: str | None,
    max_age_days: int | None = None,
) -> HistoryOut:
    callee = normalise_callee(number)
    z = _zone_of(callee)
    at = clock.now()
    # an erased number's records live on under its tombstone key (app.erasure): still its story
    tombs = list(tombstones(tenant_id, callee))  # + an overseas line's legacy one
    with session_scope() as s:
        # principal-scoped records (contracts, refusals, oppositions) are erased under their
        # principal's tombstone; the history stays the tenant's own records (app.erasure)
        keys = [callee, *tombs] + [t for p in sorted(held_principals(s, tenant_id) - {tenant_id})
                                   for t in tombstones(p, callee)]
        consents: list[Consent] = _registry(s, Consent, tenant_id, keys, Consent.given_at)
        contracts: list[Contract] = _registry(s, Contract, tenant_id, keys, Contract.starts_on)
        oppositions: list[Opposition] = _registry(
            s, Opposition, tenant_id, keys, Opposition.created_at
        )
        refusals: list[Refusal] = _registry(s, Refusal, tenant_id, keys, Refusal.refused_at)
        quarantines: list[Quarantine] = _registry(
            s, Quarantine, tenant_id, keys, Quarantine.created_at
        )
        erasures = [
            ErasureEntry(
                id=e.id, requested_at=_s(e.requested_at, z), requested_by=e.requested_by,
                erased={"consents": e.consents, "contracts": e.contracts,
                        "refusals": e.refusals, "quarantines": e.quarantines,
                        "oppositions": e.oppositions},
                opposition_added=e.opposition_added, consents_held=e.consents_held or 0,
                legal_hold_until=_iso(e.legal_hold_until, z),
            )
            for e in s.scalars(
                select(Erasure).where(Erasure.tenant_id == tenant_id, Erasure.tombstone.in_(tombs))
                .order_by(Erasure.requested_at, Erasure.id)
            )
        ]
        page = _attempts_page(s, tenant_id, callee, z, limit=limit, after=after)
        named = principals_of(s, [c.id for c in consents])
        a = Attempt
        total, allowed, penalty, last = s.execute(
            select(
                func.count(), func.count().filter(a.decision == "allow"),
                func.coalesce(func.sum(a.penalty_micros), 0), func.max(a.checked_at),
            ).where(a.tenant_id == tenant_id, a.callee == callee)
        ).one()

    refused_at = [r.refused_at for r in refusals]
    withdrawing = _withdrawing_refusals(refused_at, at)
    lives = {c.id: lifetime(c, at, max_age_days) for c in consents}
    valid = {
        scope: [
            c.id for c in consents
            if c.scope == scope and consent_valid(_consent_facts(c), at, withdrawing)
            and lives[c.id].status == "valid"  # not expired (collection + 365 days…)
        ]
        for scope in ("canvassing", "outside_hours")
    }
    today = in_zone(at, ZoneInfo(z)).date()
    quarantined = max((q.until for q in quarantines if q.until > at), default=None)
    summary = CurrentState(
        at=_s(at, z), regime=data.regime_on(data.paris_date(at)),
        valid_consents=valid["canvassing"], valid_outside_hours_consents=valid["outside_hours"],
        has_valid_consent=bool(valid["canvassing"]),
        active_contracts=[
            c.reference for c in contracts
            if c.starts_on <= today and (c.ends_on is None or today <= c.ends_on)
        ],
        opposed=bool(oppositions),
        opposed_since=_iso(min((o.created_at for o in oppositions), default=None), z),
        refusal_cooldown_until=_iso(_cooldown_until(refused_at, at, z), z),
        quarantined_until=_iso(quarantined, z),
        attempts_total=total, attempts_allowed=allowed, attempts_denied=total - allowed,
        penalty_total_eur=format_eur(int(penalty)),
        last_attempt_at=_iso(last.replace(tzinfo=UTC) if last and last.tzinfo is None else last,
                             z),
    )
    return HistoryOut(
        callee=callee, callee_time_zone=z, summary=summary,
        consents=[_consent(c, z, named[c.id], lives[c.id]) for c in consents],
        contracts=[
            ContractEntry(id=c.id, reference=c.reference, sector=c.sector, starts_on=c.starts_on,
                          ends_on=c.ends_on, recorded_at=_s(c.created_at, z),
                          erased=_erased(c))
            for c in contracts
        ],
        oppositions=[
            OppositionEntry(id=o.id, source=o.source, attempt_id=o.attempt_id,
                            created_at=_s(o.created_at, z), erased=_erased(o))
            for o in oppositions
        ],
        refusals=[_refusal(r, z) for r in refusals],
        quarantines=[
            QuarantineEntry(id=q.id, created_at=_s(q.created_at, z), until=_s(q.until, z),
                            attempt_id=q.attempt_id, erased=_erased(q))
            for q in quarantines
        ],
        erasures=erasures, attempts=page,
        timeline=_timeline(consents, contracts, oppositions, refusals, quarantines, erasures,
                           page, z, at, lives),
    )


def _timeline(
    consents: list[Consent], contracts: list[Contract], oppositions: list[Opposition],
    refusals: list[Refusal], quarantines: list[Quarantine], erasures: list[ErasureEntry],
    page: AttemptsPage, z: str, at: datetime, lives: dict[str, Lifetime],
) -> list[TimelineEvent]:
    tz = ZoneInfo(z)
    events: list[tuple[datetime, int, TimelineEvent]] = []

    def add(when: datetime, event: str, ref: str, detail: str) -> None:
        events.append((when, len(events), TimelineEvent(
            at=_s(when, z), event=event, ref=ref, detail=detail)))

    # a refusal first: at the same instant it is the cause of the revocation it triggers
    for r in refusals:
        add(r.refused_at, "refusal", r.id,
            f"refused during call {r.attempt_id}" if r.attempt_id else "refused")
    for c in consents:
        add(c.given_at, "consent_given", c.id, f"{c.scope} consent via {c.channel}")
        ended = first_invalid(lives[c.id].valid_until)
        if ended is not None and ended <= at:  # expires_at, or the lifetime (R223-1)
            add(ended, "consent_expired", c.id, f"{c.scope} consent expired")
        if c.revoked_at is not None:
            late = ended is not None and ended <= c.revoked_at
            add(c.revoked_at, "consent_revoked", c.id,
                (c.revoke_reason or "revoked") + (" (already expired)" if late else ""))
    for k in contracts:
        add(local_midnight(k.starts_on, tz), "contract_started", k.id,
            f"contract {k.reference} ({k.sector})")
        if k.ends_on is not None and (ended := local_midnight(plus_days(k.ends_on, 1), tz)) <= at:
            add(ended, "contract_ended", k.id,
                f"contract {k.reference} ended on {k.ends_on.isoformat()} (inclusive)")
    for o in oppositions:
        add(o.created_at, "opposition", o.id, f"internal opposition ({o.source})")
    for q in quarantines:
        add(q.created_at, "quarantine", q.id, f"reported unassigned until {_s(q.until, z)}")
    for e in erasures:
        add(datetime.fromisoformat(e.requested_at), "erasure", e.id,
            "personal data erased (GDPR art. 17); the number stays blocked")
    for a in page.items:
        detail = f"{a.decision} ({' '.join(a.reason_codes) or 'no reason'}) campaign {a.campaign}"
        if a.outcome_status:
            detail += f"; outcome {a.outcome_status}"
        events.append((datetime.fromisoformat(a.checked_at), len(events), TimelineEvent(
            at=a.checked_at, event="attempt", ref=a.attempt_id, detail=detail)))
    return [e for _, _, e in sorted(events, key=lambda t: (t[0], t[1]))]


# --- GET /v1/consents/{id}/proof -------------------------------------------------------------


def proof(tenant_id: str, consent_id: str, *, limit: int | None, after: str | None,
          max_age_days: int | None = None) -> ProofOut:
    at = clock.now()
    with session_scope() as s:
        c = get_consent(s, tenant_id, consent_id)  # 404 for another tenant's consent
        z = _zone_of(c.callee)
        refusals: list[Refusal] = [
            r for r in _registry(s, Refusal, tenant_id, [c.callee], Refusal.refused_at)
            if r.refused_at >= c.given_at
        ]
        withdrawing = _withdrawing_refusals([r.refused_at for r in refusals], at)
        withdrawn = min(withdrawing, default=None)
        life = lifetime(c, at, max_age_days)
        # the first instant it no longer counts: expires_at, or the lifetime's end (R223-1)
        expired = first_invalid(life.valid_until)
        ends = [t for t in (expired, c.revoked_at, withdrawn) if t is not None]
        valid_until = min(ends, default=None)
        if c.given_at > at:
            status = "not_yet_valid"
        elif valid_until is None or valid_until > at:
            status = "valid"
        elif valid_until == c.revoked_at:
            status = "revoked"
        elif valid_until == withdrawn:
            status = "withdrawn"
        else:
            status = "expired"
        # an erasure replaces the evidence by its own record and keeps the hash (app.erasure)
        erased = _erased(c) and c.evidence.get("erased") is True
        recomputed = None if erased else evidence_sha256(c.evidence)
        page = _attempts_page(
            s, tenant_id, c.callee, z, limit=limit, after=after, start=c.given_at,
            end=valid_until,
        )
        return ProofOut(
            consent=_consent(c, z, principals_of(s, [c.id])[c.id], life), callee_time_zone=z,
            evidence_sha256_recomputed=recomputed,
            evidence_intact=None if erased else recomputed == c.evidence_sha256,
            lifecycle=ProofLifecycle(
                given_at=_s(c.given_at, z), expires_at=_iso(c.expires_at, z),
                revoked_at=_iso(c.revoked_at, z), revoke_reason=c.revoke_reason,
                withdrawn_by_refusal_at=_iso(withdrawn, z), valid_until=_iso(valid_until, z),
                status=status, refusals_after=[_refusal(r, z) for r in refusals],
            ),
            attempts_under=page,
        )


# --- GET /v1/numbers/{number}/next-window ----------------------------------------------------


def next_window(
    p: Principal, number: str, campaign: str, caller_id: str | None, at: datetime | None
) -> NextWindowOut:
    """Judge the call with the full rule set (``evaluate_call``: nothing logged)."""
    callee = normalise_callee(number)
    facts = campaign_facts(p.tenant_id or "", campaign)
    if facts is None:
        raise NotFound(f"no campaign {campaign!r}")
    if caller_id is None and facts.caller_ids:
        caller_id = sorted(facts.caller_ids)[0]
    out = evaluate_call(p, CheckIn(campaign=campaign, callee=callee, caller_id=caller_id), at)
    allowed = out.decision == "allow"
    return NextWindowOut(
        callee=out.callee, campaign=campaign, caller_id=caller_id, callable_now=allowed,
        next_allowed_at=out.checked_at if allowed else out.next_allowed_at,
        blocking=[r for r in out.reasons if r.severity == "block"],
        notices=[r for r in out.reasons if r.severity == "notice"],
        regime=out.regime, ruleset_version=out.ruleset_version, checked_at=out.checked_at,
    )
