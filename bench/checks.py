"""Checks/s and latency of the real server, SQLite and PostgreSQL, beside /healthz.

    .venv/bin/python -m bench.checks          (``make bench``)

For each backend: a fresh database, migrated and seeded through the service functions; the
real server (``gateway serve --workers 2``) in a subprocess with a frozen Monday-morning clock;
the load generator (``bench.loadgen``) in another process:

* closed loop (N keep-alive connections, as fast as the server answers): requests/s;
* open loop at a fixed offered rate (300/s): latency from the *scheduled* send time.

Both for ``GET /healthz`` (the HTTP stack alone) and ``POST /v1/calls/check``. If checks/s is
under target, one worker is profiled under load with py-spy, and the service function
in-process with cProfile. A table per backend is printed and every figure is written to
``bench/results/checks-<timestamp>.json``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import spy

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
GATEWAY = str(Path(sys.executable).parent / "gateway")
FROZEN_NOW = "2026-11-23T10:30:00+01:00"  # a Monday, business hours, Paris
PG_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGET_CHECKS_PER_S = 1000.0
TARGET_P99_MS = 20.0
WORKERS = 2
NOISE_CORES = 0.3  # other processes using more than this: say the figures are disturbed

console = Console(width=None if sys.stdout.isatty() else 140)


class Skip(Exception):
    pass


def code_root(env: dict[str, str]) -> Path:
    """The tree whose code a subprocess runs: this one, or a baseline (``--baseline REF``)."""
    return Path(env.get("BENCH_CODE_ROOT") or ROOT)


@contextlib.contextmanager
def baseline_tree(ref: str) -> Iterator[tuple[Path, str]]:
    """The files of commit ``ref`` in a temporary directory (``git archive``), and its sha."""
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-baseline-"))
    try:
        archive = subprocess.run(["git", "archive", "--format=tar", sha], cwd=ROOT,
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        yield tmp, sha
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    return out


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def worker_pids(server_pid: int) -> list[int]:
    return [p for p in children(server_pid)
            if "multiprocessing" in cmdline(p) and "resource_tracker" not in cmdline(p)]


class Server:
    """``gateway serve --workers 2`` in its own process group; always stopped on exit."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.port = free_port()
        self.log_path = workdir / "server.log"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.workers: list[int] = []

    def start(self) -> None:
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [GATEWAY, "serve", "--workers", str(WORKERS), "--port", str(self.port)],
            env=self.env, cwd=code_root(self.env), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 60
        url = f"http://127.0.0.1:{self.port}/readyz"
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready after 60 s:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.2)
        while time.monotonic() < deadline:
            self.workers = worker_pids(self.proc.pid)
            if len(self.workers) >= WORKERS:
                break
            time.sleep(0.2)
        # every worker serves its first requests only after start-up: give the last one time
        time.sleep(1.0)

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> dict[str, Any]:
        """SIGTERM to the supervisor (it stops its workers), SIGKILL to the group after 10 s."""
        if self.proc is None:
            return {}
        pid = self.proc.pid
        how = "already exited"
        t = time.monotonic()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
                how = "SIGTERM"
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
                how = "SIGKILL after 10 s"
        # anything left in the group we created (a worker that outlived its supervisor)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        self.proc = None
        return {"stopped_by": how, "stop_s": round(time.monotonic() - t, 2)}


def run_py(module: str, args: list[str], env: dict[str, str], timeout: float) -> None:
    proc = subprocess.run([PYTHON, "-m", module, *args], env=env, cwd=code_root(env),
                          capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"python -m {module} failed ({proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}")


# --- databases ----------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_database(workdir: Path) -> Iterator[str]:
    yield f"sqlite:///{workdir / 'bench.db'}"  # the temp dir is removed by the caller


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(PG_ADMIN_URL)
    libpq = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"gw_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(libpq, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise Skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {str(exc).strip()}") from exc
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        for attempt in range(3):
            try:
                with psycopg.connect(libpq, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                console.print(f"[dim]dropped database {name}[/dim]")
                break
            except psycopg.Error as exc:
                if attempt == 2:
                    console.print(f"[red]could not drop database {name}: {exc}[/red]")
                time.sleep(1)


# --- one backend --------------------------------------------------------------------------


def phases(args: argparse.Namespace) -> list[dict[str, Any]]:
    closed = {"kind": "closed", "connections": args.connections, "warmup_s": args.warmup,
              "duration_s": args.closed_s}
    opened = {"kind": "open", "connections": 64, "rate": args.rate, "warmup_s": 1.0}
    return [
        {"name": "healthz_closed", "target": "healthz", **closed},
        {"name": "check_closed", "target": "check", **closed},
        {"name": "healthz_open", "target": "healthz", **opened, "duration_s": args.open_healthz_s},
        {"name": "check_open", "target": "check", **opened, "duration_s": args.open_s},
    ]


def targets(seed: dict[str, Any], run_id: str) -> dict[str, Any]:
    return {
        "healthz": {"kind": "healthz"},
        "check": {"kind": "check", "key": seed["key"], "campaign": seed["campaign"],
                  "caller_id": seed["caller_id"], "pools": seed["pools"], "seed": 20261123,
                  "run_id": run_id},
    }


def run_loadgen(plan: dict[str, Any], workdir: Path, name: str, timeout: float
                ) -> tuple[subprocess.Popen[bytes], Path]:
    plan_path = workdir / f"{name}-plan.json"
    out_path = workdir / f"{name}-out.json"
    plan_path.write_text(json.dumps(plan))
    proc = subprocess.Popen([PYTHON, "-m", "bench.loadgen", str(plan_path), str(out_path)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=sys.stderr)
    return proc, out_path


def wait_loadgen(proc: subprocess.Popen[bytes], out_path: Path, timeout: float) -> dict[str, Any]:
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError("load generator timed out") from None
    if rc != 0 or not out_path.exists():
        raise RuntimeError(f"load generator failed with {rc}")
    return json.loads(out_path.read_text())


def pg_stats_target(url: str) -> dict[str, str] | None:
    """Where the load generator reads PostgreSQL's session counter (None for SQLite)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return None
    admin = make_url(PG_ADMIN_URL).set(drivername="postgresql")
    return {"dsn": admin.render_as_string(hide_password=False), "db": parsed.database or ""}


def run_backend(backend: str, args: argparse.Namespace, run_id: str,
                tree: Path | None = None) -> dict[str, Any]:
    """One backend, with this tree's code or (``tree``) a baseline commit's."""
    workdir = Path(tempfile.mkdtemp(prefix=f"gw-bench-{backend}-"))
    result: dict[str, Any] = {"backend": backend}
    try:
        db = sqlite_database(workdir) if backend == "sqlite" else postgres_database()
        with db as url:
            env = {**os.environ, "DATABASE_URL": url, "GATEWAY_FROZEN_NOW": FROZEN_NOW,
                   "GATEWAY_LOG_LEVEL": "warning",
                   "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics")}
            if tree is not None:  # the baseline's code first on the path, run from its tree
                env["BENCH_CODE_ROOT"] = str(tree)
                env["PYTHONPATH"] = os.pathsep.join(
                    [str(tree), *filter(None, [os.environ.get("PYTHONPATH")])])
            (workdir / "metrics").mkdir()
            t = time.perf_counter()
            seed_path = workdir / "seed.json"
            run_py("bench.seed", [str(seed_path)], env, timeout=180)
            seed = json.loads(seed_path.read_text())
            result["seed"] = {k: seed[k] for k in ("consents", "bloctel", "history_attempts",
                                                   "timings")}
            console.print(f"[dim]{backend}: migrated and seeded in "
                          f"{time.perf_counter() - t:.1f} s ({seed['consents']} consents, "
                          f"BLOCTEL {seed['bloctel']['total_numbers']} numbers, "
                          f"{seed['history_attempts']} past attempts, ANALYZE)[/dim]")
            server = Server(env, workdir)
            try:
                server.start()
                result["server"] = {"port": server.port, "workers": server.workers}
                plan = {"host": "127.0.0.1", "port": server.port, "phases": phases(args),
                        "targets": targets(seed, run_id), "worker_pids": server.workers,
                        "postgres": pg_stats_target(url)}
                proc, out = run_loadgen(plan, workdir, "main", timeout=300)
                result["phases"] = wait_loadgen(proc, out, timeout=300)
                rps = result["phases"]["check_closed"]["rps"] or 0.0
                if rps:  # open loop at half the measured closed-loop maximum (issue 14)
                    half = {"name": "check_open_half", "target": "check", "kind": "open",
                            "connections": 64, "rate": round(rps / 2, 1), "warmup_s": 1.0,
                            "duration_s": args.open_s}
                    proc, out = run_loadgen({**plan, "phases": [half]}, workdir, "half",
                                            timeout=300)
                    result["phases"].update(wait_loadgen(proc, out, timeout=300))
                want = args.profile == "always" or (
                    args.profile == "auto" and rps < TARGET_CHECKS_PER_S)
                if want:
                    result["profile_http"] = profile_http(server, seed, args, workdir, run_id)
            finally:
                result.setdefault("server", {})["stop"] = server.stop()
                if server.log_path.exists():
                    warnings = [ln for ln in server.log_path.read_text(errors="replace")
                                .splitlines() if "ERROR" in ln or "Traceback" in ln]
                    result["server"]["log_errors"] = warnings[:20]
            if want:
                result["profile_inproc"] = profile_inproc(env, seed_path, workdir, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def profile_http(server: Server, seed: dict[str, Any], args: argparse.Namespace,
                 workdir: Path, run_id: str) -> dict[str, Any]:
    """py-spy on one worker while the closed-loop check load runs."""
    if spy.available() is None:
        return {"skipped": "py-spy not installed: .venv/bin/pip install py-spy"}
    seconds = args.profile_s
    phase = {"name": "profile_check", "target": "check", "kind": "closed",
             "connections": args.connections, "warmup_s": 2.0, "duration_s": seconds + 1.5}
    plan = {"host": "127.0.0.1", "port": server.port, "phases": [phase],
            "targets": targets(seed, run_id), "worker_pids": server.workers}
    proc, out = run_loadgen(plan, workdir, "profile", timeout=seconds + 60)
    try:
        time.sleep(2.0)
        raw = workdir / "pyspy.txt"
        ok, err = spy.record(server.workers[0], seconds, raw)
    finally:
        load = wait_loadgen(proc, out, timeout=seconds + 60)
    if not ok:
        return {"skipped": f"py-spy failed: {err}"}
    summary = spy.summarise(raw)
    summary["under_load_rps"] = load["profile_check"]["rps"]
    summary["worker_pid"] = server.workers[0]
    summary["sampler"] = f"py-spy record --idle -r 250 -d {seconds}"
    return summary


def profile_inproc(env: dict[str, str], seed_path: Path, workdir: Path,
                   args: argparse.Namespace) -> dict[str, Any]:
    out = workdir / "inproc.json"
    try:
        run_py("bench.inproc", [str(seed_path), str(out), str(args.inproc_n)], env, timeout=120)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return {"skipped": str(exc)[-500:]}
    return json.loads(out.read_text())


# --- report -------------------------------------------------------------------------------


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def per_request(phase: dict[str, Any], key: str, scale: float = 1.0) -> float:
    value = phase["cpu"].get(key)
    return (value or 0.0) / phase["rps"] * scale if phase["rps"] else 0.0


def verdict(ok: bool) -> str:
    return "[green]PASS[/green]" if ok else "[red]MISS[/red]"


def print_backend(r: dict[str, Any]) -> None:
    if "skipped" in r or "error" in r:
        console.print(f"[yellow]{r['backend']}: {r.get('skipped') or r.get('error')}[/yellow]")
        return
    p = r["phases"]
    hc, cc, ho, co = p["healthz_closed"], p["check_closed"], p["healthz_open"], p["check_open"]
    ratio = cc["rps"] / hc["rps"] if hc["rps"] else 0.0
    t = Table(title=f"{r['backend']} — gateway serve --workers {WORKERS}, frozen {FROZEN_NOW}")
    t.add_column("measure")
    t.add_column("GET /healthz", justify="right")
    t.add_column("POST /v1/calls/check", justify="right")
    t.add_column("check / healthz · target", justify="right")
    t.add_row(f"closed loop, {cc['connections']} conns: req/s", f"{hc['rps']:,.0f}",
              f"{cc['rps']:,.0f}",
              f"{ratio:.2f} · ≥{TARGET_CHECKS_PER_S:,.0f}/s "
              f"{verdict(cc['rps'] >= TARGET_CHECKS_PER_S)}")
    t.add_row("  latency p50 / p99 (ms)",
              f"{_ms(hc['latency_ms']['p50'])} / {_ms(hc['latency_ms']['p99'])}",
              f"{_ms(cc['latency_ms']['p50'])} / {_ms(cc['latency_ms']['p99'])}", "")
    t.add_row("  errors (non-200, bad body, transport)", str(hc["errors_total"]),
              str(cc["errors_total"]), "")
    for label, key in (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("max", "max")):
        extra = ""
        if key == "p99":
            p99_ok = (co["latency_ms"]["p99"] or 1e9) <= TARGET_P99_MS
            extra = f"≤{TARGET_P99_MS:.0f} ms {verdict(p99_ok)}"
        t.add_row(f"open loop {co['offered_rps']:.0f}/s: {label} (ms)",
                  _ms(ho["latency_ms"][key]), _ms(co["latency_ms"][key]), extra)
    half = p.get("check_open_half")
    if half:
        t.add_row(f"open loop at half the closed-loop max, {half['offered_rps']:.0f}/s: "
                  "p50 / p99 (ms)", "",
                  f"{_ms(half['latency_ms']['p50'])} / {_ms(half['latency_ms']['p99'])}",
                  f"≤{TARGET_P99_MS:.0f} ms "
                  f"{verdict((half['latency_ms']['p99'] or 1e9) <= TARGET_P99_MS)}")
    t.add_row("  achieved req/s · errors · unanswered after +3 s",
              f"{ho['rps']:.0f} · {ho['errors_total']} · {ho['unanswered_at_deadline']}",
              f"{co['rps']:.0f} · {co['errors_total']} · {co['unanswered_at_deadline']}",
              "latencies are lower bounds" if co["latency_is_lower_bound"] else "")
    hcpu, ccpu = hc["cpu"], cc["cpu"]
    t.add_row("cores used, closed loop: workers / PG / loadgen / other",
              f"{hcpu['workers_cores']} / {hcpu['postgres_cores']} / {hcpu['loadgen_cores']} / "
              f"{hcpu['other_cores']}",
              f"{ccpu['workers_cores']} / {ccpu['postgres_cores']} / {ccpu['loadgen_cores']} / "
              f"{ccpu['other_cores']}", f"of {os.cpu_count()} cores")
    t.add_row("  per request: worker CPU (ms) · context switches",
              f"{per_request(hc, 'workers_cores', 1000):.2f} · "
              f"{per_request(hc, 'worker_ctx_switches_per_s'):.1f}",
              f"{per_request(cc, 'workers_cores', 1000):.2f} · "
              f"{per_request(cc, 'worker_ctx_switches_per_s'):.1f}",
              f"PG {per_request(cc, 'postgres_cores', 1000):.2f} ms/check"
              if cc["cpu"]["postgres_cores"] else "")
    if ccpu.get("pg_sessions_opened_per_s") is not None:
        t.add_row("  PostgreSQL sessions opened per second", "",
                  f"{ccpu['pg_sessions_opened_per_s']:.0f}",
                  "[yellow]connection churn[/yellow]"
                  if ccpu["pg_sessions_opened_per_s"] > 1 else "")
    noise = max(cc["cpu"]["other_cores"], co["cpu"]["other_cores"])
    if noise > NOISE_CORES:
        t.caption = (f"[yellow]other processes used up to {noise} cores during the run: "
                     f"figures are disturbed[/yellow]")
    dec = cc.get("decisions", {})
    n = sum(dec.values()) or 1
    t.add_row("  check decisions (closed loop)", "",
              " · ".join(f"{k} {v / n:.0%}" for k, v in sorted(dec.items())), "")
    console.print(t)
    top = list(cc.get("reasons", {}).items())[:6]
    if top:
        console.print("  top reasons: " + ", ".join(f"{k} {v}" for k, v in top))
    for name, ph in p.items():
        if ph.get("samples"):
            console.print(f"  [red]{name} problems:[/red] {ph['samples'][:3]}")
    prof = r.get("profile_http")
    if prof and "skipped" not in prof:
        console.print(
            f"  [bold]py-spy --idle, one worker, load {prof['under_load_rps']:.0f} checks/s[/bold]"
            f" (both workers): event loop busy {prof['event_loop_busy_pct']}% / idle "
            f"{prof['event_loop_idle_pct']}%; thread pool busy {prof['thread_pool_busy_pct']}% "
            f"(thread-seconds per second × 100, running or blocked)")
        for k, v in prof["components_pct"].items():
            if "lock wait" in k and v >= 100:
                console.print(f"    {v / 100:6.1f}   threads queued on average: {k}")
            elif v >= 1.0:
                console.print(f"    {v:6.1f}%  {k}")
        console.print("    leaf frames by layer: " + ", ".join(
            f"{k} {v}%" for k, v in list(prof["layers_self_pct"].items())[:8]))
    elif prof:
        console.print(f"  [yellow]py-spy: {prof['skipped']}[/yellow]")
    ip = r.get("profile_inproc")
    if ip and "skipped" not in ip:
        console.print(f"  [bold]in-process check_call[/bold] ({ip['n']} sequential calls, no "
                      f"HTTP): {ip['service_us_per_check']:.0f} µs per check, of which "
                      f"{ip['db_us_per_check']:.0f} µs inside the database driver; "
                      f"CPU {ip['service_cpu_us_per_check']:.0f} µs")
        console.print("    statements per check: " + "; ".join(
            f"{k} ×{v['per_check']} {v['us_per_check']:.0f} µs"
            for k, v in list(ip["statements"].items())[:7] if v["us_per_check"] >= 5))
        console.print("    cProfile self time: " + ", ".join(
            f"{k} {v}%" for k, v in list(ip["layers_self_pct"].items())[:7]))
        console.print("    cumulative: " + "; ".join(
            f"{x['func']} {x['cum_pct']}%" for x in ip["top_cumulative"][2:9]))


def print_summary(results: dict[str, Any]) -> None:
    t = Table(title="Summary (targets: ≥1,000 checks/s sustained; p99 ≤ 20 ms at 300 checks/s)")
    for col in ("backend", "healthz/s", "checks/s", "ratio", "p50 @300/s", "p99 @300/s",
                "errors", "throughput", "latency"):
        t.add_column(col, justify="right")
    for name, r in results["backends"].items():
        if "phases" not in r:
            t.add_row(name, *(["—"] * 6), "skipped" if "skipped" in r else "[red]error[/red]", "")
            continue
        p = r["phases"]
        hc, cc, co = p["healthz_closed"], p["check_closed"], p["check_open"]
        errors = sum(ph["errors_total"] for ph in p.values())
        t.add_row(name, f"{hc['rps']:,.0f}", f"{cc['rps']:,.0f}",
                  f"{cc['rps'] / hc['rps']:.2f}" if hc["rps"] else "—",
                  _ms(co["latency_ms"]["p50"]), _ms(co["latency_ms"]["p99"]), str(errors),
                  verdict(cc["rps"] >= TARGET_CHECKS_PER_S),
                  verdict((co["latency_ms"]["p99"] or 1e9) <= TARGET_P99_MS))
    console.print(t)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def compare(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Mean closed-loop checks/s and healthz/s of each side, and current / baseline."""
    out: dict[str, Any] = {}
    for side, rs in runs.items():
        ok = [r["phases"] for r in rs if "phases" in r]
        out[side] = {
            "checks_per_s": _mean([p["check_closed"]["rps"] for p in ok]),
            "healthz_per_s": _mean([p["healthz_closed"]["rps"] for p in ok]),
            "check_over_healthz": _mean([p["check_closed"]["rps"] / p["healthz_closed"]["rps"]
                                         for p in ok if p["healthz_closed"]["rps"]]),
            "worker_cpu_ms": _mean([per_request(p["check_closed"], "workers_cores", 1000)
                                    for p in ok]),
            "postgres_cpu_ms": _mean([per_request(p["check_closed"], "postgres_cores", 1000)
                                      for p in ok]),
            "runs": len(ok),
        }
    b, c = out["baseline"], out["current"]
    for key in ("checks_per_s", "check_over_healthz", "worker_cpu_ms", "postgres_cpu_ms"):
        out[f"{key}_ratio"] = (c[key] / b[key]) if b[key] and c[key] else None
    return out


def print_comparison(baseline: dict[str, Any]) -> None:
    t = Table(title=f"This tree against {baseline['ref']} ({baseline['commit'][:10]}), same run "
                    "(closed loop, mean over rounds)")
    for col in ("backend", "baseline checks/s", "current checks/s", "current / baseline",
                "baseline check/healthz", "current check/healthz", "ratio of ratios",
                "worker CPU ms/check b → c", "PG CPU ms/check b → c"):
        t.add_column(col, justify="right")

    def f(v: float | None, fmt: str) -> str:
        return "—" if v is None else format(v, fmt)

    for backend, r in baseline.get("ratios", {}).items():
        b, c = r["baseline"], r["current"]
        t.add_row(backend, f(b["checks_per_s"], ",.0f"), f(c["checks_per_s"], ",.0f"),
                  f(r["checks_per_s_ratio"], ".3f"), f(b["check_over_healthz"], ".3f"),
                  f(c["check_over_healthz"], ".3f"), f(r["check_over_healthz_ratio"], ".3f"),
                  f"{f(b.get('worker_cpu_ms'), '.2f')} → {f(c.get('worker_cpu_ms'), '.2f')}",
                  f"{f(b.get('postgres_cpu_ms'), '.2f')} → {f(c.get('postgres_cpu_ms'), '.2f')}")
    console.print(t)


def machine_busy(seconds: float = 1.0) -> float:
    """Cores busy on the whole machine over ``seconds`` (before we start anything)."""

    def snap() -> tuple[int, int]:
        with open("/proc/stat") as f:
            cpu = [int(x) for x in f.readline().split()[1:]]
        return sum(cpu[:8]), cpu[3] + cpu[4]

    (t0, i0), w0 = snap(), time.perf_counter()
    time.sleep(seconds)
    (t1, i1), w1 = snap(), time.perf_counter()
    return round(((t1 - t0) - (i1 - i0)) / os.sysconf("SC_CLK_TCK") / (w1 - w0), 2)


def wait_quiet(limit_s: float) -> None:
    """Wait (at most ``limit_s``) until other processes leave the CPUs alone."""
    deadline = time.monotonic() + limit_s
    busy = machine_busy()
    while busy > NOISE_CORES and time.monotonic() < deadline:
        console.print(f"[dim]machine busy ({busy} cores), waiting for it to calm down…[/dim]")
        busy = machine_busy(2.0)


def write_results(results: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(out)


def per_backend(backends: str, run: Callable[[str], dict[str, Any]], results: dict[str, Any],
                out: Path) -> None:
    """``results["backends"][b] = run(b)`` for each backend of a comma-separated list; a
    failure is recorded (and said) and the next backend still runs; the results file is
    rewritten after each."""
    for backend in [b.strip() for b in backends.split(",") if b.strip()]:
        try:
            results["backends"][backend] = run(backend)
        except Exception as exc:  # recorded, and the other backend still runs
            results["backends"][backend] = {"error": f"{type(exc).__name__}: {exc}"}
            console.print(f"[red]{backend}: {exc}[/red]")
        write_results(results, out)


def conclude(results: dict[str, Any], out: Path, started: float,
             report: Callable[[dict[str, Any]], bool]) -> int:
    """Elapsed time, the report table, the results file: 0 if every target passed, else 1."""
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    ok = report(results)
    write_results(results, out)
    console.print(f"results: {out}")
    return 0 if ok else 1


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform(), "loadavg": os.getloadavg()}
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(Exception):
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        info["git_dirty"] = bool(subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
            capture_output=True, text=True).stdout.strip())
    return info


def begin_run(module: str, argv: list[str] | None, args: argparse.Namespace,
              **extra: Any) -> dict[str, Any]:
    """What every benchmark's ``main`` starts with: SIGTERM unwinds through every ``finally``
    (servers, databases, temporary trees) as Ctrl-C does, and the results' header — when, the
    command, the machine, the options, plus ``extra``."""

    def on_term(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    return {
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": f"python -m {module} " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(), "config": dict(vars(args)), **extra,
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.checks", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="sqlite,postgresql",
                    help="comma-separated: sqlite, postgresql (default both)")
    ap.add_argument("--connections", type=int, default=48, help="closed-loop connections")
    ap.add_argument("--warmup", type=float, default=2.0, help="closed-loop warm-up, s")
    ap.add_argument("--closed-s", type=float, default=10.0, help="closed-loop window, s")
    ap.add_argument("--rate", type=float, default=300.0, help="open-loop offered rate, req/s")
    ap.add_argument("--open-s", type=float, default=15.0, help="open-loop window for checks, s")
    ap.add_argument("--open-healthz-s", type=float, default=8.0,
                    help="open-loop window for /healthz, s")
    ap.add_argument("--profile", choices=("auto", "always", "never"), default="auto",
                    help="profile when checks/s is under target (auto), always or never")
    ap.add_argument("--profile-s", type=float, default=6.0, help="py-spy sampling time, s")
    ap.add_argument("--inproc-n", type=int, default=1000, help="in-process profiled checks")
    ap.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                    help="before each backend, wait up to S seconds for an idle machine")
    ap.add_argument("--baseline", metavar="REF",
                    help="also measure commit REF (git archive into a temporary directory) in "
                    "the same run, alternating with this tree, and print the ratios")
    ap.add_argument("--rounds", type=int, default=2,
                    help="with --baseline: rounds per backend (order alternates), default 2")
    ap.add_argument("--quick", action="store_true", help="short windows (a smoke test)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    if args.quick:
        args.warmup, args.closed_s, args.open_s, args.open_healthz_s = 1.0, 3.0, 3.0, 2.0
        args.profile_s, args.inproc_n = 3.0, 300
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    results = begin_run(
        "bench.checks", argv, args, frozen_now=FROZEN_NOW, server_workers=WORKERS,
        targets={"checks_per_s": TARGET_CHECKS_PER_S, "p99_ms_at_rate": TARGET_P99_MS,
                 "rate": args.rate}, backends={})
    started = time.perf_counter()
    run_id = secrets.token_hex(3)
    out = RESULTS / f"checks-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    busy = results["machine"]["busy_cores_before"] = machine_busy()
    if busy > NOISE_CORES:
        console.print(f"[yellow]warning: the machine is already busy ({busy} of "
                      f"{os.cpu_count()} cores) before the benchmark starts; figures will be "
                      f"lower and noisier than on a quiet machine[/yellow]")
    failed = False

    def one(backend: str, tree: Path | None, label: str) -> dict[str, Any]:
        nonlocal failed
        console.rule(f"[bold]{label}")
        if args.wait_quiet > 0:
            wait_quiet(args.wait_quiet)
        try:
            r = run_backend(backend, args, run_id, tree)
        except Skip as exc:
            r = {"backend": backend, "skipped": str(exc)}
        except Exception as exc:  # report, then go on with the next backend
            failed = True
            r = {"backend": backend, "error": f"{type(exc).__name__}: {exc}",
                 "traceback": traceback.format_exc()}
            console.print(f"[red]{label} failed:[/red]\n{r['traceback']}")
        r["code"] = label
        try:
            print_backend(r)
        except Exception:  # a report bug must not lose the figures: they are in the JSON
            console.print(f"[red]could not print {label}:[/red] {traceback.format_exc()}")
        if "phases" in r and any(ph["errors_total"] for ph in r["phases"].values()):
            failed = True
        return r

    with contextlib.ExitStack() as stack:
        tree, sha = (stack.enter_context(baseline_tree(args.baseline)) if args.baseline
                     else (None, ""))
        if sha:
            results["baseline"] = {"ref": args.baseline, "commit": sha, "runs": {}}
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            if tree is None:
                results["backends"][backend] = one(backend, None, backend)
                write_results(results, out)
                continue
            # alternate the order round by round (B C, C B…) so that a drift of the machine
            # during the run weighs on both sides
            runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "current": []}
            for i in range(args.rounds):
                order = [("baseline", tree), ("current", None)]
                for side, code in (order if i % 2 == 0 else order[::-1]):
                    label = f"{backend} · {side}" + (f" ({sha[:7]})" if code else "")
                    runs[side].append(one(backend, code, label))
                    results["backends"][backend] = runs["current"][-1] if runs["current"] \
                        else {"backend": backend, "pending": True}
                    results["baseline"]["runs"][backend] = runs
                    write_results(results, out)
            results["baseline"].setdefault("ratios", {})[backend] = compare(runs)
            write_results(results, out)
        if tree is not None:
            print_comparison(results["baseline"])
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    write_results(results, out)
    console.rule()
    print_summary(results)
    console.print(f"results: {out.relative_to(ROOT)}  ({results['elapsed_s']} s)")
    missed = any(
        "phases" in r and (
            r["phases"]["check_closed"]["rps"] < TARGET_CHECKS_PER_S
            or (r["phases"]["check_open"]["latency_ms"]["p99"] or 1e9) > TARGET_P99_MS)
        for r in results["backends"].values())
    return 1 if failed or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
