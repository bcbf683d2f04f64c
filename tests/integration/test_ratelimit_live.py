"""Rate limits on a real server with 2 workers: buckets are per worker process, so one key gets
its burst on each worker it reaches — W × burst at most over W workers (the documented bound),
and never more on any one of them."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from tests.conftest import Database
from tests.factories import CALLEE, make_tenant
from tests.integration.conftest import (
    Server,
    one_connection_per_worker,
    pointed_at,
    serve,
)

BURST = 3


@pytest.fixture(scope="module")
def limited(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``gateway serve --workers 2`` with a dialer limit of 3 at once, 1 an hour."""
    workdir = tmp_path_factory.mktemp(f"ratelimit-{database.backend}")
    with (serve(database, workdir,
                GATEWAY_RATE_LIMITS=f"dialer=1/h:{BURST},admin=off,operator=off") as srv,
          pytest.MonkeyPatch.context() as mp, pointed_at(srv, mp)):
        yield srv


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
