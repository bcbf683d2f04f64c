"""The latency budget of SIP-level enforcement (issue 15): what the gateway adds to a call's
set-up through Kamailio, how many calls/s one Kamailio + gateway pair sustains, and what the
proxy does while the gateway hangs.

    .venv/bin/python -m bench.sip [--backends sqlite,postgresql] [--quick]

The path is the one ``tests/sip`` drives (``cluster.sip``): a ``sipp`` UAC as the dialer →
Kamailio with ``integrations/kamailio`` (the check in ``async_workers``) → a ``sipp`` UAS as
the carrier, which answers 200 at once (``bench/sipp/uas_bench.xml``); the dialer hangs up at
once (``-d 0``), so every answered call also sends its outcome (``answered``, BYE) to the
gateway. Per backend: a fresh database seeded by ``bench.seed`` (5,000 consented callees,
BLOCTEL, 20,000 past attempts), ``gateway serve --workers 2`` with the clock frozen on a
Monday morning, and ``bench/sip_stub.py``, a stand-in that allows every call at once:

1. **Latency**: calls at a steady rate (default 50/s for 20 s after 1 s of warm-up) through
   Kamailio pointed at the stub, then at the real gateway, alternating over ``--rounds``
   (stub, gateway, gateway, stub…) so that the machine's noise weighs on both. INVITE →
   final response per call, from the timestamps of sipp's own message trace (``-trace_msg``,
   µs: the first INVITE sent → the first final response received for that Call-ID; sipp's
   ``rtd`` file counts whole milliseconds, too coarse here). p50/p90/p99/max of each, and
   what the gateway adds (gateway − stub at p50 and p99, and gateway / stub). The callees are
   the seed's consented ones that ``POST /v1/calls/evaluate`` allows, each called at most
   ``min(3, 4 − its counted attempts of the last 30 days)`` times (art. D223-9: 4 per 30
   days), so that every gateway call is allowed and reaches the carrier like a stub call.
   Finals are counted (200, 403, 503, other, none); a non-200 through the gateway is printed
   as a finding.
2. **Capacity**: offered rates stepped up (default 50, 100, 150, 200, 250, 300, 400, 600
   and 800 calls/s, 10 s each) until the first step that fails; a step passes when ≥ 99.5 %
   of its calls end in 200, the achieved rate (200s / time from the first INVITE to the last
   final) is ≥ 95 % of the offered one, and p99 < the 500 ms budget. For the gateway and for
   the stub (what Kamailio and sipp alone can do on this machine).
3. **A hung gateway** (once, no database): a stub that accepts connections and never answers;
   INVITEs at 20/s for 10 s while OPTIONS pings go to Kamailio every 20 ms. INVITE → 503
   latency should be the budget (500 ms), never much more; the OPTIONS round trip should stay
   at ~1 ms (the SIP workers never wait for the gateway). Again with one async worker: the
   INVITEs queue for it, but a queued check only waits for what is left of its budget (and
   gateway.py answers 503 without asking when none is left), so the wait stays the budget.

Figures: a table per phase and a summary; everything, with ``machine_busy`` before each
phase, in ``bench/results/sip-<timestamp>.json``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.checks import (
    FROZEN_NOW,
    PYTHON,
    RESULTS,
    ROOT,
    Server,
    Skip,
    begin_run,
    conclude,
    console,
    free_port,
    machine_busy,
    postgres_database,
    run_py,
    sqlite_database,
    write_results,
)
from cluster import die_with_parent, stop_group
from cluster.sip import (
    Kamailio,
    Sipp,
    free_udp_port,
    kamailio_binary,
    parse_trace,
    sip_options,
    sipp_binary,
)

SIPP_DIR = ROOT / "bench" / "sipp"
BUDGET_MS = 500  # GATEWAY_TIMEOUT_MS, the default of integrations/kamailio
FREQUENCY_LIMIT = 4  # art. D223-9: 4 attempts per consumer in 30 days
MAX_CALLS_PER_CALLEE = 3
PASS_OK_SHARE = 0.995
PASS_RATE_SHARE = 0.95
HUNG_RATE = 20.0


# --- processes ----------------------------------------------------------------------------


class Stub:
    """``bench/sip_stub.py`` on a free port (``hang``: accepts and never answers)."""

    def __init__(self, hang: bool = False) -> None:
        self.port = free_port()
        self.hang = hang
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Stub:
        cmd = [PYTHON, "-m", "bench.sip_stub", str(self.port)] + (["--hang"] if self.hang
                                                                    else [])
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, start_new_session=True,
                                     preexec_fn=die_with_parent)
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != b"ready":
            self.__exit__()
            raise RuntimeError("bench.sip_stub did not start")
        return self

    def __exit__(self, *_: object) -> None:
        stop_group(self.proc, grace=3.0)


@contextlib.contextmanager
def sip_path(work: Path, gateway_url: str, args: argparse.Namespace, key: str = "stub",
             campaign: str = "bench", check_workers: int | None = None) -> Iterator[Kamailio]:
    """Kamailio in front of a sipp UAS (the carrier, answering 200 at once), both stopped on
    exit."""
    carrier_port = free_udp_port()
    kamailio = Kamailio(
        work / "kamailio", gateway_url, f"sip:127.0.0.1:{carrier_port}",
        trunks={"*": {"name": "bench", "key": key, "campaign": campaign}},
        timeout_ms=args.timeout_ms, sip_workers=args.sip_workers,
        check_workers=check_workers or args.check_workers, shm_mb=args.shm_mb)
    uas = Sipp(work / "carrier", str(SIPP_DIR / "uas_bench.xml"), port=carrier_port)
    try:
        kamailio.start()
        uas.start()
        yield kamailio
    finally:
        uas.stop()
        kamailio.stop()


# --- one run of calls ---------------------------------------------------------------------


@dataclass
class Call:
    call_id: str
    sent: float  # the first INVITE, epoch s
    final: float | None = None  # the first final response to it
    status: int | None = None

    @property
    def ms(self) -> float | None:
        return None if self.final is None else (self.final - self.sent) * 1000


def parse_calls(trace: Path) -> list[Call]:
    """Per Call-ID, from a sipp ``-trace_msg`` file (``cluster.sip.parse_trace``): the first
    INVITE sent and the first final response to it received, with sipp's µs timestamps."""
    calls: dict[str, Call] = {}
    if not trace.exists():
        return []
    for m in parse_trace(trace.read_text(errors="replace")):
        call_id = m.header("Call-ID")
        if not call_id:
            continue
        if m.direction == "sent" and m.method == "INVITE":
            calls.setdefault(call_id, Call(call_id, m.at))
        elif m.direction == "received" and m.status is not None and m.cseq_method == "INVITE":
            call = calls.get(call_id)
            if m.status >= 200 and call is not None and call.final is None:
                call.final, call.status = m.at, m.status
    return sorted(calls.values(), key=lambda c: c.sent)


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    v = sorted(values)

    def rank(q: float) -> float:  # nearest rank
        return round(v[min(len(v) - 1, max(0, int(q * len(v) + 0.999999) - 1))], 3)

    return {"n": len(v), "p50": rank(0.50), "p90": rank(0.90), "p99": rank(0.99),
            "max": round(v[-1], 3), "mean": round(sum(v) / len(v), 3)}


def finals(calls: list[Call]) -> dict[str, int]:
    c = Counter("none" if x.status is None else
                {200: "200", 403: "403", 503: "503"}.get(x.status, "other") for x in calls)
    return {k: c.get(k, 0) for k in ("200", "403", "503", "other", "none")}


def summarize(calls: list[Call], warmup_s: float, rate: float) -> dict[str, Any]:
    """Latency of the calls placed after the warm-up, finals of all, the achieved rate."""
    if not calls:
        return {"calls": 0, "finals": finals([]), "latency_ms": percentiles([]),
                "achieved_per_s": 0.0, "offered_per_s": rate}
    start = calls[0].sent + warmup_s
    measured = [c for c in calls if c.sent >= start]
    ok = [c for c in measured if c.status == 200]
    ends = [c.final for c in measured if c.final is not None]
    span = (max(ends) - measured[0].sent) if measured and ends else 0.0
    others = Counter(c.status for c in calls if c.status not in (200, None))
    return {
        "calls": len(calls), "measured": len(measured), "finals": finals(calls),
        "finals_measured": finals(measured),
        "other_statuses": {str(k): v for k, v in others.items()},
        "latency_ms": percentiles([c.ms for c in measured if c.ms is not None]),
        "latency_ms_200": percentiles([c.ms for c in ok if c.ms is not None]),
        "offered_per_s": rate,
        "achieved_per_s": round(len(ok) / span, 1) if span > 0 else 0.0,
        "ok_share": round(len(ok) / len(measured), 4) if measured else 0.0,
    }


def run_calls(work: Path, kamailio: Kamailio, callees: list[str], rate: float,
              seed: dict[str, Any], label: str) -> list[Call]:
    """``len(callees)`` calls at ``rate`` calls/s through ``kamailio``; each call's timings."""
    work.mkdir(parents=True, exist_ok=True)
    inf = work / f"{label}-callees.csv"
    inf.write_text("SEQUENTIAL\n" + "".join(f"{c};\n" for c in callees))
    limit = max(200, int(rate * 4))  # up to 4 s of calls in flight before sipp holds back
    uac = Sipp(work / label, str(SIPP_DIR / "uac_bench.xml"),
               keys={"caller": seed["caller_id"], "campaign": seed["campaign"], "agent": ""},
               args=["-inf", str(inf), "-d", "0", "-r", str(int(rate)), "-rp", "1000",
                     "-m", str(len(callees)), "-l", str(limit), "-recv_timeout", "5000"])
    uac.run(f"127.0.0.1:{kamailio.port}", timeout=len(callees) / rate + 40)
    return parse_calls(uac.trace_path)


def wait_spool(kamailio: Kamailio, timeout: float) -> dict[str, Any]:
    """How long Kamailio took to hand the run's outcomes to the gateway after the last call."""
    t = time.monotonic()
    left = [n for n in kamailio.spooled() if n.endswith(".json")]
    at_end = len(left)
    while left and time.monotonic() - t < timeout:
        time.sleep(0.1)
        left = [n for n in kamailio.spooled() if n.endswith(".json")]
    return {"spooled_at_end": at_end, "drain_s": round(time.monotonic() - t, 2),
            "still_spooled": len(left)}


# --- callees ------------------------------------------------------------------------------


class Callees:
    """Consented callees the gateway allows, each with the calls it has left: handed out so
    that a callee's next call comes as late as possible."""

    def __init__(self) -> None:
        self.slots: list[str] = []
        self.taken = 0

    def fill(self, budgets: dict[str, int]) -> None:
        order = list(budgets)
        for k in range(1, MAX_CALLS_PER_CALLEE + 1):
            self.slots += [c for c in order if budgets[c] >= k]

    @property
    def left(self) -> int:
        return len(self.slots) - self.taken

    def take(self, n: int) -> list[str]:
        if n > self.left:
            raise LookupError(f"{n} callees wanted, {self.left} left")
        out = self.slots[self.taken:self.taken + n]
        self.taken += n
        return out


def used_last_30_days(url: str) -> Counter[str]:
    """Counted attempts per callee in the 30 days before the frozen instant (the seed's
    history)."""
    from sqlalchemy import create_engine, select

    from app.calls.models import Attempt

    frozen = datetime.fromisoformat(FROZEN_NOW)
    since = frozen - timedelta(days=30)
    table = Attempt.__table__
    engine = create_engine(url)
    used: Counter[str] = Counter()
    try:
        with engine.connect() as conn:
            for callee, at in conn.execute(select(table.c.callee, table.c.checked_at)
                                           .where(table.c.counted.is_(True))):
                if at.tzinfo is None:  # SQLite: naive, in UTC
                    at = at.replace(tzinfo=UTC)
                if at >= since:
                    used[callee] += 1
    finally:
        engine.dispose()
    return used


def allowed_callees(base_url: str, seed: dict[str, Any], url: str, wanted: int
                    ) -> tuple[Callees, dict[str, Any]]:
    """Evaluate the seed's consented callees (``POST /v1/calls/evaluate``: no side effects)
    until their calls left reach ``wanted``."""
    import httpx

    used = used_last_30_days(url)
    pool = list(seed["pools"]["consented"])
    budgets: dict[str, int] = {}
    stats: Counter[str] = Counter()
    headers = {"Authorization": f"Bearer {seed['key']}"}
    t = time.perf_counter()
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as http, \
            ThreadPoolExecutor(4) as ex:

        def evaluate(callee: str) -> tuple[str, str]:
            r = http.post("/v1/calls/evaluate", json={
                "campaign": seed["campaign"], "callee": callee, "caller_id": seed["caller_id"]})
            r.raise_for_status()
            return callee, r.json()["decision"]

        for i in range(0, len(pool), 200):
            for callee, decision in ex.map(evaluate, pool[i:i + 200]):
                stats[decision] += 1
                left = min(MAX_CALLS_PER_CALLEE, FREQUENCY_LIMIT - used[callee])
                if decision == "allow" and left > 0:
                    budgets[callee] = left
            if sum(budgets.values()) >= wanted:
                break
    callees = Callees()
    callees.fill(budgets)
    info = {"evaluated": sum(stats.values()), "decisions": dict(stats),
            "allowed_callees": len(budgets), "calls_available": len(callees.slots),
            "evaluate_s": round(time.perf_counter() - t, 1)}
    return callees, info


# --- the phases ---------------------------------------------------------------------------


def busy(record: dict[str, Any], args: argparse.Namespace) -> None:
    record["machine_busy_before"] = machine_busy(args.busy_s)


def ledger(db_url: str) -> Counter[str]:
    """The gateway's attempts logged by this run's checks (not the seed's history), by
    decision / counted or released / outcome."""
    from sqlalchemy import create_engine, func, select

    from app.calls.models import Attempt

    t = Attempt.__table__
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(t.c.decision, t.c.counted, t.c.outcome_status, func.count())
                .where(t.c.ruleset_version != "bench-history")
                .group_by(t.c.decision, t.c.counted, t.c.outcome_status)).all()
    finally:
        engine.dispose()
    return Counter({f"{d}/{'counted' if c else 'released'}/{o or 'no outcome'}": n
                    for d, c, o, n in rows})


def one_run(work: Path, mode: str, url: str, key: str, callees: list[str], rate: float,
            warmup_s: float, seed: dict[str, Any], args: argparse.Namespace, label: str,
            db_url: str | None = None) -> dict[str, Any]:
    """One Kamailio, one carrier, ``callees`` called at ``rate``; with ``db_url``, what the
    run left in the gateway's ledger (``phantom``: allowed, counted toward the frequency
    limit, never dialled nor reported — a check the proxy gave up on, that the gateway still
    completed)."""
    record: dict[str, Any] = {"mode": mode, "rate": rate}
    busy(record, args)
    before = ledger(db_url) if db_url else None
    with sip_path(work / label, url, args, key=key, campaign=seed["campaign"]) as kamailio:
        t = time.monotonic()
        calls = run_calls(work / label, kamailio, callees, rate, seed, "uac")
        record["wall_s"] = round(time.monotonic() - t, 2)
        if mode == "gateway":
            record["outcomes"] = wait_spool(kamailio, timeout=20)
        record.update(summarize(calls, warmup_s, rate))
        record["_latencies"] = [c.ms for c in calls if c.ms is not None
                                and c.sent >= calls[0].sent + warmup_s]
        if record["finals"]["200"] != record["calls"]:
            lines = [ln for ln in kamailio.log().splitlines() if "gateway: INVITE" in ln]
            record["gateway_errors"] = dict(Counter(map(_gateway_error, lines)))
            record["kamailio_log_warnings"] = lines[-5:]
            errors = Counter(re.sub(r"\d+", "#", ln.split("]: ", 1)[-1])[:120]
                             for ln in kamailio.log().splitlines() if " ERROR: " in ln)
            record["kamailio_errors"] = dict(errors.most_common(5))
    if db_url and before is not None:
        delta = ledger(db_url)
        delta.subtract(before)
        record["ledger"] = {k: v for k, v in delta.items() if v}
        record["phantom_attempts"] = delta.get("allow/counted/no outcome", 0)
    return record


_GW_ERROR = re.compile(r"gateway: INVITE \S+: (\w+): (.*?)(?:; answered 503)?$")


def _gateway_error(line: str) -> str:
    """Why gateway.py answered 503, from its log line: the code and the kind of wait."""
    m = _GW_ERROR.search(line)
    if not m:
        return "?"
    code, text = m.groups()
    kind = ("queued for a worker past the budget" if text.startswith("queued") else
            "allowed after the budget" if text.startswith("allowed after") else
            "timed out waiting" if "Timeout" in text else re.sub(r"\d", "#", text)[:40])
    return f"{code}: {kind}"


def latency_phase(work: Path, base_url: str, stub: Stub, callees: Callees,
                  seed: dict[str, Any], args: argparse.Namespace, db_url: str
                  ) -> dict[str, Any]:
    n = int(args.rate * (args.duration + args.warmup))
    runs: list[dict[str, Any]] = []
    for i in range(args.rounds):
        order = ["stub", "gateway"] if i % 2 == 0 else ["gateway", "stub"]
        for mode in order:
            if mode == "gateway":
                who, url, key = callees.take(n), base_url, seed["key"]
            else:  # the stub allows anyone: the same numbers as a gateway run would use
                who, url, key = (seed["pools"]["consented"] * 2)[:n], stub.url, "stub"
            r = one_run(work, mode, url, key, who, args.rate, args.warmup, seed, args,
                        f"latency-{i}-{mode}", db_url if mode == "gateway" else None)
            r["round"] = i
            runs.append(r)
            lat = r["latency_ms"]
            console.print(f"  round {i + 1} {mode:7}: {r['measured']} calls, p50 "
                          f"{_ms(lat['p50'])}, p99 {_ms(lat['p99'])}, max {_ms(lat['max'])} ms; "
                          f"finals {r['finals']} [dim](busy before: "
                          f"{r['machine_busy_before']} cores)[/dim]")
    out: dict[str, Any] = {"rate": args.rate, "duration_s": args.duration,
                           "warmup_s": args.warmup, "rounds": runs}
    for mode in ("stub", "gateway"):
        mine = [r for r in runs if r["mode"] == mode]
        out[mode] = {
            "latency_ms": percentiles([x for r in mine for x in r["_latencies"]]),
            "finals": {k: sum(r["finals"][k] for r in mine) for k in mine[0]["finals"]},
        }
    for r in runs:
        del r["_latencies"]
    s, g = out["stub"]["latency_ms"], out["gateway"]["latency_ms"]
    out["added_ms"] = {q: (round(g[q] - s[q], 3) if g[q] is not None and s[q] is not None
                           else None) for q in ("p50", "p90", "p99")}
    out["ratio"] = {q: (round(g[q] / s[q], 2) if g[q] and s[q] else None)
                    for q in ("p50", "p99")}
    return out


def step_passes(r: dict[str, Any], budget_ms: float) -> bool:
    p99 = r["latency_ms"]["p99"]
    return (r["ok_share"] >= PASS_OK_SHARE and r["achieved_per_s"] >= PASS_RATE_SHARE
            * r["offered_per_s"] and p99 is not None and p99 < budget_ms)


def capacity_phase(work: Path, mode: str, url: str, key: str, callees: Callees | None,
                   seed: dict[str, Any], args: argparse.Namespace, db_url: str = ""
                   ) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    sustained = None
    stopped = "every step passed"
    for rate in args.steps:
        n = int(rate * args.step_s)
        if callees is not None:
            if callees.left < n:
                stopped = f"callees exhausted ({callees.left} calls left, {n} needed)"
                console.print(f"  [yellow]{mode} {rate:.0f}/s: not run, {stopped}[/yellow]")
                break
            who = callees.take(n)
        else:
            who = (seed["pools"]["consented"] * (1 + n // len(seed["pools"]["consented"])))[:n]
        r = one_run(work, mode, url, key, who, rate, 0.0, seed, args,
                    f"capacity-{mode}-{rate:.0f}", db_url if callees is not None else None)
        del r["_latencies"]
        r["passed"] = step_passes(r, args.timeout_ms)
        steps.append(r)
        lat = r["latency_ms"]
        console.print(f"  {mode:7} {rate:5.0f}/s: achieved {r['achieved_per_s']:.0f}/s, "
                      f"200s {r['ok_share'] * 100:.1f} %, p50 {_ms(lat['p50'])}, p99 "
                      f"{_ms(lat['p99'])} ms"
                      + (f", {r['phantom_attempts']} phantom attempts"
                         if r.get("phantom_attempts") else "") + " → "
                      + ("[green]pass[/green]" if r["passed"] else "[red]fail[/red]")
                      + f" [dim](busy before: {r['machine_busy_before']} cores)[/dim]")
        if not r["passed"]:
            stopped = f"{rate:.0f}/s failed"
            break
        sustained = rate
    return {"mode": mode, "step_s": args.step_s, "steps": steps, "sustained_per_s": sustained,
            "stopped": stopped}


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"gw-bench-sip-{backend}-"))
    result: dict[str, Any] = {"backend": backend}
    try:
        db = sqlite_database(work) if backend == "sqlite" else postgres_database()
        with db as url, Stub() as stub:
            wanted = int(args.rounds * args.rate * (args.duration + args.warmup)
                         + sum(r * args.step_s for r in args.steps))
            # consented callees for every call of the run (each called at most 3 times), with
            # a margin for those the seed's history already used or the rules deny
            consents = max(5_000, math.ceil(wanted / MAX_CALLS_PER_CALLEE * 1.15))
            env = {**os.environ, "DATABASE_URL": url, "GATEWAY_FROZEN_NOW": FROZEN_NOW,
                   "GATEWAY_LOG_LEVEL": "warning", "BENCH_CONSENTS": str(consents),
                   "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics")}
            (work / "metrics").mkdir()
            t = time.perf_counter()
            seed_path = work / "seed.json"
            with console.status(f"{backend}: migrating and seeding…"):
                run_py("bench.seed", [str(seed_path)], env, timeout=300)
            seed = json.loads(seed_path.read_text())
            result["seed"] = {k: seed[k] for k in ("consents", "history_attempts", "timings")}
            console.print(f"[dim]{backend}: seeded in {time.perf_counter() - t:.1f} s[/dim]")
            server = Server(env, work)
            try:
                server.start()
                callees, info = allowed_callees(
                    f"http://127.0.0.1:{server.port}", seed, url, wanted)
                result["callees"] = info
                console.print(f"[dim]{backend}: {info['evaluated']} consented callees "
                              f"evaluated in {info['evaluate_s']} s, {info['allowed_callees']} "
                              f"allowed: {info['calls_available']} calls available[/dim]")
                gw = f"http://127.0.0.1:{server.port}"
                console.print(f"[bold]{backend}: latency at {args.rate:.0f} calls/s[/bold]")
                result["latency"] = latency_phase(work, gw, stub, callees, seed, args, url)
                console.print(f"[bold]{backend}: capacity[/bold]")
                result["capacity"] = {
                    "gateway": capacity_phase(work, "gateway", gw, seed["key"], callees,
                                              seed, args, url),
                    "stub": capacity_phase(work, "stub", stub.url, "stub", None, seed, args),
                }
            finally:
                result["server"] = {"stop": server.stop()}
                if server.log_path.exists():
                    result["server"]["log_errors"] = [
                        ln for ln in server.log_path.read_text(errors="replace").splitlines()
                        if "ERROR" in ln or "Traceback" in ln][:20]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def ping_loop(port: int, stop: threading.Event, every_s: float, out: list[float | None]
              ) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        status = sip_options(port, timeout=2.0)
        out.append((time.perf_counter() - t) * 1000 if status else None)
        stop.wait(max(0.0, every_s - (time.perf_counter() - t)))


def hung_phase(args: argparse.Namespace) -> dict[str, Any]:
    """INVITEs against a gateway that never answers, OPTIONS pings meanwhile."""
    work = Path(tempfile.mkdtemp(prefix="gw-bench-sip-hung-"))
    seed = {"caller_id": "+33162000001", "campaign": "bench"}
    callees = [f"+3361{i:07d}" for i in range(int(HUNG_RATE * args.hung_s))]
    out: dict[str, Any] = {"rate": HUNG_RATE, "duration_s": args.hung_s,
                           "budget_ms": args.timeout_ms, "variants": []}
    try:
        with Stub(hang=True) as stub:
            for workers in sorted({args.check_workers, 1}, reverse=True):
                record: dict[str, Any] = {"check_workers": workers}
                busy(record, args)
                with sip_path(work / f"w{workers}", stub.url, args,
                              check_workers=workers) as kamailio:
                    idle: list[float | None] = []
                    for _ in range(20):
                        t = time.perf_counter()
                        ok = sip_options(kamailio.port, timeout=2.0)
                        idle.append((time.perf_counter() - t) * 1000 if ok else None)
                    pings: list[float | None] = []
                    stop = threading.Event()
                    pinger = threading.Thread(target=ping_loop, daemon=True,
                                              args=(kamailio.port, stop, 0.02, pings))
                    pinger.start()
                    try:
                        calls = run_calls(work / f"w{workers}", kamailio, callees, HUNG_RATE,
                                          seed, "uac")
                    finally:
                        stop.set()
                        pinger.join(5)
                    record["gateway_errors"] = dict(Counter(
                        _gateway_error(ln) for ln in kamailio.log().splitlines()
                        if "gateway: INVITE" in ln))
                s = summarize(calls, 0.0, HUNG_RATE)
                record.update({
                    "calls": s["calls"], "finals": s["finals"],
                    "invite_to_503_ms": percentiles(
                        [c.ms for c in calls if c.status == 503 and c.ms is not None]),
                    "options_idle_ms": percentiles([x for x in idle if x is not None]),
                    "options_during_ms": percentiles([x for x in pings if x is not None]),
                    "options_lost": sum(1 for x in pings if x is None),
                })
                lat, op = record["invite_to_503_ms"], record["options_during_ms"]
                console.print(f"  {workers} async workers: {s['finals']['503']}/{s['calls']} "
                              f"INVITEs → 503, p50 {_ms(lat['p50'])}, p99 {_ms(lat['p99'])}, "
                              f"max {_ms(lat['max'])} ms; OPTIONS meanwhile p50 "
                              f"{_ms(op['p50'])}, p99 {_ms(op['p99'])} ms "
                              f"({op['n']} pings, {record['options_lost']} lost); "
                              + ", ".join(f"{k} ×{v}" for k, v in
                                          record["gateway_errors"].items()))
                out["variants"].append(record)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


# --- report -------------------------------------------------------------------------------


def _ms(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.2f}" if v < 1 else f"{v:.1f}" if v < 100 else f"{v:.0f}"


def findings(results: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for name, r in results["backends"].items():
        lat = r.get("latency")
        if lat:
            for run in lat["rounds"]:
                if run["mode"] == "gateway" and run["finals"]["200"] != run["calls"]:
                    out.append(f"{name}: latency round {run['round'] + 1} through the gateway: "
                               f"{run['calls'] - run['finals']['200']} of {run['calls']} calls "
                               f"not 200 ({run['finals']}, {run.get('other_statuses')})")
                if run.get("outcomes", {}).get("still_spooled"):
                    out.append(f"{name}: {run['outcomes']['still_spooled']} outcomes still "
                               "spooled 20 s after the calls")
        for mode, cap in (r.get("capacity") or {}).items():
            steps = cap["steps"]
            for step in steps:
                rate = f"{step['offered_per_s']:.0f}/s"
                if step.get("phantom_attempts"):
                    out.append(f"{name}: {mode} at {rate}: {step['phantom_attempts']} attempts "
                               "allowed and counted toward the frequency limit but never "
                               "dialled when the ledger was read (checks the proxy gave up "
                               "on at the budget, completed by the gateway all the same; the "
                               "proxy releases them — not_dialed — once its outcome spool "
                               "gets to them)")
                spool = step.get("outcomes") or {}
                if spool.get("spooled_at_end", 0) > 0.25 * step["calls"]:
                    out.append(f"{name}: {mode} at {rate}: outcome reporting falls behind: "
                               f"{spool['spooled_at_end']} of {step['calls']} outcomes still "
                               f"spooled when the calls stopped, posted {spool['drain_s']} s "
                               "later (kamailio.cfg's four rtimer processes post them)")
                if step.get("kamailio_errors"):
                    first = next(iter(step["kamailio_errors"]))
                    out.append(f"{name}: {mode} at {rate}: Kamailio errors, e.g. {first!r} "
                               f"(finals {step['finals']})")
            if len(steps) >= 2 and not steps[-1]["passed"] and (
                    steps[-1]["achieved_per_s"] < 0.5 * steps[-2]["achieved_per_s"]):
                out.append(f"{name}: {mode}: above capacity the 200s collapse, "
                           f"{steps[-2]['achieved_per_s']:.0f}/s at "
                           f"{steps[-2]['offered_per_s']:.0f}/s offered → "
                           f"{steps[-1]['achieved_per_s']:.0f}/s at "
                           f"{steps[-1]['offered_per_s']:.0f}/s "
                           f"({steps[-1].get('gateway_errors')})")
    hung = results.get("hung") or {}
    for v in hung.get("variants", []):
        lat = v["invite_to_503_ms"]
        if v["finals"]["503"] != v["calls"]:
            out.append(f"hung gateway, {v['check_workers']} workers: finals {v['finals']}, "
                       "expected every INVITE to end 503")
        if lat["max"] is not None and lat["max"] > 2 * hung["budget_ms"]:
            out.append(f"hung gateway, {v['check_workers']} workers: INVITE → 503 up to "
                       f"{lat['max']:.0f} ms, over twice the {hung['budget_ms']} ms budget")
        op = v["options_during_ms"]
        if v["options_lost"] or (op["p99"] or 0) > 50:
            out.append(f"hung gateway, {v['check_workers']} workers: OPTIONS p99 "
                       f"{_ms(op['p99'])} ms, {v['options_lost']} lost: the SIP workers "
                       "waited")
    return out


def report(results: dict[str, Any]) -> bool:
    ok = True
    t = Table(title=f"INVITE → final response through Kamailio (sipp -trace_msg timestamps), "
                    f"{results['config']['rate']:.0f} calls/s, ms")
    for col in ("backend", "path", "calls (measured)", "p50", "p90", "p99", "max", "200", "403",
                "503", "other/none"):
        t.add_column(col, justify="right")
    for name, r in results["backends"].items():
        if "latency" not in r:
            ok = ok and "skipped" in r
            t.add_row(name, "[red]" + (r.get("skipped") or r.get("error", "?"))[:70] + "[/red]")
            continue
        lat = r["latency"]
        for mode in ("stub", "gateway"):
            q, f = lat[mode]["latency_ms"], lat[mode]["finals"]
            t.add_row(name, mode, f"{sum(f.values())} ({q['n']})", _ms(q["p50"]),
                      _ms(q["p90"]), _ms(q["p99"]), _ms(q["max"]), str(f["200"]),
                      str(f["403"]), str(f["503"]),
                      f"{f['other']}/{f['none']}")
        a, x = lat["added_ms"], lat["ratio"]
        t.add_row(name, "[bold]added[/bold]", "", _ms(a["p50"]), _ms(a["p90"]), _ms(a["p99"]),
                  "", f"× {x['p50']} at p50", f"× {x['p99']} at p99", "", "")
    console.print(t)
    c = Table(title="Calls/s sustained (≥ 99.5 % 200, ≥ 95 % of the offered rate, "
                    f"p99 < {results['config']['timeout_ms']} ms)")
    for col in ("backend", "path", "sustained calls/s", "steps (offered → achieved, p99 ms)",
                "stopped", "why not 200 (last step)", "outcomes spooled (drain s)"):
        c.add_column(col)
    for name, r in results["backends"].items():
        for mode, cap in (r.get("capacity") or {}).items():
            steps = ", ".join(f"{s['offered_per_s']:.0f}→{s['achieved_per_s']:.0f} "
                              f"({_ms(s['latency_ms']['p99'])})" for s in cap["steps"])
            last = cap["steps"][-1] if cap["steps"] else {}
            why = ", ".join(f"{k} ×{v}" for k, v in (last.get("gateway_errors") or {}).items())
            spool = last.get("outcomes")
            top = f"{cap['sustained_per_s'] or 0:.0f}"
            c.add_row(name, mode, f"≥ {top}" if cap["stopped"] == "every step passed" else top,
                      steps, cap["stopped"],
                      why or "—", f"{spool['spooled_at_end']} ({spool['drain_s']})"
                      if spool else "—")
    console.print(c)
    hung = results.get("hung")
    if hung and "variants" in hung:
        h = Table(title=f"A hung gateway: INVITEs at {hung['rate']:.0f}/s, OPTIONS every 20 ms "
                        f"(budget {hung['budget_ms']} ms), ms")
        for col in ("async workers", "INVITEs", "503", "→503 p50", "p99", "max",
                    "OPTIONS idle p50", "OPTIONS during p50", "p99", "max", "lost"):
            h.add_column(col, justify="right")
        for v in hung["variants"]:
            q, o, i = v["invite_to_503_ms"], v["options_during_ms"], v["options_idle_ms"]
            h.add_row(str(v["check_workers"]), str(v["calls"]), str(v["finals"]["503"]),
                      _ms(q["p50"]), _ms(q["p99"]), _ms(q["max"]), _ms(i["p50"]),
                      _ms(o["p50"]), _ms(o["p99"]), _ms(o["max"]), str(v["options_lost"]))
        console.print(h)
    elif hung:
        ok = False
        console.print(f"[red]hung gateway phase: {hung.get('error')}[/red]")
    results["findings"] = findings(results)
    for f in results["findings"]:
        console.print(f"[yellow]finding:[/yellow] {f}")
    if any("error" in r for r in results["backends"].values()):
        ok = False
    return ok


# --- entry --------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.sip", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="sqlite,postgresql",
                    help="comma-separated: sqlite, postgresql (default both)")
    ap.add_argument("--rate", type=float, default=50.0, help="latency phase: calls/s")
    ap.add_argument("--duration", type=float, default=20.0, help="latency phase: seconds "
                    "measured per run (after --warmup)")
    ap.add_argument("--warmup", type=float, default=1.0, help="latency phase: warm-up, s")
    ap.add_argument("--rounds", type=int, default=2,
                    help="latency phase: stub/gateway rounds, order alternating (default 2)")
    ap.add_argument("--steps", default="50,100,200,300,400,500,600,800",
                    help="capacity phase: offered calls/s, comma-separated")
    ap.add_argument("--step-s", type=float, default=10.0, help="capacity phase: s per step")
    ap.add_argument("--hung-s", type=float, default=10.0,
                    help="hung-gateway phase: seconds of INVITEs at 20/s (0: skip)")
    ap.add_argument("--timeout-ms", type=int, default=BUDGET_MS,
                    help="Kamailio's GATEWAY_TIMEOUT_MS, the budget (default 500)")
    ap.add_argument("--sip-workers", type=int, default=4, help="Kamailio SIP workers")
    ap.add_argument("--check-workers", type=int, default=8, help="Kamailio async workers")
    ap.add_argument("--shm-mb", type=int, default=256,
                    help="Kamailio's shared memory, MB (-m, default 256; 0: Kamailio's own "
                    "default, 64, which runs out near 600 calls/s)")
    ap.add_argument("--out", type=Path, help="results file (default bench/results/sip-….json)")
    ap.add_argument("--quick", action="store_true", help="short windows (a ~1-minute smoke run)")
    if "--quick" in argv:  # shorter defaults; options given explicitly still win
        ap.set_defaults(duration=3.0, rounds=1, step_s=3.0, hung_s=3.0, steps="50,100")
    args = ap.parse_args(argv)
    args.steps = [float(x) for x in str(args.steps).split(",") if x.strip()]
    args.busy_s = 0.3 if args.quick else 1.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results = begin_run("bench.sip", argv, args, frozen_now=FROZEN_NOW, budget_ms=args.timeout_ms,
                        latency_source="sipp -trace_msg timestamps (µs): first INVITE sent → "
                        "first final response received, per Call-ID", backends={})
    results["config"]["steps"] = args.steps
    results["config"]["out"] = str(args.out) if args.out else None
    started = time.perf_counter()
    out = args.out or RESULTS / f"sip-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    missing = [n for n, b in (("kamailio", kamailio_binary()), ("sipp", sipp_binary())) if not b]
    if missing:
        console.print(f"[red]{', '.join(missing)} not installed (Debian: kamailio, "
                      "kamailio-python3-modules, sip-tester)[/red]")
        return 2
    busy_before = results["machine"]["busy_cores_before"] = machine_busy()
    if busy_before > 0.3:
        console.print(f"[yellow]warning: the machine is already busy ({busy_before} of "
                      f"{os.cpu_count()} cores): figures will be noisier[/yellow]")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        console.rule(f"[bold]{backend}")
        try:
            results["backends"][backend] = run_backend(backend, args)
        except Skip as exc:
            results["backends"][backend] = {"backend": backend, "skipped": str(exc)}
            console.print(f"[yellow]{backend} skipped: {exc}[/yellow]")
        except Exception as exc:  # recorded; the next backend still runs
            results["backends"][backend] = {"backend": backend,
                                            "error": f"{type(exc).__name__}: {exc}",
                                            "traceback": traceback.format_exc()}
            console.print(f"[red]{backend} failed:[/red]\n{traceback.format_exc()}")
        write_results(results, out)
    if args.hung_s > 0:
        console.rule("[bold]a hung gateway")
        try:
            results["hung"] = hung_phase(args)
        except Exception as exc:
            results["hung"] = {"error": f"{type(exc).__name__}: {exc}",
                               "traceback": traceback.format_exc()}
            console.print(f"[red]hung gateway phase failed:[/red]\n{traceback.format_exc()}")
        write_results(results, out)
    console.rule()
    return conclude(results, out, started, report)


if __name__ == "__main__":
    sys.exit(main())
