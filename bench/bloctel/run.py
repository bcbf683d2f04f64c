"""BLOCTEL at scale: import time and memory, look-ups per second, checks/s with the list.

    .venv/bin/python -m bench.bloctel          (``make bench-bloctel``; see bench/README.md)

One run, in this order:

1. a deterministic 10-million-line file (``bench.bloctel.gen``, cached under bench/results/);
2. the baseline: ``sort -u FILE > /dev/null`` with the environment's locale, and with
   ``LC_ALL=C``;
3. a ``replace`` import into a fresh SQLite file and a fresh PostgreSQL database, each in a
   fresh process (``bench.bloctel.importrun``): seconds, ratio to ``sort -u``, numbers/s,
   peak RSS;
4. the list in memory (``bench.bloctel.lookups``): ``store.load`` time, ``index.nbytes``, RSS,
   single and batch look-ups per second;
5. ``POST /v1/calls/check`` against the real server with the list loaded and with an empty
   list, same load, alternating, with ``bench.checks``' server, seeding and load generator.

A Rich summary is printed and everything goes to ``bench/results/bloctel-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.table import Table

from bench import checks, spy
from bench.bloctel import gen
from bench.checks import (
    FROZEN_NOW,
    PYTHON,
    ROOT,
    Server,
    Skip,
    console,
    postgres_database,
    sqlite_database,
)
from bench.loadgen import _proc_cpu, postgres_pids
from bench.seed import BLOCTEL_AS_OF

TARGET_IMPORT_S = 60.0
TARGET_SORT_RATIO = 3.0
TARGET_LOOKUPS_PER_S = 1_000_000
TARGET_MB_AT_15M = 200.0
TARGET_CHECK_RATIO = 0.90
EXTRAPOLATE_TO = 15_000_000
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- measuring a child process ---------------------------------------------------------------


def _busy_snap() -> tuple[float, float]:
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    return time.perf_counter(), (sum(cpu[:8]) - cpu[3] - cpu[4]) / CLK_TCK


def _pg_cpu() -> float:
    return sum(_proc_cpu(p, children=True) or 0.0 for p in postgres_pids())


def run_child(cmd: list[str], env: dict[str, str] | None, timeout: float, *,
              stdout: Any = subprocess.DEVNULL, postgres: bool = False) -> dict[str, Any]:
    """Run ``cmd`` and measure it alone: wall, its own CPU and peak RSS (``wait4`` rusage of
    that child, not of every child so far), the machine's other load meanwhile."""
    with tempfile.TemporaryFile() as err:
        pg0 = _pg_cpu() if postgres else 0.0
        t0, b0 = _busy_snap()
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=stdout, stderr=err)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, ru = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        t1, b1 = _busy_snap()
        wall = t1 - t0
        pg = (_pg_cpu() - pg0) if postgres else 0.0
        own = ru.ru_utime + ru.ru_stime
        out = {
            "wall_s": round(wall, 3), "cpu_s": round(own, 3),
            "maxrss_mb": round(ru.ru_maxrss / 1024, 1), "rc": proc.returncode,
            "machine_busy_cores": round((b1 - b0) / wall, 2),
            "other_cores": round(max(0.0, (b1 - b0 - own - pg) / wall), 2),
        }
        if postgres:
            out["postgres_cpu_s"] = round(pg, 3)
        if proc.returncode != 0:
            err.seek(0)
            out["stderr"] = err.read().decode(errors="replace")[-3000:]
    return out


def py_child(module: str, args: list[str], out: Path, env: dict[str, str], timeout: float, *,
             postgres: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what ``python -m module *args`` wrote to ``out``, how the child was measured)."""
    measured = run_child([PYTHON, "-m", module, *args], env, timeout, postgres=postgres)
    if measured["rc"] != 0:
        raise RuntimeError(f"python -m {module} failed ({measured['rc']}):\n"
                           f"{measured.get('stderr', '')}")
    return json.loads(out.read_text()), measured


def env_for(url: str, workdir: Path, cold_plan: bool = False) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": url, "GATEWAY_FROZEN_NOW": FROZEN_NOW,
           "GATEWAY_LOG_LEVEL": "warning", "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics")}
    (workdir / "metrics").mkdir(parents=True, exist_ok=True)
    if cold_plan:  # an empty cache: the import derives the numbering-plan table (~4 s)
        env["XDG_CACHE_HOME"] = str(workdir / "cold-cache")
    return env


@contextlib.contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    with (sqlite_database(workdir) if backend == "sqlite" else postgres_database()) as url:
        yield url


# --- 2. the baseline ------------------------------------------------------------------------


def quiet(args: argparse.Namespace) -> None:
    """Before a measurement: wait (at most ``--wait-quiet`` s) for other processes to calm."""
    if args.wait_quiet > 0:
        checks.wait_quiet(args.wait_quiet)


def baseline(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    locale = os.environ.get("LC_ALL") or os.environ.get("LC_COLLATE") or os.environ.get(
        "LANG") or "POSIX"
    out: dict[str, Any] = {}
    for label, extra in ((f"sort -u (locale {locale})", {}), ("LC_ALL=C sort -u", {"LC_ALL": "C"})):
        quiet(args)
        with open(os.devnull, "wb") as null:
            m = run_child(["sort", "-u", str(path)], {**os.environ, **extra}, 600, stdout=null)
        if m["rc"] != 0:
            raise RuntimeError(f"{label} failed: {m.get('stderr')}")
        out[label] = m
        console.print(f"[dim]{label}: {m['wall_s']:.2f} s (CPU {m['cpu_s']:.2f} s, "
                      f"{m['maxrss_mb']:.0f} MB)[/dim]")
    out["baseline"] = next(iter(out))
    return out


# --- 3 and 4. imports and the in-memory list --------------------------------------------------


def import_one(url: str, path: Path, env: dict[str, str], workdir: Path, *, mode: str = "replace",
               force: bool = False, migrate: bool = False, name: str = "import") -> dict[str, Any]:
    out = workdir / f"{name}.json"
    args = [url, str(path), str(out), "--mode", mode, "--as-of", BLOCTEL_AS_OF.isoformat()]
    args += ["--force"] * force + ["--migrate"] * migrate
    result, measured = py_child("bench.bloctel.importrun", args, out, env, timeout=900,
                                postgres=url.startswith("postgresql"))
    result["process"] = measured
    return result


def import_and_load(backend: str, path: Path, meta: dict[str, Any], args: argparse.Namespace,
                    workdir: Path, sort_s: float | None) -> dict[str, Any]:
    """A fresh database, one measured ``replace`` import, then the list loaded from it."""
    result: dict[str, Any] = {"backend": backend}
    with database(backend, workdir) as url:
        env = env_for(url, workdir, cold_plan=args.cold_plan)
        quiet(args)
        imp = import_one(url, path, env, workdir, migrate=True)
        result["import"] = imp
        rep, expected = imp["report"], meta["expected"]
        result["counts_ok"] = all(rep[k] == expected[k] for k in expected)
        console.print(f"[dim]{backend}: replace import of {rep['lines']:,} lines in "
                      f"{imp['seconds']:.2f} s (CPU {imp['cpu_s']:.2f} s), peak RSS "
                      f"{imp['process']['maxrss_mb']:.0f} MB, {rep['total_numbers']:,} numbers; "
                      f"plan cache {'warm' if imp['plan_cache']['warm'] else 'cold'}[/dim]")
        if not result["counts_ok"]:
            console.print(f"[red]{backend}: imported counts differ from the generator's: "
                          f"{ {k: rep[k] for k in expected} } vs {expected}[/red]")
        n = args.lookups if backend == "sqlite" else min(args.lookups, 200_000)
        quiet(args)
        out = workdir / "lookups.json"
        lk, measured = py_child("bench.bloctel.lookups",
                                [url, str(out), "--n", str(n),
                                 "--repeat", "5" if backend == "sqlite" else "1"],
                                out, env, timeout=600)
        lk["process"] = measured
        result["lookups"] = lk
        console.print(f"[dim]{backend}: store.load {lk['load_s']:.2f} s, index "
                      f"{lk['nbytes'] / 1e6:.1f} MB, RSS +{lk['rss_delta_mb']:.0f} MB; "
                      f"{lk['single']['per_s']:,} single look-ups/s[/dim]")
        if args.profile == "always" or (
                args.profile == "auto" and not import_ok(result, sort_s)):
            result["import_profile"] = profile_import(url, path, env, workdir)
    return result


def import_ok(r: dict[str, Any], sort_s: float | None) -> bool:
    s = r["import"]["seconds"]
    return s <= TARGET_IMPORT_S and (sort_s is None or s <= TARGET_SORT_RATIO * sort_s)


def profile_import(url: str, path: Path, env: dict[str, str], workdir: Path) -> dict[str, Any]:
    """py-spy over a second replace import (same database): self time and bloctel functions."""
    exe = spy.available()
    if exe is None:
        return {"skipped": "py-spy not installed: .venv/bin/pip install py-spy"}
    raw = workdir / "import-pyspy.txt"
    cmd = [exe, "record", "-r", "200", "-f", "raw", "-o", str(raw), "--", PYTHON, "-m",
           "bench.bloctel.importrun", url, str(path), str(workdir / "profiled.json"),
           "--as-of", BLOCTEL_AS_OF.isoformat(), "--force"]
    m = run_child(cmd, env, 900)
    if m["rc"] != 0 or not raw.exists():
        return {"skipped": f"py-spy failed: {m.get('stderr', '')[-500:]}"}
    return summarise_stacks(raw)


def summarise_stacks(raw: Path, top: int = 15) -> dict[str, Any]:
    total = 0
    self_t: dict[str, int] = {}
    incl: dict[str, int] = {}
    self_fn: dict[str, int] = {}
    for frames, count in spy.stacks(raw):
        total += count
        leaf = frames[-1].replace(str(ROOT) + "/", "").split("site-packages/")[-1]
        self_t[leaf] = self_t.get(leaf, 0) + count
        seen = set()  # inclusive: once per stack, whatever the line
        for f in frames:
            m = spy._FRAME.match(f)
            file = m["file"].replace(str(ROOT) + "/", "") if m else ""
            if file.startswith(("bloctel/", "app/bloctel/")):
                seen.add(f"{m['func']} ({file})")  # type: ignore[index]
            if m and file and not file.startswith("bench/") and f is frames[-1]:
                name = f"{m['func']} ({file.split('site-packages/')[-1]})"
                self_fn[name] = self_fn.get(name, 0) + count
        for f in seen:
            incl[f] = incl.get(f, 0) + count

    def pct(n: int) -> float:
        return round(100 * n / total, 1) if total else 0.0

    return {
        "samples": total,
        "self_top": [{"frame": k, "pct": pct(v)}
                     for k, v in sorted(self_t.items(), key=lambda kv: -kv[1])[:top]],
        "self_by_function": [{"func": k, "pct": pct(v)}
                             for k, v in sorted(self_fn.items(), key=lambda kv: -kv[1])[:top]],
        "bloctel_inclusive": [{"func": k, "pct": pct(v)}
                              for k, v in sorted(incl.items(), key=lambda kv: -kv[1])[:top]],
    }


# --- 5. checks/s with the list and without ---------------------------------------------------


def check_phase(args: argparse.Namespace, name: str) -> dict[str, Any]:
    return {"name": name, "target": "check", "kind": "closed", "connections": args.connections,
            "warmup_s": args.warmup, "duration_s": args.check_s}


def worker_rss_mb(pids: list[int]) -> list[float]:
    out = []
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out.append(round(int(line.split()[1]) / 1024, 1))
    return out


def checks_backend(backend: str, path: Path, meta: dict[str, Any], args: argparse.Namespace,
                   workdir: Path, run_id: str) -> dict[str, Any]:
    """Two databases seeded alike (``bench.seed``): A gets the big list (a ``replace``), B an
    empty one (a forced ``replace`` with no number). Closed-loop rounds alternate A B, B A…,
    a fresh server each, with identical request streams (same phase name, same seed)."""
    result: dict[str, Any] = {"backend": backend}
    lists = ("with_list", "empty_list")
    with contextlib.ExitStack() as stack:
        urls = {k: stack.enter_context(database(backend, workdir / k)) for k in lists}
        envs = {k: env_for(urls[k], workdir / k) for k in lists}
        seeds: dict[str, dict[str, Any]] = {}
        for k in lists:
            t = time.perf_counter()
            seed_path = workdir / k / "seed.json"
            checks.run_py("bench.seed", [str(seed_path)], envs[k], timeout=300)
            seeds[k] = json.loads(seed_path.read_text())
            console.print(f"[dim]{backend}/{k}: migrated and seeded in "
                          f"{time.perf_counter() - t:.1f} s[/dim]")
        imp = import_one(urls["with_list"], path, envs["with_list"], workdir / "with_list",
                         name="import-seeded")
        result["import_over_seeded"] = {
            "seconds": imp["seconds"], "cpu_s": imp["cpu_s"],
            "peak_rss_mb": imp["process"]["maxrss_mb"], "phases_s": imp["phases_s"],
            "total_numbers": imp["report"]["total_numbers"],
            "base_version": imp["report"]["base_version"]}
        console.print(f"[dim]{backend}/with_list: replace over the seeded list in "
                      f"{imp['seconds']:.2f} s, {imp['report']['total_numbers']:,} numbers[/dim]")
        empty = workdir / "empty_list" / "empty.txt"
        empty.write_text("numero\n")  # a header and no number: refused unless forced
        imp = import_one(urls["empty_list"], empty, envs["empty_list"], workdir / "empty_list",
                         force=True, name="import-empty")
        result["empty_list_version"] = {k: imp["report"][k] for k in ("version", "total_numbers")}

        # the same callees on both: bench.seed's pools (identical, same seed), its small list
        # replaced by numbers of the big file, so that 8 % of the checks hit the list
        pools = {**seeds["with_list"]["pools"], "bloctel": meta["listed_sample_e164"]}
        rounds: dict[str, list[dict[str, Any]]] = {k: [] for k in lists}
        rss: dict[str, list[list[float]]] = {k: [] for k in lists}
        for r in range(args.rounds):
            for k in lists if r % 2 == 0 else lists[::-1]:
                # a fresh server each round: two identically configured servers can differ by
                # 10 % for their whole life (an A/A run showed it); restarting spreads that
                # over both sides instead of charging it to one
                server = Server(envs[k], workdir / k)
                try:
                    server.start()
                    seed = {**seeds[k], "pools": pools}
                    plan = {"host": "127.0.0.1", "port": server.port,
                            "phases": [check_phase(args, f"check_r{r}")],
                            "targets": checks.targets(seed, run_id),
                            "worker_pids": server.workers,
                            "postgres": checks.pg_stats_target(urls[k])}
                    quiet(args)
                    proc, out = checks.run_loadgen(plan, workdir / k, f"r{r}", timeout=300)
                    ph = checks.wait_loadgen(proc, out, timeout=300)[f"check_r{r}"]
                    rss[k].append(worker_rss_mb(server.workers))
                finally:
                    server.stop()
                rounds[k].append(ph)
                console.print(f"[dim]{backend} round {r + 1} {k}: {ph['rps']:,.0f} checks/s, "
                              f"errors {ph['errors_total']}, p99 {ph['latency_ms']['p99']} ms, "
                              f"other processes {ph['cpu']['other_cores']} cores[/dim]")
        result["worker_rss_mb"] = {k: rss[k][-1] for k in lists}
        result["worker_rss_mb_rounds"] = rss
        mean = {k: sum(p["rps"] or 0 for p in rounds[k]) / len(rounds[k]) for k in lists}
        ratio = mean["with_list"] / mean["empty_list"] if mean["empty_list"] else 0.0
        # the servers' own CPU per check: less sensitive than throughput to whatever else the
        # 2 cores are running
        cost = {k: {"workers": cpu_ms_per_check(rounds[k], "workers_cores"),
                    "postgres": cpu_ms_per_check(rounds[k], "postgres_cores")}
                for k in lists}
        if args.profile == "always" or (args.profile == "auto" and ratio < TARGET_CHECK_RATIO):
            prof_args = argparse.Namespace(profile_s=6.0, connections=args.connections)
            server = Server(envs["with_list"], workdir / "with_list")
            try:
                server.start()
                result["profile_with_list"] = checks.profile_http(
                    server, {**seeds["with_list"], "pools": pools}, prof_args,
                    workdir / "with_list", run_id)
            finally:
                server.stop()
    result["rounds"] = {k: [summarise_phase(p) for p in rounds[k]] for k in lists}
    result["mean_rps"] = {k: round(v, 1) for k, v in mean.items()}
    result["ratio"] = round(ratio, 3)
    paired = sorted(a["rps"] / b["rps"] for a, b in zip(rounds["with_list"], rounds["empty_list"],
                                                        strict=True) if b["rps"])
    result["round_ratios"] = [round(a["rps"] / b["rps"], 3) if b["rps"] else None
                              for a, b in zip(rounds["with_list"], rounds["empty_list"],
                                              strict=True)]
    result["round_ratio_median"] = round(paired[len(paired) // 2] if len(paired) % 2 else
                                         (paired[len(paired) // 2 - 1] + paired[len(paired) // 2])
                                         / 2, 3) if paired else None
    result["ratio_ci95"] = ci95(paired)
    result["disturbed_rounds"] = sum(p["cpu"]["other_cores"] > checks.NOISE_CORES
                                     for k in lists for p in rounds[k])
    result["cpu_ms_per_check"] = cost
    total = {k: cost[k]["workers"] + cost[k]["postgres"] for k in lists}
    result["cpu_ratio"] = round(total["empty_list"] / total["with_list"], 3) \
        if total["with_list"] else 0.0
    result["errors"] = sum(p["errors_total"] for k in lists for p in rounds[k])
    return result


def ci95(ratios: list[float]) -> list[float] | None:
    """95 % confidence interval of the mean paired ratio (on logs, Student's t)."""
    import math
    import statistics

    n = len(ratios)
    if n < 2 or min(ratios) <= 0:
        return None
    logs = [math.log(x) for x in ratios]
    t = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}.get(
        n - 1, 2.0)
    half = t * statistics.stdev(logs) / math.sqrt(n)
    mid = statistics.fmean(logs)
    return [round(math.exp(mid - half), 3), round(math.exp(mid + half), 3)]


def cpu_ms_per_check(phases: list[dict[str, Any]], key: str) -> float:
    """CPU milliseconds per answered check over the rounds (workers, or PostgreSQL)."""
    cpu = sum((p["cpu"].get(key) or 0.0) * p["window_s"] for p in phases)
    done = sum(p["completed"] for p in phases)
    return round(cpu / done * 1000, 3) if done else 0.0


def summarise_phase(p: dict[str, Any]) -> dict[str, Any]:
    bloctel = sum(v for k, v in p.get("reasons", {}).items() if k.startswith("BLOCTEL"))
    return {"rps": p["rps"], "p50_ms": p["latency_ms"]["p50"], "p99_ms": p["latency_ms"]["p99"],
            "errors": p["errors_total"], "decisions": p.get("decisions", {}),
            "bloctel_reasons": bloctel, "completed": p["completed"], "window_s": p["window_s"],
            "reasons": dict(list(p.get("reasons", {}).items())[:8]), "cpu": p["cpu"]}


# --- report ------------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "—"
    return "[green]PASS[/green]" if ok else "[red]MISS[/red]"


def report(results: dict[str, Any]) -> bool:
    """Print the tables; True if every measured target is met."""
    ok_all = True
    inp, sort = results["input"], results.get("sort")
    base_s = sort[sort["baseline"]]["wall_s"] if sort else None
    t = Table(title=f"BLOCTEL at scale — {inp['lines']:,} lines "
                    f"({inp['bytes'] / 1e6:.0f} MB, {inp['expected']['accepted']:,} numbers, "
                    f"{inp['expected']['duplicates']:,} duplicates, "
                    f"{inp['expected']['rejected']:,} garbage)")
    for col, just in (("measure", "left"), ("value", "right"), ("target", "right"),
                      ("", "center")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    if sort:
        for label, m in sort.items():
            if label == "baseline":
                continue
            t.add_row(label + (" [bold](baseline)[/bold]" if label == sort["baseline"] else ""),
                      f"{m['wall_s']:.2f} s · CPU {m['cpu_s']:.1f} s · {m['maxrss_mb']:.0f} MB",
                      "", "")
    for b, r in results["imports"].items():
        if "import" not in r:
            t.add_row(f"{b}: import", r.get("skipped") or "[red]error[/red]", "", "")
            continue
        imp = r["import"]
        s = imp["seconds"]
        ratio = s / base_s if base_s else None
        ok60 = s <= TARGET_IMPORT_S
        ok3 = None if ratio is None else ratio <= TARGET_SORT_RATIO
        ok_all &= ok60 and ok3 is not False and r["counts_ok"]
        t.add_row(f"{b}: replace import, fresh db (plan cache "
                  f"{'warm' if imp['plan_cache']['warm'] else 'cold'})",
                  f"{s:.2f} s (CPU {imp['cpu_s']:.1f} s)", f"≤ {TARGET_IMPORT_S:.0f} s",
                  verdict(ok60))
        t.add_row("   ratio to sort -u · numbers/s",
                  f"{ratio:.2f}× · {imp['report']['total_numbers'] / s:,.0f}/s"
                  if ratio is not None else "—", f"≤ {TARGET_SORT_RATIO:.0f}×", verdict(ok3))
        t.add_row("   peak RSS (whole process · above pre-import)",
                  f"{imp['process']['maxrss_mb']:.0f} MB · {imp['peak_rss_above_start_mb']:.0f} MB",
                  "", "")
        t.add_row("   accepted · duplicates · rejected",
                  f"{imp['report']['accepted']:,} · {imp['report']['duplicates']:,} · "
                  f"{imp['report']['rejected']:,}", "= generator's", verdict(r["counts_ok"]))
        lk = r.get("lookups")
        if lk:
            scale = EXTRAPOLATE_TO / max(lk["numbers"], 1)
            worst = max(lk["nbytes"] / 2**20, lk["rss_delta_mb"]) * scale
            ok_mem = worst <= TARGET_MB_AT_15M
            ok_all &= ok_mem
            t.add_row(f"{b}: store.load · index.nbytes · RSS delta",
                      f"{lk['load_s']:.2f} s · {lk['nbytes'] / 2**20:.1f} MiB · "
                      f"+{lk['rss_delta_mb']:.0f} MB", "", "")
            t.add_row("   memory extrapolated to 15M (nbytes · RSS delta)",
                      f"{lk['nbytes'] / 2**20 * scale:.0f} · {lk['rss_delta_mb'] * scale:.0f} MB",
                      f"≤ {TARGET_MB_AT_15M:.0f} MB/worker", verdict(ok_mem))
            if b == "sqlite":
                ok_l = lk["single"]["per_s"] >= TARGET_LOOKUPS_PER_S
                ok_all &= ok_l
                t.add_row("   single look-ups `key in index` (½ hits)",
                          f"{lk['single']['per_s']:,}/s ({lk['single']['ns_each']} ns; "
                          f"per CPU-s {lk['single']['per_cpu_s']:,})",
                          f"≥ {TARGET_LOOKUPS_PER_S:,}/s", verdict(ok_l))
                t.add_row("   batch contains_many",
                          f"{lk['batch']['per_s']:,}/s ({lk['batch']['n']:,} keys a call)",
                          "", "")
                t.add_row("   check path: lookup(conn, '+33…') → BloctelFacts",
                          f"{lk['check_path_lookup']['per_s']:,}/s "
                          f"({lk['check_path_lookup']['us_each']} µs)", "", "")
    for b, r in results["checks"].items():
        if "ratio" not in r:
            t.add_row(f"{b}: checks/s with / without list", r.get("skipped") or
                      f"[red]{r.get('error', 'error')[:60]}[/red]", "", "")
            ok_all &= "skipped" in r
            continue
        ok_c = r["ratio"] >= TARGET_CHECK_RATIO and r["errors"] == 0
        ok_all &= ok_c
        w, e = r["mean_rps"]["with_list"], r["mean_rps"]["empty_list"]
        seeded = r["import_over_seeded"]
        t.add_row(f"{b}: replace import over the seeded database (base: bench.seed's list)",
                  f"{seeded['seconds']:.2f} s (CPU {seeded['cpu_s']:.1f} s)", "", "")
        t.add_row(f"{b}: checks/s, list of {seeded['total_numbers']:,} · empty "
                  f"({len(r['rounds']['with_list'])} rounds each)",
                  f"{w:,.0f} · {e:,.0f} = {r['ratio']:.2f}", f"≥ {TARGET_CHECK_RATIO:.2f}",
                  verdict(ok_c))
        ci = r.get("ratio_ci95")
        t.add_row("   per-round ratios (adjacent rounds) · median · 95 % CI",
                  f"{', '.join(f'{x:.2f}' for x in r['round_ratios'] if x is not None)} · "
                  f"{r['round_ratio_median']:.2f} · "
                  + (f"{ci[0]:.2f}–{ci[1]:.2f}" if ci else "—"), "", "")
        c = r["cpu_ms_per_check"]
        lk = results["imports"].get("sqlite", {}).get("lookups")
        if lk and c["empty_list"]["workers"]:
            us = lk["check_path_lookup"]["us_each"]
            per_check = (c["empty_list"]["workers"] + c["empty_list"]["postgres"]) * 1000
            expected = per_check / (per_check + us)
            r["ratio_expected_from_lookup_cost"] = round(expected, 4)
            t.add_row("   expected from the look-up's cost (µs per check / server CPU per check)",
                      f"{us:.1f} µs / {per_check / 1000:.2f} ms → {expected:.3f}", "", "")
        pg = (f" + PG {c['with_list']['postgres']:.2f} · {c['empty_list']['postgres']:.2f}"
              if c["with_list"]["postgres"] else "")
        t.add_row("   server CPU ms per check: workers (list · empty) → ratio",
                  f"{c['with_list']['workers']:.2f} · {c['empty_list']['workers']:.2f}{pg} "
                  f"→ {r['cpu_ratio']:.2f}", f"≥ {TARGET_CHECK_RATIO:.2f}",
                  verdict(r["cpu_ratio"] >= TARGET_CHECK_RATIO))
        share = {k: sum(p["bloctel_reasons"] for p in r["rounds"][k])
                 / max(sum(p["completed"] for p in r["rounds"][k]), 1) for k in r["rounds"]}
        t.add_row("   checks with a BLOCTEL reason (list · empty)",
                  f"{share['with_list']:.1%} · {share['empty_list']:.1%}", "", "")
        rss = r.get("worker_rss_mb", {})
        if rss.get("with_list") and rss.get("empty_list"):
            t.add_row("   worker RSS (list · empty)",
                      f"{' / '.join(f'{x:.0f}' for x in rss['with_list'])} · "
                      f"{' / '.join(f'{x:.0f}' for x in rss['empty_list'])} MB", "", "")
            full, bare = max(rss["with_list"]), max(rss["empty_list"])
            scale = EXTRAPOLATE_TO / max(seeded["total_numbers"], 1)
            share = (full - bare) * scale
            r["worker_rss_at_15M_mb"] = {"list_share": round(share, 1),
                                         "whole_worker": round(bare + share, 1)}
            t.add_row("   at 15M: the list's share · the whole worker",
                      f"+{share:.0f} MB · {bare + share:.0f} MB",
                      f"≤ {TARGET_MB_AT_15M:.0f} MB", f"{verdict(share <= TARGET_MB_AT_15M)} · "
                      f"{verdict(bare + share <= TARGET_MB_AT_15M)}")
        other = max(p["cpu"]["other_cores"] for k in r["rounds"] for p in r["rounds"][k])
        t.add_row("   errors · other processes' cores (max of the rounds) · disturbed rounds",
                  f"{r['errors']} · {other} · {r['disturbed_rounds']}", "0 errors", "")
    console.print(t)
    for b, r in results["imports"].items():
        imp = r.get("import")
        if imp:
            console.print(f"  {b} import phases (s): " + ", ".join(
                f"{k} {v}" for k, v in imp["phases_s"].items())
                + "; inside: " + ", ".join(f"{c['call']} {c['s']}" for c in imp["calls"])
                + f"; other processes {imp['process']['other_cores']} cores")
        if imp and "postgres_cpu_s" in imp["process"]:
            console.print(f"  {b} import: PostgreSQL's own CPU {imp['process']['postgres_cpu_s']}"
                          f" s beside the importer's {imp['cpu_s']} s")
        prof = r.get("import_profile")
        if prof and "self_top" in prof:
            console.print(f"  [bold]py-spy of the {b} import[/bold] ({prof['samples']} samples): "
                          + "; ".join(f"{x['func']} {x['pct']}%"
                                      for x in prof["bloctel_inclusive"][:8]))
            console.print("    self time by function: " + "; ".join(
                f"{x['func']} {x['pct']}%" for x in prof["self_by_function"][:8]))
    for b, r in results["checks"].items():
        prof = r.get("profile_with_list")
        if prof and "components_pct" in prof:
            console.print(f"  [bold]py-spy --idle, one {b} worker with the list[/bold] "
                          f"({prof['under_load_rps']:.0f} checks/s): " + "; ".join(
                              f"{k} {v}%" for k, v in list(prof["components_pct"].items())[:10]))
        elif prof:
            console.print(f"  [yellow]{b} profile: {prof.get('skipped')}[/yellow]")
    return ok_all


# --- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.bloctel", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--numbers", type=int, default=gen.DEFAULT_NUMBERS,
                    help="lines in the generated file (default 10,000,000)")
    ap.add_argument("--seed", type=int, default=gen.DEFAULT_SEED)
    ap.add_argument("--backends", default="sqlite,postgresql",
                    help="for the import and load: sqlite, postgresql")
    ap.add_argument("--check-backends", default="sqlite,postgresql",
                    help="for checks/s with and without the list ('' to skip)")
    ap.add_argument("--rounds", type=int, default=6,
                    help="closed-loop rounds per list, alternating A B, B A… (default 6)")
    ap.add_argument("--check-s", type=float, default=6.0, help="each round's window, s")
    ap.add_argument("--warmup", type=float, default=2.0, help="each round's warm-up, s")
    ap.add_argument("--connections", type=int, default=48)
    ap.add_argument("--wait-quiet", type=float, default=2.0, metavar="S",
                    help="before each measurement, wait up to S s for an idle machine (0: no)")
    ap.add_argument("--lookups", type=int, default=2_000_000,
                    help="single look-ups timed (half on the list)")
    ap.add_argument("--cold-plan", action="store_true",
                    help="import with an empty cache: the numbering-plan table is derived")
    ap.add_argument("--no-sort", action="store_true", help="skip the sort -u baseline")
    ap.add_argument("--profile", choices=("auto", "always", "never"), default="auto",
                    help="py-spy the import / a worker when a target is missed (auto)")
    ap.add_argument("--quick", action="store_true",
                    help="1M lines, short windows: a smoke test in about two minutes")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    if args.quick:
        args.numbers = min(args.numbers, 1_000_000)
        args.check_s, args.warmup, args.lookups, args.rounds = 4.0, 1.0, 400_000, 2
        args.wait_quiet = 0.0
    return args


def _guarded(backend: str, step: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """Run one backend's step: its result; a skip (PostgreSQL away…) or a failure is recorded
    in its place, and the run goes on. Returns (result, failed)."""
    try:
        return step(), False
    except Skip as exc:
        console.print(f"[yellow]{exc}[/yellow]")
        return {"backend": backend, "skipped": str(exc)}, False
    except Exception as exc:
        r = {"backend": backend, "error": f"{type(exc).__name__}: {exc}",
             "traceback": traceback.format_exc()}
        console.print(f"[red]{backend} failed:[/red]\n{r['traceback']}")
        return r, True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results = checks.begin_run(
        "bench.bloctel", argv, args,
        targets={"import_s": TARGET_IMPORT_S, "import_vs_sort_u": TARGET_SORT_RATIO,
                 "single_lookups_per_s": TARGET_LOOKUPS_PER_S,
                 "mb_per_worker_at_15M": TARGET_MB_AT_15M,
                 "checks_with_list_vs_empty": TARGET_CHECK_RATIO},
        imports={}, checks={})
    started = time.perf_counter()
    run_id = secrets.token_hex(3)
    out = checks.RESULTS / f"bloctel-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    with contextlib.suppress(Exception):  # what is measured: uncommitted changes included
        results["machine"]["uncommitted"] = subprocess.run(
            ["git", "status", "--porcelain", "--", "bloctel", "rules_fr", "app", "migrations"],
            cwd=ROOT, capture_output=True, text=True).stdout.splitlines()
    busy = results["machine"]["busy_cores_before"] = checks.machine_busy()
    if busy > checks.NOISE_CORES:
        console.print(f"[yellow]warning: the machine is already busy ({busy} of "
                      f"{os.cpu_count()} cores); wall times will be longer than on a quiet "
                      f"machine (CPU times are reported beside them)[/yellow]")
    failed = False
    work = Path(tempfile.mkdtemp(prefix="gw-bench-bloctel-"))
    try:
        console.rule("[bold]input")
        path, meta, cached = gen.ensure(args.numbers, args.seed, log=console.print)
        results["input"] = {k: v for k, v in meta.items() if k != "listed_sample_e164"}
        results["input"] |= {"path": str(path.relative_to(ROOT)), "cached": cached,
                             "lines": meta["expected"]["lines"]}
        v = meta["verify"]
        how = "cached" if cached else f"generated in {meta['generate_s']} s"
        console.print(f"[dim]{path.relative_to(ROOT)} ({how}); classify check: "
                      f"{v['ranges_checked']} range samples, {v['lines_checked']} lines, "
                      f"{v['ranges_wrong_count'] + v['lines_wrong_count']} wrong[/dim]")
        if not v["ok"]:
            failed = True
            console.print(f"[red]the generator wrote numbers classify disagrees with: {v}[/red]")
        if not args.no_sort:
            console.rule("[bold]sort -u")
            results["sort"] = baseline(path, args)
        checks.write_results(results, out)
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            console.rule(f"[bold]{backend}: import and load")
            sort = results.get("sort")
            baseline_s = sort[sort["baseline"]]["wall_s"] if sort else None
            r, broke = _guarded(backend, functools.partial(
                import_and_load, backend, path, meta, args, work / f"imp-{backend}", baseline_s))
            failed |= broke
            results["imports"][backend] = r
            checks.write_results(results, out)
        for backend in [b.strip() for b in args.check_backends.split(",") if b.strip()]:
            console.rule(f"[bold]{backend}: checks/s with the list and with an empty one")
            r, broke = _guarded(backend, functools.partial(
                checks_backend, backend, path, meta, args, work / f"chk-{backend}", run_id))
            failed |= broke or r.get("errors", 0) > 0
            results["checks"][backend] = r
            checks.write_results(results, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    checks.write_results(results, out)
    console.rule()
    met = report(results)
    results["all_targets_met"] = met
    checks.write_results(results, out)
    console.print(f"results: {out.relative_to(ROOT)}  ({results['elapsed_s']} s)")
    return 1 if failed or (args.strict and not met) else 0
