from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.clock import InstantOut
from app.schemas import ApiModel


class TenantIn(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    legal_form: Literal["legal_person", "natural_person"] = "legal_person"


class TenantOut(BaseModel):
    id: str
    name: str
    legal_form: str
    status: str


def _label() -> Any:
    """A key's label: what it is for ("demo", "crm"); no control characters."""
    return Field(default=None, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$",
                 description="What the key is for (e.g. \"demo\"); shown in listings.")


class KeyIn(ApiModel):
    role: Literal["admin", "compliance", "dialer"]
    label: str | None = _label()


class KeyOut(BaseModel):
    id: str
    key: str = Field(description="Shown once: only its hash is stored.")
    role: str
    tenant: str | None
    label: str | None = None


class KeyInfo(BaseModel):
    """A key as listed: never its secret nor its hash."""

    id: str
    role: str
    tenant: str | None
    label: str | None
    prefix: str = Field(description="The key's first characters, to recognise it.")
    created_at: InstantOut
    last_used_at: InstantOut | None = Field(
        description="When a worker last loaded the key from the database: its last use to "
                    "within a minute (plus GATEWAY_CACHE_TTL_S); null: never used.")
    revoked_at: InstantOut | None


# --------------------------------------------------------------------------- sanctions

Action = Literal["notice", "throttle", "suspend"]
MonitorName = Literal["attempts_per_minute", "attempts_per_hour", "attempts_per_day",
                      "denied_share", "penalties_per_day", "unassigned_share",
                      "short_call_share", "volume_jump"]


def _eur() -> Any:
    return Field(default=None, ge=0, le=1000, decimal_places=2,
                 description="Euros per attempt, whole cents (\"0.02\"); null: the platform's.")


class TariffIn(ApiModel):
    denied_attempt_penalty_eur: Decimal | None = _eur()
    unassigned_penalty_eur: Decimal | None = _eur()


class FloorIn(ApiModel):
    """The operator's bounds on one monitor; each null: the platform's."""

    action: Action | None = Field(default=None, description="The weakest action allowed.")
    threshold: float | None = Field(default=None, gt=0, strict=True,
                                    description="The highest threshold allowed.")
    min_events: int | None = Field(default=None, ge=1, le=1_000_000, strict=True,
                                   description="The most events a share may wait for.")


class SanctionsIn(ApiModel):
    """A tenant's sanctions, set by the operator (replaces what was set before)."""

    tariff: TariffIn = Field(default_factory=TariffIn)
    monitors: dict[MonitorName, FloorIn] = Field(default_factory=dict)


class TariffOut(BaseModel):
    denied_attempt_penalty_eur: str
    unassigned_penalty_eur: str


class FloorOut(BaseModel):
    action: Action
    threshold: float
    min_events: int | None


class OperatorSanctions(BaseModel):
    """What the operator sets, in force for this tenant: a tenant may tighten, never loosen."""

    tariff: TariffOut
    monitors: dict[str, FloorOut]


class SanctionsOut(BaseModel):
    tenant_id: str
    tariff: TariffIn = Field(description="Set for this tenant (null: the platform's).")
    monitors: dict[str, FloorIn] = Field(description="Set for this tenant.")
    in_force: OperatorSanctions


# --------------------------------------------------------------------------- policy


class MonitorSetting(BaseModel):
    threshold: float
    action: Action
    min_events: int
    window_s: int


class PolicyOut(BaseModel):
    """The tenant's policy in force: rules-fr.md's defaults, its overrides, the operator's
    sanctions (``operator``)."""

    model_config = ConfigDict(extra="allow")

    foreign_destinations: Literal["deny", "allow"]
    local_holidays: bool
    bloctel_after_opt_in: Literal["notice", "block"]
    mobile_daily_cap: int
    #: shared-cost 08 1x/08 2x caller IDs admitted on automated campaigns (rules-fr.md §2)
    automated_shared_cost_cli: bool
    denied_attempt_penalty_eur: str
    unassigned_penalty_eur: str
    unassigned_quarantine_days: int
    consent_max_age_days: int | None = Field(
        description="The tenant's ceiling on a consent's lifetime, in days (1…365; null: the "
        "law's 365 days, décret 2026-662).")
    ledger_retention_days: int
    monitors: dict[str, MonitorSetting]
    operator: OperatorSanctions


class SuspendIn(ApiModel):
    reason: str | None = Field(default=None, max_length=500)
