"""One small pure function per rule: ``(facts, ctx) -> tuple[Reason, ...]``.

``Ctx`` holds what every rule derives from the facts (the Paris date, the rule set in force,
the consumer's zone and local time), computed once per evaluation. No rule reads the clock or
a database. A rule whose version is not in force on the Paris date of ``at`` returns nothing.

Readings chosen where rules-fr.md is silent (conservative unless stated):

* Redundancy: a missing caller ID yields only ``CALLER_ID_MISSING``, an invalid one only
  ``CALLER_ID_INVALID``; an unregistered one yields ``CALLER_ID_NOT_OWNED`` but not
  ``CALLER_ID_NOT_IN_CAMPAIGN`` (nor ``CALLER_ID_NOT_VERIFIED``: there is no registration to
  verify); a registered but unverified one (where the operator requires verification) yields
  ``CALLER_ID_NOT_VERIFIED`` and, independently, ``…_NOT_IN_CAMPAIGN``; a mobile CLI on an
  automated campaign yields ``CALLER_ID_MOBILE_AUTOMATED`` but neither
  ``…_NOT_CANVASSING_RANGE`` nor ``…_MOBILE_SHARED/VOLUME``; a ``CALLER_ID_SPECIAL_SERVICE``
  CLI is not also ``…_NOT_CANVASSING_RANGE``; a number that may *never* be a caller ID (089,
  118 XYZ, forbidden short numbers) yields only ``CALLER_ID_SPECIAL_SERVICE`` (registration
  refuses it, so ``…_NOT_OWNED`` would restate it), whereas a shared-cost one, which a
  tenant may register for its policy, also gets the registration reasons.
* Caller-ID classes (rules-fr.md §2; data in ``rules_fr.data``): the arrêté du 5 juillet 2016
  (L221-17) binds professionals calling consumers; the gateway applies it to every campaign.
  Short numbers it does not name (10XY, 15, 17, 112, 116XXX…) are never caller IDs either
  (a service's, not an end user's); 30PQ/31PQ, which it leaves out, are not "never" but
  cannot be registered (caller IDs are E.164), so they are ``…_NOT_OWNED``. Premium-rate
  numbers outside 089 (libphonenumber's 0836…) are refused under the operator's terms.
  Shared-cost 08 1x/08 2x: ``CALLER_ID_SPECIAL_SERVICE`` unless policy
  ``automated_shared_cost_cli`` is on *and* the campaign is automated — a manual campaign
  keeps the default (the policy is an exception for automated systems, which the plan lets
  present special-rate numbers; an agent can present a geographic or mobile number).
  Other shared-cost kinds (libphonenumber's 0884) are not 08 1x/08 2x: refused. A free 08 0x
  number is lawful for every campaign and satisfies the automated requirement.
* Automated calls (any purpose) from 2023-01-01 (ARCEP 2022-1583) must present an NPV, an
  08 0x number, or an admitted shared-cost one: else ``…_NOT_CANVASSING_RANGE``. The Conseil
  d'État (6 June 2024, n° 489787) rejected the surveys' request for an exemption: it confirmed
  the rule, it did not start one, so non-commercial automated calls presenting a geographic
  or a non-NPV 09 number (09 37–09 39 platform numbers included) are denied from 2023-01-01
  too; nothing is checked before 2023-01-01 (the 2018/2019 plan rules were annulled by the
  Conseil d'État on 12 February 2021).
  An invalid, special-service or foreign callee yields one callee reason and skips the consumer
  rules (§3–§6), which protect French consumers.
* A registered mobile CLI with no ``assigned_to`` is ``CALLER_ID_MOBILE_SHARED``: it is not
  shown to belong to a single natural person.
* Instants after ``at`` (attempts, refusals) are ignored: when judging a past instant, what
  happened later did not exist yet.
* Public holiday and weekend: a holiday falling on a weekend is reported as ``PUBLIC_HOLIDAY``.
* Consents (both scopes, and the opt-out era's Bloctel exception alike): valid at ``at`` iff
  ``given_at <= at <= data.consent_valid_until(given_at, expires_at, day, policy max age)``
  (collection + 365 days from 2026-08-11, inclusive; a shorter ``expires_at`` or policy wins;
  a policy cannot widen the ceiling), not revoked (``revoked_at <= at``), it names the
  campaign's principal (``covers_principal``), it was not a condition of a sale, and the
  information notice was not explicitly withheld (``notice_given is False``: an explicit "no
  notice" is not an *informed* consent; ``None``, not recorded, is not held against it — the
  consent registry predates the field). From 2026-08-11 a refusal at or after ``given_at``
  withdraws it — for both scopes, the outside-hours consent included. A ``given_at`` after
  ``at`` is never counted, not even to explain a denial.
* One consent reason only, by precedence ``CONSENT_REVOKED`` > ``CONSENT_INVALID`` >
  ``CONSENT_EXPIRED`` > ``CONSENT_REQUIRED``, over the consents that name the principal: the
  consumer's own withdrawal is the strongest fact and needs a new consent whatever else is on
  file; a void consent (tied sale, no notice) is a defect of collection, which a renewal of
  the same kind would not cure; expiry is cured by renewal. A consent that does not name the
  principal (a partner's or broker's) is no consent for it: ``CONSENT_REQUIRED``, its message
  saying that a consent from that source exists.
* Press (``consent_exempt`` sector version, L223-5, from 2026-08-11): no ``CONSENT_*``
  reason; days, hours, frequency, refusal cooldown and internal opposition still apply.
* Prerecorded messages (CPCE L34-5, in force since 2004-06-22, both regimes): a *commercial*
  prerecorded campaign needs a valid canvassing consent or an ongoing related contract, else
  ``PRERECORDED_WITHOUT_CONSENT``. L34-5 protects natural persons and sole traders are
  natural persons, so it applies to professional audiences too; it applies to press (L34-5
  is not L223-1). Invalid, special-service and foreign callees are skipped as for the
  consumer rules. In the opt-in era a consumer call without consent gets both
  ``CONSENT_*`` and ``PRERECORDED_WITHOUT_CONSENT``: two rules, two legal bases.
* "Ongoing related contract": active on the consumer's local date of ``at``
  (``starts_on <= d <= ends_on``) and of the campaign's sector; when the dialer names a
  ``contract_ref``, only that contract qualifies. For ``cpf_training`` this is the "ongoing
  training" exception.
* Bloctel list freshness (opt-out era) is a process obligation (L223-1, R223-6): a missing or
  stale list denies every commercial consumer call except press subscriptions, whatever the
  per-call exceptions (contract, consent) — a file must be cleaned before calling from it.
* The refusal cooldown applies in both regimes, even if a new consent is given afterwards:
  D223-9 forbids any contact for 60 full days and a consent does not shorten that period.
* ``BLOCTEL_LISTED`` in the opt-in regime: rules-fr.md §5 says a listed number "yields a
  notice unless the policy is block", with no exception. So it is reported whenever the number
  is on the last list (press subscriptions aside), consent or contract notwithstanding: the
  ``block`` policy exists for tenants who keep honouring the list even with a consent; were
  it lifted by consent or contract it could never change a decision in the opt-in regime.
* Press subscriptions are exempt from the Bloctel checks (until 2026-08-10) and from the
  consent requirement (from 2026-08-11), both as data on the sector's versions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from rules_fr import data
from rules_fr.data import (
    BloctelFreshnessVersion,
    CallerIdRangesVersion,
    CanvassingRangeVersion,
    CooldownVersion,
    FrequencyVersion,
    HoursVersion,
    RegimeVersion,
    RuleSet,
    Version,
)
from rules_fr.days import (
    aware,
    holiday_name,
    holiday_subdivision,
    in_window,
    in_zone,
    local_midnight,
    next_window_start,
    plus_days,
    zone,
)
from rules_fr.model import (
    SPECIAL_SERVICE_KINDS,
    CallFacts,
    ConsentFacts,
    NumberInfo,
    NumberKind,
    Reason,
    Severity,
)

NO_REASONS: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True)
class Ctx:
    at: datetime  # aware
    day: date  # Europe/Paris civil date of ``at``: decides which versions are in force
    rules: RuleSet
    tz: ZoneInfo  # consumer's zone (Europe/Paris when unknown)
    local: datetime  # ``at`` in the consumer's zone
    consumer_scope: bool  # §3–§6 apply

    @property
    def local_day(self) -> date:
        return self.local.date()


def make_ctx(facts: CallFacts) -> Ctx:
    at = aware(facts.at)
    day = in_zone(at, data.PARIS).date()
    tz = zone(facts.callee.time_zone or "Europe/Paris")
    campaign, callee = facts.campaign, facts.callee
    consumer_scope = (
        campaign.purpose == "commercial"
        and campaign.audience == "consumers"
        and callee.french
        and callee.valid
        and callee.kind not in SPECIAL_SERVICE_KINDS
    )
    return Ctx(at, day, data.ruleset_for(day), tz, in_zone(at, tz), consumer_scope)


def _reason(
    code: str,
    version: Version,
    message: str,
    *,
    severity: Severity | None = None,
    retry_at: datetime | None = None,
    legal_basis: str | None = None,
) -> Reason:
    spec = data.CODES[code]
    return Reason(
        code=code,
        severity=severity or spec.severity,
        legal_basis=legal_basis or spec.legal_basis or version.legal_basis,
        message=message,
        rule=spec.rule,
        retry_at=retry_at,
    )


# --- shared fact readings ------------------------------------------------------------------


def consent_state(
    consent: ConsentFacts, at: datetime, lifetime: Version | None,
    refusals: Iterable[datetime] = (), max_age_days: int | None = None,
) -> str:
    """``"valid"`` at ``at`` under the ``consent_lifetime`` version in force (``lifetime``), or
    why not: ``"future"`` (given after ``at``: never counted), ``"foreign"`` (does not name the
    principal), ``"revoked"`` (revoked, or withdrawn by a refusal in ``refusals``),
    ``"invalid"`` (a condition of a sale, or no information notice), ``"expired"`` (past
    ``data.consent_valid_until``: its own ``expires_at``, the R223-1 ceiling, the policy)."""
    if consent.given_at > at:
        return "future"
    if not consent.covers_principal:
        return "foreign"
    if (consent.revoked_at is not None and consent.revoked_at <= at) or any(
        consent.given_at <= r <= at for r in refusals
    ):
        return "revoked"
    if consent.conditional_on_sale or consent.notice_given is False:
        return "invalid"
    until = data.consent_limit(consent.given_at, consent.expires_at, lifetime, max_age_days)
    if until is not None and at > until:
        return "expired"
    return "valid"


def consent_valid(
    consent: ConsentFacts, at: datetime, refusals: Iterable[datetime] = (),
    max_age_days: int | None = None,
) -> bool:
    """Valid at ``at``; ``refusals`` (opt-in era) withdraw a consent given before them;
    ``max_age_days``: the tenant policy's ceiling."""
    lifetime = data.ruleset_for(data.paris_date(at)).get("consent_lifetime")
    return consent_state(consent, at, lifetime, refusals, max_age_days) == "valid"


def _withdrawing_refusals(facts: CallFacts, ctx: Ctx) -> tuple[datetime, ...]:
    regime = ctx.rules.get("opposition")
    if isinstance(regime, RegimeVersion) and regime.refusal_withdraws_consent:
        return facts.refusals
    return ()


def has_valid_consent(facts: CallFacts, ctx: Ctx, scope: str) -> bool:
    refusals = _withdrawing_refusals(facts, ctx)
    max_age = facts.policy.consent_max_age_days
    lifetime = ctx.rules.get("consent_lifetime")
    return any(
        c.scope == scope and consent_state(c, ctx.at, lifetime, refusals, max_age) == "valid"
        for c in facts.consents
    )


def ongoing_related_contract(facts: CallFacts, ctx: Ctx) -> bool:
    d, sector = ctx.local_day, facts.campaign.sector
    for c in facts.contracts:
        if facts.contract_ref is not None and c.reference != facts.contract_ref:
            continue
        if c.sector == sector and c.starts_on <= d and (c.ends_on is None or d <= c.ends_on):
            return True
    return False


# --- always: operator terms and numbering ----------------------------------------------------


def suspension(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    v = ctx.rules.get("suspension")
    if v is None or not facts.tenant_suspended:
        return NO_REASONS
    return (_reason("TENANT_SUSPENDED", v, "The tenant is suspended by the operator."),)


def throttle(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    v = ctx.rules.get("throttle")
    until = facts.throttled_until
    if v is None or until is None or facts.at >= until:
        return NO_REASONS
    by = f" ({facts.throttled_by})" if facts.throttled_by else ""
    msg = f"An abuse monitor{by} crossed its threshold: calls are refused until {until}."
    return (_reason("RATE_THROTTLED", v, msg, retry_at=until),)


def callee_number(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    v = ctx.rules.get("callee_number")
    callee = facts.callee
    if v is None:
        return NO_REASONS
    if not callee.valid:
        return (_reason("CALLEE_INVALID", v, f"Not a valid assigned number: {callee.raw!r}."),)
    if callee.kind in SPECIAL_SERVICE_KINDS:
        msg = f"{callee.e164} is a special service ({callee.kind.value})."
        return (_reason("CALLEE_SPECIAL_SERVICE", v, msg),)
    if not callee.french:
        allow = facts.policy.foreign_destinations == "allow"
        msg = f"{callee.e164} is outside French numbering (region {callee.region})."
        return (_reason("CALLEE_NOT_SERVED", v, msg, severity="notice" if allow else "block"),)
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
        return (_reason("CALLER_ID_MISSING", v, "No caller ID presented (masked number)."),)
    if not caller.valid:
        return (_reason("CALLER_ID_INVALID", v, f"Invalid caller ID: {caller.raw!r}."),)
    out = []
    special = _special_service(facts, ctx)
    if special is not None:
        msg, basis, never = special
        out.append(_reason("CALLER_ID_SPECIAL_SERVICE", v, msg, legal_basis=basis))
        if never:  # no registration can make it presentable: one reason
            return tuple(out)
    if facts.caller_registration is None:
        msg = f"Caller ID {caller.e164} is not registered by the tenant."
        out.append(_reason("CALLER_ID_NOT_OWNED", v, msg))
    else:
        if facts.caller_id_verification_required and not facts.caller_registration.verified:
            msg = f"Caller ID {caller.e164} is not yet verified by the operator."
            out.append(_reason("CALLER_ID_NOT_VERIFIED", v, msg))
        if caller.e164 not in facts.campaign.caller_ids:
            msg = f"Caller ID {caller.e164} is not attached to campaign {facts.campaign.id!r}."
            out.append(_reason("CALLER_ID_NOT_IN_CAMPAIGN", v, msg))
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
        return (_reason("CALLER_ID_MOBILE_AUTOMATED", v, msg),)
    out = []
    reg = facts.caller_registration
    if reg is not None and (reg.assigned_to is None or reg.assigned_to != facts.agent_id):
        msg = (
            f"Mobile caller ID {e164} is assigned to agent {reg.assigned_to!r}, "
            f"not to {facts.agent_id!r}."
        )
        out.append(_reason("CALLER_ID_MOBILE_SHARED", v, msg))
    cap = facts.policy.mobile_daily_cap
    if facts.mobile_cli_day == ctx.day and facts.mobile_cli_attempts >= cap:
        retry = local_midnight(plus_days(ctx.day, 1), data.PARIS)
        msg = f"Mobile caller ID {e164} already presented {facts.mobile_cli_attempts} times today."
        out.append(_reason("CALLER_ID_MOBILE_VOLUME", v, msg, retry_at=retry))
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
    return (_reason("CALLER_ID_NOT_CANVASSING_RANGE", v, msg),)


def quarantine(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    v = ctx.rules.get("quarantine")
    until = facts.quarantined_until
    if v is None or until is None or aware(until) <= ctx.at:
        return NO_REASONS
    msg = f"Number reported unassigned; quarantined until {until.isoformat()}."
    return (_reason("CALLEE_UNASSIGNED", v, msg, retry_at=aware(until)),)


def internal_opposition(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    v = ctx.rules.get("internal_opposition")
    if v is None or not facts.internal_opposition:
        return NO_REASONS
    msg = "The person is on the tenant's do-not-call list."
    return (_reason("INTERNAL_OPPOSITION", v, msg),)


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
    return (_reason(code, v, msg, retry_at=next_window_start(local, v, subdiv)),)


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
    return (_reason("FREQUENCY_LIMIT", v, msg, retry_at=retry),)


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
    return (_reason("REFUSAL_COOLDOWN", v, msg, retry_at=retry),)


def bloctel_freshness(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    v = ctx.rules.get("bloctel_freshness")
    if not isinstance(v, BloctelFreshnessVersion) or v.max_age_days is None:
        return NO_REASONS
    sector = data.sector_version(facts.campaign.sector, ctx.day)
    if sector is not None and sector.bloctel_exempt:
        return NO_REASONS
    as_of = facts.bloctel.as_of
    if as_of is None:
        return (_reason("BLOCTEL_LIST_MISSING", v, "No Bloctel list has been imported."),)
    age = (ctx.day - as_of).days
    if age > v.max_age_days:
        msg = f"The Bloctel list is dated {as_of.isoformat()} ({age} days old)."
        return (_reason("BLOCTEL_LIST_STALE", v, msg),)
    return NO_REASONS


_CONSENT_PRECEDENCE = ("revoked", "invalid", "expired")


def _consent_problem(facts: CallFacts, ctx: Ctx) -> tuple[str, str]:
    """Why no canvassing consent covers the call: the code (one only, by precedence: see the
    module docstring) and a message that names the failing consent."""
    refusals = _withdrawing_refusals(facts, ctx)
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
        return _reason("CONSENT_EXPIRED", lifetime or v, msg)
    if code == "CONSENT_INVALID":
        return _reason("CONSENT_INVALID", v, msg)
    if code == "CONSENT_REVOKED":
        return _reason("CONSENT_REVOKED", v, msg)
    return _reason("CONSENT_REQUIRED", v, msg)


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
                out.append(_reason("BLOCTEL_LISTED", v, msg))
        else:
            block = facts.policy.bloctel_after_opt_in == "block"
            msg = "The consumer is on the last Bloctel list (the list ended on 2026-08-10)."
            out.append(
                _reason("BLOCTEL_LISTED", v, msg, severity="block" if block else "notice")
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
    return (_reason("SECTOR_BANNED", sv, msg, legal_basis=sv.legal_basis),)


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
    return (_reason("PRERECORDED_WITHOUT_CONSENT", v, msg),)


Rule = Callable[[CallFacts, Ctx], tuple[Reason, ...]]

#: Rules that apply to every campaign.
ALWAYS_RULES: tuple[Rule, ...] = (
    suspension,
    throttle,
    callee_number,
    caller_id,
    mobile_cli,
    canvassing_range,
    quarantine,
    internal_opposition,
    prerecorded,
)
#: Rules that protect consumers from commercial canvassing (rules-fr.md §3–§6).
CONSUMER_RULES: tuple[Rule, ...] = (
    hours,
    frequency,
    refusal_cooldown,
    bloctel_freshness,
    opposition,
    sector,
)


def run_all(facts: CallFacts, ctx: Ctx) -> tuple[Reason, ...]:
    out: list[Reason] = []
    for rule in ALWAYS_RULES:
        out.extend(rule(facts, ctx))
    if ctx.consumer_scope:
        for rule in CONSUMER_RULES:
            out.extend(rule(facts, ctx))
    return tuple(out)
