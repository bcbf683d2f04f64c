"""A small, efficient HTTP/1.1 keep-alive load generator, run in its own process.

    python -m bench.loadgen PLAN.json OUT.json

Raw asyncio (a ``Protocol`` per connection on uvloop, no client library): every request's bytes
are built before the timed part of a phase, a response is parsed from the socket buffer with
``bytes.find`` and its ``Content-Length``. Two kinds of phase:

* ``closed``: N connections, each sends its next request as soon as the previous answer is in;
  throughput = answers completed inside the measurement window / window length.
* ``open``: requests are *scheduled* on a clock at a fixed rate and queued for the next free
  connection; latency runs from the scheduled send time, so a stalled server cannot hide its
  stall by slowing the generator down (no coordinated omission).

Every answer is checked (status 200; for a check, a JSON body with ``decision`` allow|deny).
The plan format is built by ``bench.checks``.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import resource
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

perf = time.perf_counter
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- HTTP/1.1 over a raw asyncio protocol ------------------------------------------------------


class HttpError(Exception):
    pass


def _parse_chunked(buf: bytearray, pos: int) -> tuple[bytes, int] | None:
    """(body, end offset) of a complete chunked body starting at ``pos``, or None if partial."""
    out = bytearray()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";", 1)[0], 16)
        if size == 0:
            end = buf.find(b"\r\n\r\n", eol)  # optional trailers, then an empty line
            if eol + 2 <= len(buf) and buf[eol + 2 : eol + 4] == b"\r\n":
                return bytes(out), eol + 4
            return (bytes(out), end + 4) if end >= 0 else None
        start = eol + 2
        if len(buf) < start + size + 2:
            return None
        out += buf[start : start + size]
        pos = start + size + 2


class Connection(asyncio.Protocol):
    """One keep-alive connection; one request in flight at a time (no pipelining)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is not None:
            self._parse()

    def _parse(self) -> None:
        buf = self.buf
        idx = buf.find(b"\r\n\r\n")
        if idx < 0:
            return
        head = bytes(buf[:idx]).lower()
        start = idx + 4
        try:
            status = int(head[9:12])
            j = head.find(b"\r\ncontent-length:")
            if j >= 0:
                e = head.find(b"\r\n", j + 17)
                end = start + int(head[j + 17 : e if e >= 0 else len(head)])
                if len(buf) < end:
                    return
                body = bytes(buf[start:end])
            elif b"\r\ntransfer-encoding: chunked" in head:
                parsed = _parse_chunked(buf, start)
                if parsed is None:
                    return
                body, end = parsed
            else:
                raise HttpError("response with neither content-length nor chunked encoding")
        except (ValueError, HttpError) as exc:
            self._fail(HttpError(f"bad response: {exc}"))
            if self.transport is not None:
                self.transport.close()
            return
        del buf[:end]
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, body, b"\r\nconnection: close" in head))

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(ConnectionError(f"connection lost ({exc or 'closed by server'})"))

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes, bool]]:
        if self.lost or self.transport is None:
            raise ConnectionError("connection is closed")
        fut = asyncio.get_running_loop().create_future()
        self.waiter = fut
        self.transport.write(data)
        return fut

    def close(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.close()


async def connect(host: str, port: int) -> Connection:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(Connection, host, port)
    return proto


# --- request bytes -------------------------------------------------------------------------


class Requests:
    """Pre-built request bytes, consumed in order; built on the fly only if the pool runs out."""

    def __init__(self, build: Callable[[int], bytes], prebuild: int, constant: bool = False
                 ) -> None:
        self._build = build
        self._pool = [build(i) for i in range(prebuild)]
        self._i = 0
        self._constant = constant
        self.built_late = 0

    def next(self) -> bytes:
        i = self._i
        self._i = i + 1
        if self._constant:
            return self._pool[0]
        if i < len(self._pool):
            return self._pool[i]
        self.built_late += 1
        return self._build(i)

    @property
    def used(self) -> int:
        return self._i


def _head(method: str, path: str, host: str, headers: dict[str, str], length: int | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _french_forms(e164: str, rng: random.Random) -> str:
    """The same French number as a dialer might send it."""
    nsn = e164[3:]
    pairs = " ".join(nsn[i : i + 2] for i in range(1, len(nsn), 2))
    form = rng.randrange(6)
    if form == 0:
        return e164
    if form == 1:
        return f"0{nsn[0]} {pairs}"
    if form == 2:
        return "0" + nsn
    if form == 3:
        return f"+33 {nsn[0]} {pairs}"
    if form == 4:
        return "0033" + nsn
    return f"0{nsn[0]}.{pairs.replace(' ', '.')}"


SPECIAL = ["08 99 23 45 67", "08 00 12 34 56", "3949", "+44 20 7946 0958", "+1 212 555 0147",
           "+32 2 555 12 12", "08 25 12 34 56"]
INVALID = ["06 12 34", "not a number", "+33 6 12", "0000000000", "12", "06 12 34 56 78 90 12"]


def callee_mix(pools: dict[str, list[str]], rng: random.Random) -> tuple[str, str]:
    """(category, callee as sent). Categories and weights are documented in bench/README.md."""
    r = rng.random()
    if r < 0.55:
        return "consented", _french_forms(rng.choice(pools["consented"]), rng)
    if r < 0.63:
        return "bloctel", _french_forms(rng.choice(pools["bloctel"]), rng)
    if r < 0.93:  # a fresh number each time: not consented, never seen (cold classify cache)
        if rng.random() < 0.7:
            e164 = f"+33{rng.choice('67')}{rng.randrange(10_000_000, 100_000_000)}"
            if e164[3] == "7" and e164[4] in "012":
                e164 = e164[:4] + "5" + e164[5:]
        else:
            e164 = f"+33{rng.choice('12345')}{rng.randrange(10_000_000, 100_000_000)}"
        return "fresh", _french_forms(e164, rng)
    if r < 0.98:
        return "special", rng.choice(SPECIAL)
    return "invalid", rng.choice(INVALID)


def build_source(target: dict[str, Any], phase: dict[str, Any], host: str, prebuild: int
                 ) -> Requests:
    if target["kind"] == "healthz":
        data = _head("GET", "/healthz", host, {}, None)
        return Requests(lambda i: data, 1, constant=True)
    rng = random.Random(f"{target['seed']}/{phase['name']}")
    prefix = f"{target['run_id']}-{phase['name']}"
    headers = {"Authorization": f"Bearer {target['key']}", "Content-Type": "application/json"}
    pools = target["pools"]

    def build(i: int) -> bytes:
        _, callee = callee_mix(pools, rng)
        body = orjson.dumps({
            "campaign": target["campaign"], "callee": callee, "caller_id": target["caller_id"],
            "external_id": f"{prefix}-{i}",
        })
        return _head("POST", "/v1/calls/check", host, headers, len(body)) + body

    return Requests(build, prebuild)


# --- measurement ----------------------------------------------------------------------------


class Stats:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.lat = array("d")
        self.send_lag = array("d")
        self.status: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.bad_bodies = 0
        self.decisions: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.replayed = 0
        self.samples: list[str] = []
        self.warmup_problems = 0

    def check(self, status: int, body: bytes, record: bool) -> None:
        ok = status == 200
        if ok:
            if self.kind == "healthz":
                ok = body == b'{"status":"ok"}'
            else:
                try:
                    doc = orjson.loads(body)
                    decision = doc["decision"]
                    ok = decision in ("allow", "deny") and bool(doc.get("attempt_id"))
                except (ValueError, KeyError, TypeError):
                    ok = False
                if ok and record:
                    self.decisions[decision] += 1
                    for r in doc["reasons"]:
                        self.reasons[f"{r['code']}:{r['severity']}"] += 1
                    if doc.get("replayed"):
                        self.replayed += 1
        if not record:
            self.warmup_problems += not ok
            return
        self.status[status] += 1
        if not ok:
            if status == 200:
                self.bad_bodies += 1
            if len(self.samples) < 5:
                self.samples.append(f"{status} {body[:300]!r}")

    def error(self, exc: BaseException, record: bool) -> None:
        if not record:
            self.warmup_problems += 1
            return
        self.errors[type(exc).__name__] += 1
        if len(self.samples) < 5:
            self.samples.append(f"{type(exc).__name__}: {exc}")

    def summary(self, window: float) -> dict[str, Any]:
        lat = sorted(self.lat)
        n = len(lat)

        def pct(q: float, xs: list[float] = lat) -> float | None:
            if not xs:
                return None
            return round(xs[min(len(xs) - 1, int(q * len(xs)))] * 1000, 3)

        non200 = sum(c for s, c in self.status.items() if s != 200)
        out: dict[str, Any] = {
            "completed": n,
            "window_s": round(window, 3),
            "rps": round(n / window, 1) if window > 0 else None,
            "ok": self.status.get(200, 0) - self.bad_bodies,
            "non_200": non200,
            "bad_bodies": self.bad_bodies,
            "transport_errors": sum(self.errors.values()),
            "errors_total": non200 + self.bad_bodies + sum(self.errors.values()),
            "status_counts": {str(k): v for k, v in sorted(self.status.items())},
            "error_kinds": dict(self.errors),
            "warmup_problems": self.warmup_problems,
            "samples": self.samples,
            "latency_ms": {
                "mean": round(sum(lat) / n * 1000, 3) if n else None,
                "p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99), "p999": pct(0.999),
                "max": round(lat[-1] * 1000, 3) if n else None,
            },
        }
        if self.kind == "check":
            out["decisions"] = dict(self.decisions)
            out["reasons"] = dict(self.reasons.most_common())
            out["replayed"] = self.replayed
        if self.send_lag:
            lag = sorted(self.send_lag)
            out["send_lag_ms"] = {"p50": pct(0.5, lag), "p99": pct(0.99, lag),
                                  "max": round(lag[-1] * 1000, 3)}
        return out


def _proc_cpu(pid: int, children: bool = False) -> float | None:
    """utime + stime of a process (+ its reaped children's, for PostgreSQL's postmaster)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        used = int(fields[11]) + int(fields[12])
        if children:
            used += int(fields[13]) + int(fields[14])
        return used / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def _ctx_switches(pid: int) -> int:
    """Voluntary + involuntary context switches of every thread of a process."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/status", "rb") as f:
                for line in f:
                    if line.startswith((b"voluntary_ctxt", b"nonvoluntary_ctxt")):
                        total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total


def postgres_pids() -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/comm", "rb") as f:
                    if f.read().strip() == b"postgres":
                        out.append(int(name))
            except OSError:
                pass
    return out


class CpuMeter:
    """What the window cost, from /proc: CPU of the machine, of this process, of the server
    workers and of PostgreSQL (every backend, including the short-lived ones: a backend that
    exits is reaped by the postmaster, whose children's time then includes it); the workers'
    context switches; PostgreSQL sessions opened (``pg_stat_database.sessions``)."""

    def __init__(self, workers: list[int], pg: dict[str, str] | None) -> None:
        self.workers = workers
        self.pg = pg
        self._pg_conn: Any = None
        if pg:
            try:
                import psycopg

                self._pg_conn = psycopg.connect(pg["dsn"], autocommit=True, connect_timeout=3)
            except Exception:  # the figures are extras: no PostgreSQL stats then
                self._pg_conn = None

    def refresh(self) -> None:  # kept for callers; every snapshot rescans /proc now
        pass

    def _postgres_cpu(self) -> float:
        return sum(_proc_cpu(p, children=True) or 0.0 for p in postgres_pids())

    def _pg_sessions(self) -> int | None:
        if self._pg_conn is None or self.pg is None:
            return None
        try:
            row = self._pg_conn.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = %s", (self.pg["db"],)
            ).fetchone()
            return int(row[0]) if row else None
        except Exception:
            return None

    def snap(self) -> dict[str, Any]:
        with open("/proc/stat", "rb") as f:
            cpu = [int(x) for x in f.readline().split()[1:]]
        idle = cpu[3] + cpu[4]
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "wall": perf(),
            "busy": (sum(cpu[:8]) - idle) / CLK_TCK,
            "loadgen": ru.ru_utime + ru.ru_stime,
            "workers": {p: _proc_cpu(p) for p in self.workers},
            "ctx": sum(_ctx_switches(p) for p in self.workers),
            "postgres": self._postgres_cpu() if self.pg else 0.0,
            "pg_sessions": self._pg_sessions(),
        }

    @staticmethod
    def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float | None]:
        wall = b["wall"] - a["wall"]
        workers = sum(max(0.0, b["workers"][p] - a["workers"][p]) for p in a["workers"]
                      if a["workers"][p] is not None and b["workers"].get(p) is not None)
        out: dict[str, float | None] = {
            "machine_busy_cores": round((b["busy"] - a["busy"]) / wall, 2),
            "loadgen_cores": round((b["loadgen"] - a["loadgen"]) / wall, 2),
            "workers_cores": round(workers / wall, 2),
            "postgres_cores": round(max(0.0, b["postgres"] - a["postgres"]) / wall, 2),
            "worker_ctx_switches_per_s": round((b["ctx"] - a["ctx"]) / wall),
            "pg_sessions_opened_per_s": (
                round((b["pg_sessions"] - a["pg_sessions"]) / wall, 1)
                if a["pg_sessions"] is not None and b["pg_sessions"] is not None else None),
        }
        out["other_cores"] = round(max(0.0, out["machine_busy_cores"] - out["loadgen_cores"]
                                       - out["workers_cores"] - out["postgres_cores"]), 2)
        return out


async def _sleep_until(t: float) -> None:
    d = t - perf()
    if d > 0:
        await asyncio.sleep(d)


async def run_closed(host: str, port: int, src: Requests, kind: str, phase: dict[str, Any],
                     meter: CpuMeter) -> dict[str, Any]:
    conns = [await connect(host, port) for _ in range(phase["connections"])]
    stats = Stats(kind)
    t_start = perf()
    t_measure = t_start + phase["warmup_s"]
    t_end = t_measure + phase["duration_s"]
    snaps: list[dict[str, float]] = []

    async def snapper() -> None:
        await _sleep_until(t_measure)
        meter.refresh()
        snaps.append(meter.snap())
        await _sleep_until(t_end)
        snaps.append(meter.snap())

    async def worker(conn: Connection) -> None:
        while True:
            t0 = perf()
            if t0 >= t_end:
                conn.close()
                return
            data = src.next()
            try:
                status, body, close = await conn.request(data)
            except Exception as exc:
                t1 = perf()
                stats.error(exc, t_measure <= t1 <= t_end)
                conn.close()
                await asyncio.sleep(0.01)
                conn = await connect(host, port)
                continue
            t1 = perf()
            record = t_measure <= t1 <= t_end
            if record:
                stats.lat.append(t1 - t0)
            stats.check(status, body, record)
            if close or conn.lost:
                conn.close()
                conn = await connect(host, port)

    tasks = [asyncio.ensure_future(snapper())]
    tasks += [asyncio.ensure_future(worker(c)) for c in conns]
    _, pending = await asyncio.wait(tasks, timeout=t_end + 5.0 - perf())
    for t in pending:  # a request stuck for 5 s after the window: give up on it
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for c in conns:
        c.close()
    out = stats.summary(phase["duration_s"])
    out["stuck_at_end"] = len(pending)
    out["cpu"] = CpuMeter.delta(*snaps)
    return out


async def run_open(host: str, port: int, src: Requests, kind: str, phase: dict[str, Any],
                   meter: CpuMeter) -> dict[str, Any]:
    conns = [await connect(host, port) for _ in range(phase["connections"])]
    stats = Stats(kind)
    rate = float(phase["rate"])
    n = int(round((phase["warmup_s"] + phase["duration_s"]) * rate))
    # pre-build this phase's requests now, outside the timed part
    batch = [src.next() for _ in range(n)]
    meter.refresh()
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    t_start = perf() + 0.05
    t_measure = t_start + phase["warmup_s"]
    t_end = t_start + n / rate
    # an overloaded server would make the queue drain for minutes: stop waiting at the
    # deadline and count what is unanswered with its waiting time so far (a lower bound)
    deadline = t_end + phase.get("grace_s", 3.0)
    max_queue = 0
    snaps: list[dict[str, float]] = []
    in_flight: dict[int, float] = {}
    done_in_window = 0

    async def scheduler() -> None:
        nonlocal max_queue
        for i in range(n):
            ts = t_start + i / rate
            if not snaps and ts >= t_measure:
                snaps.append(meter.snap())
            d = ts - perf()
            if d > 0:
                await asyncio.sleep(d)
            queue.put_nowait((ts, batch[i]))
            max_queue = max(max_queue, queue.qsize())
        for _ in conns:
            queue.put_nowait(None)
        await _sleep_until(t_end)
        snaps.append(meter.snap())

    async def worker(slot: int, conn: Connection) -> None:
        nonlocal done_in_window
        while True:
            item = await queue.get()
            if item is None:
                conn.close()
                return
            ts, data = item
            record = ts >= t_measure
            t_send = perf()
            in_flight[slot] = ts
            try:
                status, body, close = await conn.request(data)
            except Exception as exc:
                in_flight.pop(slot, None)
                stats.error(exc, record)
                conn.close()
                conn = await connect(host, port)
                continue
            in_flight.pop(slot, None)
            t1 = perf()
            if t_measure <= t1 <= t_end:
                done_in_window += 1
            if record:
                stats.lat.append(t1 - ts)
                stats.send_lag.append(t_send - ts)
            stats.check(status, body, record)
            if close or conn.lost:
                conn.close()
                conn = await connect(host, port)

    tasks = [asyncio.ensure_future(scheduler())]
    tasks += [asyncio.ensure_future(worker(i, c)) for i, c in enumerate(conns)]
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - perf()))
    unanswered = list(in_flight.values())
    while not queue.empty():
        item = queue.get_nowait()
        if item is not None:
            unanswered.append(item[0])
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for c in conns:
        c.close()
    cut = perf()
    late = [ts for ts in unanswered if ts >= t_measure]
    stats.lat.extend(cut - ts for ts in late)
    if len(snaps) < 2:
        snaps.append(meter.snap())
    window = t_end - t_measure
    out = stats.summary(window)
    out["completed"] -= len(late)
    out["rps"] = round(done_in_window / window, 1)  # answers that arrived inside the window
    out["unanswered_at_deadline"] = len(late)
    out["latency_is_lower_bound"] = bool(late)
    out["offered_rps"] = rate
    out["max_queue"] = max_queue
    out["cpu"] = CpuMeter.delta(*snaps)
    return out


async def run_plan(plan: dict[str, Any]) -> dict[str, Any]:
    host, port = plan["host"], plan["port"]
    hostport = f"{host}:{port}"
    meter = CpuMeter(plan.get("worker_pids", []), plan.get("postgres"))
    results: dict[str, Any] = {}
    for phase in plan["phases"]:
        target = plan["targets"][phase["target"]]
        if phase["kind"] == "closed":
            prebuild = 1 if target["kind"] == "healthz" else phase.get("prebuild", 40_000)
        else:
            prebuild = 1 if target["kind"] == "healthz" else int(
                (phase["warmup_s"] + phase["duration_s"]) * phase["rate"]) + 10
        src = build_source(target, phase, hostport, prebuild)
        runner = run_closed if phase["kind"] == "closed" else run_open
        out = await runner(host, port, src, target["kind"], phase, meter)
        out.update(kind=phase["kind"], target=phase["target"], sent=src.used,
                   built_late=src.built_late)
        if phase["kind"] == "closed":
            out["connections"] = phase["connections"]
        results[phase["name"]] = out
        print(f"[loadgen] {phase['name']}: {out['rps']} req/s, errors {out['errors_total']}, "
              f"p50 {out['latency_ms']['p50']} ms, p99 {out['latency_ms']['p99']} ms",
              file=sys.stderr, flush=True)
        await asyncio.sleep(phase.get("pause_s", 0.5))
    return results


def main(argv: list[str]) -> int:
    plan_path, out_path = argv
    with open(plan_path) as f:
        plan = json.load(f)
    try:
        import uvloop

        run = uvloop.run
    except (ImportError, AttributeError):  # plain asyncio still works, a little slower
        run = asyncio.run
    results = run(run_plan(plan))
    with open(out_path, "w") as f:
        json.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
