"""Caller IDs against ``gateway serve --workers 2`` on SQLite and PostgreSQL: two tenants
registering the same number at the same instant get one 201 and one 409 (one holder); the
operator's verification (and its withdrawal) reaches both workers within the cache TTL."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.db import get_engine
from tests.conftest import Database
from tests.factories import CALLEE, Tenant, add_consent, auth, make_tenant, operator_key
from tests.integration.conftest import (
    Server,
    pointed_at,
    serve,
)
from tests.integration.test_concurrency import _lines

pytestmark = pytest.mark.integration

NUMBERS = [f"+3316299{i:04d}" for i in range(25)]


async def _race(server: Server, keys: tuple[str, str]) -> list[tuple[str, str, int]]:
    """Both tenants post every number at once, each request on its own connection."""
    clients = [httpx.AsyncClient(base_url=server.base_url, timeout=60.0, trust_env=False)
               for _ in range(2 * len(NUMBERS))]
    try:
        await asyncio.gather(*(c.get("/healthz") for c in clients))  # connections open first
        jobs = [(n, key) for n in NUMBERS for key in keys]

        async def post(client: httpx.AsyncClient, number: str, key: str) -> tuple[str, str, int]:
            r = await client.post("/v1/caller-ids", json={"number": number}, headers=auth(key))
            return number, key, r.status_code

        return await asyncio.gather(*(post(c, n, k) for c, (n, k) in zip(clients, jobs,
                                                                          strict=True)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def test_simultaneous_registrations_one_wins(live: Server) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30.0, trust_env=False) as http:
        op = operator_key()
        a = make_tenant(http, "Acme", operator=op)
        b = make_tenant(http, "Globex", operator=op)
    results = asyncio.run(_race(live, (a.admin, b.admin)))

    by_number: dict[str, list[int]] = {}
    winner: dict[str, str] = {}
    for number, key, status in results:
        by_number.setdefault(number, []).append(status)
        if status == 201:
            winner[number] = a.id if key == a.admin else b.id
    assert {n: sorted(s) for n, s in by_number.items()} == {n: [201, 409] for n in NUMBERS}
    with get_engine().connect() as conn:
        rows = conn.execute(text("SELECT number, tenant_id FROM caller_ids WHERE number LIKE "
                                 "'+3316299%'")).all()
    assert Counter(r[0] for r in rows) == Counter(NUMBERS)  # one holder each
    assert {r[0]: r[1] for r in rows} == winner  # and it is the one told 201


# --- the operator's verification reaches every worker within the cache TTL ------------------

TTL_S = 1.0
SLACK_S = 0.5  # a request in flight, a loaded machine


@pytest.fixture(scope="module")
def verifying(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``gateway serve --workers 2`` on the session's database with
    ``GATEWAY_CALLER_ID_VERIFICATION=required``."""
    with serve(database, tmp_path_factory.mktemp(f"verifying-{database.backend}"),
               GATEWAY_CALLER_ID_VERIFICATION="required", GATEWAY_CACHE_TTL_S=str(TTL_S)) as srv:
        yield srv


@pytest.fixture
def verifying_live(verifying: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    with pointed_at(verifying, monkeypatch) as srv:
        yield srv


async def _converge(server: Server, t: Tenant, expected: str, change: Any) -> dict[int, float]:
    """Evaluate the same call on connections held by both workers (warming their caches),
    ``change`` the verification through another connection, then poll every connection until
    each answers ``expected``: how long each worker took."""
    lines = await _lines(server, 12, auth(t.dialer))  # a burst spreads better than 6
    body = {"campaign": "spring-2026", "callee": CALLEE, "caller_id": t.canvassing_cli}
    try:
        first = await asyncio.gather(*(ln.client.post("/v1/calls/evaluate", json=body)
                                       for ln in lines))
        assert {r.json()["decision"] for r in first} == {"allow", "deny"} - {expected}
        assert {ln.worker for ln in lines} == server.worker_pids
        change()
        changed = time.monotonic()
        took: dict[int, float] = {}
        while len(took) < len(server.worker_pids) and time.monotonic() - changed < 3 * TTL_S:
            answers = await asyncio.gather(*(ln.client.post("/v1/calls/evaluate", json=body)
                                             for ln in lines))
            for ln, r in zip(lines, answers, strict=True):
                if r.json()["decision"] == expected:
                    took.setdefault(ln.worker, time.monotonic() - changed)
            await asyncio.sleep(0.05)
        return took
    finally:
        await asyncio.gather(*(ln.client.aclose() for ln in lines))


def test_verification_reaches_both_workers_within_the_ttl(verifying_live: Server) -> None:
    server = verifying_live
    with httpx.Client(base_url=server.base_url, timeout=30.0, trust_env=False) as http:
        t = make_tenant(http, "Acme", operator=operator_key())
        add_consent(t)
        unverified = t.evaluate(callee=CALLEE).json()
        assert [r["code"] for r in unverified["reasons"]] == ["CALLER_ID_NOT_VERIFIED"]
        path = f"/v1/caller-ids/{t.canvassing_cli}/verify"

        def verify() -> None:
            assert http.post(path, headers=auth(t.operator)).status_code == 200

        def withdraw() -> None:
            assert http.delete(path, headers=auth(t.operator)).status_code == 200

        for expected, change in (("allow", verify), ("deny", withdraw)):
            took = asyncio.run(_converge(server, t, expected, change))
            assert set(took) == server.worker_pids, (expected, took)
            assert max(took.values()) <= TTL_S + SLACK_S, (expected, took)
