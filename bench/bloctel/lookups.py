"""The list in memory: load time, size, and look-ups per second (run by ``bench.bloctel``).

    DATABASE_URL=URL python -m bench.bloctel.lookups URL OUT.json [--n 2000000]

In a fresh process: ``app.bloctel.store.load`` of the active version (wall time, ``index.nbytes``,
RSS before/after and the peak during the load), then with ``n`` pre-built Python ints, half on
the list and half not (neighbours of listed numbers, so they land in the same buckets):

* ``key in index`` in a plain Python loop (what a check does, minus the ``int()``);
* ``index.contains_many`` on the same keys as one int64 array;
* ``app.bloctel.lookup.default_lookup().lookup(None, "+33…")`` on E.164 strings: the check path's
  whole call (``int`` of the string, the held index, a ``BloctelFacts``). It loads the index a
  second time through the default engine, so it runs after the memory figures are taken.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.bloctel.importrun import cpu, vm

perf = time.perf_counter


def best_of(fn: Any, repeat: int) -> tuple[float, float, Any]:
    """(best wall time, best CPU time, last result) of ``repeat`` calls. The CPU time leaves
    out the time this process waited for a core (another process's load)."""
    times, cpus, result = [], [], None
    for _ in range(max(repeat, 1)):
        t, c = perf(), time.process_time()
        result = fn()
        times.append(perf() - t)
        cpus.append(time.process_time() - c)
    return min(times), min(cpus), result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    from app.bloctel import store
    from app.db import make_engine
    from bloctel.index import Index

    engine = make_engine(args.url)
    with engine.connect():
        pass
    Index.from_keys(np.arange(10, dtype=np.int64) + 33_600_000_000)  # warm numpy's code paths
    gc.collect()
    rss0, hwm0 = vm("VmRSS"), vm("VmHWM")
    t, c = perf(), cpu()
    index = store.load(engine)
    load_s, load_cpu = perf() - t, cpu() - c
    gc.collect()
    rss1, hwm1 = vm("VmRSS"), vm("VmHWM")
    out: dict[str, Any] = {
        "numbers": index.size, "version": index.version,
        "load_s": round(load_s, 3), "load_cpu_s": round(load_cpu, 3),
        "nbytes": index.nbytes, "bytes_per_number": round(index.nbytes / max(index.size, 1), 3),
        "rss_before_mb": round(rss0, 1), "rss_after_mb": round(rss1, 1),
        "rss_delta_mb": round(rss1 - rss0, 1),
        "peak_during_load_above_before_mb": round(max(hwm1, rss0) - rss0, 1)
        if hwm1 > hwm0 else round(rss1 - rss0, 1),
    }

    rng = np.random.default_rng(args.seed)
    keys = index.keys()
    half = args.n // 2
    present = rng.choice(keys, size=half, replace=True)
    near = rng.choice(keys, size=half * 2) + rng.integers(1, 50, size=half * 2)
    at = np.minimum(np.searchsorted(keys, near), len(keys) - 1)  # keys are sorted
    absent = near[keys[at] != near][:half]
    del keys
    mixed = np.concatenate([present, absent])
    rng.shuffle(mixed)
    ints = mixed.tolist()  # Python ints, built before timing

    def loop() -> int:
        hits = 0
        for k in ints:
            if k in index:
                hits += 1
        return hits

    single, single_cpu, hits = best_of(loop, args.repeat)
    batch, batch_cpu, found = best_of(lambda: index.contains_many(mixed), args.repeat)
    batch_hits = int(found.sum())
    out["single"] = {"n": len(ints), "hits": hits, "expected_hits": len(present),
                     "repeat": args.repeat, "best_s": round(single, 3),
                     "per_s": round(len(ints) / single),
                     "ns_each": round(single / len(ints) * 1e9),
                     "per_cpu_s": round(len(ints) / max(single_cpu, 1e-9))}
    out["batch"] = {"n": len(mixed), "hits": batch_hits, "best_s": round(batch, 3),
                    "per_s": round(len(mixed) / batch),
                    "per_cpu_s": round(len(mixed) / max(batch_cpu, 1e-9))}
    empty = Index.from_keys(np.zeros(0, dtype=np.int64))
    t = perf()
    for k in ints:
        k in empty  # noqa: B015
    out["single_empty_index_per_s"] = round(len(ints) / (perf() - t))

    # the check path's call, E.164 string in, BloctelFacts out (loads the index again)
    from app.bloctel.lookup import default_lookup

    lk = default_lookup()
    e164 = ["+" + str(k) for k in ints[:200_000]]
    lk.lookup(None, e164[0])
    t = perf()
    listed = sum(lk.lookup(None, s).listed for s in e164)
    dt = perf() - t
    out["check_path_lookup"] = {"n": len(e164), "listed": listed, "per_s": round(len(e164) / dt),
                                "us_each": round(dt / len(e164) * 1e6, 3)}
    Path(args.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
