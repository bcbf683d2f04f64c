"""Acceptance (issue 11): 20 different outcomes for one attempt, at once, on both workers of
``gateway serve --workers 2``, on SQLite and PostgreSQL: exactly one is recorded (200), the 19
others are 409 ``conflict``; the database holds one penalty line per code and one quarantine.

Every body below reads as *unassigned* (status ``unassigned`` or an unassigned SIP code), so
whichever wins charges ``CALLEE_UNASSIGNED`` and quarantines the number: a second winner would
show as a second line. The attempt is a denied one, so the winner is also the breach
``dialled_despite_deny``, alerted exactly once. Before issue 11, PostgreSQL accepted 2-6 of them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.alerts.models import Alert
from app.calls.models import Attempt, PenaltyLine
from app.db import get_engine
from app.registries.models import Quarantine
from tests.factories import CALLEE, auth, make_tenant, operator_key
from tests.integration.conftest import Server
from tests.integration.test_concurrency import TIMEOUT, Line, _lines, client_port

pytestmark = pytest.mark.integration

BODIES = [
    {"status": status, "sip_code": sip}
    for status in ("unassigned", "failed", "rejected", "busy", "no_answer")
    for sip in (404, 410, 484, 604)
]
assert len(BODIES) == 20 and len({tuple(b.values()) for b in BODIES}) == 20


async def _post_all(server: Server, key: str, path: str,
                    bodies: list[dict[str, Any]]) -> list[tuple[httpx.Response, int]]:
    """POST each body to ``path`` at once, each on its own open connection, the connections
    spread over both workers; returns (answer, worker pid) per body."""
    lines = await _lines(server, len(bodies), auth(key))
    try:
        start = asyncio.Event()

        async def one(line: Line, body: dict[str, Any]) -> tuple[httpx.Response, int]:
            await start.wait()
            r = await line.client.post(path, json=body)
            assert client_port(r) == line.port, "the client opened a new connection"
            return r, line.worker

        tasks = [asyncio.create_task(one(ln, b)) for ln, b in zip(lines, bodies, strict=True)]
        await asyncio.sleep(0)
        start.set()
        return await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(line.client.aclose() for line in lines))


def _rows(table: Any, **where: Any) -> list[Any]:
    with get_engine().connect() as conn:
        return conn.execute(
            select(table).where(*(table.c[k] == v for k, v in where.items()))
        ).all()


def test_twenty_different_outcomes_at_once_record_exactly_one(live: Server) -> None:
    with httpx.Client(base_url=live.base_url, timeout=TIMEOUT) as http:
        t = make_tenant(http, "Outcomes", operator=operator_key())
        denied = t.check(callee=CALLEE).json()  # opt-in, no consent: denied (€0.02 line)
    assert denied["decision"] == "deny", denied
    path = f"/v1/calls/{denied['attempt_id']}/outcome"

    answers = asyncio.run(_post_all(live, t.dialer, path, BODIES))

    statuses = Counter(r.status_code for r, _ in answers)
    assert statuses == {200: 1, 409: 19}, [(r.status_code, r.text[:200]) for r, _ in answers]
    assert {w for _, w in answers} == live.worker_pids  # both workers raced
    (winner,) = [(r.json(), body) for (r, _), body in zip(answers, BODIES, strict=True)
                 if r.status_code == 200]
    won, body = winner
    assert (won["status"], won["sip_code"]) == (body["status"], body["sip_code"])
    assert won["dialled_despite_deny"] is True
    assert sorted(p["code"] for p in won["penalties"]) == ["CALLEE_UNASSIGNED",
                                                            "ILLEGITIMATE_ATTEMPT"]
    for r, _ in answers:
        if r.status_code == 409:
            assert r.json()["error"] == "conflict"
            assert r.json()["recorded_status"] == body["status"]

    # the database: one line per code, one quarantine, one alert, the winner's outcome stored
    lines = Counter(row.code for row in _rows(PenaltyLine.__table__,
                                              attempt_id=denied["attempt_id"]))
    assert lines == {"ILLEGITIMATE_ATTEMPT": 1, "CALLEE_UNASSIGNED": 1}
    assert len(_rows(Quarantine.__table__, attempt_id=denied["attempt_id"])) == 1
    assert len(_rows(Alert.__table__, tenant_id=t.id, monitor="dialled_despite_deny")) == 1
    (stored,) = _rows(Attempt.__table__, id=denied["attempt_id"])
    assert (stored.outcome_status, stored.sip_code) == (body["status"], body["sip_code"])

    # the winner's outcome again, 20 times at once: 20 replays of the same answer
    replays = asyncio.run(_post_all(live, t.dialer, path, [body] * 20))
    assert [r.status_code for r, _ in replays] == [200] * 20
    assert all(r.json() == won for r, _ in replays)
    with get_engine().connect() as conn:
        total = conn.execute(select(func.count()).select_from(PenaltyLine.__table__).where(
            PenaltyLine.__table__.c.attempt_id == denied["attempt_id"])).scalar_one()
    assert total == 2
