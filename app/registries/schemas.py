from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from app.clock import InstantOut
from app.schemas import ApiModel


class ConsentIn(ApiModel):
    callee: str = Field(min_length=1, max_length=64)
    scope: Literal["canvassing", "outside_hours"]
    given_at: AwareDatetime
    channel: str = Field(min_length=1, max_length=100, description="web_form, shop, paper, call…")
    evidence: dict[str, Any] = Field(description="What proves the consent; hashed (SHA-256).")
    expires_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _order(self) -> ConsentIn:
        if self.expires_at is not None and self.expires_at <= self.given_at:
            raise ValueError("expires_at must be after given_at")
        return self


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
