"""The monitors, their documented defaults, the tenant's overrides and the operator's ceilings.

A tenant sets ``monitors`` in its policy (``PATCH /v1/policy``): per monitor any of
``threshold``, ``action`` (``notice`` | ``throttle`` | ``suspend``), ``min_events`` and
``enabled``. The operator caps thresholds (``GATEWAY_MONITOR_CEILINGS``, JSON
``{"monitor": max_threshold}``; defaults ``CEILINGS``): a tenant may watch more strictly than
the platform, never more loosely, and may not switch a monitor off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Literal

from app.config import get_settings

Action = Literal["notice", "throttle", "suspend"]
ACTIONS: tuple[Action, ...] = ("notice", "throttle", "suspend")


@dataclass(frozen=True)
class Monitor:
    name: str
    window_s: int  # the sliding window
    measure: str  # what is compared with the threshold (documentation)
    threshold: float
    action: Action
    min_events: int = 0  # shares: no verdict on fewer events than this
    scopes: tuple[str, ...] = ("tenant",)  # also per "campaign" / "caller_id"
    unit: str = ""


#: The defaults (documented in README "Abuse and fraud monitors").
MONITORS: dict[str, Monitor] = {m.name: m for m in (
    # 50 attempts/s: a large call centre stays under it; a runaway loop does not (a wrong
    # throttle costs sales, so the default is generous; tenants may tighten it)
    Monitor("attempts_per_minute", 60, "attempts in the last minute", 3_000, "throttle",
            scopes=("tenant", "caller_id"), unit="attempts"),
    Monitor("attempts_per_hour", 3_600, "attempts in the last hour", 100_000, "notice",
            unit="attempts"),
    Monitor("attempts_per_day", 86_400, "attempts in the last 24 hours", 1_000_000, "notice",
            unit="attempts"),
    Monitor("denied_share", 900, "denied ÷ attempts, last 15 minutes", 0.5, "throttle",
            min_events=200, scopes=("tenant", "campaign"), unit="share"),
    Monitor("penalties_per_day", 86_400, "penalties accrued in the last 24 hours (€)", 100.0,
            "suspend", unit="EUR"),
    Monitor("unassigned_share", 3_600, "unassigned ÷ dialled attempts, last hour", 0.10,
            "notice", min_events=100, unit="share"),
    Monitor("short_call_share", 86_400, "answered calls under 60 s ÷ answered, last 24 hours",
            0.5, "notice", min_events=100, unit="share"),
    Monitor("volume_jump", 3_600, "attempts in the last hour ÷ median of the same hour over "
            "the 7 days before", 3.0, "notice", min_events=1_000, unit="ratio"),
)}

#: The operator's ceilings on thresholds (a tenant cannot loosen them further).
CEILINGS: dict[str, float] = {
    "attempts_per_minute": 12_000, "attempts_per_hour": 500_000, "attempts_per_day": 5_000_000,
    "denied_share": 0.8, "penalties_per_day": 1_000.0, "unassigned_share": 0.3,
    "short_call_share": 0.8, "volume_jump": 10.0,
}


class PolicyError(ValueError):
    pass


def ceilings() -> dict[str, float]:
    raw = get_settings().monitor_ceilings
    if not raw:
        return CEILINGS
    try:
        given = json.loads(raw)
        return CEILINGS | {k: float(v) for k, v in given.items() if k in MONITORS}
    except (ValueError, TypeError, AttributeError) as exc:
        raise PolicyError(f"GATEWAY_MONITOR_CEILINGS is not a JSON object of numbers: {exc}"
                          ) from exc


def validate(overrides: Any) -> dict[str, dict[str, Any]]:
    """A tenant's ``monitors`` policy, checked (``PolicyError`` says what is wrong)."""
    if not isinstance(overrides, dict):
        raise PolicyError("monitors must be an object: {monitor: {threshold, action, …}}")
    out: dict[str, dict[str, Any]] = {}
    for name, o in overrides.items():
        if name not in MONITORS:
            raise PolicyError(f"unknown monitor {name!r}; one of {', '.join(MONITORS)}")
        if o is None:
            out[name] = None  # type: ignore[assignment]  # back to the default
            continue
        if not isinstance(o, dict) or set(o) - {"threshold", "action", "min_events", "enabled"}:
            raise PolicyError(f"{name}: only threshold, action, min_events, enabled")
        clean: dict[str, Any] = {}
        if "threshold" in o:
            t = o["threshold"]
            if not isinstance(t, int | float) or isinstance(t, bool) or t <= 0:
                raise PolicyError(f"{name}: threshold must be a positive number")
            cap = ceilings()[name]
            if t > cap:
                raise PolicyError(f"{name}: threshold {t} is above the operator's ceiling {cap}")
            clean["threshold"] = float(t)
        if "action" in o:
            if o["action"] not in ACTIONS:
                raise PolicyError(f"{name}: action must be one of {', '.join(ACTIONS)}")
            clean["action"] = o["action"]
        if "min_events" in o:
            n = o["min_events"]
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 1_000_000:
                raise PolicyError(f"{name}: min_events must be an integer from 1 to 1,000,000")
            clean["min_events"] = n
        if "enabled" in o and o["enabled"] is not True:
            raise PolicyError(f"{name}: a monitor cannot be switched off (the operator's "
                              "terms); raise its threshold up to the ceiling instead")
        out[name] = clean
    return out


def effective(stored: dict[str, Any] | None) -> dict[str, Monitor]:
    """The monitors in force for a tenant (its policy JSON's ``monitors``)."""
    caps = ceilings()
    overrides = (stored or {}).get("monitors") or {}
    out: dict[str, Monitor] = {}
    for name, m in MONITORS.items():
        o = overrides.get(name) or {}
        m = replace(m, threshold=min(float(o.get("threshold", m.threshold)), caps[name]),
                    action=o.get("action", m.action),
                    min_events=int(o.get("min_events", m.min_events)))
        out[name] = m
    return out
