"""Registries at customer scale: bulk consent import and prospect-file scrub, 1 M rows each.

    .venv/bin/python -m bench.registries      (``make bench-registries``; see bench/README.md)

For each backend (a fresh SQLite file, a fresh PostgreSQL database) and each size (``--rows``,
default 1,000,000, and ``--small``, default 250,000, to show memory is flat in the file size):

1. ``gateway import consents FILE --tenant T`` in a fresh process: wall time, rows/s, peak RSS;
2. ``gateway scrub PROSPECTS --campaign spring-2026 --tenant T -o /dev/null`` on that database
   (30 % of the prospects consented, 65 % not, 5 % invalid): wall time, rows/s, peak RSS.

Baselines measured in the same run on the same files: ``wc -l`` and ``sort`` (the cost of
merely reading, and of ordering, the rows). Targets: import ≥ 50,000 rows/s; scrub ≥ 20,000
rows/s; peak RSS at ``--rows`` within 1.25× of that at ``--small`` + 30 MB (flat).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from bench import checks
from bench.bloctel.run import database, env_for, run_child
from bench.checks import console
from bench.registries import gen

PYTHON = sys.executable
GATEWAY = str(Path(sys.executable).parent / "gateway")
TARGET_IMPORT_RPS = 50_000
TARGET_SCRUB_RPS = 20_000
FLAT_FACTOR, FLAT_SLACK_MB = 1.25, 30.0
IMPORT_CMD = ["import", "consents"]  # + FILE --tenant T
SCRUB_CMD = ["scrub"]  # + FILE --campaign C --tenant T -o /dev/null


def baseline(path: Path) -> dict[str, Any]:
    out = {}
    for label, cmd in (("wc -l", ["wc", "-l", str(path)]), ("sort", ["sort", str(path)])):
        with open(os.devnull, "wb") as null:
            m = run_child(cmd, {**os.environ, "LC_ALL": "C"}, 600, stdout=null)
        out[label] = m
    return out


def measure(args: list[str], env: dict[str, str], rows: int, postgres: bool) -> dict[str, Any]:
    with open(os.devnull, "wb") as null:
        m = run_child([GATEWAY, *args], env, 1800, stdout=null, postgres=postgres)
    if m["rc"] != 0:
        raise RuntimeError(f"gateway {' '.join(args[:2])} failed ({m['rc']}):\n"
                           f"{m.get('stderr', '')}")
    m["rows_per_s"] = round(rows / m["wall_s"]) if m["wall_s"] else None
    return m


def backend_run(backend: str, rows: int, consents: Path, prospects: Path, work: Path
                ) -> dict[str, Any]:
    with database(backend, work) as url:
        env = env_for(url, work) | {"GATEWAY_FROZEN_NOW": "2026-11-23T10:30:00+01:00"}
        setup = work / "setup.json"
        m = run_child([PYTHON, "-m", "bench.registries.setup", url, str(setup)], env, 300)
        if m["rc"] != 0:
            raise RuntimeError(f"setup failed: {m.get('stderr')}")
        tenant = json.loads(setup.read_text())["tenant"]
        pg = backend == "postgresql"
        imp = measure([*IMPORT_CMD, str(consents), "--tenant", tenant], env, rows, pg)
        console.print(f"[dim]{backend} {rows:,}: import {imp['wall_s']:.2f} s "
                      f"({imp['rows_per_s']:,} rows/s), peak RSS {imp['maxrss_mb']:.0f} MB[/dim]")
        scrub = measure([*SCRUB_CMD, str(prospects), "--campaign", "spring-2026", "--tenant",
                         tenant, "-o", os.devnull], env, rows, pg)
        console.print(f"[dim]{backend} {rows:,}: scrub {scrub['wall_s']:.2f} s "
                      f"({scrub['rows_per_s']:,} rows/s), peak RSS {scrub['maxrss_mb']:.0f} MB"
                      f"[/dim]")
    return {"import": imp, "scrub": scrub}


def flat(small: dict[str, Any], big: dict[str, Any]) -> bool:
    return big["maxrss_mb"] <= small["maxrss_mb"] * FLAT_FACTOR + FLAT_SLACK_MB


def report(results: dict[str, Any]) -> bool:
    table = Table(title=f"Registries at scale — {results['config']['rows']:,} rows")
    for col in ("measure", "value", "target", ""):
        table.add_column(col, justify="right" if col else "left")
    ok = True
    big_n, small_n = results["config"]["rows"], results["config"]["small"]
    for name, base in results["baselines"].items():
        table.add_row(f"baseline on the {name} file",
                      " · ".join(f"{k} {v['wall_s']:.2f} s" for k, v in base.items()), "", "")
    for backend, sizes in results["backends"].items():
        if "error" in sizes:
            table.add_row(f"{backend}", sizes["error"][:80], "", "[red]ERROR[/red]")
            ok = False
            continue
        big, small = sizes[str(big_n)], sizes[str(small_n)]
        for step, target, file in (("import", TARGET_IMPORT_RPS, "consents"),
                                   ("scrub", TARGET_SCRUB_RPS, "prospects")):
            m, s = big[step], small[step]
            passed = (m["rows_per_s"] or 0) >= target
            ok &= passed
            sort_s = results["baselines"][file]["sort"]["wall_s"]
            table.add_row(f"{backend}: {step} {big_n:,} rows",
                          f"{m['wall_s']:.2f} s · {m['rows_per_s']:,} rows/s · "
                          f"{m['wall_s'] / sort_s:.1f}× sort",
                          f"≥ {target:,}/s", "PASS" if passed else "[red]MISS[/red]")
            is_flat = flat(s, m)
            ok &= is_flat
            table.add_row(f"   peak RSS {small_n:,} → {big_n:,} rows",
                          f"{s['maxrss_mb']:.0f} → {m['maxrss_mb']:.0f} MB", "flat",
                          "PASS" if is_flat else "[red]MISS[/red]")
    console.print(table)
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=250_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    out = checks.RESULTS / f"registries-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    results: dict[str, Any] = {
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python -m bench.registries " + " ".join(argv or sys.argv[1:]),
        "machine": checks.machine(), "config": vars(args), "baselines": {}, "backends": {},
    }
    files = {n: gen.files(n) for n in (args.small, args.rows)}
    consents, prospects = files[args.rows]
    results["baselines"] = {"consents": baseline(consents), "prospects": baseline(prospects)}
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-registries-{os.getpid()}"
    def run(backend: str) -> dict[str, Any]:
        return {str(n): backend_run(backend, n, c, p, work / f"{backend}-{n}")
                for n, (c, p) in files.items()}

    checks.per_backend(args.backends, run, results, out)
    return checks.conclude(results, out, started, report)


if __name__ == "__main__":
    sys.exit(main())
