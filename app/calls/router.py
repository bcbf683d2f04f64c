from __future__ import annotations

import json
import time

from fastapi import APIRouter, Response
from pydantic import ValidationError

from app.calls import service
from app.calls.schemas import (
    AttemptOut,
    CheckIn,
    DecisionOut,
    DispositionConflictOut,
    DispositionIn,
    EvaluateIn,
    IdempotencyConflictOut,
    OutcomeConflictOut,
    OutcomeIn,
    OutcomeOut,
)
from app.http import fast_path
from app.ops import metrics
from app.tenancy.auth import DIALER_ROLES, Dialer, Principal, permitted

router = APIRouter(prefix="/v1/calls", tags=["calls"])


def _decide(p: Principal, body: CheckIn) -> DecisionOut:
    """The check: the service, then its metrics."""
    started = time.perf_counter()
    out, decision = service.check_call(p, body)
    metrics.CHECK_SECONDS.observe(time.perf_counter() - started)
    if decision is not None:
        metrics.CHECKS.labels(out.decision).inc()
        for r in decision.reasons:
            metrics.REASONS.labels(r.code, r.severity).inc()
    return out


async def _fast_check(p: Principal, body: bytes) -> DecisionOut | None:
    """``check`` without FastAPI's request handling (``app.http.fast_path``): the same
    principal check as ``Dialer``, the body parsed as FastAPI parses it (``json.loads``) and
    validated as ``CheckIn``; anything else (403, 422…) is left to FastAPI (None), before any
    side effect."""
    if not permitted(p, DIALER_ROLES, tenant=True):
        return None
    try:
        data = json.loads(body)
        if not isinstance(data, dict):
            return None
        checked = CheckIn.model_validate(data)
    except (ValueError, RecursionError, ValidationError):  # not JSON, too deep, invalid
        return None
    return _decide(p, checked)


# ``async def`` on purpose: the check's database work (a handful of short statements on one
# connection) runs inline in the event loop. Measured (bench/): thread-pool hops cost ~0.26 ms
# of CPU each and, with dozens of threads per worker, PostgreSQL pool overflow churned
# connections; inline, a worker finishes one transaction before it starts the next. Its
# ordinary requests are served by ``_fast_check`` (``app.http.fast_path``; bench/http_ab.py).
@router.post("/check", response_model=DecisionOut, responses={409: {
    "model": IdempotencyConflictOut,
    "description": "external_id already names an attempt checked for another request."}})
@fast_path(_fast_check)
async def check(body: CheckIn, p: Dialer) -> DecisionOut:
    """Decide one attempt just before dialling; logged with its reasons and penalty.

    With ``external_id``: the same id with the same request (numbers compared in E.164)
    replays the stored attempt (``replayed: true``); with another request, 409
    ``idempotency_conflict`` naming the fields that differ."""
    return _decide(p, body)


@router.post("/evaluate", response_model=DecisionOut)
def evaluate(body: EvaluateIn, p: Dialer) -> DecisionOut:
    """Judge a call at ``at`` (default now) with no side effect: planning, replays."""
    return service.evaluate_call(p, CheckIn(**body.model_dump(exclude={"at"})), body.at)


@router.post("/{attempt_id}/outcome", response_model=OutcomeOut, responses={409: {
    "model": OutcomeConflictOut, "description": "The attempt already has another outcome."}})
def outcome(attempt_id: str, body: OutcomeIn, p: Dialer, response: Response) -> OutcomeOut:
    """What happened to the call, recorded exactly once: the same outcome again answers the
    stored one (200), a different one is 409. An outcome other than ``not_dialed`` for a
    denied attempt is a breach: ``dialled_despite_deny``, counted in the reports, alerted."""
    out, created = service.record_outcome(p, attempt_id, body)
    if created:
        metrics.OUTCOMES.labels(body.status).inc()
    return out


@router.post("/{attempt_id}/disposition", response_model=OutcomeOut, responses={409: {
    "model": DispositionConflictOut,
    "description": "The attempt has no outcome yet, or its outcome is not `answered`."}})
def disposition(attempt_id: str, body: DispositionIn, p: Dialer) -> OutcomeOut:
    """What only the agent knows, after the outcome (e.g. reported by the SIP proxy from the
    signalling) was recorded as ``answered``: the consumer refused (the refusal rules: 60-day
    cooldown, consent withdrawn in the opt-in era) or opposed (internal opposition list).

    Each flag only goes false → true, and its effects happen once: a flag already set
    answers the stored outcome again (200), ``false`` never clears one. 409 ``conflict`` when
    the attempt has no outcome yet (report it first) or an outcome other than ``answered``.
    Answers the attempt's outcome, with both flags."""
    return service.record_disposition(p, attempt_id, body)


@router.get("/{attempt_id}", response_model=AttemptOut)
def get_attempt(attempt_id: str, p: Dialer) -> AttemptOut:
    """A stored attempt: its decision, its outcome status and the breach flag."""
    return service.get_attempt(p, attempt_id)
