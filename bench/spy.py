"""Sampling profile of one live server worker with py-spy, summarised by layer and function.

py-spy is a dev tool, not a dependency: ``.venv/bin/pip install py-spy``. It is sampled with
``--idle`` so that time the worker spends *blocked* (a database round trip made inline in the
event loop, a SQLite lock wait) is visible, not only CPU time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")

# Where a sample goes: the *deepest* frame matching one of these markers (substrings of
# "function (file:line)") names its component, so components partition the busy samples.
# Order matters only between markers on the same frame; GENERIC ones are a fallback.
COMPONENTS = (
    ("classify (rules_fr/numbering.py", "number parsing (rules_fr.classify → phonenumbers)"),
    ("evaluate (rules_fr/engine.py", "rules_fr.evaluate (pure rules)"),
    ("lookup (app/bloctel/lookup.py", "BLOCTEL look-up (in-memory index)"),
    ("callee_facts (app/", "callee facts query (registries, earlier attempts)"),
    ("_existing (app/calls/service.py", "idempotency look-up _existing (1 query)"),
    ("_begin_impl (sqlalchemy/engine/base.py", "BEGIN (SQLite: IMMEDIATE = write-lock wait)"),
    ("WriteLock.__enter__ (app/db.py", "SQLite writers' lock wait (app.db.WriteLock)"),
    ("_commit_impl (sqlalchemy/engine/base.py", "COMMIT"),
    ("_gather (app/calls/service.py", "_gather: attempts-count query, lock, facts assembly"),
    ("campaign_facts (app/campaigns/service.py", "campaign/caller-ID cache"),
    ("_load (app/tenancy/auth.py", "auth: API key reload from the DB (cache expired, 1 s TTL)"),
    ("authenticate (app/tenancy/auth.py", "auth: API key hash + cache"),
    ("_check (app/calls/service.py", "_check: INSERT attempt + penalty, answer model"),
    ("check_call (app/calls/service.py", "_check: INSERT attempt + penalty, answer model"),
    ("prometheus_client/", "prometheus metrics (multiprocess mmap)"),
    ("check (app/calls/router.py", "route body"),
    ("serialize_response (fastapi/", "response validation + JSON serialisation"),
    ("run_sync_in_worker_thread (anyio/", "thread-pool hop (sync auth dependency)"),
    ("run_in_threadpool (starlette/", "thread-pool hop (sync auth dependency)"),
    ("solve_dependencies (fastapi/", "dependencies + request body validation"),
    ("healthz (app/ops/router.py", "healthz route"),
)
GENERIC = (  # only when no marker above is on the stack
    ("(app/", "other gateway code"),
    ("(bloctel/", "other gateway code"),
    ("fastapi/", "HTTP stack: FastAPI/Starlette/uvicorn (parse, route, respond)"),
    ("starlette/", "HTTP stack: FastAPI/Starlette/uvicorn (parse, route, respond)"),
    ("uvicorn/protocols/", "HTTP stack: FastAPI/Starlette/uvicorn (parse, route, respond)"),
)

LAYERS = (  # self (leaf) time by library
    ("DB driver: psycopg (incl. waiting for PostgreSQL)", "psycopg"),
    ("SQLAlchemy → sqlite3 C (execute, incl. lock waits)", "do_execute (sqlalchemy/engine/default"),
    ("SQLAlchemy", "sqlalchemy/"),
    ("rules_fr", "rules_fr/"),
    ("phonenumbers", "phonenumbers/"),
    ("pydantic", "pydantic"),
    ("FastAPI", "fastapi/"),
    ("Starlette", "starlette/"),
    ("uvicorn", "uvicorn/"),
    ("anyio (thread-pool hop)", "anyio/"),
    ("prometheus_client", "prometheus_client/"),
    ("bloctel", "(app/bloctel/"),
    ("app (gateway code)", "(app/"),
    ("bloctel", "(bloctel/"),
    ("stdlib", "python3.11/"),
    ("stdlib", "("),
)

_THREAD_IDLE = ("WorkerThread.run (anyio/_backends/_asyncio.py:1113)", "Queue.get (queue.py")
_THREAD_IGNORE = ("always_pong (uvicorn", "Process.pong (uvicorn", "_poll (app/bloctel/lookup.py")

def stacks(raw: Path) -> Iterator[tuple[list[str], int]]:
    """py-spy's raw output (``-f raw``): each sampled stack's frames, outermost first, and its
    sample count (the process and thread pseudo-frames dropped)."""
    for line in raw.read_text().splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        frames = [f.strip() for f in stack.split(";") if f.strip()]
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if frames:
            yield frames, int(count_s)


def available() -> str | None:
    exe = Path(sys.executable).parent / "py-spy"
    return str(exe) if exe.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path, rate: int = 250) -> tuple[bool, str]:
    exe = available()
    if exe is None:
        return False, "py-spy not installed (.venv/bin/pip install py-spy)"
    # BENCH_SPY_IDLE=0: CPU samples only (where the worker's CPU goes, not where it waits)
    idle = ["--idle"] if os.environ.get("BENCH_SPY_IDLE", "1") != "0" else []
    cmd = [exe, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", str(rate), *idle,
           "-f", "raw", "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30)
    if proc.returncode != 0 or not out.exists():
        return False, (proc.stderr or proc.stdout).strip()[-500:]
    return True, ""


def _short(frame: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        frame = frame.replace(marker, "")
    return frame


def summarise(raw: Path, top: int = 15) -> dict[str, Any]:
    """Where one worker's threads spend the wall clock, by component.

    Sampled with ``--idle``, every thread yields a sample per tick whether it runs or waits, so
    a component's share is in *thread-seconds per second of wall time* (×100): 100 % = one
    thread busy (running, or blocked on the database / a lock) all the time; the thread pool
    can add up to more than 100 %. The event-loop thread's idle time (epoll, uvloop's C code)
    and idle pool threads are reported apart.
    """
    main_total = loop_idle = pool_idle = 0
    components: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    in_threads: Counter[str] = Counter()
    for frames, count in stacks(raw):
        threaded = frames[0].startswith("Thread._bootstrap")
        if threaded and any(m in f for f in frames for m in _THREAD_IGNORE):
            continue
        if threaded and any(m in f for f in frames[:4] for m in _THREAD_IDLE):
            pool_idle += count
            continue
        if not threaded:
            main_total += count
        component = None
        for table in (COMPONENTS, GENERIC):
            for f in reversed(frames):
                component = next((name for marker, name in table if marker in f), None)
                if component:
                    break
            if component:
                break
        if component is None:
            if threaded:
                component = "other work in threads"
            else:
                loop_idle += count  # waiting in epoll, or uvloop's own C code
                continue
        components[component] += count
        if threaded:
            in_threads[component] += count
        leaf = frames[-1]
        layers[next(name for name, needle in LAYERS if needle in leaf)] += count
        leaves[_short(leaf)] += count

    def pct(n: int) -> float:
        return round(100 * n / main_total, 1) if main_total else 0.0

    return {
        "samples_per_thread": main_total,
        "event_loop_busy_pct": pct(main_total - loop_idle),
        "event_loop_idle_pct": pct(loop_idle),
        "thread_pool_busy_pct": pct(sum(in_threads.values())),
        "thread_pool_idle_pct": pct(pool_idle),
        "unit": "% of wall time, summed over the worker's threads (thread-seconds per second "
                "× 100): running, or blocked on the database or a lock",
        "components_pct": {k: pct(v) for k, v in components.most_common()},
        "components_in_thread_pool_pct": {k: pct(v) for k, v in in_threads.most_common()},
        "layers_self_pct": {k: pct(v) for k, v in layers.most_common()},
        "top_self": [{"func": k, "pct": pct(v)} for k, v in leaves.most_common(top)],
    }
