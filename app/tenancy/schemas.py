from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas import ApiModel


class TenantIn(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    legal_form: Literal["legal_person", "natural_person"] = "legal_person"


class TenantOut(BaseModel):
    id: str
    name: str
    legal_form: str
    status: str


class KeyIn(ApiModel):
    role: Literal["admin", "compliance", "dialer"]


class KeyOut(BaseModel):
    id: str
    key: str = Field(description="Shown once: only its hash is stored.")
    role: str
    tenant: str | None


class SuspendIn(ApiModel):
    reason: str | None = Field(default=None, max_length=500)
