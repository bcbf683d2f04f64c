"""Replicas behind HAProxy on one PostgreSQL database: checks/s and p99 per replica count,
PostgreSQL CPU per check, and the frequency invariant after every load step.

    .venv/bin/python -m bench.cluster        (``make bench-cluster``)

One fresh PostgreSQL database, migrated and seeded as ``bench.checks`` seeds it
(``bench/seed.py``: 5,000 consents, BLOCTEL, 20,000 past attempts, ANALYZE). Then for 1, 2 and
3 replicas (``cluster.Cluster``: ``gateway serve --workers 2`` each, HAProxy in front,
health-checked on ``/readyz``), on the same database:

1. ``/healthz`` through HAProxy, closed loop: the HTTP stack and the balancer alone, the
   same-run baseline the ratios are taken against;
2. checks, closed loop (48 connections): sustained checks/s;
3. checks, open loop at a fixed rate (default 300/s): p50/p99 from each request's scheduled
   send time;
4. the invariant: 50 concurrent checks for one consented callee, one connection each, spread
   by HAProxy across the replicas → exactly 4 allowed, 4 counted attempts (art. D223-9).

Worker CPU is the sum over every replica's workers; PostgreSQL CPU over every postgres process.
On a 2-core machine three replicas share the same two cores with PostgreSQL, HAProxy and the
load generator: checks/s cannot grow with the replica count here, and the table says how busy
the machine was. What it shows is what a replica count costs (CPU per check, p99) and that the
invariants hold at each step. Results: ``bench/results/cluster-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.checks import (
    FROZEN_NOW,
    RESULTS,
    Skip,
    begin_run,
    console,
    machine_busy,
    pg_stats_target,
    postgres_database,
    run_loadgen,
    run_py,
    targets,
    wait_loadgen,
    write_results,
)

WORKERS = 2
LIMIT = 4  # art. D223-9: 4 attempts per consumer in 30 calendar days


def phases(args: argparse.Namespace) -> list[dict[str, Any]]:
    closed = {"kind": "closed", "connections": args.connections, "warmup_s": args.warmup,
              "duration_s": args.closed_s}
    return [
        {"name": "healthz_closed", "target": "healthz", **closed},
        {"name": "check_closed", "target": "check", **closed},
        {"name": "check_open", "target": "check", "kind": "open", "connections": 64,
         "rate": args.rate, "warmup_s": 1.0, "duration_s": args.open_s},
    ]


def counted_attempts(url: str, callee: str) -> int:
    """Counted attempts of ``callee`` in the ledger, read from PostgreSQL directly."""
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM attempts WHERE callee = %s AND counted",
                           (callee,)).fetchone()
    return int(row[0]) if row else 0


def one_step(n: int, url: str, env: dict[str, str], seed: dict[str, Any],
             args: argparse.Namespace, run_id: str, workdir: Path) -> dict[str, Any]:
    from cluster import Cluster
    from cluster.invariant import invariant_run

    step: dict[str, Any] = {"replicas": n, "workers_per_replica": WORKERS}
    with Cluster(url, replicas=n, workers=WORKERS, env=env, migrate=False,
                 workdir=workdir / f"step{n}") as cluster:
        time.sleep(1.0)  # every worker serves its first requests only after start-up
        plan = {"host": "127.0.0.1", "port": cluster.balancer.port, "phases": phases(args),
                "targets": targets(seed, f"{run_id}{n}"), "worker_pids": cluster.worker_pids(),
                "postgres": pg_stats_target(url)}
        proc, out = run_loadgen(plan, workdir, f"step{n}", timeout=300)
        step["phases"] = wait_loadgen(proc, out, timeout=300)
        step["haproxy_states"] = cluster.balancer.states()
        callee = seed["invariant_callees"][n]
        before = counted_attempts(url, callee)
        allowed = invariant_run(cluster.url, seed["key"], seed["campaign"], seed["caller_id"],
                                callee)
        counted = counted_attempts(url, callee)
        step["invariant"] = {"callee": callee, "counted_before": before, "burst": 50,
                             "allowed": allowed, "counted_after": counted,
                             "holds": counted == LIMIT and allowed == LIMIT - before}
        errors = []
        for r in cluster.replicas:
            errors += [ln for ln in r.log_tail(400).splitlines()
                       if "ERROR" in ln or "Traceback" in ln][:5]
        step["log_errors"] = errors
    return step


def per_check_ms(phase: dict[str, Any], key: str) -> float | None:
    rps = phase.get("rps") or 0.0
    cores = (phase.get("cpu") or {}).get(key)
    return None if not rps or cores is None else round(cores / rps * 1000, 3)


def report(results: dict[str, Any]) -> bool:
    table = Table(title="Replicas behind HAProxy, one PostgreSQL database "
                        f"({WORKERS} workers each)")
    for col in ("replicas", "healthz/s", "checks/s", "ratio", "p50 ms @rate", "p99 ms @rate",
                "p99 ms closed", "worker CPU ms/check", "PG CPU ms/check", "machine busy",
                "errors", "invariant"):
        table.add_column(col, justify="right")
    ok = True
    for step in results["steps"]:
        if "error" in step:
            ok = False
            table.add_row(str(step["replicas"]), "[red]" + step["error"][:60] + "[/red]")
            continue
        ph = step["phases"]
        hz, closed, opened = ph["healthz_closed"], ph["check_closed"], ph["check_open"]
        errors = sum(p["errors_total"] for p in ph.values())
        inv = step["invariant"]
        ok = ok and inv["holds"] and errors == 0
        table.add_row(
            str(step["replicas"]), f"{hz['rps']:.0f}", f"{closed['rps']:.0f}",
            f"{closed['rps'] / hz['rps']:.3f}" if hz["rps"] else "-",
            f"{opened['latency_ms']['p50']}", f"{opened['latency_ms']['p99']}",
            f"{closed['latency_ms']['p99']}",
            f"{per_check_ms(closed, 'workers_cores')}", f"{per_check_ms(closed, 'postgres_cores')}",
            f"{closed['cpu']['machine_busy_cores']}", str(errors),
            ("[green]" if inv["holds"] else "[red]")
            + f"{inv['allowed']} allowed, {inv['counted_after']} counted[/]",
        )
    console.print(table)
    return ok


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--replicas", default="1,2,3", help="replica counts, comma-separated")
    ap.add_argument("--connections", type=int, default=48, help="closed-loop connections")
    ap.add_argument("--warmup", type=float, default=2.0, help="closed-loop warm-up, s")
    ap.add_argument("--closed-s", type=float, default=10.0, help="closed-loop window, s")
    ap.add_argument("--rate", type=float, default=300.0, help="open-loop offered rate, req/s")
    ap.add_argument("--open-s", type=float, default=10.0, help="open-loop window, s")
    ap.add_argument("--quick", action="store_true", help="short windows (a smoke test)")
    args = ap.parse_args(argv)
    if args.quick:
        args.warmup, args.closed_s, args.open_s = 1.0, 3.0, 3.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results = begin_run("bench.cluster", argv, args, frozen_now=FROZEN_NOW, steps=[])
    started = time.perf_counter()
    run_id = secrets.token_hex(3)
    results["machine"]["busy_cores_before"] = machine_busy()
    out = RESULTS / f"cluster-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    workdir = Path(tempfile.mkdtemp(prefix="gw-bench-cluster-"))
    try:
        with postgres_database() as url:
            env = {**os.environ, "DATABASE_URL": url, "GATEWAY_FROZEN_NOW": FROZEN_NOW,
                   "GATEWAY_LOG_LEVEL": "warning"}
            seed_path = workdir / "seed.json"
            with console.status("migrating and seeding one PostgreSQL database…"):
                run_py("bench.seed", [str(seed_path)], env, timeout=300)
            seed = json.loads(seed_path.read_text())
            for n in [int(x) for x in args.replicas.split(",") if x.strip()]:
                console.rule(f"[bold]{n} replica(s)")
                try:
                    results["steps"].append(one_step(n, url, env, seed, args, run_id, workdir))
                except Exception as exc:  # report it, go on with the next step
                    console.print(f"[red]{n} replica(s) failed:[/red]\n{traceback.format_exc()}")
                    results["steps"].append({"replicas": n,
                                             "error": f"{type(exc).__name__}: {exc}"})
                write_results(results, out)
    except Skip as exc:
        console.print(f"[yellow]skipped: {exc}[/yellow]")
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    ok = report(results)
    write_results(results, out)
    console.print(f"results: {out}  ({results['elapsed_s']} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
