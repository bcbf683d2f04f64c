"""The typed answer of ``GET /v1/reports/summary`` (built by ``app.reports.service.summary``;
the readings behind each key are in that module's docstring). Open to more keys
(``extra="allow"``): a key added to the service is served before it is typed here."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Split(_Open):
    total: int
    allowed: int
    denied: int


class CampaignSplit(Split):
    penalty_eur: str = Field(description="Penalties of the campaign's attempts, euros.")
    dialled_despite_deny: int = Field(description="Its denied attempts dialled anyway.")


class SummaryFilters(_Open):
    campaign: str | None
    caller_id: str | None
    principal: str | None = None


class ShortCalls(_Open):
    answered: int
    short: int
    share: float | None = Field(description="short ÷ answered (null: none answered).")
    under_s: int = Field(description="An answered call shorter than this is short.")


class Unassigned(_Open):
    attempts: int
    dialled: int
    share: float | None


class ConsentCoverage(_Open):
    consumer_allowed: int = Field(description="Allowed commercial calls to consumers.")
    consent: int
    contract: int
    neither: int
    share_consent: float | None
    share_contract: float | None


class BloctelInForce(_Open):
    version: int
    as_of: str
    activated_at: str
    superseded_at: str | None
    total_numbers: int


class Period(_Open):
    from_: str = Field(alias="from")
    to: str


class BloctelOverPeriod(_Open):
    versions: list[BloctelInForce]
    max_age_days: int | None
    stale: bool
    missing: bool
    stale_after_days: int | None
    period: Period | None


class RulesetSeen(_Open):
    version: str
    first_seen: str
    last_seen: str
    attempts: int
    effective: str | None
    changed_rules: list[str]
    legal_bases: dict[str, str]


class Summary(_Open):
    from_: str | None = Field(alias="from", description="Start of the period (instant).")
    to: str | None = Field(description="End of the period (instant, exclusive).")
    filters: SummaryFilters
    total: int
    allowed: int
    denied: int
    penalty_eur: str = Field(description="Penalties recorded in the period, euros.")
    dialled_despite_deny: int = Field(
        description="Denied attempts with an outcome other than not_dialed: a breach.")
    penalties_by_code: dict[str, str]
    penalties_by_week: dict[str, str] = Field(description='Paris ISO weeks, "2026-W48".')
    by_reason: dict[str, int]
    by_campaign: dict[str, CampaignSplit]
    by_caller_id: dict[str, Split]
    by_principal: dict[str, Split] = Field(
        description="The tenant's attempts by the principal they were made for.")
    by_day: dict[str, Split]
    by_hour: dict[str, Split] = Field(description='Paris hours "00"–"23".')
    short_calls: ShortCalls
    unassigned: Unassigned
    consent_coverage: ConsentCoverage
    bloctel: BloctelOverPeriod
    ruleset_versions: list[RulesetSeen]
