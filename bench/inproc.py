"""In-process profile of the check service function, without HTTP (cProfile).

    DATABASE_URL=… GATEWAY_FROZEN_NOW=… python -m bench.inproc SEED.json OUT.json [N]

Calls ``app.calls.service.check_call`` N times sequentially with the benchmark's callee mix:
first unprofiled (the service's own cost per check, in µs), then under cProfile, whose
self-times are grouped by layer (SQLAlchemy, DB driver, rules, pydantic, …).
"""

from __future__ import annotations

import cProfile
import json
import os
import pstats
import random
import sys
import time
from collections import defaultdict
from typing import Any

from bench.loadgen import callee_mix

LAYERS = (  # first match wins: (layer, substring of the file path or builtin name)
    ("sqlite3 (C driver)", "sqlite3"),
    ("psycopg (driver, incl. network wait)", "psycopg"),
    ("sqlalchemy", "sqlalchemy"),
    ("rules_fr", "rules_fr"),
    ("phonenumbers", "phonenumbers"),
    ("pydantic", "pydantic"),
    ("bloctel", "/bloctel/"),
    ("app", "/app/"),
    ("zoneinfo/datetime", "zoneinfo"),
    ("decimal", "decimal"),
    ("hashlib", "blake2b"),
)


def layer_of(func: tuple[str, int, str]) -> str:
    filename, _, name = func
    key = filename if filename != "~" else name
    for layer, needle in LAYERS:
        if needle in key:
            return layer
    if filename == "~":
        return "C builtins (re, dict, datetime, …)"
    return "other python (stdlib)"


def _signature(statement: str) -> str:
    words = " ".join(statement.split())
    low = words.lower()
    if "union all" in low:
        return "SELECT … UNION ALL (callee facts)"
    if "pg_advisory" in low:
        return "SELECT pg_advisory_xact_lock"
    if low.startswith("insert into"):
        return " ".join(words.split()[:3])
    if "bloctel_versions" in low:
        return "SELECT bloctel_versions (active list: the index watcher, 4/s)"
    return words[:70]


class StatementTimer:
    """Wall time of every DB-API execute and commit, by statement kind (SQLAlchemy events)."""

    def __init__(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        self.times: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)
        self.on = False
        self._t0 = 0.0

        @event.listens_for(Engine, "before_cursor_execute")
        def _before(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
            self._t0 = time.perf_counter()

        @event.listens_for(Engine, "after_cursor_execute")
        def _after(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
            if self.on:
                key = _signature(statement)
                self.times[key] += time.perf_counter() - self._t0
                self.counts[key] += 1

    def wrap_commit(self, engine: Any) -> None:
        dialect = engine.dialect
        original = dialect.do_commit

        def do_commit(dbapi_connection: Any) -> None:
            t = time.perf_counter()
            original(dbapi_connection)
            if self.on:
                self.times["COMMIT"] += time.perf_counter() - t
                self.counts["COMMIT"] += 1

        dialect.do_commit = do_commit  # type: ignore[method-assign]
        ping = dialect.do_ping

        def do_ping(dbapi_connection: Any) -> bool:  # pool_pre_ping: a round trip per checkout
            t = time.perf_counter()
            try:
                return ping(dbapi_connection)
            finally:
                if self.on:
                    self.times["pool pre-ping (SELECT 1 per checkout)"] += time.perf_counter() - t
                    self.counts["pool pre-ping (SELECT 1 per checkout)"] += 1

        dialect.do_ping = do_ping  # type: ignore[method-assign]

    def wrap_pipeline(self) -> None:
        """PostgreSQL's pipelined round trips (app.calls.pipeline) bypass SQLAlchemy's cursor
        events: time each one as a whole."""
        from app.calls import pipeline

        for name, label in (("read", "pipeline: BEGIN + lock + facts (1 round trip)"),
                            ("write_and_commit", "pipeline: INSERTs + COMMIT (1 round trip)")):
            original = getattr(pipeline, name)

            def timed(*args: Any, _original: Any = original, _label: str = label,
                      **kwargs: Any) -> Any:
                t = time.perf_counter()
                try:
                    return _original(*args, **kwargs)
                finally:
                    if self.on:
                        self.times[_label] += time.perf_counter() - t
                        self.counts[_label] += 1

            setattr(pipeline, name, timed)


def run(seed: dict[str, Any], n: int, max_s: float = 3.0) -> dict[str, Any]:
    from app.calls.schemas import CheckIn
    from app.calls.service import check_call
    from app.tenancy.auth import _load, hash_key

    principal = _load(hash_key(seed["key"]))
    assert principal is not None
    rng = random.Random("inproc")

    def bodies(tag: str, count: int) -> list[CheckIn]:
        return [
            CheckIn(campaign=seed["campaign"], callee=callee_mix(seed["pools"], rng)[1],
                    caller_id=seed["caller_id"], external_id=f"inproc-{os.getpid()}-{tag}-{i}")
            for i in range(count)
        ]

    from app.db import get_engine

    timer = StatementTimer()
    timer.wrap_commit(get_engine())
    timer.wrap_pipeline()

    def timed_loop(items: list[CheckIn]) -> int:
        """Runs until the list or ``max_s`` is exhausted; returns how many ran."""
        deadline = time.perf_counter() + max_s
        for i, b in enumerate(items):
            check_call(principal, b)
            if time.perf_counter() > deadline:
                return i + 1
        return len(items)

    for b in bodies("warm", 100):
        check_call(principal, b)
    plain = bodies("plain", n)
    t, c = time.perf_counter(), time.process_time()
    timer.on = True
    done = timed_loop(plain)
    timer.on = False
    plain_us = (time.perf_counter() - t) / done * 1e6
    cpu_us = (time.process_time() - c) / done * 1e6
    statements = {
        k: {"per_check": round(timer.counts[k] / done, 2),
            "us_per_check": round(timer.times[k] / done * 1e6, 1),
            "us_each": round(timer.times[k] / timer.counts[k] * 1e6, 1)}
        for k in sorted(timer.times, key=lambda k: -timer.times[k])
    }
    db_us = sum(timer.times.values()) / done * 1e6

    profiled = bodies("prof", n)
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    n_prof = timed_loop(profiled)
    prof.disable()
    prof_us = (time.perf_counter() - t) / n_prof * 1e6

    st = pstats.Stats(prof)
    total = sum(v[2] for v in st.stats.values())  # type: ignore[attr-defined]
    layers: dict[str, float] = defaultdict(float)
    rows = []
    for func, (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        layers[layer_of(func)] += tt
        rows.append((func, nc, tt, ct))
    top_self = sorted(rows, key=lambda r: r[2], reverse=True)[:15]
    top_cum = sorted(rows, key=lambda r: r[3], reverse=True)[:25]

    def fmt(func: tuple[str, int, str]) -> str:
        filename, line, name = func
        if filename == "~":
            return name
        short = filename.split("site-packages/")[-1].split("/work/main/")[-1]
        return f"{short}:{line}({name})"

    return {
        "n": done,
        "n_profiled": n_prof,
        "service_us_per_check": round(plain_us, 1),
        "service_cpu_us_per_check": round(cpu_us, 1),
        "db_us_per_check": round(db_us, 1),
        "note": "db_us = wall time inside DB-API execute + commit (driver, network, database, "
                "lock waits); the rest of service_us is Python in this process",
        "statements": statements,
        "profiled_us_per_check": round(prof_us, 1),
        "layers_self_pct": {k: round(v / total * 100, 1)
                            for k, v in sorted(layers.items(), key=lambda kv: -kv[1])},
        "top_self": [{"func": fmt(f), "calls_per_check": round(nc / n_prof, 2),
                      "self_pct": round(tt / total * 100, 1)} for f, nc, tt, _ in top_self],
        "top_cumulative": [{"func": fmt(f), "calls_per_check": round(nc / n_prof, 2),
                            "cum_pct": round(ct / total * 100, 1)} for f, nc, _, ct in top_cum],
    }


def main(argv: list[str]) -> int:
    seed_path, out_path, *rest = argv
    n = int(rest[0]) if rest else 1000
    with open(seed_path) as f:
        seed = json.load(f)
    out = run(seed, n)
    with open(out_path, "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
