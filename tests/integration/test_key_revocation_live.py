"""A revoked key stops working on every worker within GATEWAY_CACHE_TTL_S: a real server with 2
workers (SQLite and PostgreSQL), a keep-alive connection held by each, the key cached on both;
revoked through the API (on one worker) and from the shell (``gateway keys revoke``, on
neither)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import time

import httpx

from tests.factories import make_tenant
from tests.integration.conftest import (
    WORKERS,
    Server,
    _gateway_executable,
    one_connection_per_worker,
)

TTL_S = 1.0  # GATEWAY_CACHE_TTL_S's default, which the test server keeps
SLACK_S = 0.5  # a request's own time on a busy test machine


def request(conn: http.client.HTTPConnection, method: str, path: str, key: str
            ) -> tuple[int, dict]:
    conn.request(method, path, headers={"Authorization": f"Bearer {key}"})
    r = conn.getresponse()
    return r.status, json.loads(r.read() or b"{}")


def refused_everywhere_within_the_ttl(conns: list[http.client.HTTPConnection], key: str,
                                      revoked_at: float) -> dict[int, float]:
    """Poll each worker until it answers 401; how long after the revocation each did."""
    seen: dict[int, float] = {}
    deadline = revoked_at + 10
    while len(seen) < len(conns) and time.monotonic() < deadline:
        for i, conn in enumerate(conns):
            if i in seen:
                continue
            status, body = request(conn, "GET", "/v1/bloctel", key)
            if status == 401:
                assert body["error"] == "unauthorized"
                seen[i] = time.monotonic() - revoked_at
            else:
                assert status == 200, body
        time.sleep(0.02)
    return seen


def test_a_revoked_key_is_refused_by_both_workers_within_the_ttl(live: Server) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        t = make_tenant(client, "revocation")
        keys = [client.post(f"/v1/tenants/{t.id}/keys", json={"role": "compliance",
                                                               "label": f"k{i}"},
                            headers={"Authorization": f"Bearer {t.admin}"}).json()
                for i in range(2)]
    held = one_connection_per_worker(live)
    conns = list(held.values())
    try:
        for key in keys:  # both keys cached by both workers
            assert [request(c, "GET", "/v1/bloctel", key["key"])[0] for c in conns] == [200] * 2

        # 1. through the API, on the first worker: refused there at once
        revoked_at = time.monotonic()
        status, body = request(conns[0], "DELETE", f"/v1/tenants/{t.id}/keys/{keys[0]['id']}",
                               t.admin)
        assert status == 200 and body["revoked_at"], body
        assert request(conns[0], "GET", "/v1/bloctel", keys[0]["key"])[0] == 401
        delays = refused_everywhere_within_the_ttl(conns, keys[0]["key"], revoked_at)
        assert len(delays) == WORKERS, f"still accepted by a worker after 10 s: {delays}"
        assert max(delays.values()) <= TTL_S + SLACK_S, delays

        # 2. from the shell, in another process: neither worker hears of it
        env = os.environ | {"DATABASE_URL": live.database.url}
        shell = subprocess.Popen([_gateway_executable(), "keys", "revoke", keys[1]["id"],
                                  "--json"], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        while shell.poll() is None:  # keep both connections alive (uvicorn closes idle ones)
            for conn in conns:
                conn.request("GET", "/healthz")
                conn.getresponse().read()
            time.sleep(0.2)
        revoked_at = time.monotonic()
        out, err = shell.communicate(timeout=60)
        assert shell.returncode == 0, err
        assert json.loads(out)["revoked_at"]
        delays = refused_everywhere_within_the_ttl(conns, keys[1]["key"], revoked_at)
        assert len(delays) == WORKERS, f"still accepted by a worker after 10 s: {delays}"
        assert max(delays.values()) <= TTL_S + SLACK_S, delays

        # the tenant's other keys still work on both workers
        assert [request(c, "GET", "/v1/bloctel", t.compliance)[0] for c in conns] == [200] * 2
    finally:
        for conn in conns:
            conn.close()
