"""Check throughput with every abuse monitor on versus off, in the same run.

    .venv/bin/python -m bench.monitors [--backends sqlite,postgresql]   (``make bench-monitors``)

``bench.onoff``: make bench's workload over HTTP (2 workers), rounds off, on, on, off, off, on
compared by their medians. *On*: the monitors' process evaluates every monitor every second
(``GATEWAY_MONITOR_INTERVAL_S=1``, 5 times the default; the hour and day windows at their
own cadence) with thresholds raised to where the load does not cross them (the bench measures
the monitors' cost, not a throttled tenant's), except ``attempts_per_hour`` at 1 — a notice,
raised once, showing that the monitors ran. Webhook delivery and the ledger's sealer are off in
both modes. Target: on ≥ 0.90 × off. Results: ``bench/results/monitors-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from typing import Any

TARGET_RATIO = 0.90
HIGH = 1e12
CEILINGS = {"attempts_per_minute": HIGH, "attempts_per_hour": HIGH, "attempts_per_day": HIGH,
            "denied_share": 1.0, "penalties_per_day": HIGH, "unassigned_share": 1.0,
            "short_call_share": 1.0, "volume_jump": HIGH}
POLICY = {name: {"threshold": value} for name, value in CEILINGS.items()} | {
    "attempts_per_hour": {"threshold": 1, "action": "notice"}}
COMMON = {"GATEWAY_MONITOR_CEILINGS": json.dumps(CEILINGS), "GATEWAY_SEAL_INTERVAL_S": "0",
          "GATEWAY_WEBHOOK_POLL_S": "0"}


def prepare(env: dict[str, str], url: str) -> None:
    from sqlalchemy import create_engine, select, update

    from app.tenancy.models import Tenant

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for tid, policy in conn.execute(select(Tenant.id, Tenant.policy)).all():
                conn.execute(update(Tenant.__table__).where(Tenant.__table__.c.id == tid)
                             .values(policy=dict(policy or {}) | {"monitors": POLICY}))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:

    from bench import checks
    from bench.onoff import on_off, scalar

    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args(argv)
    out = checks.RESULTS / f"monitors-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    results: dict[str, Any] = {
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python -m bench.monitors " + " ".join(argv or sys.argv[1:]),
        "machine": checks.machine(), "backends": {}}
    started = time.perf_counter()
    checks.per_backend(args.backends, lambda backend: on_off(
        backend, "monitors", COMMON | {"GATEWAY_MONITOR_INTERVAL_S": "1"},
        COMMON | {"GATEWAY_MONITOR_INTERVAL_S": "0"}, prepare,
        lambda url: scalar(url, "SELECT count(*) FROM alerts")), results, out)
    return checks.conclude(results, out, started, report)


def report(results: dict[str, Any]) -> bool:
    from rich.table import Table

    from bench.checks import console

    table = Table(title="Abuse monitors: checks/s on ÷ off")
    for col in ("backend", "on ÷ off", "target", ""):
        table.add_column(col, justify="left" if col == "backend" else "right")
    ok = True
    for backend, r in results["backends"].items():
        if "error" in r:
            table.add_row(backend, r["error"][:80], "", "[red]ERROR[/red]")
            ok = False
            continue
        ran = (r["rounds"][-1]["count"] or 0) > 0
        passed = r["ratio"] >= TARGET_RATIO and ran
        ok &= passed
        table.add_row(backend, f"{r['on_rps']:,.0f} ÷ {r['off_rps']:,.0f} = {r['ratio']:.2f}"
                      f"{'' if ran else ' (the monitors did not run)'}",
                      f"≥ {TARGET_RATIO:.2f}", "PASS" if passed else "[red]MISS[/red]")
    console.print(table)
    return ok


if __name__ == "__main__":
    raise SystemExit(main())
