"""Rules that protect consumers from commercial canvassing (rules-fr.md §3–§6), and the
prerecorded-message rule (CPCE L34-5).
"""

from __future__ import annotations

from datetime import datetime

from rules_fr import data
from rules_fr.data import (
    BloctelFreshnessVersion,
    CooldownVersion,
    FrequencyVersion,
    HoursVersion,
    RegimeVersion,
)
from rules_fr.days import (
    holiday_name,
    holiday_subdivision,
    in_window,
    in_zone,
    local_midnight,
    next_window_start,
    plus_days,
)
from rules_fr.model import (
    SPECIAL_SERVICE_KINDS,
    CallFacts,
    ConsentFacts,
    Reason,
)
from rules_fr.rules.context import (
    NO_REASONS,
    Ctx,
    consent_state,
    has_valid_consent,
    ongoing_related_contract,
    reason,
    withdrawing_refusals,
)

# --- consumer canvassing (§3–§6) -------------------------------------------------------------


def hours(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    """§3 days and hours in the consumer's zone; an outside-hours consent lifts only this."""
    v = ctx.rules.get("hours")
    if not isinstance(v, HoursVersion):
        return NO_REASONS
    local = ctx.local
    day = local.date()
    subdiv = (
        holiday_subdivision(facts.callee.region, facts.callee_department)
        if facts.policy.local_holidays
        else None
    )
    holiday = holiday_name(day, v, subdiv)
    if holiday is not None:
        code, msg = "PUBLIC_HOLIDAY", f"{day.isoformat()} is a public holiday ({holiday})"
    elif day.weekday() not in v.weekdays:
        code, msg = "WEEKEND", f"{day.isoformat()} is a {local.strftime('%A')}"
    elif not in_window(local.time(), v):
        windows = " and ".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in v.windows)
        code, msg = "OUTSIDE_HOURS", f"{local:%H:%M:%S} is outside {windows}"
    else:
        return NO_REASONS
    if has_valid_consent(facts, ctx, "outside_hours"):  # looked up only when it matters
        return NO_REASONS
    msg += f" in the consumer's time zone ({ctx.tz.key})."
    return (reason(code, v, msg, retry_at=next_window_start(local, v, subdiv)),)


def frequency(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    """§4 at most ``max_attempts`` in the consumer-local day of ``at`` and the 29 before."""
    v = ctx.rules.get("frequency")
    if not isinstance(v, FrequencyVersion):
        return NO_REASONS
    d = ctx.local_day
    first = plus_days(d, 1 - v.window_days)
    days = sorted(
        (
            day
            for a in facts.counted_attempts
            if a <= ctx.at and first <= (day := in_zone(a, ctx.tz).date()) <= d
        ),
        reverse=True,
    )
    if len(days) < v.max_attempts:
        return NO_REASONS
    oldest_that_counts = days[v.max_attempts - 1]
    retry = local_midnight(plus_days(oldest_that_counts, v.window_days), ctx.tz)
    msg = (
        f"{len(days)} attempts since {first.isoformat()} (limit {v.max_attempts} in "
        f"{v.window_days} calendar days)."
    )
    return (reason("FREQUENCY_LIMIT", v, msg, retry_at=retry),)


def refusal_cooldown(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    """§4 a refusal on local day R blocks through day R+60; calls resume at R+61 00:00."""
    v = ctx.rules.get("refusal_cooldown")
    if not isinstance(v, CooldownVersion):
        return NO_REASONS
    d = ctx.local_day
    active = [
        r_day
        for r in facts.refusals
        if r <= ctx.at and d <= plus_days(r_day := in_zone(r, ctx.tz).date(), v.full_days)
    ]
    if not active:
        return NO_REASONS
    last = max(active)
    retry = local_midnight(plus_days(last, v.full_days + 1), ctx.tz)
    msg = f"The consumer refused on {last.isoformat()}: no contact for {v.full_days} full days."
    return (reason("REFUSAL_COOLDOWN", v, msg, retry_at=retry),)


def bloctel_freshness(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    v = ctx.rules.get("bloctel_freshness")
    if not isinstance(v, BloctelFreshnessVersion) or v.max_age_days is None:
        return NO_REASONS
    sector = data.sector_version(facts.campaign.sector, ctx.day)
    if sector is not None and sector.bloctel_exempt:
        return NO_REASONS
    as_of = facts.bloctel.as_of
    if as_of is None:
        return (reason("BLOCTEL_LIST_MISSING", v, "No Bloctel list has been imported."),)
    age = (ctx.day - as_of).days
    if age > v.max_age_days:
        msg = f"The Bloctel list is dated {as_of.isoformat()} ({age} days old)."
        return (reason("BLOCTEL_LIST_STALE", v, msg),)
    return NO_REASONS


_CONSENT_PRECEDENCE = ("revoked", "invalid", "expired")


def _consent_problem(facts: CallFacts, ctx: Ctx) -> tuple[str, str]:
    """Why no canvassing consent covers the call: the code (one only, by precedence: see the
    module docstring) and a message that names the failing consent."""
    refusals = withdrawing_refusals(facts, ctx)
    max_age = facts.policy.consent_max_age_days
    lifetime = ctx.rules.get("consent_lifetime")
    by_state: dict[str, list[ConsentFacts]] = {}
    for c in facts.consents:
        if c.scope == "canvassing":
            by_state.setdefault(
                consent_state(c, ctx.at, lifetime, refusals, max_age), []
            ).append(c)
    if by_state.get("revoked"):
        return "CONSENT_REVOKED", (
            "The consumer's consent to canvassing was revoked or withdrawn by a refusal."
        )
    if invalid := by_state.get("invalid"):
        c = invalid[-1]
        why = (
            "was a condition of a sale (tied sale)"
            if c.conditional_on_sale
            else "was collected without the information notice"
        )
        return "CONSENT_INVALID", (
            f"The consumer's consent to canvassing collected on {_iso(c.given_at)} {why}: it "
            "is void; a new, free and informed consent is needed."
        )
    if expired := by_state.get("expired"):
        until, c = max(
            ((data.consent_limit(c.given_at, c.expires_at, lifetime, max_age), c)
             for c in expired),
            key=lambda pair: pair[0],  # type: ignore[arg-type,return-value]
        )
        return "CONSENT_EXPIRED", (
            f"The consumer's consent to canvassing collected on {_iso(c.given_at)} was valid "
            f"until {_iso(until)}; a new consent is needed."
        )
    if foreign := by_state.get("foreign"):
        sources = ", ".join(sorted({c.source for c in foreign}))
        principal = facts.campaign.principal or "the tenant's own"
        return "CONSENT_REQUIRED", (
            f"A consent from {sources} exists but does not name the principal ({principal}): "
            "it is no consent to be called for it. No ongoing related contract either."
        )
    return "CONSENT_REQUIRED", "No prior consent to canvassing and no ongoing related contract."


def _iso(at: datetime | None) -> str:
    return at.isoformat(timespec="seconds") if at is not None else "?"


def _consent_failure(facts: CallFacts, ctx: Ctx, v: RegimeVersion) -> Reason:
    code, msg = _consent_problem(facts, ctx)
    if code == "CONSENT_EXPIRED":
        lifetime = ctx.rules.get("consent_lifetime")
        return reason("CONSENT_EXPIRED", lifetime or v, msg)
    if code == "CONSENT_INVALID":
        return reason("CONSENT_INVALID", v, msg)
    if code == "CONSENT_REVOKED":
        return reason("CONSENT_REVOKED", v, msg)
    return reason("CONSENT_REQUIRED", v, msg)


def opposition(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    """§5 Bloctel (opt-out, until 2026-08-10) or prior consent (opt-in, from 2026-08-11)."""
    v = ctx.rules.get("opposition")
    if not isinstance(v, RegimeVersion):
        return NO_REASONS
    covered = ongoing_related_contract(facts, ctx) or has_valid_consent(facts, ctx, "canvassing")
    out = []
    sv = data.sector_version(facts.campaign.sector, ctx.day)
    if v.regime == "opt_in" and not covered and not (sv is not None and sv.consent_exempt):
        out.append(_consent_failure(facts, ctx, v))
    exempt = sv is not None and sv.bloctel_exempt
    if facts.bloctel.listed and not exempt:
        if v.regime == "opt_out":
            if not covered:
                msg = "The consumer is on the Bloctel opposition list."
                out.append(reason("BLOCTEL_LISTED", v, msg))
        else:
            block = facts.policy.bloctel_after_opt_in == "block"
            msg = "The consumer is on the last Bloctel list (the list ended on 2026-08-10)."
            out.append(
                reason("BLOCTEL_LISTED", v, msg, severity="block" if block else "notice")
            )
    return tuple(out)


def sector(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    """§6 banned sectors; the exception is an ongoing related contract (or training)."""
    sv = data.sector_version(facts.campaign.sector, ctx.day)
    if sv is None or not sv.banned:
        return NO_REASONS
    if sv.exception != "none" and ongoing_related_contract(facts, ctx):
        return NO_REASONS
    msg = f"Canvassing consumers is banned in sector {facts.campaign.sector!r}."
    if sv.exception == "ongoing_training":
        msg += " No ongoing training with this consumer."
    elif sv.exception == "ongoing_contract":
        msg += " No ongoing related contract with this consumer."
    return (reason("SECTOR_BANNED", sv, msg, legal_basis=sv.legal_basis),)


def prerecorded(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    """CPCE L34-5: a commercial prerecorded campaign needs consent or an ongoing contract, in
    both regimes, whatever the audience (natural persons include sole traders) or sector."""
    v = ctx.rules.get("prerecorded")
    campaign, callee = facts.campaign, facts.callee
    if v is None or not campaign.prerecorded or campaign.purpose != "commercial":
        return NO_REASONS
    if not (callee.valid and callee.french) or callee.kind in SPECIAL_SERVICE_KINDS:
        return NO_REASONS  # already CALLEE_INVALID / _SPECIAL_SERVICE / _NOT_SERVED
    if has_valid_consent(facts, ctx, "canvassing") or ongoing_related_contract(facts, ctx):
        return NO_REASONS
    code, why = _consent_problem(facts, ctx)
    msg = (
        "A prerecorded message needs the person's prior consent to canvassing or an ongoing "
        f"related contract ({code}: {why})"
    )
    return (reason("PRERECORDED_WITHOUT_CONSENT", v, msg),)
