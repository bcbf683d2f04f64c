"""Acceptance (issue 12, item 3): two call centres holding mandates from one principal share
its frequency limit, refusals and oppositions, on real server processes (``gateway serve
--workers 2``) and on both databases; a third tenant without the mandate is unaffected and
cannot name the principal.

The burst is 50 concurrent checks of one callee, half through each tenant, each on its own
open connection, spread over both workers (``tests.integration.test_concurrency``'s lines):
the check path's lock is (principal, callee), so exactly 4 are allowed whichever tenant and
worker decide them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.calls.models import Attempt
from app.db import get_engine
from tests.factories import Tenant, auth, make_tenant, operator_key
from tests.integration.conftest import Server
from tests.integration.test_concurrency import _lines, block_codes, client_port

pytestmark = pytest.mark.integration

BURST = 50
LIMIT = 4
CALLEE = "+33612345678"
TIMEOUT = httpx.Timeout(60.0)
SIREN = "732829320"


@pytest.fixture
def http(live: Server) -> Any:
    with httpx.Client(base_url=live.base_url, timeout=TIMEOUT) as client:
        yield client


def _ok(r: httpx.Response, status: int = 201) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def contract(t: Tenant, callee: str, principal: str | None) -> None:
    body = {"callee": callee, "reference": f"{principal}-{callee}", "sector": "general",
            "starts_on": "2026-01-01"}
    if principal is not None:
        body["principal"] = principal
    _ok(t.post("/v1/contracts", body))


def check(t: Tenant, callee: str, campaign: str = "for-p") -> dict[str, Any]:
    return _ok(t.check(campaign=campaign, callee=callee), 200)


async def _fire(server: Server, bodies: list[tuple[Tenant, dict[str, Any]]]) -> list[Any]:
    """Every check at once, each on its own open connection, with its tenant's dialer key."""
    lines = await _lines(server, len(bodies), {})
    try:
        start = asyncio.Event()

        async def one(line: Any, t: Tenant, body: dict[str, Any]) -> tuple[Any, int]:
            await start.wait()
            r = await line.client.post("/v1/calls/check", json=body, headers=auth(t.dialer))
            assert client_port(r) == line.port, "the client opened a new connection"
            return r, line.worker

        tasks = [asyncio.create_task(one(ln, t, b))
                 for ln, (t, b) in zip(lines, bodies, strict=True)]
        await asyncio.sleep(0)
        start.set()
        return await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(line.client.aclose() for line in lines))


def test_two_call_centres_of_one_principal_share_its_limits(
    live: Server, http: httpx.Client
) -> None:
    op = operator_key()
    bpo_a = make_tenant(http, "BPO A", operator=op)
    bpo_b = make_tenant(http, "BPO B", operator=op)
    outsider = make_tenant(http, "Outsider", operator=op)
    pid = _ok(http.post("/v1/principals", json={"name": "Énergie Verte", "siren": SIREN},
                        headers=auth(op)))["id"]
    for t in (bpo_a, bpo_b):
        _ok(http.post(f"/v1/principals/{pid}/mandates", json={"tenant": t.id},
                      headers=auth(op)))
        _ok(t.post("/v1/campaigns", {
            "id": "for-p", "purpose": "commercial", "audience": "consumers",
            "sector": "general", "automated": True, "caller_ids": [t.canvassing_cli],
            "principal": pid}))
    callees = [CALLEE, "+33612345679", "+33612345680", "+33612345681"]
    for callee in callees:
        contract(bpo_a, callee, pid)  # the principal's contract: any call centre may call
        contract(outsider, callee, None)  # and the outsider, for itself

    # 50 concurrent checks of one callee, alternately through each call centre
    bodies = [
        (t, {"campaign": "for-p", "callee": "06 12 34 56 78", "caller_id": t.canvassing_cli,
             "external_id": f"burst-{i}"})
        for i, t in enumerate([bpo_a, bpo_b] * (BURST // 2))
    ]
    answers = asyncio.run(_fire(live, bodies))
    bad = [(r.status_code, r.text) for r, _ in answers if r.status_code != 200]
    assert not bad, f"{len(bad)} checks failed, e.g. {bad[:3]}\n{live.stderr()[-3000:]}"
    assert {w for _, w in answers} == live.worker_pids  # both workers decided some
    decided = [r.json() for r, _ in answers]
    assert Counter(d["decision"] for d in decided) == {"allow": LIMIT, "deny": BURST - LIMIT}
    assert all(block_codes(d) == {"FREQUENCY_LIMIT"} for d in decided if d["decision"] == "deny")
    a = Attempt.__table__.c
    with get_engine().connect() as conn:
        by_tenant = dict(conn.execute(
            select(a.tenant_id, func.count()).where(a.callee == CALLEE, a.principal_id == pid)
            .group_by(a.tenant_id)).all())
        allowed = conn.execute(select(func.count()).where(
            a.callee == CALLEE, a.principal_id == pid, a.decision == "allow")).scalar_one()
    assert by_tenant == {bpo_a.id: BURST // 2, bpo_b.id: BURST // 2} and allowed == LIMIT
    # each call centre sees its own attempts only
    for t in (bpo_a, bpo_b):
        r = t.get("/v1/reports/attempts", params={"format": "jsonl", "principal": pid})
        assert r.status_code == 200, r.text
        assert len(r.text.splitlines()) == BURST // 2  # of the 50 for the principal
    # the outsider, calling for itself, is not counted with them
    assert check(outsider, CALLEE, "spring-2026")["decision"] == "allow"

    # a refusal recorded through A denies B
    d = check(bpo_a, callees[1])
    assert d["decision"] == "allow", d
    _ok(bpo_a.post(f"/v1/calls/{d['attempt_id']}/outcome",
                   {"status": "answered", "duration_s": 30, "consumer_refused": True},
                   role="dialer"), 200)
    assert "REFUSAL_COOLDOWN" in block_codes(check(bpo_b, callees[1]))
    assert check(outsider, callees[1], "spring-2026")["decision"] == "allow"

    # an opposition recorded through A's registry denies B
    _ok(bpo_a.post("/v1/oppositions", {"callee": callees[2], "principal": pid}))
    assert "INTERNAL_OPPOSITION" in block_codes(check(bpo_b, callees[2]))
    assert check(outsider, callees[2], "spring-2026")["decision"] == "allow"

    # an opposition reported in an outcome through B denies A
    d = check(bpo_b, callees[3])
    assert d["decision"] == "allow", d
    _ok(bpo_b.post(f"/v1/calls/{d['attempt_id']}/outcome",
                   {"status": "answered", "duration_s": 30, "consumer_opposed": True},
                   role="dialer"), 200)
    assert "INTERNAL_OPPOSITION" in block_codes(check(bpo_a, callees[3]))
    assert check(outsider, callees[3], "spring-2026")["decision"] == "allow"

    # the outsider cannot name the principal
    for path, body in (
        ("/v1/campaigns", {"id": "steal", "purpose": "commercial", "audience": "consumers",
                           "automated": True, "caller_ids": [], "principal": pid}),
        ("/v1/contracts", {"callee": CALLEE, "reference": "x", "starts_on": "2026-01-01",
                           "principal": pid}),
        ("/v1/oppositions", {"callee": CALLEE, "principal": pid}),
    ):
        r = outsider.post(path, body)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"] == "forbidden" and pid in r.json()["detail"]
    assert pid not in {p["id"] for p in _ok(outsider.get("/v1/principals"), 200)}
