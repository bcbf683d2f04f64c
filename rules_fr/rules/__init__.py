"""One small pure function per rule: ``(facts, ctx) -> tuple[Reason, ...]``.

The package: ``context`` (``Ctx``, how a reason is built, the shared fact readings),
``always`` (rules for every campaign), ``consumer`` (consumer canvassing, and prerecorded
messages); ``run_all`` below applies them in order.

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

from collections.abc import Callable

from rules_fr.model import CallFacts, Reason
from rules_fr.rules.always import (
    callee_number,
    caller_id,
    canvassing_range,
    internal_opposition,
    mobile_cli,
    never_caller_id,
    quarantine,
    suspension,
    throttle,
)
from rules_fr.rules.consumer import (
    bloctel_freshness,
    frequency,
    hours,
    opposition,
    prerecorded,
    refusal_cooldown,
    sector,
)
from rules_fr.rules.context import (
    NO_REASONS,
    Ctx,
    consent_state,
    consent_valid,
    has_valid_consent,
    make_ctx,
    ongoing_related_contract,
    reason,
)

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


__all__ = [
    "ALWAYS_RULES", "CONSUMER_RULES", "NO_REASONS", "Ctx", "Rule", "bloctel_freshness",
    "callee_number", "caller_id", "canvassing_range", "consent_state", "consent_valid",
    "frequency", "has_valid_consent", "hours", "internal_opposition", "make_ctx", "mobile_cli",
    "never_caller_id", "ongoing_related_contract", "opposition", "prerecorded", "quarantine",
    "reason", "refusal_cooldown", "run_all", "sector", "suspension", "throttle",
]
