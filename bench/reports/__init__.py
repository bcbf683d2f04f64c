"""Reports at customer scale: the attempt export of a 1-million-attempt ledger.

    .venv/bin/python -m bench.reports [--rows N] [--small N] [--backends …] [--only export]
                                      [--no-http]

For each backend (a fresh SQLite file; a fresh PostgreSQL database, created and dropped):

1. migrate and create the demo tenant (``bench.registries.setup``), then seed ``--rows``
   attempts for it straight into the table (``bench.reports.export seed``: see its docstring);
2. the **export part** (``bench.reports.export.export_part``): export the first ``--small``
   rows and then all ``--rows`` as CSV, each in a **fresh process** running
   ``app.reports.service.attempts_csv`` to /dev/null — rows/s over the export's own time, peak
   RSS of the process (``wait4``); beside it, **in the same run**, the database's own CSV dump
   of the same ``SELECT`` (same columns, ``WHERE`` and ``ORDER BY``):
   ``sqlite3 -csv DB "SELECT …"`` / ``psql -c "\\copy (SELECT …) TO STDOUT WITH CSV"`` to
   /dev/null; then, unless ``--no-http``, the full export over HTTP from ``gateway serve``
   (2 workers) downloaded by ``curl``: rows/s and the serving worker's peak RSS.

Targets: ≥ 100,000 rows/s; ≥ 0.30× the dump's rows/s; peak RSS at ``--rows`` within 1.25×
(+30 MB) of that at ``--small`` (flat in the period). Results:
``bench/results/reports-<timestamp>.json``.

Parts. ``PARTS`` maps a name to ``part(backend, url, ctx, args) -> dict`` run on the seeded
database (``ctx``: ``env``, ``work``, ``tenant``, ``compliance`` key, ``seed``), and
``REPORT_ROWS`` the same name to ``report_rows(results, table) -> ok`` adding its lines to the
Rich table. ``--only NAME`` runs one part. A module ``bench/reports/sealing.py`` defining
``part`` and ``report_rows`` is picked up as the part ``sealing`` (``_optional_parts``).
Imports stay inside functions here: the measured children import this package too.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

Part = Callable[[str, str, dict[str, Any], argparse.Namespace], dict[str, Any]]
PARTS: dict[str, Part] = {}
REPORT_ROWS: dict[str, Callable[[dict[str, Any], Any], bool]] = {}


def _parts() -> None:
    from bench.reports import export

    PARTS.setdefault("export", export.export_part)
    REPORT_ROWS.setdefault("export", export.report_rows)
    if importlib.util.find_spec("bench.reports.sealing") is not None:
        sealing = importlib.import_module("bench.reports.sealing")
        PARTS.setdefault("sealing", sealing.part)
        REPORT_ROWS.setdefault("sealing", sealing.report_rows)


def seed(backend: str, url: str, rows: int, work: Path) -> dict[str, Any]:
    """Migrate, create the demo tenant, seed ``rows`` attempts; the parts' ``ctx``."""
    from bench.bloctel.run import env_for, run_child
    from bench.checks import console

    env = env_for(url, work)
    setup = work / "setup.json"
    m = run_child([sys.executable, "-m", "bench.registries.setup", url, str(setup)], env, 300)
    if m["rc"] != 0:
        raise RuntimeError(f"setup failed: {m.get('stderr')}")
    keys = json.loads(setup.read_text())
    out = work / "seed.json"
    m = run_child([sys.executable, "-m", "bench.reports.export", "seed", url, keys["tenant"],
                   str(rows), str(out)], env, 1800, postgres=backend != "sqlite")
    if m["rc"] != 0:
        raise RuntimeError(f"seed failed: {m.get('stderr')}")
    console.print(f"[dim]{backend}: seeded {rows:,} attempts in {m['wall_s']:.1f} s[/dim]")
    return {"env": env, "work": work, "tenant": keys["tenant"], "compliance": keys["compliance"],
            "seed": m | json.loads(out.read_text())}


def report(results: dict[str, Any]) -> bool:
    from rich.table import Table

    from bench.checks import console

    table = Table(title=f"Reports at scale — {results['config']['rows']:,} attempts")
    for col in ("measure", "value", "target", ""):
        table.add_column(col, justify="right" if col else "left")
    ok = True
    for name in results["config"]["parts"]:
        ok &= REPORT_ROWS[name](results, table)
    console.print(table)
    return ok


def main(argv: list[str] | None = None) -> int:
    from bench import checks
    from bench.bloctel.run import database

    _parts()
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=250_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--only", choices=sorted(PARTS), help="run one part (default: all)")
    ap.add_argument("--no-http", dest="http", action="store_false",
                    help="skip the export over HTTP")
    args = ap.parse_args(argv)
    parts = [args.only] if args.only else list(PARTS)
    started = time.perf_counter()
    out = checks.RESULTS / f"reports-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    results: dict[str, Any] = {
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python -m bench.reports " + " ".join(argv or sys.argv[1:]),
        "machine": checks.machine(), "config": vars(args) | {"parts": parts}, "backends": {},
    }
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-reports-{os.getpid()}"
    def run(backend: str) -> dict[str, Any]:
        with database(backend, work / backend) as url:
            ctx = seed(backend, url, args.rows, work / backend)
            per: dict[str, Any] = {"seed": ctx["seed"]}
            for name in parts:
                per[name] = PARTS[name](backend, url, ctx, args)
        return per

    checks.per_backend(args.backends, run, results, out)
    return checks.conclude(results, out, started, report)
