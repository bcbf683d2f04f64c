"""Deciding a call: gather the facts once, run the pure rules, log the attempt.

Hot path, so it uses SQLAlchemy Core on one connection and one transaction:

1. cached facts (campaign, caller-ID registration, tenant policy) — no database round trip;
2. ``BEGIN`` (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock on (principal,
   callee)), so that counting earlier attempts and inserting this one cannot interleave across
   workers — nor across the tenants calling for one principal (rules-fr.md §1, D223-9: the
   frequency limit is the principal's): the frequency limit holds under concurrency;
3. registries, BLOCTEL, earlier attempts → ``rules_fr.model.CallFacts`` → ``rules_fr.evaluate``
   (the campaign's principal's facts: ``app.calls.facts``);
4. insert the attempt (with its principal) and its penalty line, commit.

Outcomes are recorded for the attempt's principal: a refusal and an opposition reported through
one call centre deny every tenant calling for that principal. The consent withdrawal a refusal
causes (opt-in era) is marked on the consents naming that principal **alone** (any tenant's):
a consent naming several principals is left as it is in the registry — the refusal, kept for the
principal, already withdraws it for that principal in the rules, while the consumer refused
none of the others (reading chosen: a refusal answers the principal that called).

An ``external_id`` the facts query finds already stored is a replay, answered from the stored
attempt only when the request is the same (``app.calls.idempotency``); outcomes are recorded
exactly once (``record_outcome``), and so is each flag of the agent's disposition that follows
an answered outcome (``record_disposition``).
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import clock
from app.alerts.service import raise_alert
from app.alerts.throttle import throttle_for
from app.bloctel.lookup import default_lookup
from app.calls import idempotency, pipeline
from app.calls.facts import CALLEE_FACTS, LOOKBACK, MOBILE_CLI_COUNT, facts_of_rows, facts_params
from app.calls.models import Attempt, PenaltyLine
from app.calls.schemas import (
    AttemptOut,
    CheckIn,
    DecisionOut,
    DispositionIn,
    OutcomeIn,
    OutcomeOut,
    PenaltyOut,
    ReasonOut,
)
from app.campaigns.service import caller_registration, campaign_facts, verification_required
from app.clock import PARIS
from app.db import CALLEE_LOCK, callee_lock_key, get_engine, write_transaction
from app.errors import Conflict, NotFound
from app.ids import new_id
from app.money import format_eur, to_micros
from app.principals.models import ConsentPrincipal
from app.registries.models import Consent, Opposition, Quarantine, Refusal
from app.registries.service import add_opposition
from app.tenancy.auth import Principal
from rules_fr import evaluate
from rules_fr.model import (
    BloctelFacts,
    CallFacts,
    CampaignFacts,
    Decision,
    NumberInfo,
    NumberKind,
    RegisteredCallerId,
)
from rules_fr.numbering import classify

log = logging.getLogger("gateway.calls")
UNASSIGNED_SIP = frozenset({404, 410, 484, 604})
#: PostgreSQL: the check in two round trips; SQLite: the facts and the inserts on the driver's
#: cursor (app.calls.pipeline). False sends each statement through SQLAlchemy, as before:
#: ``bench/pipeline_ab.py`` compares the two.
PIPELINE = True

_attempts = Attempt.__table__
_penalties = PenaltyLine.__table__
_quarantines = Quarantine.__table__
_refusals = Refusal.__table__
_consents = Consent.__table__


_a = _attempts.c
_EXISTING = select(_attempts).where(
    _a.tenant_id == bindparam("tenant_id"), _a.external_id == bindparam("external_id")
)
_INSERT_ATTEMPT = insert(_attempts)
_INSERT_PENALTY = insert(_penalties)
#: the attempt's columns, in the order ``_check`` writes them
_ATTEMPT_KEYS = [
    "id", "tenant_id", "campaign_id", "principal_id", "external_id", "callee", "caller_id",
    "agent_id", "contract_ref", "checked_at", "decision", "reason_codes", "reasons", "regime",
    "ruleset_version", "callee_time_zone", "next_allowed_at", "penalty_micros", "counted",
    "outcome_status", "sip_code", "duration_s", "consumer_refused", "consumer_opposed",
    "outcome_at", "callee_department", "request_fingerprint", "dialled_despite_deny",
]
_PENALTY_KEYS = ["tenant_id", "attempt_id", "code", "amount_micros", "created_at"]
# the same statements as psycopg SQL, for PostgreSQL's two-round-trip path (app.calls.pipeline)
_PG_LOCK_SQL = pipeline.compile_sql(CALLEE_LOCK)
_PG_FACTS_SQL = pipeline.compile_sql(CALLEE_FACTS)
_PG_MOBILE_SQL = pipeline.compile_sql(MOBILE_CLI_COUNT)
_PG_INSERT_ATTEMPT_SQL = pipeline.compile_sql(_INSERT_ATTEMPT, _ATTEMPT_KEYS)
_PG_INSERT_PENALTY_SQL = pipeline.compile_sql(_INSERT_PENALTY.return_defaults(False), _PENALTY_KEYS)
# and as sqlite3 SQL, for SQLite's path without SQLAlchemy's per-statement work
_SQLITE_FACTS_SQL = pipeline.compile_sqlite(CALLEE_FACTS)
_SQLITE_INSERT_ATTEMPT_SQL = pipeline.compile_sqlite(_INSERT_ATTEMPT, _ATTEMPT_KEYS)
_SQLITE_INSERT_PENALTY_SQL = pipeline.compile_sqlite(_INSERT_PENALTY, _PENALTY_KEYS)


def _iso(dt: datetime | None, zone: str) -> str | None:
    return clock.iso(dt, zone)


def _reasons_json(decision: Decision) -> list[dict[str, Any]]:
    return [
        {"code": r.code, "severity": r.severity, "legal_basis": r.legal_basis,
         "message": r.message}
        for r in decision.reasons
    ]


def _answer(
    *, attempt_id: str | None, decision: str, callee: str, zone: str, regime: str,
    checked_at: datetime, reasons: list[dict[str, Any]], penalty_micros: int,
    next_allowed_at: datetime | None, ruleset_version: str, campaign: str,
    external_id: str | None, replayed: bool = False,
) -> DecisionOut:
    """The check's answer — one builder for a fresh check, a dry run and a replay: instants
    in the callee's zone, amounts formatted from micro-euros."""
    return DecisionOut(
        attempt_id=attempt_id, decision=decision, callee=callee, callee_time_zone=zone,
        regime=regime, checked_at=_iso(checked_at, zone) or "",
        reasons=[ReasonOut(**r) for r in reasons], penalty_eur=format_eur(penalty_micros),
        next_allowed_at=_iso(next_allowed_at, zone), ruleset_version=ruleset_version,
        campaign=campaign, external_id=external_id, replayed=replayed,
    )


def _out_from_row(row: Any, replayed: bool) -> DecisionOut:
    return _answer(
        attempt_id=row.id, decision=row.decision, callee=row.callee,
        zone=row.callee_time_zone, regime=row.regime, checked_at=row.checked_at,
        reasons=row.reasons, penalty_micros=row.penalty_micros,
        next_allowed_at=row.next_allowed_at, ruleset_version=row.ruleset_version,
        campaign=row.campaign_id, external_id=row.external_id, replayed=replayed,
    )


def _decided(attempt_id: str | None, decision: Decision, callee: str, at: datetime,
             reasons: list[dict[str, Any]], penalty_micros: int, body: CheckIn) -> DecisionOut:
    return _answer(
        attempt_id=attempt_id, decision=decision.decision, callee=callee,
        zone=decision.callee_time_zone, regime=decision.regime, checked_at=at, reasons=reasons,
        penalty_micros=penalty_micros, next_allowed_at=decision.next_allowed_at,
        ruleset_version=decision.ruleset_version, campaign=body.campaign,
        external_id=body.external_id,
    )


def _existing(conn: Connection, tenant_id: str, external_id: str) -> Any:
    return conn.execute(_EXISTING, {"tenant_id": tenant_id, "external_id": external_id}).first()


def _replay(row: Any, request: idempotency.Request) -> DecisionOut:
    """The stored attempt ``row`` its ``external_id`` names, if ``request`` is the same request;
    409 ``idempotency_conflict`` naming what differs otherwise."""
    differs = idempotency.differs(row, request)
    if differs:
        raise Conflict(
            f"external_id {row.external_id!r} already names attempt {row.id}, checked for "
            f"another request (differs: {', '.join(differs)}); use a new external_id for a "
            "new call",
            code="idempotency_conflict", extra={"differs": differs, "attempt_id": row.id},
        )
    return _out_from_row(row, replayed=True)


@dataclass(frozen=True, slots=True)
class _Known:
    """What is known before any transaction: parsed numbers, cached campaign facts, and the
    BLOCTEL answer (in memory; a cold worker loads the list here, not under a lock)."""

    campaign: CampaignFacts
    callee: NumberInfo
    caller: NumberInfo | None
    registration: RegisteredCallerId | None
    bloctel: BloctelFacts | None
    throttle: tuple[datetime | None, str | None] = (None, None)  # until, monitor


def _prepare(p: Principal, body: CheckIn) -> _Known:
    tenant_id = p.tenant_id or ""
    campaign = campaign_facts(tenant_id, body.campaign)
    if campaign is None:
        raise NotFound(f"no campaign {body.campaign!r}")
    caller = classify(body.caller_id) if body.caller_id and body.caller_id.strip() else None
    registration = (
        caller_registration(tenant_id, caller.e164) if caller and caller.e164 else None
    )
    callee = classify(body.callee)
    bloctel = default_lookup().lookup(None, callee.e164) if callee.e164 else None
    throttle = throttle_for(tenant_id, body.campaign, caller.e164 if caller else None,
                            clock.now())  # cached per worker: no round trip
    return _Known(campaign, callee, caller, registration, bloctel, throttle)


def _gather(
    conn: Connection, p: Principal, body: CheckIn, known: _Known, at: datetime, *, lock: bool
) -> tuple[CallFacts, str | None]:
    """The facts of the call, and the attempt its ``external_id`` already names (if any)."""
    tenant_id = p.tenant_id or ""
    principal = known.campaign.principal or tenant_id
    callee, caller = known.callee, known.caller
    facts: dict[str, Any] = {}
    mobile_caller = caller is not None and caller.kind is NumberKind.MOBILE and caller.e164
    mobile_params: dict[str, Any] | None = None
    if mobile_caller:
        day = at.astimezone(PARIS).date()
        start = datetime(day.year, day.month, day.day, tzinfo=PARIS).astimezone(UTC)
        mobile_params = {"tenant_id": tenant_id, "caller_id": caller.e164,  # type: ignore[union-attr]
                         "since": start, "at": at}
        facts["mobile_cli_day"] = day
    existing: str | None = None
    postgresql = conn.dialect.name == "postgresql"
    rows: Any = None
    params = (facts_params(tenant_id, callee.e164, at - LOOKBACK, at, body.external_id,
                           principal) if callee.e164 else None)
    if lock and callee.e164 and postgresql and PIPELINE:
        # lock + facts (+ the mobile count) in one round trip (app.calls.pipeline)
        rows, count = pipeline.read(
            conn, _PG_LOCK_SQL, callee_lock_key(principal, callee.e164), _PG_FACTS_SQL, params,
            _PG_MOBILE_SQL if mobile_params is not None else None, mobile_params,
        )
        if count is not None:
            facts["mobile_cli_attempts"] = count
            mobile_params = None
    elif callee.e164:
        if lock and postgresql:
            conn.execute(CALLEE_LOCK, {"key": callee_lock_key(principal, callee.e164)})
        if PIPELINE and conn.dialect.name == "sqlite":
            rows = pipeline.sqlite_facts(conn, _SQLITE_FACTS_SQL, params)  # type: ignore[arg-type]
        else:
            rows = conn.execute(CALLEE_FACTS, params)
    found = facts_of_rows(rows) if rows is not None else None
    if found is not None:
        existing = found.existing_attempt_id
        facts.update(
            consents=found.consents, contracts=found.contracts,
            internal_opposition=found.internal_opposition, refusals=found.refusals,
            quarantined_until=found.quarantined_until, counted_attempts=found.counted_attempts,
            bloctel=known.bloctel,
        )
    elif body.external_id is not None:
        row = _existing(conn, tenant_id, body.external_id)
        existing = row.id if row is not None else None
    if mobile_params is not None:
        facts["mobile_cli_attempts"] = conn.execute(MOBILE_CLI_COUNT, mobile_params).scalar_one()
    call = CallFacts(
        at=at, campaign=known.campaign, callee=callee, caller=caller,
        caller_registration=known.registration, agent_id=body.agent_id,
        caller_id_verification_required=verification_required(),
        contract_ref=body.contract_ref, callee_department=body.callee_department,
        tenant_suspended=p.tenant_suspended, policy=p.policy,
        throttled_until=known.throttle[0], throttled_by=known.throttle[1], **facts,
    )
    return call, existing


def evaluate_call(p: Principal, body: CheckIn, at: datetime | None) -> DecisionOut:
    """Judge a call at ``at`` (default now) without any side effect."""
    at = (at or clock.now()).astimezone(UTC)
    known = _prepare(p, body)
    with get_engine().connect() as conn, conn.begin():
        facts, _ = _gather(conn, p, body, known, at, lock=False)
    decision = evaluate(facts)
    return _decided(None, decision, facts.callee.e164 or body.callee.strip(), at,
                    _reasons_json(decision), to_micros(decision.penalty_eur), body)


def check_call(p: Principal, body: CheckIn) -> tuple[DecisionOut, Decision | None]:
    """Decide and log one attempt. Idempotent on ``external_id`` and the normalised request
    (``app.calls.idempotency``): the same request replays, another one is 409."""
    tenant_id = p.tenant_id or ""
    known = _prepare(p, body)  # outside the write lock: parsing and cached reads
    request = idempotency.normalise(body, known.callee, known.caller)
    try:
        return _check(p, body, tenant_id, known, request)
    except IntegrityError:
        # a concurrent check with the same external_id won the race: its attempt, if it was
        # checked for the same request (on PostgreSQL two forms of one callee, or two callees,
        # take different advisory locks, so this is where they meet)
        if body.external_id is None:
            raise
        with get_engine().connect() as conn, conn.begin():
            row = _existing(conn, tenant_id, body.external_id)
        if row is None:
            raise
        return _replay(row, request), None


def _check(
    p: Principal, body: CheckIn, tenant_id: str, known: _Known, request: idempotency.Request
) -> tuple[DecisionOut, Decision | None]:
    with write_transaction() as conn:
        at = clock.now()
        facts, existing = _gather(conn, p, body, known, at, lock=True)
        if existing is not None:
            row = conn.execute(select(_attempts).where(_a.id == existing)).first()
            return _replay(row, request), None
        decision = evaluate(facts)
        penalty = to_micros(decision.penalty_eur)
        attempt_id = new_id("att")
        callee = facts.callee.e164 or body.callee.strip()[:64]
        caller_id = (facts.caller.e164 or body.caller_id.strip()[:64]) if facts.caller else None
        reasons = _reasons_json(decision)
        attempt = dict(
            id=attempt_id, tenant_id=tenant_id, campaign_id=body.campaign,
            principal_id=known.campaign.principal or tenant_id,
            external_id=body.external_id, callee=callee,
            caller_id=caller_id,
            agent_id=body.agent_id, contract_ref=body.contract_ref, checked_at=at,
            decision=decision.decision,
            reason_codes=" ".join(r.code for r in decision.reasons),
            reasons=reasons, regime=decision.regime,
            ruleset_version=decision.ruleset_version,
            callee_time_zone=decision.callee_time_zone,
            next_allowed_at=decision.next_allowed_at, penalty_micros=penalty,
            counted=decision.allowed,
            outcome_status=None, sip_code=None, duration_s=None, consumer_refused=None,
            consumer_opposed=None, outcome_at=None, callee_department=body.callee_department,
            request_fingerprint=(request.fingerprint() if body.external_id is not None
                                 else None),
            dialled_despite_deny=False,
        )
        line = dict(
            tenant_id=tenant_id, attempt_id=attempt_id, code="ILLEGITIMATE_ATTEMPT",
            amount_micros=penalty, created_at=at,
        ) if penalty else None
        if PIPELINE and conn.dialect.name == "postgresql":
            # the writes and COMMIT in one round trip (app.calls.pipeline)
            writes = [(_PG_INSERT_ATTEMPT_SQL,
                       {**attempt, "reasons": pipeline.json_value(reasons)})]
            if line is not None:
                writes.append((_PG_INSERT_PENALTY_SQL, line))
            pipeline.write_and_commit(conn, writes)
        elif PIPELINE and conn.dialect.name == "sqlite":
            # the driver's cursor, inside the writers' lock (app.calls.pipeline)
            writes = [(_SQLITE_INSERT_ATTEMPT_SQL, {**attempt, "reasons": json.dumps(reasons)})]
            if line is not None:
                writes.append((_SQLITE_INSERT_PENALTY_SQL, line))
            pipeline.sqlite_write(conn, writes)
        else:
            conn.execute(_INSERT_ATTEMPT, attempt)
            if line is not None:
                conn.execute(_INSERT_PENALTY, line)
    return _decided(attempt_id, decision, callee, at, reasons, penalty, body), decision


# --- outcomes -----------------------------------------------------------------------------


def _outcome_out(conn: Connection, row: Any) -> OutcomeOut:
    pl = _penalties.c
    lines = conn.execute(
        select(pl.code, pl.amount_micros).where(pl.attempt_id == row.id).order_by(pl.id)
    ).all()
    return OutcomeOut(
        attempt_id=row.id, decision=row.decision, status=row.outcome_status,
        sip_code=row.sip_code, duration_s=row.duration_s or 0,
        consumer_refused=bool(row.consumer_refused), consumer_opposed=bool(row.consumer_opposed),
        recorded_at=clock.iso(row.outcome_at) or "", counted_for_frequency=row.counted,
        penalties=[PenaltyOut(code=c, amount_eur=format_eur(m)) for c, m in lines],
        penalty_eur=format_eur(sum(m for _, m in lines)),
        dialled_despite_deny=bool(row.dialled_despite_deny),
    )


def _same_outcome(row: Any, body: OutcomeIn) -> bool:
    return (
        row.outcome_status == body.status and row.sip_code == body.sip_code
        and (row.duration_s or 0) == body.duration_s
        and bool(row.consumer_refused) == body.consumer_refused
        and bool(row.consumer_opposed) == body.consumer_opposed
    )


#: the alert a breach raises (rules-fr.md §7); not a measured monitor: one alert per breach
BREACH_MONITOR = "dialled_despite_deny"


def record_outcome(p: Principal, attempt_id: str, body: OutcomeIn) -> tuple[OutcomeOut, bool]:
    """Record what happened to an attempt; returns (answer, created).

    Exactly once, on both databases: the outcome is written by ONE conditional
    ``UPDATE … WHERE outcome_status IS NULL``. Of concurrent outcomes for one attempt, one
    changes the row; on PostgreSQL the others wait for its row lock, then find the condition
    false and change nothing (SQLite serialises writers anyway). Only the writer that changed
    the row charges penalties, quarantines, records refusals and oppositions; the others answer
    from the stored outcome: the same one replays (200), a different one is 409 ``conflict``.
    The unique indexes on penalty lines (attempt, code), quarantines and refusals (attempt)
    make the database refuse a second one whatever the code does.
    """
    tenant_id = p.tenant_id or ""
    a = _attempts.c
    dialled = body.status != "not_dialed"
    with write_transaction() as conn:
        at = clock.now()
        values: dict[str, Any] = dict(
            outcome_status=body.status, sip_code=body.sip_code, duration_s=body.duration_s,
            consumer_refused=body.consumer_refused, consumer_opposed=body.consumer_opposed,
            outcome_at=at,
            # a denied attempt reported dialled: the breach, decided by the row itself
            dialled_despite_deny=(a.decision == "deny") if dialled else False,
        )
        if not dialled:
            values["counted"] = False  # released from the frequency count
        row = conn.execute(
            update(_attempts)
            .where(a.id == attempt_id, a.tenant_id == tenant_id, a.outcome_status.is_(None))
            .values(**values)
            .returning(*_attempts.c)
        ).first()
        if row is None:  # no such attempt, or an outcome is already there
            row = conn.execute(
                select(_attempts).where(a.id == attempt_id, a.tenant_id == tenant_id)
            ).first()
            if row is None:
                raise NotFound(f"no attempt {attempt_id}")
            if _same_outcome(row, body):
                return _outcome_out(conn, row), False
            raise Conflict(
                f"attempt {attempt_id} already has outcome {row.outcome_status!r}; "
                "an outcome cannot be changed",
                extra={"recorded_status": row.outcome_status},
            )
        _outcome_effects(conn, p, row, body, at)
        return _outcome_out(conn, row), True


def _outcome_effects(conn: Connection, p: Principal, row: Any, body: OutcomeIn,
                     at: datetime) -> None:
    """What the one recorded outcome entails, in its transaction."""
    tenant_id, attempt_id, callee = row.tenant_id, row.id, row.callee
    unassigned = body.status == "unassigned" or body.sip_code in UNASSIGNED_SIP
    if unassigned and callee.startswith("+"):
        amount = to_micros(p.policy.unassigned_penalty_eur)
        conn.execute(
            insert(_penalties).values(
                tenant_id=tenant_id, attempt_id=attempt_id, code="CALLEE_UNASSIGNED",
                amount_micros=amount, created_at=at,
            )
        )
        conn.execute(
            insert(_quarantines).values(
                id=new_id("qua"), tenant_id=tenant_id, callee=callee,
                until=at + timedelta(days=p.policy.unassigned_quarantine_days),
                attempt_id=attempt_id, created_at=at,
            )
        )
    if body.consumer_refused:
        _record_refusal(conn, row, at)
    if body.consumer_opposed:
        _record_opposition(conn, row)
    if row.dialled_despite_deny:
        raise_alert(
            conn, tenant_id=tenant_id, monitor=BREACH_MONITOR,
            scope=f"campaign:{row.campaign_id}", action="notice", value=1.0, threshold=0.0,
            window="0s",
            details={
                "attempt_id": attempt_id, "campaign": row.campaign_id,
                "checked_at": clock.iso(row.checked_at), "outcome_status": body.status,
                "sip_code": body.sip_code, "reason_codes": row.reason_codes.split(),
                "message": "an attempt the gateway denied was reported dialled "
                           "(rules-fr.md §7: a breach of the operator's terms)",
            },
        )
        log.warning("dialled despite deny: tenant %s attempt %s (%s)", tenant_id, attempt_id,
                    body.status)


def _record_refusal(conn: Connection, row: Any, at: datetime) -> None:
    """The consumer refused during the answered attempt ``row`` (its outcome or its
    disposition said so; called once per attempt): the refusal, for the attempt's principal,
    starts the 60-day cooldown; in the opt-in era it withdraws consent."""
    tenant_id, attempt_id, callee = row.tenant_id, row.id, row.callee
    principal = row.principal_id or tenant_id
    conn.execute(
        insert(_refusals).values(
            id=new_id("ref"), tenant_id=tenant_id, callee=callee, principal_id=principal,
            refused_at=at, attempt_id=attempt_id,
        )
    )
    if row.regime == "opt_in":
        # loi 2025-594: a refusal withdraws consent. The rules derive this from the
        # refusal itself; marking the consents makes it visible in the registry too
        # (those naming the principal alone: module docstring).
        _withdraw_consents(conn, tenant_id, principal, callee, attempt_id, at)


def _record_opposition(conn: Connection, row: Any) -> None:
    """The consumer opposed during the answered attempt ``row``: the callee (when it is a
    number) joins the internal opposition list of the attempt's principal, unless it is on
    it already (``add_opposition`` is idempotent; the savepoint makes a concurrent post that
    added it first a no-op too)."""
    tenant_id, attempt_id, callee = row.tenant_id, row.id, row.callee
    if not callee.startswith("+"):
        return
    with Session(bind=conn) as s, contextlib.suppress(IntegrityError), s.begin_nested():
        add_opposition(s, tenant_id, callee, f"call:{attempt_id}", attempt_id,
                       principal=row.principal_id or tenant_id, of_attempt=True)


# --- dispositions -------------------------------------------------------------------------


def record_disposition(p: Principal, attempt_id: str, body: DispositionIn) -> OutcomeOut:
    """Record what only the agent knows about an attempt whose outcome is ``answered`` (the
    SIP proxy reported the outcome from the signalling); the attempt's outcome with both flags.

    The attempt's row is never changed: its outcome is sealed in the ledger as it was
    reported, and a disposition arriving after the seal must not read as tampering. A
    disposition is recorded by its effects, each unique in the database, so exactly once on
    both databases whatever the replays or concurrent posts: the refusal (one per attempt,
    ``uq_refusals_attempt``; it starts the cooldown and, in the opt-in era, withdraws
    consent) and the opposition (one per tenant, principal and number). Each is inserted in a
    savepoint: a concurrent post that inserted it first (PostgreSQL makes this one wait for
    it) leaves this one a replay. ``false`` never clears anything. 404: no such attempt for
    this tenant; 409 ``conflict``: no outcome yet, or an outcome other than ``answered``.
    """
    tenant_id = p.tenant_id or ""
    a = _attempts.c
    with write_transaction() as conn:
        at = clock.now()
        row = conn.execute(
            select(_attempts).where(a.id == attempt_id, a.tenant_id == tenant_id)
        ).first()
        if row is None:
            raise NotFound(f"no attempt {attempt_id}")
        if row.outcome_status is None:
            raise Conflict(
                f"attempt {attempt_id} has no outcome yet: a disposition follows the "
                "outcome 'answered' (report the outcome first, then the disposition)",
                extra={"recorded_status": None},
            )
        if row.outcome_status != "answered":
            raise Conflict(
                f"attempt {attempt_id} has outcome {row.outcome_status!r}: a refusal or an "
                "opposition happens in a conversation, only an 'answered' attempt takes a "
                "disposition",
                extra={"recorded_status": row.outcome_status},
            )
        if body.consumer_refused and not row.consumer_refused:
            # a refusal already recorded for this attempt (unique): a replay, nothing to do
            with contextlib.suppress(IntegrityError), conn.begin_nested():
                _record_refusal(conn, row, at)
        if body.consumer_opposed:
            _record_opposition(conn, row)
        return _disposition_out(conn, row)


def _disposition_out(conn: Connection, row: Any) -> OutcomeOut:
    """The attempt's outcome, its flags read with the disposition's effects: refused when this
    attempt's refusal is recorded, opposed when the number is on the list of the attempt's
    principal (whichever way it got there)."""
    r, o = _refusals.c, Opposition.__table__.c
    refused = conn.execute(select(r.id).where(r.attempt_id == row.id).limit(1)).first()
    opposed = conn.execute(
        select(o.id).where(o.tenant_id == row.tenant_id,
                           o.principal_id == (row.principal_id or row.tenant_id),
                           o.callee == row.callee).limit(1)
    ).first()
    out = _outcome_out(conn, row)
    return out.model_copy(update={
        "consumer_refused": out.consumer_refused or refused is not None,
        "consumer_opposed": out.consumer_opposed or opposed is not None,
    })


_cp = ConsentPrincipal.__table__


def _withdraw_consents(conn: Connection, tenant_id: str, principal: str, callee: str,
                       attempt_id: str, at: datetime) -> None:
    """Mark withdrawn the canvassing consents, valid at ``at``, that name ``principal`` and no
    other principal (whichever tenant recorded them), and the calling tenant's consents naming
    no principal when ``principal`` is its own."""
    c, cp = _consents.c, _cp.c
    other = _cp.alias("cp_other")
    naming = c.id.in_(select(cp.consent_id).where(cp.principal_id == principal,
                                                  cp.callee == callee))
    named_by_another = exists().where(other.c.consent_id == c.id,
                                      other.c.principal_id != principal)
    valid = and_(c.callee == callee, c.scope == "canvassing", c.revoked_at.is_(None),
                 c.given_at <= at, (c.expires_at.is_(None)) | (c.expires_at > at))
    targets = and_(naming, ~named_by_another)
    if principal == tenant_id:
        unnamed = and_(c.tenant_id == tenant_id, ~exists().where(other.c.consent_id == c.id))
        targets = or_(targets, unnamed)
    for mine, reason in ((True, f"refused during call {attempt_id}"),
                         (False, f"refused during a call for principal {principal}")):
        conn.execute(
            update(_consents)
            .where(valid, targets, (c.tenant_id == tenant_id) if mine else
                   (c.tenant_id != tenant_id))
            .values(revoked_at=at, revoke_reason=reason)
        )


def get_attempt(p: Principal, attempt_id: str) -> AttemptOut:
    with get_engine().connect() as conn, conn.begin():
        a = _attempts.c
        row = conn.execute(
            select(_attempts).where(a.id == attempt_id, a.tenant_id == p.tenant_id)
        ).first()
    if row is None:
        raise NotFound(f"no attempt {attempt_id}")
    return AttemptOut(
        **_out_from_row(row, replayed=False).model_dump(),
        outcome_status=row.outcome_status,
        dialled_despite_deny=bool(row.dialled_despite_deny),
    )
