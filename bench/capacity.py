"""Capacity planning: the measured cost of one check, and the sizing that follows from it.

    .venv/bin/python -m bench.capacity          (``make bench-capacity``, about 8 minutes)

For each backend, on a fresh database seeded like ``make bench`` (``bench.seed``) and the real
server (``gateway serve --workers 2``, frozen Monday morning), load from ``bench.loadgen``:

1. **idle** (no load): what the server and its database cost doing nothing (the BLOCTEL
   watcher's polls, the jobs), subtracted from every step below;
2. ``GET /healthz`` at a fixed open-loop rate and closed loop: the HTTP stack's own cost;
3. PostgreSQL: ``CHECKPOINT``; then (both backends) two **closed-loop** check batches back to
   back (saturation): the first pays a full-page image for every page it is the first to touch
   since the checkpoint, the second mostly does not; then a batch where every check is denied
   (nobody consented);
4. checks at a moderate **open-loop rate** (150/s; 0.35 × the closed-loop rate if 150/s is more
   than half of it), then at **60 % of the closed-loop rate** (where a deployment sized
   for 50–60 % CPU runs: the planning figure);
5. ``bench.inproc`` (``check_call`` in-process, sequential): the time a worker is blocked on
   the database per check, beside its CPU.

Around every step the orchestrator reads, from ``/proc`` and the database: the workers' CPU,
the CPU of **this database's PostgreSQL backends** (``pg_stat_activity``) and of every postgres
process, the workers' TCP segments to PostgreSQL (``ss -ti``: data segments each way = round
trips), WAL (``pg_current_wal_flush_lsn``, and with ``pg_walinspect`` the records that touched
this database or belong to its transactions: other databases on the server do not count),
``pg_total_relation_size`` of every table, and the attempts written (counted in the table, by
decision). SQLite: the database file's bytes after ``PRAGMA wal_checkpoint(TRUNCATE)``.

``plan(measured)`` turns the figures into planning numbers (checks/s per worker core and per
PostgreSQL core, storage and WAL per million attempts, replicas and PostgreSQL cores for 500,
5,000 and 50,000 checks/s). Results: ``bench/results/capacity-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

# --- planning (pure) ----------------------------------------------------------------------

RATES = (500, 5_000, 50_000)
TARGET_UTILISATION = 0.55  # plan for 50–60 % CPU: room for bursts, a lost replica, vacuum
WORKERS_PER_REPLICA = 2  # `gateway serve --workers 2`, one core each
CALLING_HOURS_PER_DAY = 9.0  # Mon–Fri 10:00–13:00 and 14:00–20:00 (rules-fr.md §3)
CALLING_DAYS_PER_YEAR = 250  # weekdays less public holidays
RETENTION_YEARS = 3  # GATEWAY_RETENTION_DAYS = 1096 (`gateway audit purge`)
GB = 1e9


def plan(measured: dict[str, Any], rates: tuple[int, ...] = RATES,
         utilisation: float = TARGET_UTILISATION) -> dict[str, Any]:
    """Planning figures from the measured cost of one check.

    ``measured``: ``worker_cpu_ms`` and ``pg_cpu_ms`` (CPU per check of the server's workers
    and of PostgreSQL), ``worker_blocked_ms`` (optional, default 0: time a worker waits on the
    database per check — a check runs inline on the worker's event loop, so a worker serves
    ``1000 / (cpu + blocked)`` checks/s at most), ``table_bytes`` (tables + indexes per
    attempt), ``wal_bytes_steady`` and ``wal_bytes_after_checkpoint`` (WAL per attempt).

    Cores are sized so that they run at ``utilisation`` (0.55: the 50–60 % target), workers so
    that each is busy (CPU or blocked) that share of the time; a replica is
    ``WORKERS_PER_REPLICA`` workers on as many cores. Storage per day and year assumes the
    rate is held through the legal calling hours (9 h a day, 250 days a year); a 24/7 rate
    would be 2.7 × the day and 3.9 × the year.
    """
    w = float(measured["worker_cpu_ms"])
    p = float(measured["pg_cpu_ms"])
    blocked = float(measured.get("worker_blocked_ms") or 0.0)
    table = float(measured["table_bytes"])
    wal = {"steady": float(measured["wal_bytes_steady"]),
           "after_checkpoint": float(measured["wal_bytes_after_checkpoint"])}
    day_s = CALLING_HOURS_PER_DAY * 3600
    out: dict[str, Any] = {
        "assumptions": {
            "utilisation": utilisation, "workers_per_replica": WORKERS_PER_REPLICA,
            "calling_hours_per_day": CALLING_HOURS_PER_DAY,
            "calling_days_per_year": CALLING_DAYS_PER_YEAR, "retention_years": RETENTION_YEARS,
        },
        "checks_per_s_per_worker_core": 1000.0 / w,
        "checks_per_s_per_worker": 1000.0 / (w + blocked),
        "checks_per_s_per_pg_core": 1000.0 / p,
        "storage_gb_per_million_attempts": table * 1e6 / GB,
        "wal_gb_per_million_attempts": {k: v * 1e6 / GB for k, v in wal.items()},
        "rates": {},
    }
    for rate in rates:
        worker_cores = rate * w / 1000.0
        busy_workers = rate * (w + blocked) / 1000.0
        workers = max(math.ceil(busy_workers / utilisation),
                      math.ceil(worker_cores / utilisation))
        replicas = math.ceil(workers / WORKERS_PER_REPLICA)
        pg_cores = rate * p / 1000.0
        per_day = rate * day_s
        out["rates"][rate] = {
            "worker_cores_busy": worker_cores,
            "workers": workers,
            "replicas": replicas,
            "replica_cores": replicas * WORKERS_PER_REPLICA,
            "worker_cpu_utilisation": worker_cores / (replicas * WORKERS_PER_REPLICA),
            "pg_cores_busy": pg_cores,
            "pg_cores": math.ceil(pg_cores / utilisation),
            "attempts_per_day": per_day,
            "storage_gb_per_day": per_day * table / GB,
            "storage_gb_per_year": per_day * CALLING_DAYS_PER_YEAR * table / GB,
            "storage_gb_at_retention": per_day * CALLING_DAYS_PER_YEAR * RETENTION_YEARS
            * table / GB,
            "wal_mb_per_s": {k: rate * v / 1e6 for k, v in wal.items()},
            "wal_gb_per_day": {k: per_day * v / GB for k, v in wal.items()},
        }
    return out


def blocked_model(round_trips: float, rtt_ms: float, pg_ms: float, flush_ms: float) -> float:
    """A worker's wait per check on a PostgreSQL of its own (not starved of CPU as on the
    benchmark machine): each round trip's network time, the backend's work, the WAL flush
    the commit waits for. Assumptions, not measurements: the docs say which."""
    return round_trips * rtt_ms + pg_ms + flush_ms


DATACENTRE = {"rtt_ms": 0.25, "flush_ms": 0.5}  # same-zone network; SSD with group commit


# --- measuring ----------------------------------------------------------------------------

IDLE_S = 6.0
RATE = 150.0  # moderate open-loop rate: well under saturation on the 2-core machine
DENY_SEED = 20261203

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float | None:
    from bench.loadgen import _proc_cpu

    return _proc_cpu(pid)


def _io(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/io") as f:
        for line in f:
            k, v = line.split(":")
            out[k] = int(v)
    return out


def _descendants(pid: int) -> list[int]:
    from bench.checks import children

    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children(p)
    return out


def _machine_busy() -> float:
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    return (sum(cpu[:8]) - cpu[3] - cpu[4]) / CLK_TCK


_SS_FIELDS = ("data_segs_out", "data_segs_in", "bytes_acked", "bytes_received")


def tcp_to_postgres(pids: list[int], port: int) -> dict[str, dict[str, int]]:
    """Per socket of ``pids`` connected to ``port``: data segments and bytes each way
    (``ss -tinp``; on loopback every ``send()`` is one data segment)."""
    proc = subprocess.run(["ss", "-tinpH", "state", "established", f"( dport = :{port} )"],
                          capture_output=True, text=True, timeout=10)
    out: dict[str, dict[str, int]] = {}
    want = {str(p) for p in pids}
    current: str | None = None
    for line in proc.stdout.splitlines():
        if not line.startswith((" ", "\t")):
            current = None
            owners = set(re.findall(r"pid=(\d+)", line))
            if owners & want:
                cols = line.split()
                current = cols[2] if len(cols) > 2 else line
        elif current is not None:
            vals = {k: int(v) for k, v in re.findall(r"\b(\w+):(\d+)\b", line)
                    if k in _SS_FIELDS}
            out[current] = {k: vals.get(k, 0) for k in _SS_FIELDS}
    return out


class Postgres:
    """A monitoring session on the benchmark's database (its own backend is left out)."""

    def __init__(self, url: str) -> None:
        import psycopg
        from sqlalchemy.engine import make_url

        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.pid = self.conn.info.backend_pid
        self.port = make_url(url).port or 5432
        row = self.conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()"
                                ).fetchone()
        self.oid = int(row[0])  # type: ignore[index]
        self.notes: list[str] = []
        self.walinspect = False
        try:
            self.conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
            self.walinspect = True
        except psycopg.Error as exc:
            self.notes.append(f"pg_walinspect unavailable ({exc}): WAL is the whole server's")
        try:  # keep the measured WAL until we have read it (dropped with this session)
            self.conn.execute("SELECT pg_create_physical_replication_slot(%s, true, true)",
                              (f"gw_capacity_{secrets.token_hex(3)}",))
        except psycopg.Error as exc:
            self.notes.append(f"no temporary replication slot ({exc})")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()

    def backends(self) -> dict[int, str]:
        rows = self.conn.execute(
            "SELECT pid, backend_type FROM pg_stat_activity WHERE datid = %s AND pid <> %s",
            (self.oid, self.pid)).fetchall()
        return {int(r[0]): str(r[1]) for r in rows}

    def snap(self) -> dict[str, Any]:
        from bench.loadgen import _proc_cpu, postgres_pids

        c = self.conn
        backends = self.backends()
        sizes = {r[0]: {"total": int(r[1]), "table": int(r[2]), "indexes": int(r[3])}
                 for r in c.execute(
                     "SELECT c.relname, pg_total_relation_size(c.oid), pg_table_size(c.oid), "
                     "pg_indexes_size(c.oid) FROM pg_class c JOIN pg_namespace n "
                     "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
                 ).fetchall()}
        decisions = dict(c.execute("SELECT decision, count(*) FROM attempts GROUP BY 1"
                                   ).fetchall())
        indexes = dict(c.execute(
            "SELECT relname || '.' || indexrelname, pg_relation_size(indexrelid) "
            "FROM pg_stat_user_indexes WHERE relname IN ('attempts', 'penalty_lines')"
        ).fetchall())
        return {
            "commits": int(c.execute(
                "SELECT xact_commit FROM pg_stat_database WHERE datid = %s", (self.oid,)
            ).fetchone()[0]),  # type: ignore[index]
            "checkpoints": int(c.execute(
                "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
            ).fetchone()[0]),  # type: ignore[index]
            "indexes": {k: int(v) for k, v in indexes.items()},
            "lsn": str(c.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0]),  # type: ignore[index]
            "backends": {p: _cpu(p) for p in backends},
            "backend_types": backends,
            "postgres_all": sum(_proc_cpu(p, children=True) or 0.0 for p in postgres_pids()),
            "sizes": sizes,
            "decisions": {k: int(v) for k, v in decisions.items()},
            "penalty_lines": int(c.execute("SELECT count(*) FROM penalty_lines"
                                           ).fetchone()[0]),  # type: ignore[index]
        }

    def checkpoint(self) -> None:
        self.conn.execute("CHECKPOINT")

    def wal(self, a: str, b: str) -> dict[str, Any]:
        """WAL between two LSNs: the whole server's, and the records of this database (they
        reference one of its relations, or belong to a transaction that did)."""
        c = self.conn
        out: dict[str, Any] = {"server_bytes": int(c.execute(
            "SELECT pg_wal_lsn_diff(%s, %s)", (b, a)).fetchone()[0])}  # type: ignore[index]
        if not self.walinspect or out["server_bytes"] <= 0:
            return out | {"bytes": 0, "records": 0, "fpi_bytes": 0, "fpi_records": 0,
                          "kinds": {}} if self.walinspect else out
        import psycopg

        like = f"%/{self.oid}/%"
        try:
            rows = self._records(a, b, like)
        except psycopg.Error as exc:
            out["walinspect_error"] = str(exc).strip()
            return out
        kinds = {r[0]: {"records": int(r[1]), "bytes": int(r[3]), "fpi_bytes": int(r[4]),
                        "fpi_records": int(r[5])} for r in rows}
        out.update(
            bytes=sum(k["bytes"] for k in kinds.values()),
            records=sum(k["records"] for k in kinds.values()),
            fpi_bytes=sum(k["fpi_bytes"] for k in kinds.values()),
            fpi_records=sum(k["fpi_records"] for k in kinds.values()),
            kinds=kinds,
        )
        return out

    def _records(self, a: str, b: str, like: str) -> list[tuple[Any, ...]]:
        """Per record kind: count, bytes, bytes aligned as in the WAL stream (8), full-page
        image bytes, records with one."""
        return self.conn.execute(
            """
            WITH r AS MATERIALIZED (
                SELECT xid, resource_manager, record_type, record_length, fpi_length, block_ref
                FROM pg_get_wal_records_info(%(a)s, %(b)s)),
            x AS (SELECT DISTINCT xid::text AS xid FROM r
                  WHERE block_ref LIKE %(like)s AND xid::text <> '0')
            SELECT resource_manager || '/' || split_part(record_type, ' ', 1), count(*),
                   sum(record_length), sum((record_length + 7) / 8 * 8), sum(fpi_length),
                   count(*) FILTER (WHERE fpi_length > 0)
            FROM r WHERE block_ref LIKE %(like)s OR xid::text IN (SELECT xid FROM x)
            GROUP BY 1 ORDER BY 4 DESC
            """, {"a": a, "b": b, "like": like}).fetchall()


class Sqlite:
    def __init__(self, url: str) -> None:
        self.path = Path(url.split("sqlite:///", 1)[1])
        self.notes: list[str] = []

    def close(self) -> None:
        pass

    def snap(self) -> dict[str, Any]:
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            # (busy, WAL frames, frames checkpointed): busy = 1 if a reader kept it from finishing
            checkpoint = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            decisions = dict(conn.execute("SELECT decision, count(*) FROM attempts GROUP BY 1"))
            penalty = conn.execute("SELECT count(*) FROM penalty_lines").fetchone()[0]
            sizes: dict[str, dict[str, int]] = {}
            with contextlib.suppress(sqlite3.Error):  # dbstat: only if compiled in
                owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master"))
                for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY 1"):
                    table = owner.get(name, name)
                    d = sizes.setdefault(table, {"total": 0, "table": 0, "indexes": 0})
                    d["total"] += size
                    d["table" if name == table else "indexes"] += size
        finally:
            conn.close()
        wal = self.path.with_name(self.path.name + "-wal")
        return {
            "file_bytes": self.path.stat().st_size,
            "wal_file_bytes": wal.stat().st_size if wal.exists() else 0,
            "checkpoint_busy": bool(checkpoint and checkpoint[0]),
            "sizes": sizes,
            "decisions": {k: int(v) for k, v in decisions.items()},
            "penalty_lines": int(penalty),
        }


class Probe:
    """Snapshots of everything around one step; ``delta`` of two of them."""

    def __init__(self, server: Any, db: Postgres | Sqlite) -> None:
        self.server = server
        self.db = db

    def snap(self) -> dict[str, Any]:
        workers = self.server.workers
        group = _descendants(self.server.proc.pid)
        s = {
            "wall": time.perf_counter(),
            "busy": _machine_busy(),
            "workers": {p: _cpu(p) for p in workers},
            "workers_io": {p: _io(p) for p in workers},
            "server_all": {p: _cpu(p) for p in group},
            "db": self.db.snap(),
        }
        if isinstance(self.db, Postgres):
            s["tcp"] = tcp_to_postgres(workers, self.db.port)
        return s

    def delta(self, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        wall = b["wall"] - a["wall"]
        da, db = a["db"], b["db"]
        by_decision = {k: db["decisions"].get(k, 0) - da["decisions"].get(k, 0)
                       for k in set(db["decisions"]) | set(da["decisions"])}
        out: dict[str, Any] = {
            "wall_s": wall,
            "machine_busy_cores": (b["busy"] - a["busy"]) / wall,
            "workers_cpu_s": sum((b["workers"].get(p) or 0.0) - (v or 0.0)
                                 for p, v in a["workers"].items()),
            # processes that exited in between are lost; new ones count from their start
            "server_all_cpu_s": sum((v or 0.0) - (a["server_all"].get(p) or 0.0)
                                    for p, v in b["server_all"].items()),
            "workers_write_bytes": sum(b["workers_io"].get(p, {}).get("write_bytes", 0)
                                       - v.get("write_bytes", 0)
                                       for p, v in a["workers_io"].items()),
            "attempts": sum(by_decision.values()),
            "decisions": by_decision,
            "penalty_lines": db["penalty_lines"] - da["penalty_lines"],
            "sizes": {t: {k: v - da["sizes"].get(t, {}).get(k, 0) for k, v in s.items()}
                      for t, s in db["sizes"].items()},
        }
        if "file_bytes" in db:
            out["file_bytes"] = db["file_bytes"] - da["file_bytes"]
            out["checkpoint_busy"] = da["checkpoint_busy"] or db["checkpoint_busy"]
        if "lsn" in db:
            pa, pb = da["backends"], db["backends"]
            out["pg_backends_cpu_s"] = sum((pb.get(p) or 0.0) - (pa.get(p) or 0.0)
                                           for p in pb if pb.get(p) is not None)
            out["pg_all_cpu_s"] = db["postgres_all"] - da["postgres_all"]
            out["pg_backends"] = len(pb)
            out["checkpoints"] = db["checkpoints"] - da["checkpoints"]
            out["commits"] = db["commits"] - da["commits"]
            out["indexes"] = {k: v - da["indexes"].get(k, 0) for k, v in db["indexes"].items()}
            out["pg_client_backends"] = sum(1 for t in db["backend_types"].values()
                                            if t == "client backend")
            assert isinstance(self.db, Postgres)
            out["wal"] = self.db.wal(da["lsn"], db["lsn"])
            ta, tb = a["tcp"], b["tcp"]
            out["tcp"] = {k: sum(v[k] - ta.get(sock, {}).get(k, 0) for sock, v in tb.items())
                          for k in _SS_FIELDS}
            out["tcp"]["sockets"] = len(tb)
            out["tcp"]["sockets_closed"] = len(set(ta) - set(tb))
        return out


def per_unit(d: dict[str, Any], idle: dict[str, Any] | None, n: int) -> dict[str, Any]:
    """Costs of one step per request (``n``), net of the idle background over the same wall
    time: CPU in ms, TCP segments and bytes, WAL bytes."""
    def net(key: str, sub: str | None = None) -> float | None:
        v = d.get(key) if sub is None else (d.get(key) or {}).get(sub)
        if v is None:
            return None
        if idle is not None:
            iv = idle.get(key) if sub is None else (idle.get(key) or {}).get(sub)
            if iv is not None:
                v = v - iv / idle["wall_s"] * d["wall_s"]
        return v

    out: dict[str, Any] = {"n": n}
    if n <= 0:
        return out
    for key, name in (("workers_cpu_s", "worker_cpu_ms"), ("server_all_cpu_s", "server_cpu_ms"),
                      ("pg_backends_cpu_s", "pg_cpu_ms"), ("pg_all_cpu_s", "pg_all_cpu_ms")):
        v = net(key)
        if v is not None:
            out[name] = v / n * 1000
            out[name + "_raw"] = d[key] / n * 1000
    if "commits" in d:
        out["commits"] = (net("commits") or 0.0) / n
    if "tcp" in d:
        for k in _SS_FIELDS:
            out[f"tcp_{k}"] = (net("tcp", k) or 0.0) / n
    return out


# --- steps --------------------------------------------------------------------------------


def _deny_pools(seed: dict[str, Any]) -> dict[str, list[str]]:
    """The callee mix with nobody consented: every check is denied."""
    import random

    rng = random.Random(DENY_SEED)
    consented = set(seed["pools"]["consented"])
    return {"consented": [f"+3363{rng.randrange(10_000_000):07d}" for _ in range(5_000)],
            "bloctel": [n for n in seed["pools"]["bloctel"] if n not in consented]}


def run_backend(backend: str, args: argparse.Namespace, run_id: str) -> dict[str, Any]:
    from bench import checks
    from bench.checks import Server, console

    workdir = Path(tempfile.mkdtemp(prefix=f"gw-capacity-{backend}-"))
    result: dict[str, Any] = {"backend": backend, "steps": {}}
    try:
        db_cm = (checks.sqlite_database(workdir) if backend == "sqlite"
                 else checks.postgres_database())
        with db_cm as url:
            env = {**os.environ, "DATABASE_URL": url, "GATEWAY_FROZEN_NOW": checks.FROZEN_NOW,
                   "GATEWAY_LOG_LEVEL": "warning",
                   "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics")}
            (workdir / "metrics").mkdir()
            seed_path = workdir / "seed.json"
            t = time.perf_counter()
            checks.run_py("bench.seed", [str(seed_path)], env, timeout=300)
            seed = json.loads(seed_path.read_text())
            console.print(f"[dim]{backend}: migrated and seeded in "
                          f"{time.perf_counter() - t:.1f} s[/dim]")
            tg = checks.targets(seed, run_id)
            tg["deny"] = {**tg["check"], "pools": _deny_pools(seed)}
            server = Server(env, workdir)
            db: Postgres | Sqlite | None = None
            try:
                server.start()
                db = Postgres(url) if backend == "postgresql" else Sqlite(url)
                result["notes"] = db.notes
                probe = Probe(server, db)
                steps = result["steps"]

                def load(name: str, phase: dict[str, Any]) -> dict[str, Any]:
                    plan_ = {"host": "127.0.0.1", "port": server.port,
                             "phases": [{"name": name, **phase}], "targets": tg,
                             "worker_pids": server.workers,
                             "postgres": checks.pg_stats_target(url)}
                    a = probe.snap()
                    proc, out = checks.run_loadgen(plan_, workdir, name, timeout=300)
                    ph = checks.wait_loadgen(proc, out, timeout=300)[name]
                    b = probe.snap()
                    d = probe.delta(a, b)
                    d["loadgen"] = {k: ph.get(k) for k in (
                        "rps", "sent", "completed", "errors_total", "latency_ms", "decisions",
                        "cpu", "unanswered_at_deadline", "samples")}
                    n = d["attempts"] if phase["target"] != "healthz" else ph["sent"]
                    d["per_request"] = per_unit(d, steps.get("idle"), n)
                    steps[name] = d
                    pr = d["per_request"]
                    console.print(
                        f"[dim]{backend}: {name}: {n} requests, {ph['rps']} req/s, worker "
                        f"{pr.get('worker_cpu_ms', 0):.3f} ms/req"
                        + (f", PostgreSQL {pr['pg_cpu_ms']:.3f} ms/req, "
                           f"{pr['tcp_data_segs_in']:.2f} answers/req"
                           if 'pg_cpu_ms' in pr else "")
                        + f", errors {ph['errors_total']}[/dim]")
                    return d

                time.sleep(3.0)  # past the server's start-up (its other processes settle)
                a = probe.snap()
                time.sleep(args.idle_s)
                steps["idle"] = probe.delta(a, probe.snap())
                opened = {"kind": "open", "connections": 32, "rate": args.rate,
                          "warmup_s": 1.0}
                closed = {"kind": "closed", "connections": args.connections, "warmup_s": 2.0}
                load("healthz_open", {"target": "healthz", **opened,
                                      "duration_s": args.open_s})
                load("healthz_closed", {"target": "healthz", **closed,
                                        "duration_s": args.closed_s / 2})
                if isinstance(db, Postgres):
                    db.checkpoint()
                load("check_closed_1", {"target": "check", **closed,
                                        "duration_s": args.closed_s})
                load("check_closed_2", {"target": "check", **closed,
                                        "duration_s": args.closed_s})
                load("deny_closed", {"target": "deny", **closed,
                                     "duration_s": args.closed_s / 2})
                sat = _mean([steps[k]["loadgen"]["rps"]
                             for k in ("check_closed_1", "check_closed_2")]) or args.rate
                # a moderate fixed rate, under saturation (lowered if the machine cannot
                # sustain it: queueing would distort the figure)
                rate = args.rate if args.rate <= 0.5 * sat else round(0.35 * sat)
                result["open_rate"] = {"asked": args.rate, "used": rate, "saturation": sat}
                load("check_open", {"target": "check", **opened, "rate": rate,
                                    "duration_s": args.open_s})
                # where a deployment sized for 50–60 % runs: 60 % of the closed-loop rate
                load("check_open_60", {"target": "check", **opened,
                                       "rate": round(0.6 * sat), "duration_s": args.open_s})
            finally:
                if db is not None:
                    db.close()
                result["server_stop"] = server.stop()
                errors = [ln for ln in server.log_path.read_text(errors="replace").splitlines()
                          if "ERROR" in ln or "Traceback" in ln] if server.log_path.exists() \
                    else []
                result["server_log_errors"] = errors[:20]
            # a worker's time per check in-process: CPU, and blocked on the database
            out = workdir / "inproc.json"
            checks.run_py("bench.inproc", [str(seed_path), str(out), str(args.inproc_n)], env,
                          timeout=300)
            ip = json.loads(out.read_text())
            result["inproc"] = {k: ip[k] for k in ("n", "service_us_per_check",
                                                   "service_cpu_us_per_check",
                                                   "db_us_per_check", "statements")}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["summary"] = summarise(result)
    return result


def _storage(steps: dict[str, Any], names: list[str]) -> dict[str, Any]:
    n = sum(steps[s]["attempts"] for s in names)
    tables: dict[str, int] = {}
    for s in names:
        for t, v in steps[s]["sizes"].items():
            tables[t] = tables.get(t, 0) + v["total"]
    out: dict[str, Any] = {
        "attempts": n,
        "denied_share": sum(steps[s]["decisions"].get("deny", 0) for s in names) / n if n else 0,
        "penalty_lines_per_attempt": sum(steps[s]["penalty_lines"] for s in names) / n
        if n else 0,
        "table_bytes": sum(tables.values()) / n if n else None,
        "tables": {t: v / n for t, v in sorted(tables.items(), key=lambda kv: -kv[1]) if v},
    }
    if "file_bytes" in steps[names[0]]:
        out["file_bytes"] = sum(steps[s]["file_bytes"] for s in names) / n if n else None
    return out


def summarise(r: dict[str, Any]) -> dict[str, Any]:
    """The figures the docs quote, from the steps."""
    st = r["steps"]
    pr = {k: st[k]["per_request"] for k in st if "per_request" in st[k]}
    closed = ("check_closed_1", "check_closed_2")

    def three(key: str) -> dict[str, float | None]:
        """A per-check figure at 150/s, at 60 % of saturation, and at saturation (mean of the
        two closed-loop batches)."""
        return {"open": pr["check_open"].get(key), "open_60": pr["check_open_60"].get(key),
                "closed": _mean([pr[k].get(key) for k in closed])}

    s: dict[str, Any] = {
        "healthz_worker_cpu_ms": {"open": pr["healthz_open"].get("worker_cpu_ms"),
                                  "closed": pr["healthz_closed"].get("worker_cpu_ms")},
        "worker_cpu_ms": three("worker_cpu_ms"),
        "server_cpu_ms": three("server_cpu_ms"),
        "checks_per_s": {"open": st["check_open"]["loadgen"]["rps"],
                         "open_60": st["check_open_60"]["loadgen"]["rps"],
                         "closed": _mean([st[k]["loadgen"]["rps"] for k in closed])},
        "worker_cores": {k: st[k]["workers_cpu_s"] / st[k]["wall_s"] for k in st},
        "healthz_per_s_closed": st["healthz_closed"]["loadgen"]["rps"],
        "latency_ms": {k: {q: st[k]["loadgen"]["latency_ms"][q] for q in ("p50", "p99")}
                       for k in st if "loadgen" in st[k]},
        "other_cores": {k: round(max(0.0, st[k]["loadgen"]["cpu"]["other_cores"]), 2)
                        for k in st if "loadgen" in st[k]},
        "errors": sum(st[k]["loadgen"]["errors_total"] for k in st if "loadgen" in st[k]),
        "storage": _storage(st, ["check_closed_1", "check_closed_2"]),
        "storage_denied": _storage(st, ["deny_closed"]),
    }
    ip = r.get("inproc")
    if ip:
        s["inproc_wall_us"] = ip["service_us_per_check"]
        s["inproc_cpu_us"] = ip["service_cpu_us_per_check"]
        s["worker_blocked_ms"] = max(0.0, ip["service_us_per_check"]
                                     - ip["service_cpu_us_per_check"]) / 1000
    if "pg_cpu_ms" in pr["check_open"]:
        s["pg_cpu_ms"] = three("pg_cpu_ms") | {"deny_closed": pr["deny_closed"]["pg_cpu_ms"]}
        s["pg_all_cpu_ms"] = three("pg_all_cpu_ms")
        s["round_trips"] = {
            k: {"server_to_client": pr[k]["tcp_data_segs_in"],
                "client_to_server": pr[k]["tcp_data_segs_out"],
                "bytes_sent": pr[k]["tcp_bytes_acked"],
                "bytes_received": pr[k]["tcp_bytes_received"]}
            for k in ("check_open", "check_open_60", "check_closed_1", "check_closed_2",
                      "deny_closed")}
        s["commits_per_check"] = three("commits")
        s["pg_connections"] = max(st[k].get("pg_client_backends", 0) for k in st)
        wal = {}
        for k in ("check_open", "check_open_60", "check_closed_1", "check_closed_2",
                  "deny_closed"):
            w, n = st[k]["wal"], st[k]["attempts"]
            wal[k] = {"bytes": (w.get("bytes", w["server_bytes"]) / n) if n else None,
                      "fpi_bytes": (w.get("fpi_bytes", 0) / n) if n else None,
                      "fpi_records": (w.get("fpi_records", 0) / n) if n else None,
                      "records": (w.get("records", 0) / n) if n else None,
                      "server_bytes": w["server_bytes"] / n if n else None,
                      "attributed_share": (w["bytes"] / w["server_bytes"]
                                           if w.get("bytes") is not None and w["server_bytes"]
                                           else None)}
        s["wal"] = wal
        s["checkpoints"] = {k: st[k]["checkpoints"] for k in st if "checkpoints" in st[k]}
        fpi = [st[k]["wal"] for k in st if st[k].get("wal", {}).get("fpi_records")]
        s["fpi_avg_bytes"] = (sum(w["fpi_bytes"] for w in fpi)
                              / sum(w["fpi_records"] for w in fpi)) if fpi else None
        n12 = sum(st[k]["attempts"] for k in closed)
        s["index_bytes"] = {i: sum(st[k]["indexes"].get(i, 0) for k in closed) / n12
                            for i in st[closed[0]]["indexes"]} if n12 else {}
        s["wal_bytes_after_checkpoint"] = wal["check_closed_1"]["bytes"]
        s["wal_bytes_steady"] = wal["check_closed_2"]["bytes"]
        kinds = st["check_closed_2"]["wal"].get("kinds", {})
        n2 = st["check_closed_2"]["attempts"] or 1
        s["wal_kinds_steady"] = {k: round(v["bytes"] / n2, 1) for k, v in kinds.items()}
        kinds1 = st["check_closed_1"]["wal"].get("kinds", {})
        n1 = st["check_closed_1"]["attempts"] or 1
        s["wal_kinds_after_checkpoint"] = {k: round(v["bytes"] / n1, 1)
                                           for k, v in kinds1.items()}
    if "workers_write_bytes" in st["check_closed_1"]:
        n = st["check_closed_1"]["attempts"] + st["check_closed_2"]["attempts"]
        s["worker_write_bytes_per_check"] = (st["check_closed_1"]["workers_write_bytes"]
                                             + st["check_closed_2"]["workers_write_bytes"]) / n
    # allowed attempts' bytes, from the mix and the all-denied batch
    mix, deny = s["storage"], s["storage_denied"]
    key = "table_bytes" if mix.get("table_bytes") else "file_bytes"
    if mix.get(key) and deny.get(key) and mix["denied_share"] < 0.95 \
            and deny["denied_share"] > 0.99:
        d = mix["denied_share"]
        s["bytes_allowed"] = (mix[key] - d * deny[key]) / (1 - d)
        s["bytes_denied"] = deny[key]
    return s


def _mean(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


def measured_for_plan(pg: dict[str, Any]) -> dict[str, Any]:
    """``plan``'s input from a PostgreSQL run: CPU per check at a fixed rate of 60 % of the
    closed-loop throughput (where a deployment sized for 50–60 % runs), the storage and WAL of
    the two closed-loop batches."""
    s = pg["summary"]
    return {"worker_cpu_ms": s["worker_cpu_ms"]["open_60"],
            "pg_cpu_ms": s["pg_cpu_ms"]["open_60"],
            "worker_blocked_ms": s.get("worker_blocked_ms", 0.0),
            "table_bytes": s["storage"]["table_bytes"],
            "wal_bytes_steady": s["wal_bytes_steady"],
            "wal_bytes_after_checkpoint": s["wal_bytes_after_checkpoint"]}


# --- report -------------------------------------------------------------------------------


def _f(v: Any, fmt: str = ".3f") -> str:
    return "—" if v is None else format(v, fmt)


def print_report(results: dict[str, Any]) -> None:
    from rich.table import Table

    from bench.checks import console

    for backend, r in results["backends"].items():
        if "summary" not in r:
            console.print(f"[red]{backend}: {r.get('error') or r.get('skipped')}[/red]")
            continue
        st, s = r["steps"], r["summary"]
        t = Table(title=f"{backend}: cost per request, net of the idle background "
                        f"(raw in brackets)")
        for col in ("step", "requests", "req/s", "p50 / p99 ms", "worker CPU ms",
                    "PG backends CPU ms", "answers/req", "WAL B/req", "ckpts", "other cores"):
            t.add_column(col, justify="right")
        for name, d in st.items():
            if "per_request" not in d:
                continue
            pr = d["per_request"]
            wal = s.get("wal", {}).get(name, {})
            lat = d["loadgen"]["latency_ms"]
            t.add_row(
                name, f"{pr['n']:,}", _f(d["loadgen"]["rps"], ",.0f"),
                f"{_f(lat['p50'], ',.1f')} / {_f(lat['p99'], ',.0f')}",
                f"{_f(pr.get('worker_cpu_ms'))} ({_f(pr.get('worker_cpu_ms_raw'))})",
                f"{_f(pr.get('pg_cpu_ms'))} ({_f(pr.get('pg_cpu_ms_raw'))})"
                if "pg_cpu_ms" in pr else "—",
                _f(pr.get("tcp_data_segs_in"), ".2f"), _f(wal.get("bytes"), ",.0f"),
                str(d.get("checkpoints", "—")),
                _f(d["loadgen"]["cpu"].get("other_cores"), ".2f"))
        console.print(t)
        idle = st["idle"]
        console.print(f"  idle background: workers {idle['workers_cpu_s'] / idle['wall_s']:.3f} "
                      f"cores" + (f", PG backends {idle['pg_backends_cpu_s'] / idle['wall_s']:.3f}"
                                  f" cores, {idle['tcp']['data_segs_in'] / idle['wall_s']:.1f} "
                                  "answers/s" if "tcp" in idle else ""))
        mix = s["storage"]
        console.print(f"  storage: {mix['attempts']:,} attempts ({mix['denied_share']:.0%} denied,"
                      f" {mix['penalty_lines_per_attempt']:.2f} penalty lines each): "
                      + (f"tables+indexes {_f(mix.get('table_bytes'), ',.0f')} B/attempt "
                         if mix.get("table_bytes") else "")
                      + (f"database file {_f(mix.get('file_bytes'), ',.0f')} B/attempt"
                         if "file_bytes" in mix else ""))
        console.print("    by table: " + ", ".join(f"{k} {v:,.0f}"
                                                   for k, v in mix["tables"].items()))
        if "bytes_allowed" in s:
            console.print(f"    allowed ≈ {s['bytes_allowed']:,.0f} B, denied "
                          f"{s['bytes_denied']:,.0f} B per attempt")
        if "wal" in s:
            console.print(f"  WAL per attempt: after CHECKPOINT "
                          f"{_f(s['wal_bytes_after_checkpoint'], ',.0f')} B, steady "
                          f"{_f(s['wal_bytes_steady'], ',.0f')} B (this database's records; "
                          f"the whole server wrote "
                          f"{_f(s['wal']['check_closed_2']['server_bytes'], ',.0f')} B per "
                          "attempt meanwhile)")
            console.print(f"    full-page images: {_f(s.get('fpi_avg_bytes'), ',.0f')} B each on "
                          "average; index growth per attempt: " + ", ".join(
                              f"{k} {v:,.0f}" for k, v in s["index_bytes"].items() if v))
            console.print("    steady, by record kind: " + ", ".join(
                f"{k} {v:,.0f}" for k, v in list(s["wal_kinds_steady"].items())[:6]))
            console.print("  round trips per check (server→client data segments; client→server "
                          "in brackets): " + ", ".join(
                              f"{k} {v['server_to_client']:.2f} ({v['client_to_server']:.2f})"
                              for k, v in s["round_trips"].items()))
        if "inproc_wall_us" in s:
            console.print(f"  in-process check_call: {s['inproc_wall_us']:,.0f} µs wall, "
                          f"{s['inproc_cpu_us']:,.0f} µs CPU → blocked on the database "
                          f"{s['worker_blocked_ms']:.3f} ms per check")
    for key, title in (("plan", "measured here"),
                       ("plan_datacentre", "a worker's wait modelled for a database of its own")):
        if key in results:
            print_plan(results[key], title)


def print_plan(p: dict[str, Any], title: str) -> None:
    from rich.table import Table

    from bench.checks import console

    a = p["assumptions"]
    console.print(f"[bold]Planning, {title}[/bold] ({a['utilisation']:.0%} target utilisation"
                  + (f"; {a['round_trips']:.1f} round trips × {a['rtt_ms']} ms + PostgreSQL's "
                     f"CPU + {a['flush_ms']} ms WAL flush" if "rtt_ms" in a else "")
                  + f"): {p['checks_per_s_per_worker_core']:,.0f} checks/s per worker core, "
                  f"{p['checks_per_s_per_worker']:,.0f} per worker (CPU + blocked), "
                  f"{p['checks_per_s_per_pg_core']:,.0f} per PostgreSQL core; "
                  f"{p['storage_gb_per_million_attempts']:.2f} GB per million attempts; WAL "
                  f"{p['wal_gb_per_million_attempts']['steady']:.2f}–"
                  f"{p['wal_gb_per_million_attempts']['after_checkpoint']:.2f} GB per million")
    t = Table(title=f"Sizing, {title} (9 h of calling a day, 250 days a year)")
    for col in ("checks/s", "workers", "replicas ×2", "PG cores", "storage/day GB",
                "storage/year GB", "at 3 years GB", "WAL MB/s", "WAL/day GB"):
        t.add_column(col, justify="right")
    for rate, x in p["rates"].items():
        t.add_row(f"{rate:,}", str(x["workers"]), str(x["replicas"]), str(x["pg_cores"]),
                  f"{x['storage_gb_per_day']:,.1f}", f"{x['storage_gb_per_year']:,.0f}",
                  f"{x['storage_gb_at_retention']:,.0f}",
                  f"{x['wal_mb_per_s']['steady']:,.1f}–"
                  f"{x['wal_mb_per_s']['after_checkpoint']:,.1f}",
                  f"{x['wal_gb_per_day']['steady']:,.0f}–"
                  f"{x['wal_gb_per_day']['after_checkpoint']:,.0f}")
    console.print(t)


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="postgresql,sqlite")
    ap.add_argument("--rate", type=float, default=RATE, help="open-loop rate, req/s")
    ap.add_argument("--open-s", type=float, default=15.0, help="open-loop window, s")
    ap.add_argument("--closed-s", type=float, default=40.0,
                    help="each closed-loop check batch, s (healthz and denied: half)")
    ap.add_argument("--connections", type=int, default=48, help="closed-loop connections")
    ap.add_argument("--idle-s", type=float, default=IDLE_S, help="idle background window, s")
    ap.add_argument("--inproc-n", type=int, default=1000, help="in-process sequential checks")
    ap.add_argument("--quick", action="store_true", help="short windows (a smoke test)")
    args = ap.parse_args(argv)
    if args.quick:
        args.open_s, args.closed_s, args.idle_s, args.inproc_n = 4.0, 5.0, 2.0, 200
    return args


def main(argv: list[str] | None = None) -> int:
    from bench import checks
    from bench.checks import console

    args = parse_args(sys.argv[1:] if argv is None else argv)
    results = checks.begin_run("bench.capacity", argv, args, frozen_now=checks.FROZEN_NOW,
                               server_workers=checks.WORKERS, backends={})
    started = time.perf_counter()
    busy = results["machine"]["busy_cores_before"] = checks.machine_busy()
    if busy > checks.NOISE_CORES:
        console.print(f"[yellow]the machine is busy ({busy} of {os.cpu_count()} cores) before "
                      "the run: CPU per check is the figure to trust, not req/s[/yellow]")
    out = checks.RESULTS / f"capacity-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    run_id = secrets.token_hex(3)
    failed = False
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        console.rule(f"[bold]{backend}")
        try:
            results["backends"][backend] = run_backend(backend, args, run_id)
            if results["backends"][backend]["summary"]["errors"]:
                failed = True
        except checks.Skip as exc:
            results["backends"][backend] = {"skipped": str(exc)}
        except Exception as exc:  # recorded; the other backend still runs
            failed = True
            results["backends"][backend] = {"error": f"{type(exc).__name__}: {exc}",
                                            "traceback": traceback.format_exc()}
            console.print(f"[red]{backend} failed:[/red]\n{traceback.format_exc()}")
        checks.write_results(results, out)
    pg = results["backends"].get("postgresql", {})
    if "summary" in pg:
        results["plan_input"] = measured_for_plan(pg)
        results["plan"] = plan(results["plan_input"])
        m = results["plan_input"]
        rt = pg["summary"]["round_trips"]["check_open_60"]["server_to_client"]
        results["plan_datacentre"] = plan(m | {"worker_blocked_ms": blocked_model(
            rt, DATACENTRE["rtt_ms"], m["pg_cpu_ms"], DATACENTRE["flush_ms"])})
        results["plan_datacentre"]["assumptions"] |= DATACENTRE | {"round_trips": rt}
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    checks.write_results(results, out)
    console.rule()
    print_report(results)
    console.print(f"results: {out.relative_to(checks.ROOT)}  ({results['elapsed_s']} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
