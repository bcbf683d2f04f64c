"""Per-tenant policy: overrides of ``rules_fr.model.Policy``'s defaults, stored as JSON, under
the operator's sanctions (``app.tenancy.sanctions``: penalties and monitors the tenant may
tighten, never loosen)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator

from app.schemas import ApiModel
from rules_fr.model import Policy

DEFAULT = Policy()  # rules-fr.md's defaults (the tariff: app.tenancy.sanctions)


class PolicyIn(ApiModel):
    """Every field optional: only what is given changes. ``null`` restores the default."""

    foreign_destinations: Literal["deny", "allow"] | None = None
    local_holidays: bool | None = None
    bloctel_after_opt_in: Literal["notice", "block"] | None = None
    mobile_daily_cap: int | None = Field(default=None, ge=1, le=100_000)
    #: at least the operator's tariff (403 below it); whole cents (422 for "0.005")
    denied_attempt_penalty_eur: Decimal | None = Field(default=None, ge=0, le=1000,
                                                       decimal_places=2)
    unassigned_penalty_eur: Decimal | None = Field(default=None, ge=0, le=1000,
                                                   decimal_places=2)
    unassigned_quarantine_days: int | None = Field(default=None, ge=1, le=3650)
    #: rules-fr.md §2: shared-cost 08 1x/08 2x caller IDs on automated campaigns (default off)
    automated_shared_cost_cli: bool | None = None
    #: rules-fr.md §5: a consent's lifetime, shorter than the law's 365 days (tightens only:
    #: 1…365, else 422); null: the law's
    consent_max_age_days: int | None = Field(default=None, ge=1, le=365)
    #: not a rule: how long ``gateway audit purge`` keeps this tenant's attempts
    #: (default ``GATEWAY_RETENTION_DAYS``, 3 years)
    ledger_retention_days: int | None = Field(default=None, ge=30, le=36500)
    #: not a rule: the abuse monitors' thresholds and actions, per monitor
    #: (``app.tenancy.monitor_policy``: threshold, action, min_events; capped by the operator)
    monitors: dict[str, Any] | None = None

    @field_validator("monitors")
    @classmethod
    def _monitors(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        from app.tenancy.monitor_policy import PolicyError, validate

        if value is None:
            return None
        try:
            return validate(value)
        except PolicyError as exc:
            raise ValueError(str(exc)) from exc


def policy_from_json(data: dict[str, Any] | None,
                     sanctions: dict[str, Any] | None = None) -> Policy:
    """The rules' policy for a tenant: its overrides (``data``), each penalty at least the
    operator's amount (``sanctions``: ``tenants.sanctions``; ``None``: the platform's)."""
    from app.tenancy.sanctions import amounts_in_force

    data = data or {}
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(Policy):
        if f.name in data and data[f.name] is not None:
            value = data[f.name]
            if isinstance(f.default, Decimal):
                value = Decimal(str(value))
            kwargs[f.name] = value
    kwargs |= amounts_in_force(data, sanctions)
    return Policy(**kwargs)


def policy_to_json(policy: Policy, stored: dict[str, Any] | None = None,
                   sanctions: dict[str, Any] | None = None) -> dict[str, Any]:
    """The rules' policy in force, the tenant's ledger retention (``stored``: its JSON), its
    monitors in force and what the operator set (``operator``: the tariff and floors)."""
    from app.config import get_settings
    from app.tenancy.monitor_policy import effective, floors
    from app.tenancy.sanctions import tariff

    out: dict[str, Any] = {}
    for f in dataclasses.fields(Policy):
        value = getattr(policy, f.name)
        out[f.name] = str(value) if isinstance(value, Decimal) else value
    out["ledger_retention_days"] = ((stored or {}).get("ledger_retention_days")
                                    or get_settings().retention_days)
    out["monitors"] = {name: {"threshold": m.threshold, "action": m.action,
                              "min_events": m.min_events, "window_s": m.window_s}
                       for name, m in effective(stored, sanctions).items()}
    out["operator"] = {
        "tariff": {k: str(v) for k, v in tariff(sanctions).items()},
        "monitors": {name: dataclasses.asdict(f) for name, f in floors(sanctions).items()},
    }
    return out


def merge(current: dict[str, Any] | None, update: PolicyIn) -> dict[str, Any]:
    merged = dict(current or {})
    for name in update.model_fields_set:
        value = getattr(update, name)
        if value is None:
            merged.pop(name, None)
        elif name == "monitors":  # per monitor, per field; a monitor set to null: defaults
            monitors = dict(merged.get("monitors") or {})
            for monitor, fields in value.items():
                if fields is None:
                    monitors.pop(monitor, None)
                else:
                    monitors[monitor] = {**monitors.get(monitor, {}), **fields}
            merged["monitors"] = monitors
        else:
            merged[name] = str(value) if isinstance(value, Decimal) else value
    return merged
