"""Abuse and fraud monitors: measure, compare, act.

**Where the counting happens.** Not on the check path: a check writes its attempt as before and
reads, from a per-worker cache refreshed at most every ``GATEWAY_CACHE_TTL_S`` (1 s), the
throttles in force for its tenant (``app.alerts.throttle``) — no extra database round trip. The
measures are counted by the database itself: every ``GATEWAY_MONITOR_INTERVAL_S`` (5 s) one
process per database (``python -m app.monitors.runner``, started by the worker holding the
``monitors`` lock, like the ledger's sealer) runs a few aggregate queries per tenant over index
ranges — counts over the last minute and 15 minutes at every turn, the hour-long windows every
30 s, the day-long ones every 2 minutes (``CADENCE_S``) — compares them with the tenant's
thresholds (``app.tenancy.monitor_policy``) and acts.

**How correct across workers and replicas.** The database holds every attempt of every worker
and replica, so the counts are exact; what is bounded is the delay: a crossing is seen at most
one interval after the attempt is committed (5 s; 30 s / 2 min for the longer windows), and a
throttle or suspension reaches every worker within the cache's 1 s. A runaway dialer therefore
gets at most (its rate) × 6 s of attempts past a per-minute threshold.

**Actions.** Each crossing raises an alert (``app.alerts``: stored, delivered to the tenant's
webhooks, signed). ``notice``: only that. ``throttle``: checks in the monitor's scope (the
tenant, a campaign or a caller ID) are denied ``RATE_THROTTLED`` until the window has passed
(``next_allowed_at`` says when). ``suspend``: the tenant is suspended (``TENANT_SUSPENDED`` on
every check) until the operator reactivates it. A monitor does not raise again for the same scope
while its last alert is younger than its window (so a reactivated tenant is not suspended again
at once for the same day's penalties).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, func, select, update
from sqlalchemy.engine import Connection

from app import clock
from app.alerts.models import Alert
from app.alerts.service import raise_alert
from app.alerts.throttle import invalidate, load_throttles
from app.calls.models import Attempt, PenaltyLine
from app.calls.service import UNASSIGNED_SIP
from app.clock import iso
from app.db import get_engine, write_transaction
from app.jobs import LeaderProcess, run_every
from app.monitors.evaluate import Measure, Trigger, evaluate, jump, share
from app.tenancy.models import Tenant
from app.tenancy.monitor_policy import MONITORS, Monitor, effective, floors

log = logging.getLogger("gateway.monitors")

_a = Attempt.__table__.c
_pl = PenaltyLine.__table__.c
_al = Alert.__table__
#: How often each window is recomputed (seconds): short windows at every turn.
CADENCE_S = {60: 0, 900: 0, 3_600: 30, 86_400: 120}


# --------------------------------------------------------------------------- measuring


def _attempts(conn: Connection, tenant_id: str, since: datetime, until: datetime,
              by: Any = None, denied: bool = False) -> Iterator[Any]:
    """Attempts (``n``) in [since, until), and how many were denied when asked (a plain count
    can be answered from the (tenant, checked_at) index alone)."""
    cols = [func.count().label("n")]
    if denied:
        cols.append(func.coalesce(func.sum(case((_a.decision == "deny", 1), else_=0)), 0)
                    .label("denied"))
    q = select(*([by] if by is not None else []), *cols).where(
        _a.tenant_id == tenant_id, _a.checked_at >= since, _a.checked_at < until)
    if by is not None:
        q = q.group_by(by)
    yield from conn.execute(q)


def _outcomes(conn: Connection, tenant_id: str, since: datetime, until: datetime) -> Any:
    dialled = and_(_a.outcome_status.is_not(None), _a.outcome_status != "not_dialed")
    unassigned = (_a.outcome_status == "unassigned") | _a.sip_code.in_(sorted(UNASSIGNED_SIP))
    answered = _a.outcome_status == "answered"
    return conn.execute(select(
        func.coalesce(func.sum(case((dialled, 1), else_=0)), 0).label("dialled"),
        func.coalesce(func.sum(case((and_(dialled, unassigned), 1), else_=0)), 0
                      ).label("unassigned"),
        func.coalesce(func.sum(case((answered, 1), else_=0)), 0).label("answered"),
        func.coalesce(func.sum(case((and_(answered, _a.duration_s < 60), 1), else_=0)), 0
                      ).label("short"),
    ).where(_a.tenant_id == tenant_id, _a.outcome_at >= since, _a.outcome_at < until)).one()


def measure(conn: Connection, tenant: Any, now: datetime, windows: set[int] | None = None
            ) -> list[Measure]:
    """The tenant's measures at ``now`` for the monitors whose window is in ``windows``
    (None: all)."""
    want = {m.window_s for m in MONITORS.values()} if windows is None else windows
    out: list[Measure] = []
    tid = tenant.id

    def ago(s: int) -> datetime:
        return now - timedelta(seconds=s)

    if 60 in want:
        for r in _attempts(conn, tid, ago(60), now):
            out.append(Measure("attempts_per_minute", "tenant", r.n, r.n))
        for r in _attempts(conn, tid, ago(60), now, by=_a.caller_id):
            if r.caller_id:
                out.append(Measure("attempts_per_minute", f"caller_id:{r.caller_id}", r.n, r.n))
    if 900 in want:
        for r in _attempts(conn, tid, ago(900), now, denied=True):
            out.append(Measure("denied_share", "tenant", share(r.denied, r.n), r.n))
        for r in _attempts(conn, tid, ago(900), now, by=_a.campaign_id, denied=True):
            out.append(Measure("denied_share", f"campaign:{r.campaign_id}",
                               share(r.denied, r.n), r.n))
    if 3_600 in want:
        hour = next(_attempts(conn, tid, ago(3_600), now))
        out.append(Measure("attempts_per_hour", "tenant", hour.n, hour.n))
        o = _outcomes(conn, tid, ago(3_600), now)
        out.append(Measure("unassigned_share", "tenant", share(o.unassigned, o.dialled),
                           o.dialled))
        history = [next(_attempts(conn, tid, ago(d * 86_400 + 3_600), ago(d * 86_400))).n
                   for d in range(1, 8)]
        out.append(Measure("volume_jump", "tenant", jump(hour.n, history), hour.n))
    if 86_400 in want:
        day = next(_attempts(conn, tid, ago(86_400), now))
        out.append(Measure("attempts_per_day", "tenant", day.n, day.n))
        o = _outcomes(conn, tid, ago(86_400), now)
        out.append(Measure("short_call_share", "tenant", share(o.short, o.answered),
                           o.answered))
        micros = conn.execute(select(func.coalesce(func.sum(_pl.amount_micros), 0)).where(
            _pl.tenant_id == tid, _pl.created_at >= ago(86_400), _pl.created_at < now)
        ).scalar_one()
        out.append(Measure("penalties_per_day", "tenant", round(float(micros) / 1e6, 2),
                           day.n))
    return out


# --------------------------------------------------------------------------- acting


def _recent(conn: Connection, tenant_id: str, now: datetime) -> dict[tuple[str, str], datetime]:
    rows = conn.execute(
        select(_al.c.monitor, _al.c.scope, func.max(_al.c.created_at).label("at"))
        .where(_al.c.tenant_id == tenant_id, _al.c.created_at >= now - timedelta(days=1))
        .group_by(_al.c.monitor, _al.c.scope))
    return {(r.monitor, r.scope): r.at for r in rows}


def _act(engine: Engine, tenant_id: str, t: Trigger, now: datetime) -> dict[str, Any]:
    until = now + timedelta(seconds=t.window_s) if t.action == "throttle" else None
    mon = MONITORS[t.monitor]
    with write_transaction(engine) as conn:
        alert = raise_alert(
            conn, tenant_id=tenant_id, monitor=t.monitor, scope=t.scope, action=t.action,
            value=float(t.value), threshold=float(t.threshold), window=f"{t.window_s}s",
            until=until, details={"measure": mon.measure, "events": t.events,
                                  "unit": mon.unit})
        if t.action == "suspend":
            tt = Tenant.__table__
            conn.execute(update(tt).where(tt.c.id == tenant_id, tt.c.status == "active")
                         .values(status="suspended"))
    invalidate(tenant_id)
    if t.action == "suspend":
        from app.tenancy.auth import invalidate_principals

        invalidate_principals()
    log.warning("monitor %s on %s %s: %s > %s → %s", t.monitor, tenant_id, t.scope, t.value,
                t.threshold, t.action)
    return alert


def tick(engine: Engine | None = None, now: datetime | None = None,
         last: dict[int, datetime] | None = None) -> list[dict[str, Any]]:
    """One turn: measure every active tenant (the windows due, given ``last`` — when each was
    last measured, updated in place; None: every window), raise and act. Returns the alerts."""
    engine = engine or get_engine()
    now = now or clock.now()
    if last is None:
        windows = set(CADENCE_S)
    else:
        windows = {w for w, every in CADENCE_S.items()
                   if w not in last or (now - last[w]).total_seconds() >= every}
        for w in windows:
            last[w] = now
    raised: list[dict[str, Any]] = []
    with engine.connect() as conn:
        tenants = list(conn.execute(select(Tenant).where(Tenant.status == "active")))
        work: list[tuple[str, list[Trigger]]] = []
        for tenant in tenants:
            monitors = effective(tenant.policy, tenant.sanctions)
            triggers = evaluate(measure(conn, tenant, now, windows), monitors)
            if not triggers:
                continue
            recent = _recent(conn, tenant.id, now)
            fresh = [t for t in triggers if not _cooling(recent, t, monitors, now)]
            work.append((tenant.id, _strongest_first(fresh)))
        conn.rollback()
    for tenant_id, triggers in work:
        for t in triggers:
            raised.append(_act(engine, tenant_id, t, now))
            if t.action == "suspend":
                break  # suspended: nothing more to do for this tenant
    return raised


def _cooling(recent: dict[tuple[str, str], datetime], t: Trigger,
             monitors: dict[str, Monitor], now: datetime) -> bool:
    at = recent.get((t.monitor, t.scope))
    return at is not None and (now - at).total_seconds() < monitors[t.monitor].window_s


def _strongest_first(triggers: list[Trigger]) -> list[Trigger]:
    rank = {"suspend": 0, "throttle": 1, "notice": 2}
    return sorted(triggers, key=lambda t: (rank[t.action], t.monitor, t.scope))


def snapshot(tenant_id: str, engine: Engine | None = None) -> dict[str, Any]:
    """``GET /v1/monitors``: each monitor in force with its current values and state."""
    engine = engine or get_engine()
    now = clock.now()
    with engine.connect() as conn:
        tenant = conn.execute(select(Tenant).where(Tenant.id == tenant_id)).one()
        monitors = effective(tenant.policy, tenant.sanctions)
        bounds = floors(tenant.sanctions)  # the operator's, for this tenant
        measures = measure(conn, tenant, now)
        recent = _recent(conn, tenant_id, now)
        conn.rollback()
    out = []
    for name, m in monitors.items():
        values = [{"scope": x.scope, "value": x.value, "events": x.events,
                   "above": x.events >= m.min_events and x.value > m.threshold}
                  for x in measures if x.monitor == name]
        out.append({"monitor": name, "measure": m.measure, "window_s": m.window_s,
                    "threshold": m.threshold, "ceiling": bounds[name].threshold,
                    "floor_action": bounds[name].action, "action": m.action,
                    "min_events": m.min_events, "unit": m.unit, "values": values,
                    "last_alert_at": max((at for (mon, _), at in recent.items() if mon == name),
                                         default=None)})
    throttles = [{"scope": s, "until": iso(u), "monitor": mon}
                 for s, u, mon in load_throttles(tenant_id)]
    return {"tenant_id": tenant_id, "status": tenant.status, "at": iso(now),
            "monitors": out, "throttles": throttles}


_LEADER = ("monitors", (0x6D6F6E69, 0x746F7273))  # "moni" "tors"


class Monitors(LeaderProcess):
    """Keeps one monitors process per database (``python -m app.monitors.runner``)."""

    def __init__(self, interval: float, engine_of: Callable[[], Engine] = get_engine) -> None:
        super().__init__("app.monitors.runner", _LEADER, interval, engine_of)


def run_monitors(interval: float) -> None:
    last: dict[int, datetime] = {}
    run_every(interval, lambda: tick(last=last), "monitors")
