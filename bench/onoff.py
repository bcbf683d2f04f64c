"""Check throughput with a background job on versus off, in the same run (``bench.reports``'
sealing part, ``bench.monitors``).

A fresh database with ``make bench``'s workload (``bench.seed``: consents, BLOCTEL, history),
``gateway serve`` with 2 workers, closed-loop checks from ``bench.loadgen`` for ``ROUND_S``
seconds per round, rounds in the order off, on, on, off, off, on, compared by their medians (a
linear drift cancels out; one unlucky round — the kernel sometimes hands most connections to
one of the two workers — does not count). The clock runs from ``make bench``'s Monday 10:30
(``GATEWAY_CLOCK_OFFSET_S``) so that time passes for the jobs.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROUND_S = 8.0
#: ABBAAB: a linear drift of the machine cancels; the median of three per mode ignores one
#: unlucky round (the kernel sometimes hands most connections to one of the two workers)
ROUNDS = ("off", "on", "on", "off", "off", "on")


def on_off(backend: str, label: str, on_env: dict[str, str], off_env: dict[str, str],
           prepare: Callable[[dict[str, str], str], None] | None = None,
           count: Callable[[str], int] | None = None) -> dict[str, Any]:
    """``{"rounds", "on_rps", "off_rps", "ratio"}``; ``prepare(env, url)`` runs once after the
    seed, ``count(url)`` after each round (evidence that the job ran)."""
    from bench import checks
    from bench.checks import console

    work = Path(tempfile.mkdtemp(prefix=f"gw-bench-{label}-{backend}-"))
    rounds: list[dict[str, Any]] = []
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
                "GATEWAY_CLOCK_OFFSET_S": f"{offset:.0f}"}
            if prepare is not None:
                prepare(env, url)
            for i, mode in enumerate(ROUNDS):
                server = checks.Server(env | (on_env if mode == "on" else off_env), work)
                try:
                    server.start()
                    plan = {"host": "127.0.0.1", "port": server.port, "phases": [{
                        "name": "check_closed", "target": "check", "kind": "closed",
                        "connections": 32, "warmup_s": 2.0, "duration_s": ROUND_S}],
                        "targets": checks.targets(seed, f"{label}-{i}"),
                        "worker_pids": server.workers, "postgres": checks.pg_stats_target(url)}
                    proc, out = checks.run_loadgen(plan, work, f"round{i}", timeout=120)
                    phase = checks.wait_loadgen(proc, out, timeout=120)["check_closed"]
                finally:
                    server.stop()
                n = count(url) if count is not None else None
                rounds.append({"mode": mode, "rps": phase["rps"], "p99_ms": phase.get("p99_ms"),
                               "count": n})
                console.print(f"[dim]{backend}: {label} {mode}: {phase['rps']:,.0f} checks/s"
                              f"{f' ({n})' if n is not None else ''}[/dim]")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    on = [r["rps"] for r in rounds if r["mode"] == "on"]
    off = [r["rps"] for r in rounds if r["mode"] == "off"]
    return {"rounds": rounds, "on_rps": round(statistics.median(on), 1),
            "off_rps": round(statistics.median(off), 1),
            "ratio": round(statistics.median(on) / statistics.median(off), 3)}


def scalar(url: str, sql: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()
