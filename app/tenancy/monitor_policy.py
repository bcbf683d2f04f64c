"""The monitors, their documented defaults, the tenant's overrides and the operator's floors.

A tenant sets ``monitors`` in its policy (``PATCH /v1/policy``): per monitor any of
``threshold``, ``action`` (``notice`` | ``throttle`` | ``suspend``), ``min_events`` and
``enabled``. The operator's **floor** bounds each monitor (``Floor``): the weakest action
allowed, the highest threshold allowed and, optionally, the most events a share may wait for.
Platform-wide: thresholds ``GATEWAY_MONITOR_CEILINGS`` (JSON ``{"monitor": max_threshold}``;
defaults ``CEILINGS``), actions and min_events ``GATEWAY_MONITOR_FLOORS`` (JSON ``{"monitor":
{"action": "throttle", "min_events": 500}}``; default action: the monitor's documented one, so
a tenant can never downgrade a default). Per tenant, the operator's sanctions
(``PUT /v1/tenants/{id}/sanctions``) replace the platform's values field by field.

The monitor in force is the floor tightened by the tenant's own setting (``effective``): the
lower threshold, the stronger action, the smaller min_events. A tenant asking for a weaker value
than the floor is refused (``check_floors`` → 403 naming the field and the operator's value); a
value stored before the operator tightened a floor is simply outvoted by the floor.
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


class Weakened(PolicyError):
    """A tenant asked for less than the operator's floor."""

    def __init__(self, field: str, value: Any, operator_value: Any, why: str) -> None:
        super().__init__(f"{field}: {value} is {why} the operator's {operator_value}")
        self.field = field
        self.value = value
        self.operator_value = operator_value


RANK: dict[str, int] = {a: i for i, a in enumerate(ACTIONS)}


def stronger(a: Action, b: Action) -> Action:
    return a if RANK[a] >= RANK[b] else b


@dataclass(frozen=True)
class Floor:
    """The operator's bounds on one monitor for one tenant."""

    action: Action  # the weakest action the tenant may use
    threshold: float  # the highest threshold the tenant may use
    min_events: int | None = None  # the most events a share may wait for (None: no bound)


def _number(name: str, what: str, value: Any, *, integer: bool = False) -> Any:
    ok = (isinstance(value, int) if integer else isinstance(value, int | float))
    if not ok or isinstance(value, bool) or value <= 0:
        raise PolicyError(f"{name}: {what} must be a positive {'integer' if integer else 'number'}")
    return value


def validate_floors(raw: Any, *, where: str = "monitors") -> dict[str, dict[str, Any]]:
    """Floors as the operator writes them: ``{"monitor": {"action", "threshold",
    "min_events"}}``, each optional (``null``/absent: the platform's)."""
    if not isinstance(raw, dict):
        raise PolicyError(f"{where} must be an object: {{monitor: {{action, threshold, "
                          "min_events}}}}")
    out: dict[str, dict[str, Any]] = {}
    for name, f in raw.items():
        if name not in MONITORS:
            raise PolicyError(f"unknown monitor {name!r}; one of {', '.join(MONITORS)}")
        if f is None:
            continue
        if not isinstance(f, dict) or set(f) - {"action", "threshold", "min_events"}:
            raise PolicyError(f"{name}: only action, threshold, min_events")
        clean: dict[str, Any] = {}
        if f.get("action") is not None:
            if f["action"] not in ACTIONS:
                raise PolicyError(f"{name}: action must be one of {', '.join(ACTIONS)}")
            clean["action"] = f["action"]
        if f.get("threshold") is not None:
            clean["threshold"] = float(_number(name, "threshold", f["threshold"]))
        if f.get("min_events") is not None:
            clean["min_events"] = _number(name, "min_events", f["min_events"], integer=True)
        out[name] = clean
    return out


def platform_floors() -> dict[str, Floor]:
    """The platform-wide floors: ceilings on thresholds, then GATEWAY_MONITOR_FLOORS."""
    caps = ceilings()
    raw = get_settings().monitor_floors
    given: dict[str, dict[str, Any]] = {}
    if raw:
        try:
            given = validate_floors(json.loads(raw), where="GATEWAY_MONITOR_FLOORS")
        except ValueError as exc:
            raise PolicyError(f"GATEWAY_MONITOR_FLOORS: {exc}") from exc
    out = {}
    for name, m in MONITORS.items():
        g = given.get(name, {})
        out[name] = Floor(action=g.get("action", m.action),
                          threshold=g.get("threshold", caps[name]),
                          min_events=g.get("min_events"))
    return out


def floors(sanctions: dict[str, Any] | None) -> dict[str, Floor]:
    """The floors in force for a tenant: its operator-set ones (``tenants.sanctions``) over
    the platform's, field by field."""
    base = platform_floors()
    own = (sanctions or {}).get("monitors") or {}
    if not own:
        return base
    return {name: replace(f, **{k: v for k, v in (own.get(name) or {}).items()
                                if v is not None and k in ("action", "threshold", "min_events")})
            for name, f in base.items()}


def check_floors(update: dict[str, Any], bounds: dict[str, Floor]) -> None:
    """A tenant's requested monitor settings (``validate``'s output) against its floors:
    ``Weakened`` names the first field asked weaker than the operator allows."""
    for name, o in update.items():
        if not o:
            continue
        f = bounds[name]
        if "action" in o and RANK[o["action"]] < RANK[f.action]:
            raise Weakened(f"monitors.{name}.action", o["action"], f.action, "weaker than")
        if "threshold" in o and o["threshold"] > f.threshold:
            raise Weakened(f"monitors.{name}.threshold", o["threshold"], f.threshold,
                           "above")
        if "min_events" in o and f.min_events is not None and o["min_events"] > f.min_events:
            raise Weakened(f"monitors.{name}.min_events", o["min_events"], f.min_events,
                           "above")


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
    """A tenant's ``monitors`` policy, checked for shape (``PolicyError`` says what is wrong;
    the operator's bounds are ``check_floors``'s, as they depend on the tenant)."""
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
            clean["threshold"] = float(t)  # the operator's floors: check_floors
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
                              "terms); raise its threshold up to the operator's ceiling instead")
        out[name] = clean
    return out


def effective(stored: dict[str, Any] | None,
              sanctions: dict[str, Any] | None = None) -> dict[str, Monitor]:
    """The monitors in force for a tenant: its policy JSON's ``monitors`` tightened by the
    operator's floors (``sanctions``: ``tenants.sanctions``; ``None``: the platform's)."""
    bounds = floors(sanctions)
    overrides = (stored or {}).get("monitors") or {}
    out: dict[str, Monitor] = {}
    for name, m in MONITORS.items():
        o = overrides.get(name) or {}
        f = bounds[name]
        min_events = int(o.get("min_events", m.min_events))
        if f.min_events is not None:
            min_events = min(min_events, f.min_events)
        out[name] = replace(
            m, threshold=min(float(o.get("threshold", m.threshold)), f.threshold),
            action=stronger(o.get("action", m.action), f.action), min_events=min_events)
    return out
