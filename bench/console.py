"""Console page timings on a tenant with a 1-million-attempt ledger (issue 16).

    .venv/bin/python -m bench.console [--attempts N] [--backends sqlite,postgresql] [--n 30]
                                      [--warmup 3] [--seal-n 3] [--no-seal]   (make bench-console)

For each backend (a fresh SQLite file; a fresh PostgreSQL database, created and dropped):

1. migrate and create the demo tenant (``bench.registries.setup``: keys for every role,
   campaign ``spring-2026``), then, in a child (``python -m bench.console seed …``): five more
   campaigns, ``CONSENTS`` canvassing consents through ``app.registries.service.add_consent``,
   and ``--attempts`` attempts written straight into the ledger (executemany on SQLite,
   ``COPY`` on PostgreSQL — the service has no back-dating API) with their penalty lines:
   90 % over the frozen month (1–23 November 2026, weekdays 09:00–20:00 Paris, today until the
   frozen 10:30), 10 % over October; in time order, as the ledger is appended. Mix: 62 %
   allowed, reasons as the rules return them (``bench.reports.export._reasons_pool``), six
   campaigns, nine caller IDs, 40 agents, callees drawn from a pool of ``CALLEES`` numbers plus
   one number called ``HOT_ATTEMPTS`` times (the investigation's), outcomes on allowed
   attempts (answered 55 %, half of them short, unassigned 2 %…), 1 % of denied attempts
   dialled anyway. Deterministic (seed 20261204). ``ANALYZE`` at the end.
2. unless ``--no-seal``: ``gateway audit seal`` (the whole ledger, as the sealer would have),
   so that the seal panel verifies a real chain.
3. ``gateway serve --workers 2`` with ``GATEWAY_FROZEN_NOW`` (Monday 2026-11-23 10:30 Paris) and
   the sealer off; sign in through ``/console/connexion`` with the compliance key (the form's
   ``_csrf``, then ``cle``); for each page ``--warmup`` requests, then ``--n`` timed ones, one
   at a time: the **server time** (``Server-Timing: page;dur=<ms>``, set by
   ``app.console.web.render``) and the client-observed latency. The baselines in the same run:
   ``GET /healthz`` and ``GET /v1/reports/summary`` for today (the API). The load average and
   the machine's busy cores are printed before each page (these machines are noisy).

A page answering 404 (built on another branch) is reported **absent** and the run goes on.
Target: dashboard, attempts list and investigation ≤ 300 ms p95 server time. Results:
``bench/results/console-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
SEED = 20261204
TARGET_P95_MS = 300.0
CONSENTS = 2_000
CALLEES = 300_000
HOT = "+33612345678"  # the number the investigation page looks up
HOT_ATTEMPTS = 600
MONTH_SHARE = 0.9
CAMPAIGNS = ("spring-2026", "autumn-energy", "press-2026", "survey-q4", "fibre-upsell",
             "insurance-renewal")
CALLER_IDS = ("+33162000001", "+33948000001") + tuple(f"+3316200{n:04d}" for n in range(2, 8)) \
    + (None,)
#: the frozen instant (bench.checks.FROZEN_NOW) and the month it falls in
NOW = datetime(2026, 11, 23, 10, 30, tzinfo=PARIS)
MONTH_START = date(2026, 11, 1)
BEFORE_START = date(2026, 10, 1)
TIMED = ("dashboard", "attempts", "attempts_filtered", "attempts_next", "investigation")
_SERVER_TIMING = re.compile(r"page;dur=([0-9.]+)")
_CSRF = re.compile(r'name="_csrf" value="([^"]+)"')
_NEXT = re.compile(r'href="([^"]*[?&](?:amp;)?apres=[^"]*)"')


# --- the ledger -------------------------------------------------------------------------------


def windows(first: date, last: date, until: datetime) -> list[tuple[datetime, float]]:
    """Business windows (weekdays 09:00–20:00 Paris) from ``first`` to ``last`` inclusive, the
    last one cut at ``until``: (start UTC, seconds)."""
    out = []
    d = first
    while d <= last:
        if d.weekday() < 5:
            start = datetime.combine(d, datetime.min.time(), PARIS).replace(hour=9)
            end = min(start.replace(hour=20), until)
            if end > start:
                out.append((start.astimezone(UTC), (end - start).total_seconds()))
        d += timedelta(days=1)
    return out


def instants(n: int) -> list[datetime]:
    """``n`` instants in time order: ``MONTH_SHARE`` of them in the month up to now, the rest
    in the month before, each part evenly spread over its business hours."""
    month = round(n * MONTH_SHARE)
    out: list[datetime] = []
    for count, wins in ((n - month, windows(BEFORE_START, MONTH_START - timedelta(days=1), NOW)),
                        (month, windows(MONTH_START, NOW.date(), NOW))):
        total = sum(s for _, s in wins)
        i, acc = 0, 0.0
        for k in range(count):
            at = total * k / max(count, 1)
            while at >= acc + wins[i][1]:
                acc += wins[i][1]
                i += 1
            out.append(wins[i][0] + timedelta(seconds=at - acc))
    return out


ATTEMPT_COLUMNS = (
    "id", "tenant_id", "campaign_id", "principal_id", "external_id", "callee", "caller_id",
    "agent_id", "contract_ref", "checked_at", "decision", "reason_codes", "reasons", "regime",
    "ruleset_version", "callee_time_zone", "next_allowed_at", "penalty_micros", "counted",
    "outcome_status", "sip_code", "duration_s", "consumer_refused", "consumer_opposed",
    "outcome_at", "dialled_despite_deny",
)
PENALTY_COLUMNS = ("tenant_id", "attempt_id", "code", "amount_micros", "created_at")


def pool() -> list[str]:
    rnd = random.Random(SEED + 1)
    return [(f"+336{rnd.randrange(1, 5)}{rnd.randrange(10**7):07d}") if rnd.random() < 0.7
            else ("+3378" + f"{rnd.randrange(10**7):07d}") for _ in range(CALLEES)]


def ledger(tenant: str, n: int, seed: int = SEED) -> Any:
    """(attempt row, [penalty rows]) in time order; tuples in ``*_COLUMNS`` order."""
    from bench.reports.export import _reasons_pool

    rnd = random.Random(seed)
    reasons = _reasons_pool()
    allowed, denied = reasons[:2], reasons[2:]
    callees = pool()
    hot_every = max(n // HOT_ATTEMPTS, 1)
    for i, at in enumerate(instants(n)):
        deny = rnd.random() < 0.38
        codes, why, _ = rnd.choice(denied) if deny else (
            allowed[1] if rnd.random() < 0.05 else allowed[0])
        callee = HOT if i % hot_every == hot_every // 2 else rnd.choice(callees)
        if codes == "CALLEE_INVALID":
            callee = rnd.choice(("06 12 34", "not a number", "0612"))
        status = sip = duration = refused = outcome_at = None
        if not deny:
            x = rnd.random()
            status = ("answered" if x < 0.55 else "no_answer" if x < 0.80 else "busy"
                      if x < 0.90 else "unassigned" if x < 0.92 else "failed" if x < 0.97
                      else "not_dialed" if x < 0.99 else None)
        elif rnd.random() < 0.01:
            status = "answered" if rnd.random() < 0.5 else "no_answer"  # dialled despite deny
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
        attempt_id = f"att_{rnd.getrandbits(96):024x}"
        penalties = []
        if deny:
            penalties.append((tenant, attempt_id, "ILLEGITIMATE_ATTEMPT", 20_000, at))
        if status == "unassigned":
            penalties.append((tenant, attempt_id, "CALLEE_UNASSIGNED", 10_000, outcome_at))
        row = (
            attempt_id, tenant, rnd.choice(CAMPAIGNS), tenant,
            f"dialer-{i:09d}" if rnd.random() < 0.7 else None, callee,
            rnd.choice(CALLER_IDS), f"agent-{rnd.randrange(40):02d}" if rnd.random() < 0.8
            else None, f"CTR-{rnd.randrange(10**6):06d}" if rnd.random() < 0.05 else None,
            at, "deny" if deny else "allow", codes, why, "opt_in", "fr-2026-08-11",
            "Europe/Paris", nxt, 20_000 if deny else 0, (not deny) and status != "not_dialed",
            status, sip, duration, refused, None if status is None else False, outcome_at,
            deny and status is not None,
        )
        yield row, penalties


def _registries(tenant: str, callees: list[str]) -> dict[str, Any]:
    """The other campaigns and the consents, through the service functions."""
    from app.campaigns.service import upsert_campaign
    from app.db import session_scope
    from app.registries.service import add_consent

    t = time.perf_counter()
    with session_scope(write=True) as s:
        for name in CAMPAIGNS[1:]:
            upsert_campaign(s, tenant, id=name, purpose="commercial", audience="consumers",
                            sector="general", automated=False,
                            caller_ids=["+33162000001", "+33948000001"], create_only=True)
    given = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    from rules_fr.numbering import classify

    valid = [c for c in callees[:CONSENTS * 3] if classify(c).valid][:CONSENTS - 1]
    with session_scope(write=True) as s:
        for i, callee in enumerate([HOT, *valid]):
            add_consent(s, tenant, callee=callee, scope="canvassing", given_at=given,
                        channel="web_form", evidence={"form": "https://example.fr/optin",
                                                      "n": i}, expires_at=None)
    return {"consents": len(valid) + 1, "campaigns": len(CAMPAIGNS), "seconds":
            round(time.perf_counter() - t, 2)}


def seed(url: str, tenant: str, n: int) -> dict[str, Any]:
    os.environ["DATABASE_URL"] = url
    from sqlalchemy.engine import make_url

    out: dict[str, Any] = {"registries": _registries(tenant, pool())}
    t0 = time.perf_counter()
    attempts = penalty_lines = 0
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        import sqlite3

        def ts(v: Any) -> Any:  # app.db.UTCDateTime's storage on SQLite
            return v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v

        conn = sqlite3.connect(u.database or "", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN")
        a_sql = (f"INSERT INTO attempts ({','.join(ATTEMPT_COLUMNS)}) VALUES "
                 f"({','.join('?' * len(ATTEMPT_COLUMNS))})")
        p_sql = (f"INSERT INTO penalty_lines ({','.join(PENALTY_COLUMNS)}) VALUES "
                 f"({','.join('?' * len(PENALTY_COLUMNS))})")
        a_batch: list[tuple[Any, ...]] = []
        p_batch: list[tuple[Any, ...]] = []
        for row, pens in ledger(tenant, n):
            a_batch.append(tuple(ts(v) for v in row))
            p_batch += [tuple(ts(v) for v in p) for p in pens]
            if len(a_batch) == 20_000:
                conn.executemany(a_sql, a_batch)
                conn.executemany(p_sql, p_batch)
                attempts += len(a_batch)
                penalty_lines += len(p_batch)
                a_batch.clear()
                p_batch.clear()
        conn.executemany(a_sql, a_batch)
        conn.executemany(p_sql, p_batch)
        attempts += len(a_batch)
        penalty_lines += len(p_batch)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.close()
    else:
        import psycopg

        libpq = u.set(drivername="postgresql").render_as_string(hide_password=False)
        pens_all: list[tuple[Any, ...]] = []
        with psycopg.connect(libpq) as conn:
            with conn.cursor() as cur, cur.copy(
                    f"COPY attempts ({','.join(ATTEMPT_COLUMNS)}) FROM STDIN") as copy:
                for row, pens in ledger(tenant, n):
                    copy.write_row(row)
                    attempts += 1
                    pens_all += pens
            with conn.cursor() as cur, cur.copy(
                    f"COPY penalty_lines ({','.join(PENALTY_COLUMNS)}) FROM STDIN") as copy:
                for p in pens_all:
                    copy.write_row(p)
            penalty_lines = len(pens_all)
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")
    out |= {"attempts": attempts, "penalty_lines": penalty_lines,
            "ledger_s": round(time.perf_counter() - t0, 2)}
    return out


# --- timing pages -----------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict[str, float | None]:
    """Nearest-rank p50 / p95 and the max (None for no value)."""
    if not values:
        return {"p50": None, "p95": None, "max": None, "n": 0}
    v = sorted(values)

    def rank(q: float) -> float:
        return v[max(0, min(len(v) - 1, -(-len(v) * q // 100) - 1))]

    return {"p50": round(rank(50), 1), "p95": round(rank(95), 1), "max": round(v[-1], 1),
            "n": len(v)}


def load() -> dict[str, Any]:
    from bench.checks import machine_busy

    return {"loadavg": [round(x, 2) for x in os.getloadavg()],
            "busy_cores": machine_busy(0.5)}


def sign_in(client: Any, key: str) -> None:
    form = client.get("/console/connexion")
    token = _CSRF.search(form.text)
    if form.status_code != 200 or token is None:
        raise RuntimeError(f"sign-in form: {form.status_code}")
    r = client.post("/console/connexion", data={"_csrf": token.group(1), "cle": key})
    if r.status_code != 303:
        raise RuntimeError(f"sign-in refused: {r.status_code} {r.text[:300]}")


def time_page(client: Any, path: str, n: int, warmup: int, headers: dict[str, str] | None = None
              ) -> dict[str, Any]:
    """``warmup`` then ``n`` sequential GETs of ``path``: server and client milliseconds."""
    from bench.checks import console

    before = load()
    server: list[float] = []
    client_ms: list[float] = []
    statuses: dict[str, int] = {}
    warm: list[float] = []
    body = ""
    for i in range(warmup + n):
        t = time.perf_counter()
        r = client.get(path, headers=headers or {})
        ms = (time.perf_counter() - t) * 1e3
        if i == 0 and r.status_code == 404:
            console.print(f"[yellow]{path}: 404 — absent on this branch[/yellow]")
            return {"path": path, "absent": True, "status": 404, "load_before": before}
        body = r.text
        if i < warmup:  # kept apart: the first view builds the dashboard's rollup
            found = _SERVER_TIMING.search(r.headers.get("server-timing", ""))
            warm.append(round(float(found.group(1)) if found else ms, 1))
            continue
        statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
        client_ms.append(ms)
        found = _SERVER_TIMING.search(r.headers.get("server-timing", ""))
        if found:
            server.append(float(found.group(1)))
    out = {"path": path, "absent": False, "statuses": statuses, "load_before": before,
           "warmup_ms": warm,
           "server_ms": percentiles(server), "client_ms": percentiles(client_ms),
           "bytes": len(body.encode())}
    s, c = out["server_ms"], out["client_ms"]
    console.print(f"[dim]{path}: server p50 {s['p50']} p95 {s['p95']} max {s['max']} ms · "
                  f"client p50 {c['p50']} p95 {c['p95']} ms · warm-up {warm} ms · {statuses} · "
                  f"load {before['loadavg'][0]} ({before['busy_cores']} cores busy)[/dim]")
    out["_body"] = body
    return out


def measure(port: int, ctx: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    from bench.checks import console

    base = f"http://127.0.0.1:{port}"
    today = NOW.date().isoformat()
    bearer = {"Authorization": f"Bearer {ctx['compliance']}"}
    pages: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=600) as c:
        sign_in(c, ctx["compliance"])
        pages["healthz"] = time_page(c, "/healthz", args.n, args.warmup)
        pages["api_summary_today"] = time_page(
            c, f"/v1/reports/summary?from={today}&to={today}", args.n, args.warmup, bearer)
        pages["api_summary_month"] = time_page(
            c, f"/v1/reports/summary?from={MONTH_START.isoformat()}&to={today}",
            3, 1, bearer)
        pages["dashboard"] = time_page(c, "/console", args.n, args.warmup)
        pages["attempts"] = time_page(c, "/console/tentatives", args.n, args.warmup)
        pages["attempts_filtered"] = time_page(
            c, "/console/tentatives?decision=deny&reason=CONSENT_REQUIRED", args.n, args.warmup)
        nxt = None if pages["attempts"]["absent"] else _NEXT.search(pages["attempts"]["_body"])
        if nxt is not None:
            pages["attempts_next"] = time_page(c, nxt.group(1).replace("&amp;", "&"), args.n,
                                               args.warmup)
        else:
            pages["attempts_next"] = {"absent": True, "why": "no apres= link on the first page"}
        pages["investigation"] = time_page(c, f"/console/numeros/{urllib.parse.quote(HOT)}",
                                           args.n, args.warmup)
        if args.seal:
            # last: the panel starts a verification of the whole ledger as a console job (CPU
            # for seconds in a worker), which would disturb the pages timed after it
            started = time.perf_counter()
            pages["seal_panel"] = time_page(c, "/console/partiels/scellement", args.seal_n, 1)
            while 'data-status="running"' in c.get("/console/partiels/scellement").text:
                time.sleep(0.5)
            ctx["seal_verification_s"] = round(time.perf_counter() - started, 1)
            console.print(f"[dim]the ledger's verification (a console job) took "
                          f"{ctx['seal_verification_s']} s[/dim]")
    for p in pages.values():
        p.pop("_body", None)
    ref = pages["healthz"].get("client_ms", {}).get("p50") or None
    api = pages["api_summary_today"].get("client_ms", {}).get("p50") or None
    for p in pages.values():
        c50 = (p.get("client_ms") or {}).get("p50")
        if c50 is not None:
            p["client_p50_over_healthz"] = round(c50 / ref, 1) if ref else None
            p["client_p50_over_api_summary_today"] = round(c50 / api, 2) if api else None
    return pages


def run_backend(backend: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from bench import checks
    from bench.bloctel.run import database, env_for, run_child
    from bench.checks import GATEWAY, Server, console

    with database(backend, work / backend) as url:
        env = env_for(url, work / backend) | {"GATEWAY_SEAL_INTERVAL_S": "0",
                                              "GATEWAY_SEAL_GRACE_S": "0"}
        setup = work / backend / "setup.json"
        m = run_child([sys.executable, "-m", "bench.registries.setup", url, str(setup)], env, 300)
        if m["rc"] != 0:
            raise RuntimeError(f"setup failed: {m.get('stderr')}")
        keys = json.loads(setup.read_text())
        out = work / backend / "seed.json"
        m = run_child([sys.executable, "-m", "bench.console", "seed", url, keys["tenant"],
                       str(args.attempts), str(out)], env, 3600, postgres=backend != "sqlite")
        if m["rc"] != 0:
            raise RuntimeError(f"seed failed: {m.get('stderr')}")
        seeded = m | json.loads(out.read_text())
        console.print(f"[dim]{backend}: seeded {seeded['attempts']:,} attempts and "
                      f"{seeded['penalty_lines']:,} penalty lines in {m['wall_s']:.1f} s[/dim]")
        result: dict[str, Any] = {"seed": seeded}
        if args.seal:
            with open(os.devnull, "wb") as null:
                s = run_child([GATEWAY, "audit", "seal"], env, 3600, stdout=null,
                              postgres=backend != "sqlite")
            if s["rc"] != 0:
                raise RuntimeError(f"gateway audit seal failed: {s.get('stderr')}")
            result["seal"] = s
            console.print(f"[dim]{backend}: sealed the ledger in {s['wall_s']:.1f} s[/dim]")
        server = Server(env, work / backend)
        try:
            server.start()
            checks.wait_quiet(args.wait_quiet)
            ctx = {"compliance": keys["compliance"]}
            result["pages"] = measure(server.port, ctx, args)
            if "seal_verification_s" in ctx:
                result["seal_verification_s"] = ctx["seal_verification_s"]
        finally:
            result["server_stop"] = server.stop()
        return result


def report(results: dict[str, Any]) -> bool:
    from rich.table import Table

    from bench.checks import console

    ok = True
    n = results["config"]["attempts"]
    table = Table(title=f"Console pages — tenant with {n:,} attempts "
                        f"(server time from Server-Timing; client = whole round trip)")
    for col in ("backend · page", "server p50 / p95 / max (ms)", "client p50 / p95 (ms)",
                "first (ms)", "÷ healthz", "÷ API summary today", "target", ""):
        first_col = col.startswith("backend")
        table.add_column(col, justify="left" if first_col else "right", no_wrap=first_col)
    for backend, per in results["backends"].items():
        if "error" in per:
            table.add_row(backend, per["error"][:90], "", "", "", "", "", "[red]ERROR[/red]")
            ok = False
            continue
        for name, p in per["pages"].items():
            label = f"{backend} · {name}"
            if p.get("absent"):
                table.add_row(label, "absent (404)", "", "", "", "", "", "—")
                continue
            s, c = p["server_ms"], p["client_ms"]
            target = verdict = ""
            if name in TIMED:
                target = f"p95 ≤ {TARGET_P95_MS:.0f}"
                passed = s["p95"] is not None and s["p95"] <= TARGET_P95_MS
                ok &= passed
                verdict = "PASS" if passed else "[red]MISS[/red]"
            server = "—" if s["p50"] is None else f"{s['p50']} / {s['p95']} / {s['max']}"
            first = p.get("warmup_ms") or [None]
            table.add_row(label, server, f"{c['p50']} / {c['p95']}", str(first[0]),
                          str(p.get("client_p50_over_healthz")),
                          str(p.get("client_p50_over_api_summary_today")), target, verdict)
    console.print(table)
    for backend, per in results["backends"].items():
        if "seed" in per:
            loads = [p["load_before"]["loadavg"][0] for p in per.get("pages", {}).values()
                     if "load_before" in p]
            console.print(f"{backend}: seeded in {per['seed']['wall_s']:.0f} s"
                          + (f", sealed in {per['seal']['wall_s']:.0f} s" if "seal" in per
                             else "")
                          + (f", the seal panel's verification took "
                             f"{per['seal_verification_s']} s" if "seal_verification_s" in per
                             else "") + f"; load average before each page: {loads}")
    return ok


def main(argv: list[str] | None = None) -> int:
    from bench import checks

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "seed":
        url, tenant, n, out = argv[1:5]
        Path(out).write_text(json.dumps(seed(url, tenant, int(n))))
        return 0
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--attempts", type=int, default=1_000_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--n", type=int, default=30, help="timed requests per page")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seal-n", type=int, default=3, help="timed requests of the seal panel")
    ap.add_argument("--no-seal", dest="seal", action="store_false",
                    help="no ledger seal, no seal panel")
    ap.add_argument("--wait-quiet", type=float, default=20.0,
                    help="wait at most this long for a quiet machine before measuring")
    ap.add_argument("--out", help="results file (default bench/results/…)")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else checks.RESULTS / f"console-{stamp}.json"
    results = checks.begin_run("bench.console", argv, args)
    results["config"]["out"] = str(out)
    results["backends"] = {}
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-console-{os.getpid()}"
    try:
        checks.per_backend(args.backends, lambda b: run_backend(b, args, work), results, out)
    finally:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return checks.conclude(results, out, started, report)


if __name__ == "__main__":
    sys.exit(main())
