"""Answers of the per-number views: history, consent proof, next window.

Instants are ISO 8601 strings in the callee's time zone (as on attempts), so an investigator
reads local times; every one carries its offset.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from app.calls.schemas import ReasonOut


class ConsentEntry(BaseModel):
    id: str
    scope: str
    channel: str
    given_at: str
    expires_at: str | None
    revoked_at: str | None
    revoke_reason: str | None
    evidence: dict[str, Any]
    evidence_sha256: str = Field(description="The hash stored when the consent was recorded.")
    principals: list[str] = Field(default_factory=list,
                                  description="The principals the consent names.")
    source: str = "own"
    notice_given: bool | None = None
    conditional_on_sale: bool = False
    valid_until: str | None = Field(
        default=None,
        description="The last instant the consent is valid (inclusive): collection + 365 days, "
        "or earlier by expires_at (minus one second) or the tenant policy "
        "consent_max_age_days; null: no limit.")
    status: str = Field(
        default="valid",
        description="valid | expired | revoked | not_yet_valid, now, from the consent's own "
        "dates (an expired consent is listed, with this status).")
    erased: bool = Field(
        default=False,
        description="Erased (GDPR art. 17): kept under the number's tombstone key, evidence "
        "replaced by an erasure record, hash kept.",
    )


class ContractEntry(BaseModel):
    id: str
    reference: str
    sector: str
    starts_on: date
    ends_on: date | None
    recorded_at: str
    erased: bool = False


class OppositionEntry(BaseModel):
    id: str
    source: str
    attempt_id: str | None
    created_at: str
    erased: bool = False


class RefusalEntry(BaseModel):
    id: str
    refused_at: str
    attempt_id: str | None
    erased: bool = False


class QuarantineEntry(BaseModel):
    id: str
    created_at: str
    until: str
    attempt_id: str | None
    erased: bool = False


class AttemptEntry(BaseModel):
    attempt_id: str
    checked_at: str
    campaign: str
    caller_id: str | None
    agent_id: str | None
    external_id: str | None
    decision: str
    reason_codes: list[str]
    reasons: list[ReasonOut]
    regime: str
    ruleset_version: str
    penalty_eur: str
    next_allowed_at: str | None
    outcome_status: str | None
    sip_code: int | None
    duration_s: int | None
    consumer_refused: bool | None
    consumer_opposed: bool | None
    outcome_at: str | None


class ErasureEntry(BaseModel):
    id: str
    requested_at: str
    requested_by: str = Field(description="API key id that asked.")
    erased: dict[str, int]
    opposition_added: bool
    consents_held: int = Field(
        default=0, description="Consents whose evidence is under legal hold (not shown).")
    legal_hold_until: str | None = Field(
        default=None, description="When the last hold ends and its evidence is purged.")


class TimelineEvent(BaseModel):
    at: str
    event: str = Field(
        description="consent_given, consent_expired, consent_revoked, contract_started, "
        "contract_ended, opposition, refusal, quarantine, erasure, attempt"
    )
    ref: str = Field(description="Id of the record (consent, contract, attempt…).")
    detail: str


class AttemptsPage(BaseModel):
    items: list[AttemptEntry]
    limit: int
    next_after: str | None = Field(
        description="Pass as ?after= for the next page (oldest first); null on the last page."
    )


class CurrentState(BaseModel):
    at: str
    regime: str
    valid_consents: list[str] = Field(description="Ids of canvassing consents valid now.")
    valid_outside_hours_consents: list[str]
    has_valid_consent: bool
    active_contracts: list[str] = Field(description="References of contracts active today.")
    opposed: bool
    opposed_since: str | None
    refusal_cooldown_until: str | None = Field(
        description="First instant after the 60-day refusal cooldown; null when none is running."
    )
    quarantined_until: str | None
    attempts_total: int
    attempts_allowed: int
    attempts_denied: int
    penalty_total_eur: str
    last_attempt_at: str | None


class HistoryOut(BaseModel):
    callee: str
    callee_time_zone: str
    summary: CurrentState
    consents: list[ConsentEntry]
    contracts: list[ContractEntry]
    oppositions: list[OppositionEntry]
    refusals: list[RefusalEntry]
    quarantines: list[QuarantineEntry]
    erasures: list[ErasureEntry] = Field(
        description="Erasure requests for this number: the registries above then include the "
        "records kept under its tombstone key (marked erased)."
    )
    attempts: AttemptsPage
    timeline: list[TimelineEvent] = Field(
        description="Registry events and the attempts of this page, merged, oldest first."
    )


class ProofLifecycle(BaseModel):
    given_at: str
    expires_at: str | None
    revoked_at: str | None
    revoke_reason: str | None
    withdrawn_by_refusal_at: str | None = Field(
        description="Opt-in era: the first refusal at or after given_at withdraws the consent."
    )
    valid_until: str | None = Field(
        description="End of validity: the first instant the consent no longer counts (earliest "
        "of expires_at, the lifetime's end — the consent's valid_until plus one second — "
        "revocation, withdrawing refusal); null while open-ended."
    )
    status: str = Field(description="valid | expired | revoked | withdrawn | not_yet_valid")
    refusals_after: list[RefusalEntry]


class ProofOut(BaseModel):
    consent: ConsentEntry
    callee_time_zone: str
    evidence_sha256_recomputed: str | None = Field(
        description="SHA-256 of the evidence stored now; null when it was erased."
    )
    evidence_intact: bool | None = Field(
        description="The stored evidence still hashes to the hash recorded with it: false means "
        "it was altered after recording; null when it was erased (GDPR art. 17), the stored "
        "hash then being what proves the evidence that was held."
    )
    lifecycle: ProofLifecycle
    attempts_under: AttemptsPage = Field(
        description="Attempts to the callee while the consent was valid, oldest first. Empty for "
        "an erased consent: the registry no longer knows the number (see the number's history)."
    )


class NextWindowOut(BaseModel):
    callee: str
    campaign: str
    caller_id: str | None = Field(description="The caller ID the call was judged with.")
    callable_now: bool
    next_allowed_at: str | None = Field(
        description="checked_at when callable now; the first instant the full rule set allows "
        "the call otherwise; null when no time will do without a change of facts (no consent, "
        "opposition, invalid caller ID, campaign not allowed…): see blocking."
    )
    blocking: list[ReasonOut]
    notices: list[ReasonOut]
    regime: str
    ruleset_version: str
    checked_at: str
