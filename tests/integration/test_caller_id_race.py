"""Acceptance: two tenants registering the same caller ID at the same instant, against
``gateway serve --workers 2`` on SQLite and PostgreSQL: one 201, one 409, one holder."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from sqlalchemy import text

from app.db import get_engine
from tests.factories import auth, make_tenant, operator_key
from tests.integration.conftest import Server

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
