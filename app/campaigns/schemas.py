from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas import ApiModel


class CallerIdIn(ApiModel):
    number: str = Field(min_length=1, max_length=64)
    assigned_to: str | None = Field(
        default=None, max_length=100, description="Agent id; mandatory for a mobile number."
    )


class CallerIdOut(BaseModel):
    number: str
    kind: str
    assigned_to: str | None


class CampaignIn(ApiModel):
    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    purpose: Literal["commercial", "non_commercial"]
    audience: Literal["consumers", "professionals"]
    sector: str = Field(default="general", max_length=40)
    automated: bool
    caller_ids: list[str] = Field(default_factory=list, max_length=10_000)


class CampaignOut(BaseModel):
    id: str
    purpose: str
    audience: str
    sector: str
    automated: bool
    caller_ids: list[str]
