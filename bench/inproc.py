"""In-process profile of the check service function, without HTTP (cProfile).

    DATABASE_URL=… GATEWAY_FROZEN_NOW=… python -m bench.inproc SEED.json OUT.json [N]

Calls ``app.calls.service.check_call`` N times sequentially with the benchmark's callee mix:
first unprofiled (the service's own cost per check, in µs), then under cProfile, whose
self-times are grouped by layer (SQLAlchemy, DB driver, rules, pydantic, …).
"""

from __future__ import annotations

import cProfile
import json
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


def run(seed: dict[str, Any], n: int) -> dict[str, Any]:
    from app.calls.schemas import CheckIn
    from app.calls.service import check_call
    from app.tenancy.auth import _load, hash_key

    principal = _load(hash_key(seed["key"]))
    assert principal is not None
    rng = random.Random("inproc")

    def bodies(tag: str, count: int) -> list[CheckIn]:
        return [
            CheckIn(campaign=seed["campaign"], callee=callee_mix(seed["pools"], rng)[1],
                    caller_id=seed["caller_id"], external_id=f"inproc-{tag}-{i}")
            for i in range(count)
        ]

    for b in bodies("warm", 200):
        check_call(principal, b)
    plain = bodies("plain", n)
    t, c = time.perf_counter(), time.process_time()
    for b in plain:
        check_call(principal, b)
    plain_us = (time.perf_counter() - t) / n * 1e6
    cpu_us = (time.process_time() - c) / n * 1e6

    profiled = bodies("prof", n)
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    for b in profiled:
        check_call(principal, b)
    prof.disable()
    prof_us = (time.perf_counter() - t) / n * 1e6

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
        "n": n,
        "service_us_per_check": round(plain_us, 1),
        "service_cpu_us_per_check": round(cpu_us, 1),
        "profiled_us_per_check": round(prof_us, 1),
        "layers_self_pct": {k: round(v / total * 100, 1)
                            for k, v in sorted(layers.items(), key=lambda kv: -kv[1])},
        "top_self": [{"func": fmt(f), "calls_per_check": round(nc / n, 2),
                      "self_pct": round(tt / total * 100, 1)} for f, nc, tt, _ in top_self],
        "top_cumulative": [{"func": fmt(f), "calls_per_check": round(nc / n, 2),
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
