from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas import ApiModel


class CallerIdIn(ApiModel):
    number: str = Field(min_length=1, max_length=64)
    assigned_to: str | None = Field(
        default=None, max_length=100, description="Agent id; mandatory for a mobile number."
    )


_INSTANT: dict[str, object] = {"format": "date-time"}


class CallerIdOut(BaseModel):
    number: str
    kind: str
    assigned_to: str | None
    verified_at: str | None = Field(
        default=None, json_schema_extra=_INSTANT,
        description="When the operator verified the number (ISO 8601, UTC); null: not verified "
        "(usable only while the operator does not require verification).",
    )


class OperatorCallerIdOut(BaseModel):
    """One line of the operator's list of every tenant's caller IDs."""

    number: str = Field(description="E.164")
    kind: str
    tenant_id: str
    tenant_name: str
    assigned_to: str | None = Field(description="Agent id (mobile numbers).")
    created_at: str = Field(
        description="When the tenant registered it (ISO 8601, UTC).", json_schema_extra=_INSTANT
    )
    verified_at: str | None = Field(
        description="When the operator verified it (ISO 8601, UTC); null: not verified.",
        json_schema_extra=_INSTANT,
    )


class CampaignFields(ApiModel):
    purpose: Literal["commercial", "non_commercial"]
    audience: Literal["consumers", "professionals"]
    sector: str = Field(default="general", max_length=40)
    automated: bool
    caller_ids: list[str] = Field(default_factory=list, max_length=10_000)
    principal: str | None = Field(
        default=None, min_length=1, max_length=40,
        description="The principal (professional) the campaign calls for: one the tenant "
                    "holds a mandate from (403 otherwise). Default: the tenant's own (a "
                    "replaced campaign keeps its principal). Frequency, refusals, consents and "
                    "oppositions are the principal's, across call centres.")
    prerecorded: bool = Field(
        default=False,
        description="A prerecorded message (no human operator): consent or an ongoing "
                    "contract needed in both regimes (CPCE L34-5).")


class CampaignIn(CampaignFields):
    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


class CampaignPut(CampaignFields):
    """The whole campaign, replaced. ``id`` may be left out (the path names the campaign); when
    given it must be the path's id: a campaign cannot be renamed (422 naming ``id``)."""

    id: str | None = Field(
        default=None, min_length=1, max_length=100,
        description="Optional; when given, the campaign id of the path.",
    )


class CampaignOut(BaseModel):
    id: str
    purpose: str
    audience: str
    sector: str
    automated: bool
    caller_ids: list[str]
    principal: str = Field(description="The principal the campaign calls for.")
    prerecorded: bool
