"""Rate limits on a real server with 2 workers: buckets are per worker process, so one key gets
its burst on each worker it reaches — W × burst at most over W workers (the documented bound),
and never more on any one of them."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from collections.abc import Iterator

import pytest

from app import db as app_db
from tests.conftest import Database, truncate_all, use_database
from tests.factories import CALLEE, make_tenant
from tests.integration.conftest import (
    FROZEN_NOW,
    WORKERS,
    Server,
    _free_port,
    _gateway_executable,
    _stop,
    _wait_ready,
)

BURST = 3


@pytest.fixture(scope="module")
def limited(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``gateway serve --workers 2`` with a dialer limit of 3 at once, 1 an hour."""
    workdir = tmp_path_factory.mktemp(f"ratelimit-{database.backend}")
    (workdir / "metrics").mkdir()
    port = _free_port()
    env = os.environ | {
        "DATABASE_URL": database.url, "GATEWAY_FROZEN_NOW": FROZEN_NOW,
        "GATEWAY_LOG_LEVEL": "info", "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics"),
        "GATEWAY_RATE_LIMITS": f"dialer=1/h:{BURST},admin=off,operator=off",
    }
    stderr_path = workdir / "stderr.log"
    with stderr_path.open("wb") as err:
        proc = subprocess.Popen(
            [_gateway_executable(), "serve", "--workers", str(WORKERS), "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
        )
    srv = Server(database, proc, f"http://127.0.0.1:{port}", stderr_path, workdir / "metrics")
    try:
        _wait_ready(srv)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("DATABASE_URL", database.url)  # this process too (make_tenant's keys)
            use_database(database.url)
            yield srv
    finally:
        _stop(proc)
        app_db.reset_engine()
        truncate_all(database.url)


def one_connection_per_worker(srv: Server) -> dict[int, http.client.HTTPConnection]:
    """A keep-alive connection held by each worker (new connections until both have one)."""
    held: dict[int, http.client.HTTPConnection] = {}
    spare: list[http.client.HTTPConnection] = []
    for _ in range(60):
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        worker = srv.worker_by_client_port().get(conn.sock.getsockname()[1])
        if worker is not None and worker not in held:
            held[worker] = conn
        else:
            spare.append(conn)
        if len(held) == WORKERS:
            break
    for conn in spare:
        conn.close()
    assert len(held) == WORKERS, "the kernel never handed a connection to the other worker"
    return held


def evaluate(conn: http.client.HTTPConnection, key: str) -> tuple[int, dict[str, str], dict]:
    body = json.dumps({"campaign": "spring-2026", "callee": CALLEE, "caller_id": "+33162000001"})
    conn.request("POST", "/v1/calls/evaluate", body=body, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(r.read())


def test_each_worker_counts_its_own_bucket(limited: Server) -> None:
    import httpx

    with httpx.Client(base_url=limited.base_url, timeout=30) as client:
        t = make_tenant(client, "ratelimit")
    connections = one_connection_per_worker(limited)
    try:
        answered: dict[int, list[int]] = {}
        for worker, conn in connections.items():
            statuses = []
            for _ in range(BURST + 2):
                status, headers, body = evaluate(conn, t.dialer)
                statuses.append(status)
                if status == 429:
                    assert body["error"] == "rate_limited"
                    assert 1 <= int(headers["retry-after"]) <= 3600
            answered[worker] = statuses
        # every worker lets the key through BURST times, then refuses: W × BURST in all
        assert answered == dict.fromkeys(connections, [200] * BURST + [429, 429])
        # unauthenticated requests and probes are not limited, on any worker
        for conn in connections.values():
            assert evaluate(conn, "gw_unknown")[0] == 401
            conn.request("GET", "/healthz")
            assert conn.getresponse().read() == b'{"status":"ok"}'
    finally:
        for conn in connections.values():
            conn.close()
