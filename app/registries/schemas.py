from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from app import clock
from app.clock import InstantOut
from app.schemas import ApiModel
from rules_fr.data import CONSENT_FUTURE_SKEW

PrincipalId = Annotated[str, Field(min_length=1, max_length=40)]
OWN = "own"


class ConsentIn(ApiModel):
    callee: str = Field(min_length=1, max_length=64)
    scope: Literal["canvassing", "outside_hours"]
    given_at: AwareDatetime = Field(
        description="When the consent was collected; more than 5 minutes in the future is 422 "
        "(a proof dated in the future is no proof).")
    channel: str = Field(min_length=1, max_length=100, description="web_form, shop, paper, call…")
    evidence: dict[str, Any] = Field(description="What proves the consent; hashed (SHA-256).")
    expires_at: AwareDatetime | None = None
    principals: list[PrincipalId] | None = Field(
        default=None, max_length=50,
        description="The principals (professionals) the consent names: each one the tenant "
        "holds a mandate from (403 otherwise). Default: the tenant's own principal for a "
        "consent collected on its own form (source \"own\"); none for a partner's consent "
        "(rules-fr.md §5: a partner's consent that does not name the principal covers no "
        "one; it is stored, with a warning).")
    source: str = Field(
        default=OWN, min_length=1, max_length=200,
        description='"own" (the professional\'s own form) or the partner or broker that '
        "collected it.")
    notice_given: bool | None = Field(
        default=None, description="The information notice was given; null: not recorded.")
    conditional_on_sale: bool = Field(
        default=False, description="The consent was a condition of a sale (tied sale): it is "
        "stored as the proof of what happened, and is void (CONSENT_INVALID).")

    @field_validator("given_at")
    @classmethod
    def _not_in_the_future(cls, value: datetime) -> datetime:
        latest = clock.now() + CONSENT_FUTURE_SKEW
        if value > latest:
            raise ValueError(
                f"given_at is in the future (after {clock.iso(latest)}, now plus "
                f"{int(CONSENT_FUTURE_SKEW.total_seconds() // 60)} minutes of clock skew): a "
                "proof dated in the future is no proof")
        return value

    @model_validator(mode="after")
    def _order(self) -> ConsentIn:
        if self.expires_at is not None and self.expires_at <= self.given_at:
            raise ValueError("expires_at must be after given_at")
        return self


class ConsentWarning(BaseModel):
    code: str = Field(description="names_no_principal | conditional_on_sale | notice_not_given")
    detail: str


ConsentStatus = Literal["valid", "expired", "revoked", "not_yet_valid"]


class ConsentOut(BaseModel):
    id: str
    callee: str
    scope: str
    given_at: InstantOut
    channel: str
    evidence: dict[str, Any]
    evidence_sha256: str
    expires_at: InstantOut | None
    revoked_at: InstantOut | None
    revoke_reason: str | None
    principals: list[str] = Field(description="The principals the consent names.")
    source: str
    notice_given: bool | None
    conditional_on_sale: bool
    valid_until: InstantOut | None = Field(
        description="The last instant the consent is valid (inclusive; one second later it "
        "has expired): collection + 365 days (décret 2026-662, R223-1), or earlier by "
        "expires_at (minus one second) or the tenant policy consent_max_age_days; null: no "
        "limit (only before 2026-08-11). Revocation is not counted here: see status.")
    status: ConsentStatus = Field(
        description="Now, from the consent's own dates: revoked (revoked_at passed), "
        "not_yet_valid (given_at ahead), expired (valid_until passed) or valid. A refusal that "
        "withdraws it shows in its proof and in checks.")
    warnings: list[ConsentWarning] = Field(
        description="What makes the consent cover less than it seems (it is stored as given).")


class ExpiringOut(BaseModel):
    at: InstantOut = Field(description="Now: every consent listed is valid at this instant.")
    within_days: int
    until: InstantOut = Field(description="at + within_days: the end of the window.")
    consents: list[ConsentOut] = Field(description="Soonest valid_until first (then id).")
    limit: int
    next_after: str | None = Field(
        description="Pass as ?after= for the next page; null on the last page.")


class RevokeIn(ApiModel):
    reason: str | None = Field(default=None, max_length=500)


class ContractIn(ApiModel):
    callee: str = Field(min_length=1, max_length=64)
    reference: str = Field(min_length=1, max_length=200)
    sector: str = Field(default="general", max_length=40)
    starts_on: date
    ends_on: date | None = Field(default=None, description="Last day of the contract, inclusive.")
    principal: str | None = Field(
        default=None, min_length=1, max_length=40,
        description="The principal (professional) it is with: one the tenant holds a "
                    "mandate from (403 otherwise). Default: the tenant's own.")

    @model_validator(mode="after")
    def _order(self) -> ContractIn:
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("ends_on must not be before starts_on")
        return self


class ContractOut(BaseModel):
    id: str
    callee: str
    reference: str
    sector: str
    starts_on: date
    ends_on: date | None
    principal: str


class OppositionIn(ApiModel):
    callee: str = Field(min_length=1, max_length=64)
    source: str = Field(default="api", min_length=1, max_length=200)
    principal: str | None = Field(
        default=None, min_length=1, max_length=40,
        description="The principal (professional) it is an opposition to: one the tenant holds a "
                    "mandate from (403 otherwise). Default: the tenant's own.")


class OppositionOut(BaseModel):
    id: str
    callee: str
    source: str
    created_at: InstantOut
    principal: str
