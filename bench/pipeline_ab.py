"""The check's lean database path against statement-by-statement SQLAlchemy, same process.

    .venv/bin/python -m bench.pipeline_ab [--backend postgresql|sqlite] [--checks 3000]

PostgreSQL (default): pipelined round trips; SQLite (``--backend sqlite``, a temporary file):
the facts and inserts on the driver's cursor. Everything else below says PostgreSQL; SQLite is
the same with a file instead of a database.

Creates a database on ``BENCH_POSTGRES_URL`` (default the local ``test`` server), migrates and
seeds it with ``bench/seed.py`` (the benchmark's tenant, 5,000 consents, BLOCTEL, 20,000 past
attempts), then calls ``app.calls.service.check_call`` sequentially with the benchmark's callee
mix, alternating blocks of ``--block`` checks between ``PIPELINE = True`` (two round trips:
``app.calls.pipeline``) and ``PIPELINE = False`` (each statement sent and awaited through
SQLAlchemy). Alternating blocks in one process cancels most of a noisy machine's drift; the
table gives µs per check (wall and CPU) of each side and their ratio. The database is dropped
at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from rich.console import Console
from rich.table import Table

from bench.loadgen import callee_mix

ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
FROZEN = "2026-11-23T10:30:00+01:00"


def _run(args: argparse.Namespace, url: str, seed_path: str) -> dict[str, list[float]]:
    os.environ["DATABASE_URL"] = url
    os.environ["GATEWAY_FROZEN_NOW"] = FROZEN
    from app.calls import service
    from app.calls.schemas import CheckIn
    from app.tenancy.auth import _load, hash_key

    with open(seed_path) as f:
        seed = json.load(f)
    principal = _load(hash_key(seed["key"]))
    assert principal is not None
    rng = random.Random("pipeline_ab")
    counter = iter(range(10**9))

    def block(n: int) -> tuple[float, float]:
        bodies = [CheckIn(campaign=seed["campaign"], callee=callee_mix(seed["pools"], rng)[1],
                          caller_id=seed["caller_id"], external_id=f"ab-{next(counter)}")
                  for _ in range(n)]
        t, c = time.perf_counter(), time.process_time()
        for b in bodies:
            service.check_call(principal, b)
        return ((time.perf_counter() - t) / n * 1e6, (time.process_time() - c) / n * 1e6)

    for flag in (True, False):  # warm both paths (prepared statements, caches)
        service.PIPELINE = flag
        block(100)
    out: dict[str, list[float]] = {"on_wall": [], "on_cpu": [], "off_wall": [], "off_cpu": []}
    blocks = max(1, args.checks // (2 * args.block))
    for i in range(blocks):
        order = (True, False) if i % 2 == 0 else (False, True)
        for flag in order:
            service.PIPELINE = flag
            wall, cpu = block(args.block)
            key = "on" if flag else "off"
            out[f"{key}_wall"].append(wall)
            out[f"{key}_cpu"].append(cpu)
    service.PIPELINE = True
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checks", type=int, default=3000, help="checks in all (both sides)")
    ap.add_argument("--block", type=int, default=150, help="checks per alternating block")
    ap.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--child", nargs=2, metavar=("URL", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_run(args, *args.child)))
        return 0

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    console = Console()
    name = f"gw_bench_ab_{uuid.uuid4().hex[:8]}"
    tmp_dir = tempfile.TemporaryDirectory()
    admin = None
    if args.backend == "sqlite":
        url = f"sqlite:///{tmp_dir.name}/bench.db"
    else:
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        with tmp_dir as tmp:
            seed_path = os.path.join(tmp, "seed.json")
            env = {**os.environ, "DATABASE_URL": url, "GATEWAY_FROZEN_NOW": FROZEN}
            with console.status("migrating and seeding (bench/seed.py)…"):
                subprocess.run([sys.executable, "-m", "bench.seed", seed_path], env=env,
                               check=True, stdout=subprocess.DEVNULL)
            with console.status(f"{args.checks} checks, alternating blocks of {args.block}…"):
                child = subprocess.run(
                    [sys.executable, "-m", "bench.pipeline_ab", "--checks", str(args.checks),
                     "--block", str(args.block), "--child", url, seed_path],
                    env=env, check=True, capture_output=True, text=True)
            res = json.loads(child.stdout.strip().splitlines()[-1])
    finally:
        if admin is not None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    table = Table(title=f"check_call on {args.backend}, sequential, one process (median of blocks)")
    for col in ("µs per check", "PIPELINE on", "through SQLAlchemy", "on / before"):
        table.add_column(col, justify="right")
    for what in ("wall", "cpu"):
        on, off = statistics.median(res[f"on_{what}"]), statistics.median(res[f"off_{what}"])
        table.add_row(what, f"{on:,.0f}", f"{off:,.0f}", f"{on / off:.2f}")
    console.print(table)
    console.print(f"{len(res['on_wall'])} blocks a side; load average "
                  f"{os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
