"""The invariant a cluster must keep whatever happened to it: a burst of concurrent checks for
one consented callee, spread across the replicas, allows exactly 4 (art. D223-9: 4 attempts
per consumer in 30 days) — the replicas share one PostgreSQL database and serialise each
callee's checks on its advisory lock, so no two of them can both count the 4th.

``invariant_run`` fires the burst through the balancer, every check on a connection of its own
(``Connection: close``) so HAProxy hands them to every replica, and returns how many were
allowed. Used by ``tests/cluster`` (after a database cut, after a replica's death) and by
``bench/cluster.py``.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx

__all__ = ["InvariantError", "invariant_run"]


class InvariantError(RuntimeError):
    """A check of the burst was not answered 200: the count of allowed ones means nothing."""


async def _burst(base_url: str, key: str, body: dict[str, str], burst: int,
                 timeout: float) -> list[httpx.Response]:
    one = httpx.Limits(max_connections=1, max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {key}", "Connection": "close"}
    clients = [httpx.AsyncClient(base_url=base_url, limits=one, headers=headers,
                                 timeout=timeout, trust_env=False) for _ in range(burst)]
    start = asyncio.Event()

    async def one_check(client: httpx.AsyncClient, n: int) -> httpx.Response:
        await start.wait()
        return await client.post("/v1/calls/check",
                                 json={**body, "external_id": f"{body['external_id']}-{n}"})

    try:
        tasks = [asyncio.create_task(one_check(c, n)) for n, c in enumerate(clients)]
        await asyncio.sleep(0)  # every task parked on the event: released together
        start.set()
        return await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def invariant_run(base_url: str, key: str, campaign: str, caller_id: str, callee: str,
                  burst: int = 50) -> int:
    """Fire ``burst`` concurrent checks of ``callee`` (dialer ``key``, ``campaign``, presenting
    ``caller_id``) at ``base_url``, one connection each; how many were allowed.

    Every check carries an ``external_id`` of its own (``inv-<random>-<n>``), so each is a new
    attempt. Raises ``InvariantError`` when any answer is not a 200 decision."""
    body = {"campaign": campaign, "caller_id": caller_id, "callee": callee,
            "external_id": f"inv-{uuid.uuid4().hex[:12]}"}
    answers = asyncio.run(_burst(base_url, key, body, burst, timeout=60.0))
    bad = [(r.status_code, r.text[:200]) for r in answers if r.status_code != 200]
    if bad:
        raise InvariantError(f"{len(bad)} of {burst} checks not answered 200, e.g. {bad[:3]}")
    return sum(1 for r in answers if r.json()["decision"] == "allow")
