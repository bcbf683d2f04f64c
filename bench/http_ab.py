"""Worker CPU per request through the whole HTTP stack, in one process, without sockets.

    .venv/bin/python -m bench.http_ab [--backend sqlite|postgresql] [--baseline REF]
                                      [--profile] [--rounds 3] [--block 400]

What a ``gateway serve`` worker runs for one request, minus the socket system calls and the
event loop's polling: uvicorn's ``HttpToolsProtocol`` (httptools parse, the ASGI cycle,
response writing) in front of ``app.main:app`` (``GatewayHTTP``, FastAPI, the route, the
service, the metrics in Prometheus multiprocess mode as under ``--workers 2``), fed the same
raw request bytes as ``bench.loadgen`` sends (the benchmark's callee mix, a unique
``external_id`` each) through a fake transport on a uvloop event loop, one request at a time.
Per request: the event-loop thread's CPU (``time.thread_time``; the service runs inline in the
loop, nothing is offloaded) for ``POST /v1/calls/check`` and, in alternating blocks, for
``GET /healthz`` (the HTTP stack's floor).

* Without ``--baseline``: one child process on this tree; the table gives µs of CPU per check
  and per healthz, and their ratio.
* ``--baseline REF``: the same child on commit ``REF`` (``git archive`` into a temporary
  directory, first on ``PYTHONPATH``), alternating with this tree process by process
  (baseline, current, current, baseline, …: ``--rounds`` pairs), every child on the same
  seeded database; the table gives each side's median and **current / baseline** — a
  same-run ratio, which is what to compare on a loaded machine.
* ``--toggle MODULE.FLAG``: one child on this tree, alternating blocks with the boolean
  ``MODULE.FLAG`` True and False (``app.http.FAST_PATHS``, ``app.calls.service.PIPELINE``…):
  the paired ratio of the two, in one process — the least noisy comparison.
* ``--profile``: one more child on this tree under cProfile (timed with the thread's CPU
  clock, so that waits for the database count nothing): the split of a check's CPU by layer
  (self time by library) and the inclusive share of the main steps. ``HTTP_AB_PROF=FILE``
  keeps the raw profile for ``pstats``.

The database is created and seeded like ``bench.checks``'s (``bench/seed.py``) and dropped at
the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

FROZEN = "2026-11-23T10:30:00+01:00"
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ------------------------------------------------------------------------------ the driver


class _Transport(asyncio.Transport):
    """What uvicorn's protocol writes to: kept in memory, nothing sent."""

    def __init__(self) -> None:
        super().__init__()
        self.out = bytearray()
        self._closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default)

    def write(self, data: Any) -> None:
        self.out += data

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Driver:
    """One keep-alive connection to the app through uvicorn's httptools protocol."""

    def __init__(self, app: Any) -> None:
        from uvicorn.config import Config
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
        from uvicorn.server import ServerState

        config = Config(app=app, http="httptools", loop="uvloop", access_log=False,
                        log_level="warning", lifespan="off")
        config.load()
        self.state = ServerState()
        self.protocol = HttpToolsProtocol(config, self.state, {}, asyncio.get_running_loop())
        self.transport = _Transport()
        self.protocol.connection_made(self.transport)
        self._done: asyncio.Future[None] | None = None
        original = self.protocol.on_response_complete

        def on_response_complete() -> None:
            original()
            if self._done is not None and not self._done.done():
                self._done.set_result(None)

        self.protocol.on_response_complete = on_response_complete  # type: ignore[method-assign]

    async def request(self, data: bytes) -> bytes:
        self._done = asyncio.get_running_loop().create_future()
        self.transport.out.clear()
        self.protocol.data_received(data)
        await self._done
        if self.protocol.timeout_keep_alive_task is not None:
            self.protocol.timeout_keep_alive_task.cancel()
            self.protocol.timeout_keep_alive_task = None
        return bytes(self.transport.out)


def _head(method: str, path: str, headers: dict[str, str], length: int | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1:8000"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def check_requests(seed: dict[str, Any], rng: random.Random, tag: str, n: int) -> list[bytes]:
    import orjson

    from bench.loadgen import callee_mix

    headers = {"Authorization": f"Bearer {seed['key']}", "Content-Type": "application/json"}
    out = []
    for i in range(n):
        body = orjson.dumps({"campaign": seed["campaign"],
                             "callee": callee_mix(seed["pools"], rng)[1],
                             "caller_id": seed["caller_id"], "external_id": f"{tag}-{i}"})
        out.append(_head("POST", "/v1/calls/check", headers, len(body)) + body)
    return out


HEALTHZ = _head("GET", "/healthz", {}, None)


def _status(answer: bytes) -> int:
    return int(answer[9:12])


# ------------------------------------------------------------------------------- the child


def _layer(filename: str, name: str) -> str:
    key = filename if filename != "~" else name
    for layer, needles in (
        ("uvicorn + httptools", ("uvicorn", "httptools")),
        ("starlette", ("starlette",)),
        ("fastapi", ("fastapi",)),
        ("pydantic", ("pydantic",)),
        ("prometheus_client", ("prometheus_client",)),
        ("phonenumbers", ("phonenumbers",)),
        ("rules_fr", ("rules_fr",)),
        ("sqlalchemy", ("sqlalchemy",)),
        ("psycopg", ("psycopg",)),
        ("sqlite3", ("sqlite3",)),
        ("app/http.py (middleware)", ("app/http.py",)),
        ("app/tenancy (auth, rate limit)", ("app/tenancy",)),
        ("app/calls", ("app/calls",)),
        ("app (other)", ("/app/",)),
        ("bloctel", ("bloctel",)),
        ("json / orjson", ("json", "orjson")),
        ("email (content-type parse)", ("email",)),
        ("logging", ("logging",)),
        ("asyncio / anyio / contextlib", ("asyncio", "anyio", "contextlib", "uvloop")),
        ("datetime / zoneinfo", ("datetime", "zoneinfo")),
    ):
        if any(n in key for n in needles):
            return layer
    return "C builtins" if filename == "~" else "other python"


#: inclusive time of these (file substring, function name) pairs, as % of the whole
STEPS = (
    ("uvicorn/protocols/http/httptools_impl.py", "data_received", "uvicorn: parse"),
    ("uvicorn/protocols/http/httptools_impl.py", "send", "uvicorn: write the response"),
    ("app/http.py", "__call__", "GatewayHTTP.__call__ (all below it)"),
    ("app/tenancy/auth.py", "resolve", "auth: resolve (key cache + rate limit)"),
    ("fastapi/routing.py", "app", "FastAPI request handler (all below it)"),
    ("starlette/requests.py", "body", "read the body"),
    ("starlette/requests.py", "json", "parse the JSON body"),
    ("fastapi/dependencies/utils.py", "solve_dependencies", "FastAPI solve_dependencies"),
    ("fastapi/dependencies/utils.py", "request_body_to_args", "  body → CheckIn (validation)"),
    ("app/calls/router.py", "check", "route: check (service + metrics)"),
    ("app/calls/service.py", "check_call", "  service: check_call"),
    ("app/calls/service.py", "_prepare", "    _prepare (numbers, cached facts, BLOCTEL)"),
    ("rules_fr/numbering.py", "classify", "      classify (numbers)"),
    ("app/calls/service.py", "_gather", "    _gather (database read)"),
    ("rules_fr/engine.py", "evaluate", "    rules: evaluate"),
    ("app/calls/pipeline.py", "write_and_commit", "    PostgreSQL: INSERTs + COMMIT"),
    ("app/calls/pipeline.py", "sqlite_write", "    SQLite: INSERTs + COMMIT"),
    ("app/calls/service.py", "_decided", "    answer: _decided (DecisionOut)"),
    ("prometheus_client/metrics.py", "inc", "  metrics: Counter.inc"),
    ("prometheus_client/metrics.py", "observe", "  metrics: Histogram.observe"),
    ("prometheus_client/metrics.py", "labels", "  metrics: .labels()"),
    ("fastapi/routing.py", "serialize_response", "FastAPI serialize_response"),
    ("starlette/responses.py", "__call__", "Response.__call__ (send)"),
)


def _database_cpu(url: str) -> Any:
    """A function giving the CPU seconds used so far by this database's PostgreSQL backends
    (from /proc: the server runs on this machine), or 0.0 on SQLite (in-process)."""
    if not url.startswith("postgresql"):
        return lambda: 0.0
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    admin = psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database,
                            autocommit=True)
    tick = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        pids = [r[0] for r in admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")]
        total = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime + stime
            except OSError:
                pass
        return total / tick

    return cpu


def _child(args: argparse.Namespace) -> int:
    url, seed_path = args.child
    metrics_dir = tempfile.mkdtemp(prefix="http-ab-metrics-")
    os.environ.update(DATABASE_URL=url, GATEWAY_FROZEN_NOW=FROZEN,
                      PROMETHEUS_MULTIPROC_DIR=metrics_dir)
    import uvloop

    with open(seed_path) as f:
        seed = json.load(f)
    from app.main import app

    async def main() -> dict[str, Any]:
        driver = Driver(app)
        rng = random.Random(f"http_ab/{os.getpid()}")
        tag = f"ab-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        statuses: dict[str, int] = defaultdict(int)

        db_cpu = _database_cpu(url)
        extra: dict[str, list[float]] = defaultdict(list)  # per block: wall, database CPU

        async def run(requests: list[bytes]) -> float:
            d, w = db_cpu(), time.perf_counter()
            c = time.thread_time()
            for r in requests:
                answer = await driver.request(r)
                statuses[str(_status(answer))] += 1
            cpu = (time.thread_time() - c) / len(requests) * 1e6
            extra["wall_us"].append((time.perf_counter() - w) / len(requests) * 1e6)
            extra["db_cpu_us"].append((db_cpu() - d) / len(requests) * 1e6)
            return cpu

        await run(check_requests(seed, rng, f"{tag}-warm", 300))
        await run([HEALTHZ] * 300)
        statuses.clear()
        extra.clear()
        out: dict[str, Any] = {"check_us": [], "healthz_us": []}
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile(time.thread_time)  # CPU, not waits for the database
            requests = check_requests(seed, rng, f"{tag}-prof", args.block * args.blocks)
            prof.enable()
            await run(requests)
            prof.disable()
            if os.environ.get("HTTP_AB_PROF"):  # the raw profile, for pstats
                prof.dump_stats(os.environ["HTTP_AB_PROF"])
            st = pstats.Stats(prof)
            stats = st.stats  # type: ignore[attr-defined]
            total = sum(v[2] for v in stats.values())
            layers: dict[str, float] = defaultdict(float)
            steps: dict[str, float] = defaultdict(float)
            counts: dict[str, int] = defaultdict(int)
            top = []
            for (filename, line, name), (_cc, nc, tt, ct, _callers) in stats.items():
                layers[_layer(filename, name)] += tt
                for needle, fn, label in STEPS:
                    if fn == name and needle in filename:
                        steps[label] += ct
                        counts[label] += nc
                short = filename.split("site-packages/")[-1].replace(HERE + "/", "")
                top.append((f"{short}:{line}({name})", nc, tt, ct))
            n = len(requests)
            out["profile"] = {
                "n": n,
                "layers_self_pct": {k: round(v / total * 100, 1) for k, v in
                                    sorted(layers.items(), key=lambda kv: -kv[1])},
                "steps_pct": {label: [round(steps[label] / total * 100, 1),
                                      round(counts[label] / n, 2)]
                              for _, _, label in STEPS if label in steps},
                "top_self": [(f, round(nc / n, 2), round(tt / total * 100, 1))
                             for f, nc, tt, _ in sorted(top, key=lambda r: -r[2])[:30]],
                "top_cum": [(f, round(nc / n, 2), round(ct / total * 100, 1))
                            for f, nc, _, ct in sorted(top, key=lambda r: -r[3])[:45]],
            }
        elif args.toggle:
            import importlib

            module_name, _, attr = args.toggle.rpartition(".")
            module = importlib.import_module(module_name)
            out.update(on_us=[], off_us=[])
            for i in range(args.blocks * 2):  # on off, off on, on off…
                for flag in ((True, False) if i % 2 == 0 else (False, True)):
                    setattr(module, attr, flag)
                    reqs = check_requests(seed, rng, f"{tag}-{i}-{flag}", args.block)
                    out["on_us" if flag else "off_us"].append(await run(reqs))
            setattr(module, attr, True)
            # the same blocks' wall time and database CPU, on then off (as on_us / off_us)
            for key in ("wall_us", "db_cpu_us"):
                on_off = [[], []]  # type: ignore[var-annotated]
                for i in range(args.blocks * 2):
                    pair = extra[key][2 * i:2 * i + 2]
                    first, second = (0, 1) if i % 2 == 0 else (1, 0)
                    on_off[0].append(pair[first])
                    on_off[1].append(pair[second])
                out[f"on_{key}"], out[f"off_{key}"] = on_off
            out["healthz_us"].append(await run([HEALTHZ] * args.block))
        else:
            for i in range(args.blocks):
                reqs = check_requests(seed, rng, f"{tag}-{i}", args.block)
                out["check_us"].append(await run(reqs))
                out["healthz_us"].append(await run([HEALTHZ] * args.block))
        out["statuses"] = dict(statuses)
        return out

    result = uvloop.run(main())
    print(json.dumps(result))
    return 0


# ------------------------------------------------------------------------------ the parent


def _tree(ref: str, tmp: str) -> str:
    dest = os.path.join(tmp, f"tree-{ref}")
    os.makedirs(dest)
    archive = subprocess.run(["git", "-C", HERE, "archive", ref], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return dest


def _spawn(tree: str, url: str, seed_path: str, args: argparse.Namespace,
           profile: bool = False) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": tree, "DATABASE_URL": url,
           "GATEWAY_FROZEN_NOW": FROZEN, "GATEWAY_LOG_LEVEL": "warning"}
    cmd = [sys.executable, "-m", "bench.http_ab", "--child", url, seed_path,
           "--block", str(args.block), "--blocks", str(args.blocks)]
    if profile:
        cmd.append("--profile")
    elif args.toggle:
        cmd += ["--toggle", args.toggle]
    child = subprocess.run(cmd, env=env, cwd=tree, check=True, capture_output=True, text=True)
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--baseline", metavar="REF", help="also measure commit REF, alternating")
    ap.add_argument("--rounds", type=int, default=3, help="child pairs with --baseline")
    ap.add_argument("--block", type=int, default=400, help="requests per block")
    ap.add_argument("--blocks", type=int, default=3, help="blocks per child")
    ap.add_argument("--profile", action="store_true", help="also profile a child (cProfile)")
    ap.add_argument("--toggle", metavar="MODULE.FLAG",
                    help="one process, alternating blocks with the boolean MODULE.FLAG True "
                         "and False (e.g. app.http.FAST_PATHS): a same-process A/B")
    ap.add_argument("--json", metavar="OUT", help="write every child's figures here")
    ap.add_argument("--child", nargs=2, metavar=("URL", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(args)

    from rich.console import Console
    from rich.table import Table

    from bench.checks import postgres_database, sqlite_database

    console = Console()
    results: dict[str, Any] = {"current": [], "baseline": []}
    with tempfile.TemporaryDirectory() as tmp:
        database = (sqlite_database(Path(tmp)) if args.backend == "sqlite"
                    else postgres_database())  # created here, dropped on the way out
        with database as url:
            seed_path = os.path.join(tmp, "seed.json")
            env = {**os.environ, "PYTHONPATH": HERE, "DATABASE_URL": url,
                   "GATEWAY_FROZEN_NOW": FROZEN}
            with console.status("migrating and seeding (bench/seed.py)…"):
                subprocess.run([sys.executable, "-m", "bench.seed", seed_path], env=env,
                               cwd=HERE, check=True, stdout=subprocess.DEVNULL)
            sides = [("current", HERE)]
            if args.baseline:
                sides.append(("baseline", _tree(args.baseline, tmp)))
            rounds = args.rounds if args.baseline else 1
            for i in range(rounds):
                order = sides if i % 2 else list(reversed(sides))
                for side, tree in order:
                    with console.status(f"round {i + 1}/{rounds}: {side}…"):
                        results[side].append(_spawn(tree, url, seed_path, args))
            if args.profile:
                with console.status("profiling (cProfile)…"):
                    results["profile"] = _spawn(HERE, url, seed_path, args, True)["profile"]

    if args.toggle:
        r = results["current"][0]
        on, off = statistics.median(r["on_us"]), statistics.median(r["off_us"])
        pairs = [a / b for a, b in zip(r["on_us"], r["off_us"], strict=True)]
        table = Table(title=f"worker CPU per check, µs ({args.backend}; {args.toggle}; median "
                            f"of {len(r['on_us'])} blocks of {args.block} a side)")
        for col in ("True", "False", "True / False", "healthz"):
            table.add_column(col, justify="right")
        table.add_row(f"{on:,.0f}", f"{off:,.0f}", f"{on / off:.3f}",
                      f"{statistics.median(r['healthz_us']):,.0f}")
        for key, label in (("wall_us", "wall µs per check (sequential)"),
                           ("db_cpu_us", "database CPU µs per check (PostgreSQL backends)")):
            on_k, off_k = statistics.median(r[f"on_{key}"]), statistics.median(r[f"off_{key}"])
            if off_k:
                console.print(f"{label}: {on_k:,.0f} vs {off_k:,.0f} ({on_k / off_k:.3f})")
        console.print(table)
        console.print("paired blocks: " + ", ".join(f"{p:.2f}" for p in pairs)
                      + f"; median {statistics.median(pairs):.3f}; statuses {r['statuses']}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        return 0

    def med(side: str, what: str) -> float:
        return statistics.median(v for r in results[side] for v in r[what])

    table = Table(title=f"worker CPU per request, µs ({args.backend}; median of blocks of "
                        f"{args.block})")
    cols = ["", "current"] + (["baseline", "current / baseline"] if args.baseline else [])
    for col in cols:
        table.add_column(col, justify="right")
    for what, label in (("check_us", "POST /v1/calls/check"), ("healthz_us", "GET /healthz")):
        row = [label, f"{med('current', what):,.0f}"]
        if args.baseline:
            row += [f"{med('baseline', what):,.0f}",
                    f"{med('current', what) / med('baseline', what):.3f}"]
        table.add_row(*row)
    ratio = [f"{med('current', 'check_us') / med('current', 'healthz_us'):.2f}"]
    if args.baseline:
        ratio += [f"{med('baseline', 'check_us') / med('baseline', 'healthz_us'):.2f}", ""]
    table.add_row("check / healthz", *ratio)
    console.print(table)
    for side in ("current", "baseline"):
        for r in results[side]:
            if set(r["statuses"]) != {"200"}:
                console.print(f"[yellow]{side}: statuses {r['statuses']}[/yellow]")
    if args.baseline:
        pairs = [c["check_us"][j] / b["check_us"][j]
                 for c, b in zip(results["current"], results["baseline"], strict=True)
                 for j in range(len(c["check_us"]))]
        console.print(f"check ratio per paired block: "
                      f"{', '.join(f'{p:.2f}' for p in pairs)}")
    prof = results.get("profile")
    if prof:
        t = Table(title=f"where a check's CPU goes (cProfile, {prof['n']} checks): self time by "
                        "layer")
        t.add_column("layer")
        t.add_column("% self", justify="right")
        for k, v in prof["layers_self_pct"].items():
            t.add_row(k, f"{v}")
        console.print(t)
        t = Table(title="inclusive time of the main steps (% of all; calls per check)")
        t.add_column("step")
        t.add_column("% incl", justify="right")
        t.add_column("calls", justify="right")
        for k, (pct, calls) in prof["steps_pct"].items():
            t.add_row(k, f"{pct}", f"{calls}")
        console.print(t)
        t = Table(title="top self time")
        for col in ("function", "calls/check", "% self"):
            t.add_column(col)
        for f, nc, pct in prof["top_self"]:
            t.add_row(f, f"{nc}", f"{pct}")
        console.print(t)
        t = Table(title="top inclusive time")
        for col in ("function", "calls/check", "% incl"):
            t.add_column(col)
        for f, nc, pct in prof["top_cum"]:
            t.add_row(f, f"{nc}", f"{pct}")
        console.print(t)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
