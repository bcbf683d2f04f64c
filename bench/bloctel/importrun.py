"""One BLOCTEL import in a fresh process, timed and measured (run by ``bench.bloctel``).

    DATABASE_URL=URL python -m bench.bloctel.importrun URL FILE OUT.json [--mode M]
        [--as-of YYYY-MM-DD] [--force] [--migrate]

Calls ``app.bloctel.importer.import_file`` exactly as an operator's import does (the numbering-plan
table is loaded inside it, from the on-disk cache when warm) and writes: wall and CPU seconds,
the time of each phase (from the ``progress`` callbacks), the calls timed by wrapping them (the
plan load, ``store.load``, a reload of the new version into this process if the importer does
one), the RSS before the import, the process's peak RSS (VmHWM) and the importer's report.
``DATABASE_URL`` names the same database, as for ``gateway bloctel import``: whatever the
importer does through the default engine happens where it would in production.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import date
from functools import wraps
from pathlib import Path
from typing import Any

perf = time.perf_counter


def vm(field: str) -> float:
    """VmRSS / VmHWM of this process, in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Timeline:
    """The importer's ``progress`` object: when each phase started, bytes and lines read."""

    def __init__(self) -> None:
        self.t0 = perf()
        self.marks: list[tuple[str, float, float]] = []  # (phase, wall offset, VmRSS MB)
        self.bytes = 0
        self.lines = 0

    def bytes_read(self, n: int) -> None:
        self.bytes += n

    def lines_read(self, total: int) -> None:
        self.lines = total

    def phase(self, name: str, total: int | None = None) -> None:
        self.marks.append((name, perf() - self.t0, vm("VmRSS")))

    def advance(self, n: int) -> None:
        pass

    def durations(self, end: float) -> dict[str, float]:
        out: dict[str, float] = {}
        points = [("setup (lock, version row)", 0.0)] + [(n, t) for n, t, _ in self.marks]
        for (name, t), nxt in zip(points, [*points[1:], ("", end)], strict=True):
            out[name] = round(nxt[1] - t, 3)
        return out


def timed(owner: Any, name: str, sink: list[dict[str, Any]]) -> None:
    """Replace ``owner.name`` by a wrapper recording each call's wall time (if it exists:
    ``bloctel`` changes, the benchmark should not break on it)."""
    original = getattr(owner, name, None)
    if original is None:
        return

    @wraps(original)
    def wrapper(*a: Any, **kw: Any) -> Any:
        t = perf()
        try:
            return original(*a, **kw)
        finally:
            sink.append({"call": f"{owner.__name__}.{name}", "s": round(perf() - t, 3)})

    setattr(owner, name, wrapper)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("file")
    ap.add_argument("out")
    ap.add_argument("--mode", default="replace")
    ap.add_argument("--as-of", default="2026-11-20")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--migrate", action="store_true")
    args = ap.parse_args(argv)

    result: dict[str, Any] = {"rss_at_start_mb": round(vm("VmRSS"), 1)}
    if args.migrate:
        from app.migrate import upgrade

        t = perf()
        upgrade(args.url)
        result["migrate_s"] = round(perf() - t, 3)

    from app.bloctel import importer, lookup, store
    from app.db import make_engine
    from bloctel import plan

    cache = plan.cache_dir() / f"numbering-plan-{plan._source_digest()}.npz"
    result["plan_cache"] = {"path": str(cache), "warm": cache.exists()}
    calls: list[dict[str, Any]] = []
    timed(plan, "plan", calls)  # the numbering-plan table (disk cache, or derived)
    timed(store, "load", calls)  # the list in force, or the new one after activation
    timed(lookup, "invalidate", calls)
    timed(lookup.IndexedLookup, "refresh", calls)  # this process loading the new version
    engine = make_engine(args.url)
    with engine.connect():
        pass  # the pool's first connection is not the import's cost
    rss0, cpu0 = vm("VmRSS"), cpu()
    result["rss_before_import_mb"] = round(rss0, 1)
    timeline = Timeline()
    path = Path(args.file)
    t0 = perf()
    with path.open("rb") as raw:
        report = importer.import_file(engine, raw, mode=args.mode,
                                      as_of=date.fromisoformat(args.as_of),
                                      imported_by="bench", force=args.force,
                                      progress=timeline)
    wall = perf() - t0
    result.update({
        "seconds": round(wall, 3),
        "cpu_s": round(cpu() - cpu0, 3),
        "peak_rss_mb": round(vm("VmHWM"), 1),
        "peak_rss_above_start_mb": round(vm("VmHWM") - rss0, 1),
        "rss_after_mb": round(vm("VmRSS"), 1),
        "phases_s": timeline.durations(perf() - timeline.t0),
        "rss_at_phase_mb": {n: round(r, 1) for n, _, r in timeline.marks},
        "calls": calls,
        "file_bytes": path.stat().st_size,
        "report": {k: v for k, v in report.items() if k != "rejected_samples"},
        "rejected_samples": report.get("rejected_samples", [])[:10],
    })
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
