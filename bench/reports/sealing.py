"""The sealed ledger's cost (part ``sealing`` of ``python -m bench.reports``).

1. On the seeded ledger (``--rows`` attempts): ``gateway audit seal`` (every row: the first
   seal of an existing ledger, the worst case) and ``gateway audit verify --tenant T`` in fresh
   processes: rows/s and peak RSS.
2. Check throughput with the sealer **on versus off, in the same run**: a fresh database with
   ``make bench``'s workload (``bench.seed``: consents, BLOCTEL, history), ``gateway serve``
   with 2 workers, closed-loop checks from ``bench.loadgen`` for ``ROUND_S`` seconds per round,
   rounds in the order off, on, on, off, off, on, compared by their medians (a linear drift
   cancels out; one unlucky round — the kernel sometimes hands most connections to one of the
   two workers — does not count). *On* seals every second with no
   grace (``GATEWAY_SEAL_INTERVAL_S=1``, ``GATEWAY_SEAL_GRACE_S=0``: 300 times the default
   frequency, every round's rows sealed while checks run); the clock runs from ``make bench``'s
   Monday 10:30 (``GATEWAY_CLOCK_OFFSET_S``) so that there is time for the sealer to seal.
   Target: on ≥ 0.90 × off.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TARGET_RATIO = 0.90
ROUND_S = 8.0
#: ABBAAB: a linear drift of the machine cancels; the median of three per mode ignores one
#: unlucky round (the kernel sometimes hands most connections to one of the two workers)
ROUNDS = ("off", "on", "on", "off", "off", "on")


def _gateway(args: list[str], env: dict[str, str], postgres: bool, work: Path
             ) -> tuple[dict[str, Any], Any]:
    from bench.bloctel.run import run_child
    from bench.checks import GATEWAY

    out = work / f"audit-{args[0]}.json"
    with out.open("wb") as sink:
        m = run_child([GATEWAY, "audit", *args, "--json"], env, 1800, stdout=sink,
                      postgres=postgres)
    if m["rc"] not in (0,):
        raise RuntimeError(f"gateway audit {args[0]} failed ({m['rc']}): {m.get('stderr')}")
    return m, json.loads(out.read_text() or "null")


def _seal_and_verify(backend: str, ctx: dict[str, Any], rows: int) -> dict[str, Any]:
    from bench.checks import console

    env = ctx["env"] | {"GATEWAY_SEAL_GRACE_S": "0"}
    pg = backend != "sqlite"
    sealed_m, sealed = _gateway(["seal"], env, pg, ctx["work"])
    if not sealed or sealed["rows"] < rows:
        raise RuntimeError(f"the seal covered {sealed and sealed['rows']} rows, not {rows}")
    verify_m, verified = _gateway(["verify", "--tenant", ctx["tenant"]], env, pg, ctx["work"])
    if not verified["ok"] or verified["rows_checked"] < rows:
        raise RuntimeError(f"verification failed: {verified}")
    for m, n in ((sealed_m, sealed["rows"]), (verify_m, verified["rows_checked"])):
        m["rows"] = n
        m["rows_per_s"] = round(n / m["wall_s"]) if m["wall_s"] else None
    console.print(f"[dim]{backend}: sealed {sealed['rows']:,} rows in {sealed_m['wall_s']:.1f} s"
                  f", verified in {verify_m['wall_s']:.1f} s[/dim]")
    return {"seal": sealed_m, "verify": verify_m}


def _checks_on_off(backend: str) -> dict[str, Any]:
    from bench import checks
    from bench.checks import console

    work = Path(tempfile.mkdtemp(prefix=f"gw-bench-sealing-{backend}-"))
    try:
        db = (checks.sqlite_database(work) if backend == "sqlite"
              else checks.postgres_database())
        with db as url:
            base = {**os.environ, "DATABASE_URL": url, "GATEWAY_LOG_LEVEL": "warning",
                    "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics")}
            (work / "metrics").mkdir()
            seed_path = work / "seed.json"
            checks.run_py("bench.seed", [str(seed_path)],
                          base | {"GATEWAY_FROZEN_NOW": checks.FROZEN_NOW}, timeout=180)
            seed = json.loads(seed_path.read_text())
            monday = datetime.fromisoformat(checks.FROZEN_NOW)
            offset = (monday - datetime.now(UTC)).total_seconds()
            env = {k: v for k, v in base.items() if k != "GATEWAY_FROZEN_NOW"} | {
                "GATEWAY_CLOCK_OFFSET_S": f"{offset:.0f}", "GATEWAY_SEAL_GRACE_S": "0"}
            subprocess.run([checks.GATEWAY, "audit", "seal"], env=env, check=True, timeout=300,
                           stdout=subprocess.DEVNULL)  # the seeded history: sealed first
            rounds: list[dict[str, Any]] = []
            for i, mode in enumerate(ROUNDS):
                server = checks.Server(
                    env | {"GATEWAY_SEAL_INTERVAL_S": "1" if mode == "on" else "0"}, work)
                try:
                    server.start()
                    plan = {"host": "127.0.0.1", "port": server.port, "phases": [{
                        "name": "check_closed", "target": "check", "kind": "closed",
                        "connections": 32, "warmup_s": 2.0, "duration_s": ROUND_S}],
                        "targets": checks.targets(seed, f"sealing-{i}"),
                        "worker_pids": server.workers, "postgres": checks.pg_stats_target(url)}
                    proc, out = checks.run_loadgen(plan, work, f"round{i}", timeout=120)
                    phase = checks.wait_loadgen(proc, out, timeout=120)["check_closed"]
                finally:
                    server.stop()
                seals = _count_seals(url)
                rounds.append({"mode": mode, "rps": phase["rps"], "p99_ms": phase.get("p99_ms"),
                               "seals_so_far": seals})
                console.print(f"[dim]{backend}: sealer {mode}: {phase['rps']:,.0f} checks/s "
                              f"(seals so far {seals})[/dim]")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    on = [r["rps"] for r in rounds if r["mode"] == "on"]
    off = [r["rps"] for r in rounds if r["mode"] == "off"]
    return {"rounds": rounds, "on_rps": round(statistics.median(on), 1),
            "off_rps": round(statistics.median(off), 1),
            "ratio": round(statistics.median(on) / statistics.median(off), 3)}


def _count_seals(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM ledger_seals")).scalar_one())
    finally:
        engine.dispose()


def part(backend: str, url: str, ctx: dict[str, Any], args: argparse.Namespace
         ) -> dict[str, Any]:
    t = time.perf_counter()
    out = _seal_and_verify(backend, ctx, args.rows)
    out["checks"] = _checks_on_off(backend)
    out["elapsed_s"] = round(time.perf_counter() - t, 1)
    return out


def report_rows(results: dict[str, Any], table: Any) -> bool:
    ok = True
    for backend, per in results["backends"].items():
        if "sealing" not in per:
            continue
        s = per["sealing"]
        for step in ("seal", "verify"):
            m = s[step]
            table.add_row(f"{backend}: {step} {m['rows']:,} ledger rows",
                          f"{m['wall_s']:.1f} s · {m['rows_per_s']:,} rows/s · "
                          f"{m['maxrss_mb']:.0f} MB", "", "")
        c = s["checks"]
        passed = c["ratio"] >= TARGET_RATIO
        ok &= passed
        sealed = c["rounds"][-1]["seals_so_far"]
        table.add_row(f"{backend}: checks/s, sealer on ÷ off",
                      f"{c['on_rps']:,.0f} ÷ {c['off_rps']:,.0f} = {c['ratio']:.2f} "
                      f"({sealed} seals)", f"≥ {TARGET_RATIO:.2f}",
                      "PASS" if passed else "[red]MISS[/red]")
    return ok
