"""The facts a call is judged on, and the shape of a decision.

This module is the contract between the service (``app/``), which gathers facts from the
database once per call, and the pure rule functions (``rules_fr.rules``), which never touch the
database or the clock. Everything here is immutable and cheap to build.

All instants are timezone-aware ``datetime`` objects (any zone; rules convert as needed).
All numbers are E.164 strings (``+33612345678``) once parsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Literal


class NumberKind(str, Enum):  # noqa: UP042 (str mixin kept: contract)
    """Classification of a number under the French numbering plan (ARCEP)."""

    # numéros polyvalents vérifiés (NPV: 01 62, 01 63, … 09 48, 09 49, overseas 09 475–09 479),
    # the ranges an automated calling system may present (value kept: contract)
    CANVASSING = "canvassing"
    GEOGRAPHIC = "geographic"  # 01–05 and overseas geographic, outside the NPV ranges
    # 09 37–09 39: numbers for exchanges with a technical platform (ARCEP plan § 2.3.9), NOT
    # verified numbers: an automated campaign may not present them (stored "polyvalent" < 0012)
    PLATFORM = "platform"
    NON_GEOGRAPHIC = "non_geographic"  # other 09 (VoIP / interpersonal non-geographic)
    MOBILE = "mobile"  # 06 / 07 and overseas mobile ranges
    TOLL_FREE = "toll_free"  # 08 0x
    SHARED_COST = "shared_cost"  # 08 1x / 08 2x
    PREMIUM_RATE = "premium_rate"  # 08 9x
    SHORT_CODE = "short_code"  # short numbers: 118 XYZ directory enquiries, 3BPQ, 10XY, 15…
    SATELLITE = "satellite"  # +881x, +870… (international networks)
    FOREIGN = "foreign"  # a valid number outside French numbering
    OTHER = "other"  # valid French number of another type (M2M, pager, UAN…)
    INVALID = "invalid"  # unparsable, impossible or unassigned-range number


SPECIAL_SERVICE_KINDS = frozenset(
    {
        NumberKind.TOLL_FREE,
        NumberKind.SHARED_COST,
        NumberKind.PREMIUM_RATE,
        NumberKind.SHORT_CODE,
        NumberKind.SATELLITE,
    }
)


@dataclass(frozen=True, slots=True)
class NumberInfo:
    """A parsed and classified number. Built by ``rules_fr.numbering.classify``."""

    raw: str  # what the client sent
    e164: str | None  # normalised, or None when unparsable
    kind: NumberKind
    region: str | None  # ISO region of the number ("FR", "RE", "YT", "GP"…), None if unknown
    time_zone: str | None  # IANA zone the consumer is judged in, None outside French numbering

    @property
    def valid(self) -> bool:
        return self.kind is not NumberKind.INVALID

    @property
    def french(self) -> bool:
        """In French numbering (metropolitan or overseas) — i.e. a served destination."""
        return self.time_zone is not None


Purpose = Literal["commercial", "non_commercial"]
Audience = Literal["consumers", "professionals"]


@dataclass(frozen=True, slots=True)
class CampaignFacts:
    id: str
    purpose: Purpose
    audience: Audience
    sector: str  # "general", "energy_renovation", "home_adaptation", "cpf_training",
    # "premium_rate_callback", "press_subscription" (see rules_fr.data.SECTORS)
    automated: bool
    caller_ids: frozenset[str]  # E.164 numbers attached to the campaign
    # the professional for whose account the calls are made (rules-fr.md §1): a principal id;
    # "" means the tenant's own principal (whose id is the tenant id)
    principal: str = ""
    # an automated calling machine with no human operator (CPCE L34-5): consent in both regimes
    prerecorded: bool = False


@dataclass(frozen=True, slots=True)
class RegisteredCallerId:
    """A caller ID the tenant registered (proves it owns the number)."""

    number: str  # E.164
    kind: NumberKind
    assigned_to: str | None  # agent id, mandatory for mobile numbers
    verified: bool = False  # the operator verified the number is the tenant's


@dataclass(frozen=True, slots=True)
class ConsentFacts:
    """One consent the callee gave (rules-fr.md §5), as the facts of one call see it."""

    scope: Literal["canvassing", "outside_hours"]
    given_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None  # explicit revocation (API) — refusals are separate facts
    # the consent names the campaign's principal (a partner's consent that does not name it is
    # no consent to be called by it); False only for consents gathered for their messages
    covers_principal: bool = True
    source: str = "own"  # "own" (the professional's own form) or the partner/broker's name
    notice_given: bool | None = None  # the information notice was shown; None: not recorded
    conditional_on_sale: bool = False  # a condition of a sale: void (tied sale)


@dataclass(frozen=True, slots=True)
class ContractFacts:
    reference: str
    sector: str
    starts_on: date
    ends_on: date | None = None  # inclusive last day; None = open-ended


@dataclass(frozen=True, slots=True)
class BloctelFacts:
    """What the opposition list says about the callee.

    ``as_of`` is None when no list was ever imported (``BLOCTEL_LIST_MISSING``).
    """

    listed: bool
    as_of: date | None
    version: int | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """Per-tenant settings; defaults are rules-fr.md's defaults."""

    foreign_destinations: Literal["deny", "allow"] = "deny"
    local_holidays: bool = False
    bloctel_after_opt_in: Literal["notice", "block"] = "notice"
    mobile_daily_cap: int = 150
    denied_attempt_penalty_eur: Decimal = Decimal("0.02")
    unassigned_penalty_eur: Decimal = Decimal("0.02")
    unassigned_quarantine_days: int = 30
    # rules-fr.md §5: a tenant may shorten a consent's lifetime (1…365 days), never lengthen it
    consent_max_age_days: int | None = None
    # rules-fr.md §2: shared-cost 08 1x/08 2x caller IDs for automated campaigns (default off)
    automated_shared_cost_cli: bool = False


@dataclass(frozen=True, slots=True)
class CallFacts:
    """Everything known about one call attempt, gathered once by the service."""

    at: datetime  # the instant being judged (aware)
    campaign: CampaignFacts
    callee: NumberInfo
    caller: NumberInfo | None  # None when the dialer sent no caller ID
    caller_registration: RegisteredCallerId | None  # None when the tenant did not register it
    agent_id: str | None = None
    # the operator's terms make a caller ID usable only once it verified it
    # (``GATEWAY_CALLER_ID_VERIFICATION=required``): ``CALLER_ID_NOT_VERIFIED`` until then
    caller_id_verification_required: bool = False
    contract_ref: str | None = None
    callee_department: str | None = None  # e.g. "57", when the dialer knows it
    tenant_suspended: bool = False
    # an abuse monitor throttles calls in this call's scope until then (``app.monitors``)
    throttled_until: datetime | None = None
    throttled_by: str | None = None  # the monitor, for the message
    policy: Policy = field(default_factory=Policy)
    # the consents, contracts, opposition, attempts and refusals below are the campaign's
    # principal's, across every tenant holding a mandate from it (rules-fr.md §1)
    consents: tuple[ConsentFacts, ...] = ()  # consents for the callee
    contracts: tuple[ContractFacts, ...] = ()  # contracts with the callee
    internal_opposition: bool = False  # callee on the principal's do-not-call list
    bloctel: BloctelFacts = field(default_factory=lambda: BloctelFacts(False, None))
    # instants of the principal's earlier attempts to the callee that count for the frequency
    # limit (allowed and not released as not_dialed); at least the 31 days before ``at``
    counted_attempts: tuple[datetime, ...] = ()
    refusals: tuple[datetime, ...] = ()  # instants the callee refused during a conversation
    quarantined_until: datetime | None = None  # reported unassigned: do not call before this
    # attempts presenting this (mobile) caller ID on ``mobile_cli_day`` (Paris calendar day)
    mobile_cli_attempts: int = 0
    mobile_cli_day: date | None = None


Severity = Literal["block", "notice"]


@dataclass(frozen=True, slots=True)
class Reason:
    code: str  # e.g. "OUTSIDE_HOURS"
    severity: Severity
    legal_basis: str
    message: str
    rule: str = ""  # rule id within the rule set, e.g. "hours"
    # for time-based blocks: earliest instant at which *this* rule alone would pass
    retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    decision: Literal["allow", "deny"]
    reasons: tuple[Reason, ...]
    regime: Literal["opt_out", "opt_in"]
    ruleset_version: str  # e.g. "fr-2026-08-11"
    callee_time_zone: str  # IANA zone used for the day/hour rules ("Europe/Paris" fallback)
    next_allowed_at: datetime | None  # only when every block is time-based
    penalty_eur: Decimal

    @property
    def allowed(self) -> bool:
        return self.decision == "allow"
