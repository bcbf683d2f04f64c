"""The export half of ``bench.reports``: seed a ledger, export it, dump it with the database.

Child entry points (each run in a fresh process by ``bench.reports.run`` so that its peak RSS
is its own)::

    python -m bench.reports.export seed URL TENANT ROWS OUT.json
    python -m bench.reports.export export URL TENANT FROM TO OUT.json [--format csv|jsonl]

``seed`` writes ``ROWS`` attempts for one tenant straight into the table (executemany on
SQLite, ``COPY`` on PostgreSQL — the service has no back-dating API): 20 working days from
Monday 2026-10-26, 10:00–20:00 Paris, in time order, so that the first quarter of the rows is
one ``[from, to)`` period; 6 campaigns, 9 caller IDs and 40 agents; 62 % allowed; reasons,
legal bases and messages as the rules return them (``rules_fr.data.catalog``); outcomes on
allowed attempts (answered 55 %, half of them short, no answer, busy, unassigned 2 %…);
an ``external_id`` on 70 % of rows, a ``contract_ref`` on 5 %. Deterministic (seed 20261121).

``export`` runs ``app.reports.service.attempts_csv`` (or ``…_jsonl``) over the period, writing
every chunk to /dev/null, and reports rows, bytes and the export's own seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
FIRST_DAY = date(2026, 10, 26)  # a Monday; the opt-in regime (fr-2026-08-11)
WORKING_DAYS = 20
CAMPAIGNS = ("spring-2026", "autumn-energy", "press-2026", "survey-q4", "fibre-upsell",
             "insurance-renewal")
CALLER_IDS = tuple(f"+3316200{n:04d}" for n in range(1, 9)) + (None,)
SEED = 20261121
PYTHON = sys.executable
TARGET_RPS = 100_000
TARGET_DUMP_RATIO = 0.30
FLAT_FACTOR, FLAT_SLACK_MB = 1.25, 30.0


def working_days() -> list[date]:
    out, d = [], FIRST_DAY
    while len(out) < WORKING_DAYS:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def instant(i: int, rows: int) -> datetime:
    """Row ``i`` of ``rows``: evenly spread over the working days, 10:00–20:00 Paris."""
    days = working_days()
    per_day = -(-rows // len(days))
    day, k = divmod(i, per_day)
    start = datetime.combine(days[day], datetime.min.time(), PARIS).replace(hour=10)
    return (start + timedelta(seconds=36_000 * k / per_day)).astimezone(UTC)


def _reasons_pool() -> list[tuple[str, str, int]]:
    """(reason_codes, reasons JSON, decision is deny) — the mixes a real ledger holds."""
    from rules_fr.data import catalog

    basis = {e.code: e.legal_basis for e in catalog()}

    def rec(*codes: str, notice: tuple[str, ...] = ()) -> tuple[str, str, int]:
        reasons = [{"code": c, "severity": "notice" if c in notice else "block",
                    "legal_basis": basis[c], "message": f"{c.replace('_', ' ').lower()}."}
                   for c in codes]
        deny = any(r["severity"] == "block" for r in reasons)
        return " ".join(codes), json.dumps(reasons), int(deny)

    return [
        ("", "[]", 0),
        rec("BLOCTEL_LISTED", notice=("BLOCTEL_LISTED",)),
        rec("CONSENT_REQUIRED"), rec("CONSENT_REVOKED"), rec("FREQUENCY_LIMIT"),
        rec("OUTSIDE_HOURS"), rec("CALLEE_INVALID"), rec("CALLEE_SPECIAL_SERVICE"),
        rec("INTERNAL_OPPOSITION"), rec("CONSENT_REQUIRED", "BLOCTEL_LISTED",
                                        notice=("BLOCTEL_LISTED",)),
        rec("REFUSAL_COOLDOWN"), rec("CALLER_ID_NOT_IN_CAMPAIGN"),
    ]


COLUMNS = (
    "id", "tenant_id", "campaign_id", "external_id", "callee", "caller_id", "agent_id",
    "contract_ref", "checked_at", "decision", "reason_codes", "reasons", "regime",
    "ruleset_version", "callee_time_zone", "next_allowed_at", "penalty_micros", "counted",
    "outcome_status", "sip_code", "duration_s", "consumer_refused", "consumer_opposed",
    "outcome_at",
)


def rows(tenant: str, n: int) -> Any:
    """The ``n`` attempt rows, as tuples in ``COLUMNS`` order (UTC aware datetimes)."""
    rnd = random.Random(SEED)
    pool = _reasons_pool()
    allowed, denied = pool[:2], pool[2:]
    for i in range(n):
        at = instant(i, n)
        deny = rnd.random() < 0.38
        codes, reasons, _ = rnd.choice(denied) if deny else (
            allowed[1] if rnd.random() < 0.05 else allowed[0])
        callee = ("+336" if rnd.random() < 0.7 else "+337") + f"{rnd.randrange(10**8):08d}"
        if codes == "CALLEE_INVALID":
            callee = rnd.choice(("06 12 34", "not a number", "=HYPERLINK(\"x\")", "0612"))
        status = sip = duration = refused = outcome_at = None
        if not deny:
            x = rnd.random()
            status = ("answered" if x < 0.55 else "no_answer" if x < 0.80 else "busy"
                      if x < 0.90 else "unassigned" if x < 0.92 else "failed" if x < 0.97
                      else "not_dialed" if x < 0.99 else None)
            if status == "answered":
                duration = rnd.randrange(5, 60) if rnd.random() < 0.5 else rnd.randrange(60, 900)
                refused = rnd.random() < 0.1
            elif status == "unassigned":
                sip = rnd.choice((404, 410, 484, 604))
            elif status == "busy":
                sip = 486
            if status is not None:
                outcome_at = at + timedelta(seconds=(duration or 0) + 20)
        nxt = at + timedelta(hours=rnd.randrange(1, 72)) if codes in (
            "OUTSIDE_HOURS", "FREQUENCY_LIMIT", "REFUSAL_COOLDOWN") else None
        yield (
            f"att_{rnd.getrandbits(96):024x}", tenant, rnd.choice(CAMPAIGNS),
            f"dialer-{i:09d}" if rnd.random() < 0.7 else None, callee,
            rnd.choice(CALLER_IDS), f"agent-{rnd.randrange(40):02d}" if rnd.random() < 0.8
            else None, f"CTR-{rnd.randrange(10**6):06d}" if rnd.random() < 0.05 else None,
            at, "deny" if deny else "allow", codes, reasons, "opt_in", "fr-2026-08-11",
            "Europe/Paris", nxt, 20_000 if deny else 0, (not deny) and status != "not_dialed",
            status, sip, duration, refused, None if status is None else False, outcome_at,
        )


def seed(url: str, tenant: str, n: int) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    t0 = time.perf_counter()
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        import sqlite3

        def ts(v: datetime | None) -> str | None:  # app.db.UTCDateTime's storage on SQLite
            return None if v is None else v.strftime("%Y-%m-%d %H:%M:%S.%f")

        conn = sqlite3.connect(u.database or "", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN")
        marks = ",".join("?" * len(COLUMNS))
        batch: list[tuple[Any, ...]] = []
        for r in rows(tenant, n):
            batch.append(r[:8] + (ts(r[8]),) + r[9:15] + (ts(r[15]),) + r[16:23] + (ts(r[23]),))
            if len(batch) == 20_000:
                conn.executemany(f"INSERT INTO attempts ({','.join(COLUMNS)}) VALUES ({marks})",
                                 batch)
                batch.clear()
        if batch:
            conn.executemany(f"INSERT INTO attempts ({','.join(COLUMNS)}) VALUES ({marks})", batch)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.close()
    else:
        import psycopg

        libpq = u.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(libpq) as conn:
            with conn.cursor() as cur, cur.copy(
                    f"COPY attempts ({','.join(COLUMNS)}) FROM STDIN") as copy:
                for r in rows(tenant, n):
                    copy.write_row(r)
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE attempts")
    return {"rows": n, "seconds": round(time.perf_counter() - t0, 2)}


def export(url: str, tenant: str, start: str, end: str, fmt: str) -> dict[str, Any]:
    os.environ["DATABASE_URL"] = url
    from app.reports import service

    f = service.filters(start, end)
    gen = service.attempts_jsonl(tenant, f) if fmt == "jsonl" else service.attempts_csv(tenant, f)
    out = os.open(os.devnull, os.O_WRONLY)
    t0 = time.perf_counter()
    first = None
    size = lines = 0
    for chunk in gen:
        if first is None:
            first = time.perf_counter() - t0
        data = chunk.encode()
        size += len(data)
        lines += chunk.count("\n")
        os.write(out, data)
    seconds = time.perf_counter() - t0
    rows_out = lines - (1 if fmt == "csv" else 0)  # no field of the seeded rows holds a newline
    return {"rows": rows_out, "bytes": size, "export_s": round(seconds, 3),
            "first_chunk_s": round(first or 0.0, 3),
            "rows_per_s": round(rows_out / seconds) if seconds else None}


# --- the export part of ``python -m bench.reports`` --------------------------------------------


def _literal_sql(tenant: str, start: str, end: str, backend: str) -> str:
    """The export's SELECT with its parameters inlined, for the database's own dump."""
    from app.reports.export import query
    from app.reports.service import filters

    dialect = "sqlite" if backend == "sqlite" else "postgresql"
    sql, params = query(tenant, filters(start, end), dialect)
    for name, value in sorted(params.items(), key=lambda kv: -len(kv[0])):
        text = value.isoformat() if isinstance(value, datetime) else str(value)
        literal = "'" + text.replace("'", "''") + "'"
        sql = sql.replace(f":{name}" if dialect == "sqlite" else f"%({name})s", literal)
    return sql


def dump(url: str, sql: str, backend: str) -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if backend == "sqlite":
        cmd = ["sqlite3", "-csv", u.database or "", sql]
    else:
        libpq = u.set(drivername="postgresql").render_as_string(hide_password=False)
        cmd = ["psql", "-X", "-q", libpq, "-c", f"\\copy ({sql}) TO STDOUT WITH CSV"]
    from bench.bloctel.run import run_child

    with open(os.devnull, "wb") as null:
        m = run_child(cmd, dict(os.environ), 900, stdout=null, postgres=backend != "sqlite")
    if m["rc"] != 0:
        raise RuntimeError(f"{cmd[0]} dump failed: {m.get('stderr')}")
    return m


def export_child(url: str, tenant: str, start: str, end: str, env: dict[str, str],
                 work: Path, postgres: bool) -> dict[str, Any]:
    from bench.bloctel.run import run_child

    out = work / "export.json"
    m = run_child([PYTHON, "-m", "bench.reports.export", "export", url, tenant, start, end,
                   str(out)], env, 1800, postgres=postgres)
    if m["rc"] != 0:
        raise RuntimeError(f"export failed ({m['rc']}): {m.get('stderr')}")
    return m | json.loads(out.read_text())


def http_export(env: dict[str, str], work: Path, key: str, start: str, end: str
                ) -> dict[str, Any]:
    from bench import checks

    server = checks.Server(env, work)
    try:
        server.start()
        query = urllib.parse.urlencode({"format": "csv", "from": start, "to": end})
        url = f"http://127.0.0.1:{server.port}/v1/reports/attempts?{query}"
        t0 = time.perf_counter()
        proc = subprocess.run(
            ["curl", "-sS", "--fail", "-o", os.devnull, "-w", "%{size_download}",
             "-H", f"Authorization: Bearer {key}", url],
            capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"curl failed: {proc.stderr}\n{server.log_tail()}")
        hwm = []
        for pid in server.workers:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            hwm += [int(line.split()[1]) / 1024 for line in status.splitlines()
                    if line.startswith("VmHWM:")]
        return {"wall_s": round(wall, 3), "bytes": int(proc.stdout or 0),
                "worker_peak_rss_mb": round(max(hwm), 1) if hwm else None}
    finally:
        server.stop()


def export_part(backend: str, url: str, ctx: dict[str, Any], args: argparse.Namespace
                ) -> dict[str, Any]:
    """The export at ``--small`` and ``--rows`` rows beside the database's own dump."""
    from bench.checks import console

    env, work, tenant, pg = ctx["env"], ctx["work"], ctx["tenant"], backend != "sqlite"
    start = instant(0, args.rows).isoformat()
    out: dict[str, Any] = {}
    for n in (args.small, args.rows):
        end = (instant(n, args.rows) if n < args.rows
               else instant(args.rows - 1, args.rows) + timedelta(seconds=1)).isoformat()
        d = dump(url, _literal_sql(tenant, start, end, backend), backend)
        e = export_child(url, tenant, start, end, env, work, pg)
        if e["rows"] != n:
            raise RuntimeError(f"exported {e['rows']:,} rows, expected {n:,}")
        d["rows_per_s"] = round(n / d["wall_s"]) if d["wall_s"] else None
        e["ratio_to_dump"] = round(e["rows_per_s"] / d["rows_per_s"], 3)
        e["ratio_to_dump_wall"] = round(d["wall_s"] / e["wall_s"], 3)
        out[str(n)] = {"export": e, "dump": d}
        console.print(f"[dim]{backend} {n:,} rows: export {e['export_s']:.2f} s "
                      f"({e['rows_per_s']:,} rows/s, peak RSS {e['maxrss_mb']:.0f} MB), dump "
                      f"{d['wall_s']:.2f} s ({d['rows_per_s']:,} rows/s): "
                      f"{e['ratio_to_dump']:.2f}×[/dim]")
        if n == args.rows and args.http:
            h = http_export(env, work, ctx["compliance"], start, end)
            h["rows_per_s"] = round(n / h["wall_s"]) if h["wall_s"] else None
            out[str(n)]["http"] = h
            console.print(f"[dim]{backend} {n:,} rows over HTTP: {h['wall_s']:.2f} s "
                          f"({h['rows_per_s']:,} rows/s), worker peak RSS "
                          f"{h['worker_peak_rss_mb']} MB[/dim]")
    return out


def flat(small: dict[str, Any], big: dict[str, Any]) -> bool:
    return big["maxrss_mb"] <= small["maxrss_mb"] * FLAT_FACTOR + FLAT_SLACK_MB


def report_rows(results: dict[str, Any], table: Any) -> bool:
    ok = True
    big_n, small_n = results["config"]["rows"], results["config"]["small"]
    for backend, per in results["backends"].items():
        if "error" in per:
            table.add_row(backend, per["error"][:90], "", "[red]ERROR[/red]")
            ok = False
            continue
        if "export" not in per:  # --only another part
            continue
        big, small = per["export"][str(big_n)], per["export"][str(small_n)]
        e, d = big["export"], big["dump"]
        fast = e["rows_per_s"] >= TARGET_RPS
        near = e["ratio_to_dump"] >= TARGET_DUMP_RATIO
        is_flat = flat(small["export"], e)
        ok &= fast and near and is_flat
        dumper = "sqlite3 -csv" if backend == "sqlite" else "psql \\copy … CSV"
        table.add_row(f"{backend}: CSV export {big_n:,} rows",
                      f"{e['export_s']:.2f} s · {e['rows_per_s']:,} rows/s",
                      f"≥ {TARGET_RPS:,}/s", "PASS" if fast else "[red]MISS[/red]")
        table.add_row(f"   vs {dumper} ({d['wall_s']:.2f} s · {d['rows_per_s']:,} rows/s)",
                      f"{e['ratio_to_dump']:.2f}× (whole process {e['ratio_to_dump_wall']:.2f}×)",
                      f"≥ {TARGET_DUMP_RATIO:.2f}×", "PASS" if near else "[red]MISS[/red]")
        table.add_row(f"   peak RSS {small_n:,} → {big_n:,} rows",
                      f"{small['export']['maxrss_mb']:.0f} → {e['maxrss_mb']:.0f} MB", "flat",
                      "PASS" if is_flat else "[red]MISS[/red]")
        if "http" in big:
            h = big["http"]
            table.add_row("   over HTTP (gateway serve, curl)",
                          f"{h['wall_s']:.2f} s · {h['rows_per_s']:,} rows/s · worker "
                          f"{h['worker_peak_rss_mb']} MB", "", "")
    return ok


def main(argv: list[str]) -> None:
    if argv[0] == "seed":
        url, tenant, n, out = argv[1:5]
        result = seed(url, tenant, int(n))
    elif argv[0] == "export":
        url, tenant, start, end, out = argv[1:6]
        fmt = argv[7] if len(argv) > 7 and argv[6] == "--format" else "csv"
        result = export(url, tenant, start, end, fmt)
    else:
        raise SystemExit(__doc__)
    Path(out).write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
