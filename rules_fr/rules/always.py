"""Rules for every campaign: the operator's terms, the callee's number, the caller ID, the
quarantine, the internal opposition (rules-fr.md §1–§2, §7).
"""

from __future__ import annotations

import re
from datetime import date

from rules_fr import data
from rules_fr.data import (
    CallerIdRangesVersion,
    CanvassingRangeVersion,
    Version,
)
from rules_fr.days import (
    aware,
    local_midnight,
    plus_days,
)
from rules_fr.model import (
    SPECIAL_SERVICE_KINDS,
    CallFacts,
    NumberInfo,
    NumberKind,
    Reason,
)
from rules_fr.rules.context import (
    NO_REASONS,
    Ctx,
    reason,
)

# --- always: operator terms and numbering ----------------------------------------------------


def suspension(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    v = ctx.rules.get("suspension")
    if v is None or not facts.tenant_suspended:
        return NO_REASONS
    return (reason("TENANT_SUSPENDED", v, "The tenant is suspended by the operator."),)


def throttle(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    v = ctx.rules.get("throttle")
    until = facts.throttled_until
    if v is None or until is None or facts.at >= until:
        return NO_REASONS
    by = f" ({facts.throttled_by})" if facts.throttled_by else ""
    msg = f"An abuse monitor{by} crossed its threshold: calls are refused until {until}."
    return (reason("RATE_THROTTLED", v, msg, retry_at=until),)


def callee_number(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    v = ctx.rules.get("callee_number")
    callee = facts.callee
    if v is None:
        return NO_REASONS
    if not callee.valid:
        return (reason("CALLEE_INVALID", v, f"Not a valid assigned number: {callee.raw!r}."),)
    if callee.kind in SPECIAL_SERVICE_KINDS:
        msg = f"{callee.e164} is a special service ({callee.kind.value})."
        return (reason("CALLEE_SPECIAL_SERVICE", v, msg),)
    if not callee.french:
        allow = facts.policy.foreign_destinations == "allow"
        msg = f"{callee.e164} is outside French numbering (region {callee.region})."
        return (reason("CALLEE_NOT_SERVED", v, msg, severity="notice" if allow else "block"),)
    return NO_REASONS


def never_caller_id(info: NumberInfo, day: date) -> tuple[str, str] | None:
    """(why, legal basis) when ``info`` may never be presented as a caller ID on the Paris date
    ``day``, whatever the campaign and the tenant policy (rules-fr.md §2); None otherwise.

    089 premium-rate numbers, 118 XYZ directory numbers and 3BPQ short numbers other than
    30PQ/31PQ (arrêté du 5 juillet 2016, from 2016-08-01); other premium-rate numbers (0836…)
    and the other short numbers (10XY, 15, 17, 112, 116XXX…): conservative reading, under the
    numbering plan and the operator's terms (they are a service's, not an end user's). 30PQ
    and 31PQ are left out by the arrêté: not "never", though not registrable either.
    """
    return _never(info, data.in_force(data.CALLER_ID_RANGES, day))


def _never(info: NumberInfo, v: Version | None) -> tuple[str, str] | None:
    if not isinstance(v, CallerIdRangesVersion):
        v = None
    e164 = info.e164 or ""
    if info.kind is NumberKind.PREMIUM_RATE:
        why = f"{e164} is a premium-rate number"
        if v is not None and _french_prefix(info, v.premium_prefixes):
            return why + " (089)", v.legal_basis
        return why, data.OPERATOR_TERMS + " (numéros surtaxés)"
    if info.kind is NumberKind.SHORT_CODE:
        if v is not None:
            for pattern, what in v.short_patterns.items():
                if re.fullmatch(pattern, e164):
                    return f"{e164} is {what}", v.legal_basis
            if re.fullmatch(v.short_exempt, e164):
                return None
        return f"{e164} is a short number", data.SHORT_NUMBERS_PLAN + "; " + data.OPERATOR_TERMS
    return None


def _shared_cost_admitted(facts: CallFacts, ctx: Ctx) -> bool:
    """A shared-cost caller ID the tenant policy admits: automated campaigns only, 08 1x/08 2x
    only, while the verified-number requirement is in force (rules-fr.md §2)."""
    v = ctx.rules.get("canvassing_range")
    caller = facts.caller
    return (
        isinstance(v, CanvassingRangeVersion)
        and facts.campaign.automated
        and facts.policy.automated_shared_cost_cli
        and caller is not None
        and _french_prefix(caller, v.policy_shared_cost_prefixes)
    )


def _french_prefix(info: NumberInfo, prefixes: tuple[str, ...]) -> bool:
    """A +33 number whose national significant number starts with one of ``prefixes``."""
    return (info.e164 or "").startswith(tuple("+33" + p for p in prefixes))


def _special_service(facts: CallFacts, ctx: Ctx) -> tuple[str, str | None, bool] | None:
    """(message, legal basis, never) when the caller ID is CALLER_ID_SPECIAL_SERVICE."""
    caller = facts.caller
    if caller is None or not caller.valid:
        return None
    never = _never(caller, ctx.rules.get("caller_id_ranges"))
    if never is not None:
        why, basis = never
        return f"{why}: it may never be presented as a caller ID.", basis, True
    if caller.kind is NumberKind.SHARED_COST and not _shared_cost_admitted(facts, ctx):
        msg = (
            f"Caller ID {caller.e164} is a shared-cost number: not presentable unless the "
            "tenant policy automated_shared_cost_cli admits it for an automated campaign."
        )
        return msg, data.OPERATOR_TERMS + " (numéros à coût partagé)", False
    return None


def caller_id(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    v = ctx.rules.get("caller_id")
    caller = facts.caller
    if v is None:
        return NO_REASONS
    if caller is None or not caller.raw.strip():
        return (reason("CALLER_ID_MISSING", v, "No caller ID presented (masked number)."),)
    if not caller.valid:
        return (reason("CALLER_ID_INVALID", v, f"Invalid caller ID: {caller.raw!r}."),)
    out = []
    special = _special_service(facts, ctx)
    if special is not None:
        msg, basis, never = special
        out.append(reason("CALLER_ID_SPECIAL_SERVICE", v, msg, legal_basis=basis))
        if never:  # no registration can make it presentable: one reason
            return tuple(out)
    if facts.caller_registration is None:
        msg = f"Caller ID {caller.e164} is not registered by the tenant."
        out.append(reason("CALLER_ID_NOT_OWNED", v, msg))
    else:
        if facts.caller_id_verification_required and not facts.caller_registration.verified:
            msg = f"Caller ID {caller.e164} is not yet verified by the operator."
            out.append(reason("CALLER_ID_NOT_VERIFIED", v, msg))
        if caller.e164 not in facts.campaign.caller_ids:
            msg = f"Caller ID {caller.e164} is not attached to campaign {facts.campaign.id!r}."
            out.append(reason("CALLER_ID_NOT_IN_CAMPAIGN", v, msg))
    return tuple(out)


def _mobile_cli(facts: CallFacts) -> bool:
    return facts.caller is not None and facts.caller.kind is NumberKind.MOBILE


def mobile_cli(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    v = ctx.rules.get("mobile_cli")
    if v is None or not _mobile_cli(facts):
        return NO_REASONS
    e164 = facts.caller.e164  # type: ignore[union-attr]
    if facts.campaign.automated:
        msg = f"An automated campaign may not present the mobile number {e164}."
        return (reason("CALLER_ID_MOBILE_AUTOMATED", v, msg),)
    out = []
    reg = facts.caller_registration
    if reg is not None and (reg.assigned_to is None or reg.assigned_to != facts.agent_id):
        msg = (
            f"Mobile caller ID {e164} is assigned to agent {reg.assigned_to!r}, "
            f"not to {facts.agent_id!r}."
        )
        out.append(reason("CALLER_ID_MOBILE_SHARED", v, msg))
    cap = facts.policy.mobile_daily_cap
    if facts.mobile_cli_day == ctx.day and facts.mobile_cli_attempts >= cap:
        retry = local_midnight(plus_days(ctx.day, 1), data.PARIS)
        msg = f"Mobile caller ID {e164} already presented {facts.mobile_cli_attempts} times today."
        out.append(reason("CALLER_ID_MOBILE_VOLUME", v, msg, retry_at=retry))
    return tuple(out)


def canvassing_range(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    """An automated campaign (any purpose) presents an NPV, a free 08 0x number, or a shared-cost
    08 1x/08 2x number its tenant policy admits: else CALLER_ID_NOT_CANVASSING_RANGE."""
    v = ctx.rules.get("canvassing_range")
    caller, campaign = facts.caller, facts.campaign
    if not isinstance(v, CanvassingRangeVersion) or not campaign.automated:
        return NO_REASONS
    if caller is None or not caller.valid or _special_service(facts, ctx) is not None:
        return NO_REASONS  # already CALLER_ID_MISSING / _INVALID / _SPECIAL_SERVICE
    if caller.kind is NumberKind.MOBILE and ctx.rules.get("mobile_cli") is not None:
        return NO_REASONS  # already CALLER_ID_MOBILE_AUTOMATED
    free = caller.kind is NumberKind.TOLL_FREE and _french_prefix(caller, v.free_prefixes)
    if caller.kind.value in v.accepted_kinds or free or _shared_cost_admitted(facts, ctx):
        return NO_REASONS
    what = {
        NumberKind.PLATFORM: "a technical-platform number (09 37-09 39)",
        NumberKind.GEOGRAPHIC: "a geographic number",
        NumberKind.NON_GEOGRAPHIC: "a non-geographic 09 number",
        NumberKind.FOREIGN: "a foreign number",
    }.get(caller.kind, f"a {caller.kind.value} number")
    msg = (
        f"Caller ID {caller.e164} is not a verified number (NPV) for automated calls: it is "
        f"{what}; an automated campaign must present an NPV (01 62, 09 48, 09 475…) or a free "
        "08 0x number."
    )
    return (reason("CALLER_ID_NOT_CANVASSING_RANGE", v, msg),)


def quarantine(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    v = ctx.rules.get("quarantine")
    until = facts.quarantined_until
    if v is None or until is None or aware(until) <= ctx.at:
        return NO_REASONS
    msg = f"Number reported unassigned; quarantined until {until.isoformat()}."
    return (reason("CALLEE_UNASSIGNED", v, msg, retry_at=aware(until)),)


def internal_opposition(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    v = ctx.rules.get("internal_opposition")
    if v is None or not facts.internal_opposition:
        return NO_REASONS
    msg = "The person is on the tenant's do-not-call list."
    return (reason("INTERNAL_OPPOSITION", v, msg),)
