"""``evaluate(facts) -> Decision``: run every rule, decide, and find the next allowed instant.

The decision is ``deny`` iff some reason blocks. When every blocking reason carries a
``retry_at`` (time-based blocks), the whole rule set is evaluated again at the latest of them,
and so on (bounded), until the call is allowed — that instant is ``next_allowed_at`` — or a
block without ``retry_at`` appears (``next_allowed_at`` is then None). Re-running the full rule
set, rather than trusting each rule's ``retry_at``, naturally handles a retry instant that
falls on a holiday for another rule, in a new regime (2026-08-11), or in a new rule set.
A retry at or after the end of the gateway's calendar (``rules_fr.days.CALENDAR_END``: a
quarantine or a refusal stored with an extreme date) is no instant the gateway judges:
``next_allowed_at`` is then None, as for a block that waiting alone does not lift.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from rules_fr.data import regime_on
from rules_fr.days import CALENDAR_END, in_zone
from rules_fr.model import CallFacts, Decision, Reason
from rules_fr.rules import make_ctx, run_all

MAX_RESCHEDULING_STEPS = 60
_CENTS = Decimal("0.01")
_ZERO = Decimal("0.00")


def _blocks(reasons: tuple[Reason, ...]) -> list[Reason]:
    return [r for r in reasons if r.severity == "block"]


def _next_allowed_at(facts: CallFacts, blocks: list[Reason]) -> datetime | None:
    at = facts.at
    for _ in range(MAX_RESCHEDULING_STEPS):
        if any(r.retry_at is None for r in blocks):
            return None
        t = max(r.retry_at for r in blocks)  # type: ignore[type-var]
        if t <= at or t >= CALENDAR_END:  # cannot move forward, or beyond the calendar
            return None
        at = t
        moved = replace(facts, at=at)
        ctx = make_ctx(moved)
        blocks = _blocks(run_all(moved, ctx))
        if not blocks:
            return in_zone(at, ctx.tz)
    return None


def evaluate(facts: CallFacts) -> Decision:
    """Judge one call attempt under the rules in force at ``facts.at``. Pure."""
    ctx = make_ctx(facts)
    reasons = run_all(facts, ctx)
    blocks = _blocks(reasons)
    deny = bool(blocks)
    regime = regime_on(ctx.day)
    return Decision(
        decision="deny" if deny else "allow",
        reasons=reasons,
        regime=regime,
        ruleset_version=ctx.rules.version,
        callee_time_zone=ctx.tz.key,
        next_allowed_at=_next_allowed_at(facts, blocks) if deny else None,
        penalty_eur=facts.policy.denied_attempt_penalty_eur.quantize(_CENTS) if deny else _ZERO,
    )
