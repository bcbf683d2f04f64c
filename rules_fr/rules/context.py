"""What every rule derives from the facts (``Ctx``), how a reason is built, and the fact
readings several rules share (consents, contracts). The readings chosen where the law is silent:
``rules_fr.rules``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from rules_fr import data
from rules_fr.data import (
    RegimeVersion,
    RuleSet,
    Version,
)
from rules_fr.days import (
    aware,
    in_zone,
    zone,
)
from rules_fr.model import (
    SPECIAL_SERVICE_KINDS,
    CallFacts,
    ConsentFacts,
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


def reason(
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


def withdrawing_refusals(facts: CallFacts, ctx: Ctx) -> tuple[datetime, ...]:
    regime = ctx.rules.get("opposition")
    if isinstance(regime, RegimeVersion) and regime.refusal_withdraws_consent:
        return facts.refusals
    return ()


def has_valid_consent(facts: CallFacts, ctx: Ctx, scope: str) -> bool:
    refusals = withdrawing_refusals(facts, ctx)
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
