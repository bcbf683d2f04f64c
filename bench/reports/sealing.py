"""The sealed ledger's cost (part ``sealing`` of ``python -m bench.reports``).

1. On the seeded ledger (``--rows`` attempts): ``gateway audit seal`` (every row: the first
   seal of an existing ledger, the worst case) and ``gateway audit verify --tenant T`` in fresh
   processes: rows/s and peak RSS.
2. Check throughput with the sealer **on versus off, in the same run** (``bench.onoff``: make
   bench's workload over HTTP, rounds off, on, on, off, off, on, medians). *On* seals every
   second with no grace (``GATEWAY_SEAL_INTERVAL_S=1``, ``GATEWAY_SEAL_GRACE_S=0``: 300 times the
   default frequency, every round's rows sealed while checks run). Target: on ≥ 0.90 × off.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

TARGET_RATIO = 0.90


def _gateway(args: list[str], env: dict[str, str], postgres: bool, work: Path
             ) -> tuple[dict[str, Any], Any]:
    from bench.bloctel.run import run_child
    from bench.checks import GATEWAY

    out = work / f"audit-{args[0]}.json"
    with out.open("wb") as sink:
        m = run_child([GATEWAY, "audit", *args, "--json"], env, 1800, stdout=sink,
                      postgres=postgres)
    if m["rc"] not in (0,):
        raise RuntimeError(f"gateway audit {args[0]} failed ({m['rc']}): {m.get('stderr')}")
    return m, json.loads(out.read_text() or "null")


def _seal_and_verify(backend: str, ctx: dict[str, Any], rows: int) -> dict[str, Any]:
    from bench.checks import console

    env = ctx["env"] | {"GATEWAY_SEAL_GRACE_S": "0"}
    pg = backend != "sqlite"
    sealed_m, sealed = _gateway(["seal"], env, pg, ctx["work"])
    if not sealed or sealed["rows"] < rows:
        raise RuntimeError(f"the seal covered {sealed and sealed['rows']} rows, not {rows}")
    verify_m, verified = _gateway(["verify", "--tenant", ctx["tenant"]], env, pg, ctx["work"])
    if not verified["ok"] or verified["rows_checked"] < rows:
        raise RuntimeError(f"verification failed: {verified}")
    for m, n in ((sealed_m, sealed["rows"]), (verify_m, verified["rows_checked"])):
        m["rows"] = n
        m["rows_per_s"] = round(n / m["wall_s"]) if m["wall_s"] else None
    console.print(f"[dim]{backend}: sealed {sealed['rows']:,} rows in {sealed_m['wall_s']:.1f} s"
                  f", verified in {verify_m['wall_s']:.1f} s[/dim]")
    return {"seal": sealed_m, "verify": verify_m}


def _checks_on_off(backend: str) -> dict[str, Any]:
    from bench import checks
    from bench.onoff import on_off, scalar

    def prepare(env: dict[str, str], url: str) -> None:  # the seeded history: sealed first
        subprocess.run([checks.GATEWAY, "audit", "seal"], env=env | GRACE, check=True,
                       timeout=300, stdout=subprocess.DEVNULL)

    return on_off(backend, "sealer", GRACE | {"GATEWAY_SEAL_INTERVAL_S": "1"},
                  GRACE | {"GATEWAY_SEAL_INTERVAL_S": "0"}, prepare,
                  lambda url: scalar(url, "SELECT count(*) FROM ledger_seals"))


GRACE = {"GATEWAY_SEAL_GRACE_S": "0"}


def part(backend: str, url: str, ctx: dict[str, Any], args: argparse.Namespace
         ) -> dict[str, Any]:
    t = time.perf_counter()
    out = _seal_and_verify(backend, ctx, args.rows)
    out["checks"] = _checks_on_off(backend)
    out["elapsed_s"] = round(time.perf_counter() - t, 1)
    return out


def report_rows(results: dict[str, Any], table: Any) -> bool:
    ok = True
    for backend, per in results["backends"].items():
        if "sealing" not in per:
            continue
        s = per["sealing"]
        for step in ("seal", "verify"):
            m = s[step]
            table.add_row(f"{backend}: {step} {m['rows']:,} ledger rows",
                          f"{m['wall_s']:.1f} s · {m['rows_per_s']:,} rows/s · "
                          f"{m['maxrss_mb']:.0f} MB", "", "")
        c = s["checks"]
        passed = c["ratio"] >= TARGET_RATIO
        ok &= passed
        sealed = c["rounds"][-1]["count"]
        table.add_row(f"{backend}: checks/s, sealer on ÷ off",
                      f"{c['on_rps']:,.0f} ÷ {c['off_rps']:,.0f} = {c['ratio']:.2f} "
                      f"({sealed} seals)", f"≥ {TARGET_RATIO:.2f}",
                      "PASS" if passed else "[red]MISS[/red]")
    return ok
