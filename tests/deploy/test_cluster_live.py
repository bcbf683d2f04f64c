"""The replicated topology, live: ``make cluster`` (``python -m cluster``) and ``cluster.Cluster``
— three ``gateway serve --workers 2`` replicas behind Debian's HAProxy on one PostgreSQL
database (PostgreSQL only: replicas share one database; SQLite is one machine's file).

* ``make cluster`` prints a URL and keys that work, and Ctrl-C stops every process;
* a check through the balancer, and the frequency invariant across replicas (50 concurrent
  checks of one callee, spread over six workers in three replicas → exactly 4 allowed);
* the leader jobs (ledger sealer, abuse monitors) run once per database whatever the replica
  count, and another replica takes them over when the one running them dies;
* a BLOCTEL list imported through one replica is the list in force on every replica within
  its documented bound.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from cluster import Cluster, free_port, haproxy_binary
from cluster.invariant import invariant_run
from tests.conftest import IN_CI, _pg_create, _pg_drop, use_database
from tests.factories import add_consent, make_tenant, operator_key

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
FROZEN_NOW = "2026-11-23T10:30:00+01:00"  # Monday 10:30 Paris: business hours, opt-in regime
LEADER_JOBS = ("app.audit.sealer", "app.monitors.runner")


def _require_tools() -> None:
    if haproxy_binary() is None:
        if IN_CI:
            pytest.fail("haproxy is missing: .ci/run installs it")
        pytest.skip("haproxy not installed (apt-get install haproxy)")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    _require_tools()
    try:
        url = _pg_create()
    except Exception as exc:
        if IN_CI:
            raise
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    previous = os.environ.get("DATABASE_URL")
    try:
        yield url
    finally:
        if previous is not None:
            use_database(previous)
        _pg_drop(url)


@pytest.fixture(scope="module")
def cluster(pg_url: str) -> Iterator[Cluster]:
    env = {"GATEWAY_FROZEN_NOW": FROZEN_NOW, "GATEWAY_LOG_LEVEL": "warning",
           # the leader jobs on, often: this module checks that they run once per database
           "GATEWAY_SEAL_INTERVAL_S": "1", "GATEWAY_MONITOR_INTERVAL_S": "1"}
    with Cluster(pg_url, replicas=3, workers=2, env=env) as c:
        use_database(pg_url)  # this process seeds through the service (operator key)
        yield c


def leader_jobs(c: Cluster) -> dict[str, list[str]]:
    """Which replica runs each leader job's process, read from /proc."""
    out: dict[str, list[str]] = {job: [] for job in LEADER_JOBS}
    for r in c.replicas:
        for pid in r.pids():
            with contextlib.suppress(OSError):
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                for job in LEADER_JOBS:
                    if f"-m\0{job}\0" in cmd + "\0":
                        out[job].append(r.name)
    return out


def wait_once_each(c: Cluster, timeout: float) -> dict[str, list[str]]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = leader_jobs(c)
        if all(len(where) == 1 for where in jobs.values()):
            return jobs
        if time.monotonic() > deadline:
            raise AssertionError(f"leader jobs after {timeout} s: {jobs}")
        time.sleep(0.2)


def counted(url: str, callee: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM attempts WHERE callee = :c AND counted"), {"c": callee}
            ).scalar_one())
    finally:
        engine.dispose()


def test_make_cluster_prints_a_url_and_keys_that_work_and_ctrl_c_stops_everything(
        pg_url: str) -> None:
    port = free_port()
    env = {**os.environ, "GATEWAY_FROZEN_NOW": FROZEN_NOW, "GATEWAY_LOG_LEVEL": "warning"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "cluster", "--replicas", "2", "--port", str(port),
         "--database-url", pg_url], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C stops every process" in line:
                break
        out = "".join(lines)
        assert f"Cluster http://127.0.0.1:{port}" in out, out
        dialer = re.search(r"dialer\s+key: (gw_\S+)", out)
        assert dialer, out
        replicas = [int(p) for p in re.findall(r"replica r\d: http://127\.0\.0\.1:(\d+)", out)]
        assert len(replicas) == 2, out
        assert "'r1': 'UP', 'r2': 'UP'" in out, out
        r = httpx.post(f"http://127.0.0.1:{port}/v1/calls/check",
                       headers={"Authorization": f"Bearer {dialer.group(1)}"},
                       json={"campaign": "spring-2026", "callee": "06 12 34 56 78",
                             "caller_id": "+33162000001"}, timeout=30)
        assert r.status_code == 200, r.text
        assert r.json()["decision"] == "allow", r.json()  # the demo consent, business hours
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        for p in [port, *replicas]:  # the balancer and both replicas are gone
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://127.0.0.1:{p}/healthz", timeout=2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_the_frequency_limit_holds_across_replicas(cluster: Cluster, pg_url: str) -> None:
    with httpx.Client(base_url=cluster.url, timeout=30) as client:
        t = make_tenant(client, "Répliques")
        callee = "+33611220033"
        add_consent(t, callee)
        assert t.check(callee=callee).json()["decision"] == "allow"
    allowed = invariant_run(cluster.url, t.dialer, "spring-2026", t.canvassing_cli, callee)
    assert allowed == 3  # one allowed before the burst: 4 in all (art. D223-9)
    assert counted(pg_url, callee) == 4


def test_bloctel_imported_through_one_replica_is_in_force_on_every_replica(
        cluster: Cluster) -> None:
    body = "\n".join(f"0{n}" for n in range(611000000, 611000500)).encode()
    r = httpx.post(f"{cluster.replicas[0].url}/v1/bloctel/imports",
                   params={"mode": "replace", "as_of": "2026-11-20"}, content=body,
                   headers={"Authorization": f"Bearer {operator_key()}",
                            "Content-Type": "text/plain"}, timeout=60)
    assert r.status_code in (200, 201), r.text
    version = r.json()["version"]
    done = time.monotonic()
    delays: dict[str, float] = {}
    for replica in cluster.replicas:
        streak = 0  # both workers of a replica: many fresh connections in a row must agree
        while streak < 12:
            with httpx.Client(timeout=5) as c:
                ready = c.get(f"{replica.url}/readyz").json()
            streak = streak + 1 if ready["bloctel"]["version"] == version else 0
            assert time.monotonic() - done < 5, (replica.name, ready)
        delays[replica.name] = time.monotonic() - done
    # README: running servers pick a new version up within 1 s (poll 0.25 s + load); the
    # slack is the 36 requests of this loop on a shared 2-core machine
    assert max(delays.values()) < 5, delays


def test_leader_jobs_run_once_per_database_and_move_when_their_replica_dies(
        cluster: Cluster) -> None:
    jobs = wait_once_each(cluster, timeout=20)
    for _ in range(10):  # and stay once: no second replica starts another
        time.sleep(0.3)
        assert all(len(w) == 1 for w in leader_jobs(cluster).values()), leader_jobs(cluster)
    holder = next(r for r in cluster.replicas if r.name == jobs["app.audit.sealer"][0])
    holder.kill()
    try:
        moved = wait_once_each(cluster, timeout=20)  # a survivor's retry (≤ 1 s here) + start
        assert moved["app.audit.sealer"][0] != holder.name
        assert all(len(w) == 1 for w in moved.values())
    finally:
        cluster.restart(holder)
    time.sleep(2)  # the restarted replica tries the locks too, and must not take them
    assert all(len(w) == 1 for w in leader_jobs(cluster).values()), leader_jobs(cluster)
