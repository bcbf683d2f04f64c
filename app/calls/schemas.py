from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from app.schemas import ApiModel


class CheckIn(ApiModel):
    """One attempt the dialer is about to place. Numbers are judged, never rejected with 422."""

    judged_fields: ClassVar[frozenset[str]] = frozenset({"callee", "caller_id"})

    campaign: str = Field(min_length=1, max_length=100)
    callee: str = Field(max_length=200, description="National French form or E.164.")
    caller_id: str | None = Field(default=None, max_length=200, description="Presented number.")
    agent_id: str | None = Field(default=None, max_length=100)
    contract_ref: str | None = Field(default=None, max_length=200)
    external_id: str | None = Field(
        default=None, max_length=200, description="Dialer's id: makes the check idempotent."
    )
    callee_department: str | None = Field(
        default=None, pattern=r"^(\d{2,3}|2[AB])$",
        description="Extension: the callee's département when known (local holidays policy).",
    )


class EvaluateIn(CheckIn):
    at: AwareDatetime | None = Field(
        default=None, description="Instant to judge (default: now). No side effects."
    )


class ReasonOut(BaseModel):
    code: str
    severity: Literal["block", "notice"]
    legal_basis: str
    message: str


class DecisionOut(BaseModel):
    attempt_id: str | None
    decision: Literal["allow", "deny"]
    callee: str
    callee_time_zone: str
    regime: Literal["opt_out", "opt_in"]
    checked_at: str
    reasons: list[ReasonOut]
    penalty_eur: str
    next_allowed_at: str | None
    ruleset_version: str
    campaign: str
    external_id: str | None = None
    replayed: bool = Field(
        default=False,
        description="True when external_id named an attempt stored for the same request.",
    )


class AttemptOut(DecisionOut):
    """A stored attempt: its decision and what its outcome said."""

    outcome_status: str | None = Field(description="null until an outcome is reported.")
    dialled_despite_deny: bool = Field(
        description="Breach (rules-fr.md §7): the gateway denied it, an outcome other than "
                    "not_dialed was reported."
    )


OutcomeStatus = Literal[
    "answered", "no_answer", "busy", "rejected", "unassigned", "failed", "not_dialed"
]


class OutcomeIn(ApiModel):
    status: OutcomeStatus
    sip_code: int | None = Field(default=None, ge=100, le=699)
    duration_s: int = Field(default=0, ge=0, le=86_400)
    consumer_refused: bool = False
    consumer_opposed: bool = False

    @model_validator(mode="after")
    def _coherent(self) -> OutcomeIn:
        if (self.consumer_refused or self.consumer_opposed) and self.status != "answered":
            raise ValueError("consumer_refused / consumer_opposed need status 'answered'")
        if self.status != "answered" and self.duration_s:
            raise ValueError("duration_s is the conversation's length: only for 'answered'")
        return self


class DispositionIn(ApiModel):
    """What only the agent knows, reported after the outcome (e.g. by the SIP proxy) was
    recorded as ``answered``. Each flag only goes false → true: ``false`` never clears one."""

    consumer_refused: bool = Field(
        default=False,
        description="The consumer refused during the conversation: the refusal rules (60-day "
                    "cooldown; in the opt-in era the consent is withdrawn).",
    )
    consumer_opposed: bool = Field(
        default=False,
        description="The consumer opposed: the callee joins the internal opposition list.",
    )


class PenaltyOut(BaseModel):
    code: str
    amount_eur: str


class OutcomeOut(BaseModel):
    attempt_id: str
    decision: str
    status: str
    sip_code: int | None
    duration_s: int
    consumer_refused: bool
    consumer_opposed: bool
    recorded_at: str
    counted_for_frequency: bool
    penalties: list[PenaltyOut]
    penalty_eur: str
    dialled_despite_deny: bool = Field(
        description="Breach (rules-fr.md §7): the attempt was denied and was dialled anyway; "
                    "flagged, counted in the reports and alerted (monitor dialled_despite_deny)."
    )


class IdempotencyConflictOut(BaseModel):
    """409: the external_id names an attempt stored for another request."""

    error: Literal["idempotency_conflict"]
    detail: str
    differs: list[str] = Field(description="The request fields that differ, e.g. ['callee'].")
    attempt_id: str = Field(description="The attempt the external_id already names.")


class OutcomeConflictOut(BaseModel):
    """409: the attempt already has another outcome (an outcome cannot be changed)."""

    error: Literal["conflict"]
    detail: str
    recorded_status: str = Field(description="The outcome already recorded.")


class DispositionConflictOut(BaseModel):
    """409: the attempt has no outcome yet, or its outcome is not ``answered`` (a refusal or
    an opposition happens in a conversation)."""

    error: Literal["conflict"]
    detail: str
    recorded_status: str | None = Field(
        description="The outcome recorded, or null when none is recorded yet.")
