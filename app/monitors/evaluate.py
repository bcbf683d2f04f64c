"""Measures against thresholds: pure (no database, no clock)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.tenancy.monitor_policy import Action, Monitor


@dataclass(frozen=True)
class Measure:
    monitor: str
    scope: str  # "tenant" | "campaign:<id>" | "caller_id:<E.164>"
    value: float
    events: int  # what the value is over (attempts, answered calls…): min_events applies


@dataclass(frozen=True)
class Trigger:
    monitor: str
    scope: str
    value: float
    threshold: float
    action: Action
    window_s: int
    events: int


def share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def jump(current: int, history: Sequence[int]) -> float:
    """The current hour's attempts ÷ the median of the same hour on the days before (a
    history of zeros counts as one attempt: a tenant that never called at that hour)."""
    base = statistics.median(history) if history else 0
    return current / max(base, 1)


def evaluate(measures: Iterable[Measure], monitors: dict[str, Monitor]) -> list[Trigger]:
    """Every measure above its monitor's threshold (with at least ``min_events`` behind it)."""
    out: list[Trigger] = []
    for m in measures:
        mon = monitors[m.monitor]
        if m.events < mon.min_events or m.value <= mon.threshold:
            continue
        out.append(Trigger(m.monitor, m.scope, m.value, mon.threshold, mon.action,
                           mon.window_s, m.events))
    return out
