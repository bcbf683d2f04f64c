"""Acceptance: the frequency limit and external_id idempotency hold under real concurrency.

Each test runs against ``gateway serve --workers 2`` (two uvicorn worker processes sharing one
listening socket) on SQLite and on PostgreSQL, and fires its checks all at once, one open
connection per request, so the two workers race on the same callee. Which worker answered each
check is known (the worker process whose file descriptors hold that connection, read from
/proc) and cross-checked with each worker's own Prometheus file (``histogram_<pid>.db``): a
test cannot pass by accident on one worker.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select

from app.calls.models import Attempt
from app.db import get_engine
from tests.factories import CALLEE, Tenant, add_consent, auth, make_tenant, operator_key
from tests.integration.conftest import Server

pytestmark = pytest.mark.integration

BURST = 50
LIMIT = 4  # art. D223-9: 4 attempts per consumer in 30 calendar days
OTHER_CALLEE = "+33698765432"
TIMEOUT = httpx.Timeout(60.0)
CONNECT_DRAWS_S = 20.0  # redraw for this long: a worker busy starting up accepts nothing


# --- helpers ------------------------------------------------------------------------------


def checks_by_worker(server: Server) -> dict[int, float]:
    """Checks answered by each worker process (replays included), read from that worker's own
    metrics file: the ``gateway_check_seconds`` histogram observes every /v1/calls/check."""
    out: dict[int, float] = {}
    for pid in server.worker_pids:
        path = server.metrics_dir / f"histogram_{pid}.db"
        total = 0.0
        if path.exists():
            for metric in MultiProcessCollector.merge([str(path)]):
                if metric.name == "gateway_check_seconds":
                    total += sum(s.value for s in metric.samples if s.name.endswith("_count"))
        out[pid] = total
    return out


def served_delta(before: dict[int, float], after: dict[int, float]) -> dict[int, int]:
    return {pid: int(after.get(pid, 0) - before.get(pid, 0)) for pid in after}


def tenant(http: httpx.Client, name: str, *callees: str) -> Tenant:
    """A tenant built through the server's API, with canvassing consent for ``callees``."""
    t = make_tenant(http, name, operator=operator_key())
    for callee in callees:
        add_consent(t, callee)
    return t


def client_port(response: httpx.Response) -> int:
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


@dataclass
class Line:
    """A client holding one open keep-alive connection, and the worker at its other end."""

    client: httpx.AsyncClient
    port: int  # the client's side of the connection
    worker: int


async def _lines(server: Server, n: int, headers: dict[str, str]) -> list[Line]:
    """``n`` open connections spread over both workers, sorted by worker.

    Which worker accepts a connection is the kernel's choice (a worker's event loop may take a
    whole backlog at once), so every connection is opened first and located through /proc (the
    worker whose file descriptors hold its server side); a draw that leaves a worker with fewer
    than a tenth of them is redrawn, for up to CONNECT_DRAWS_S. One client per request, one
    connection per client: each request of the burst goes to a known worker and none waits for
    another's connection.
    """
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    tls = ssl.create_default_context()  # plain HTTP; shared so each client skips loading CAs
    spread: Counter[int] = Counter()
    draws = 0
    deadline = time.monotonic() + CONNECT_DRAWS_S
    while draws < 3 or time.monotonic() < deadline:
        draws += 1
        clients = [
            httpx.AsyncClient(base_url=server.base_url, limits=one, timeout=TIMEOUT,
                              headers=headers, verify=tls, trust_env=False)
            for _ in range(n)
        ]
        hellos = await asyncio.gather(*(c.get("/healthz") for c in clients))
        assert all(r.status_code == 200 for r in hellos)
        owner = server.worker_by_client_port()
        lines = [
            Line(c, client_port(r), owner.get(client_port(r), -1))
            for c, r in zip(clients, hellos, strict=True)
        ]
        spread = Counter(line.worker for line in lines)
        if set(spread) == server.worker_pids and min(spread.values()) >= n // 10:
            return sorted(lines, key=lambda line: line.worker)
        await asyncio.gather(*(c.aclose() for c in clients))
        await asyncio.sleep(0.2)  # a worker busy with a long statement gets to accept again
    raise AssertionError(f"could not spread {n} connections over the workers in {draws} draws "
                         f"({CONNECT_DRAWS_S:.0f} s): {spread}")


@dataclass
class Answer:
    response: httpx.Response
    worker: int  # pid of the worker process that answered

    def json(self) -> Any:
        return self.response.json()


async def fire(server: Server, t: Tenant, bodies: list[dict[str, Any]]) -> list[Answer]:
    """POST every body to /v1/calls/check at once, each on its own open connection.

    Connections are sorted by worker, so consecutive bodies go to the same worker and bodies
    interleaved by callee reach both workers for every callee."""
    lines = await _lines(server, len(bodies), auth(t.dialer))
    try:
        start = asyncio.Event()

        async def one(line: Line, body: dict[str, Any]) -> Answer:
            await start.wait()
            r = await line.client.post("/v1/calls/check", json=body)
            # over the connection located above, so answered by that worker
            assert client_port(r) == line.port, "the client opened a new connection"
            return Answer(r, line.worker)

        tasks = [asyncio.create_task(one(ln, b)) for ln, b in zip(lines, bodies, strict=True)]
        await asyncio.sleep(0)  # every task is parked on the event: release them together
        start.set()
        return await asyncio.gather(*tasks)
    finally:
        await asyncio.gather(*(line.client.aclose() for line in lines))


def burst(server: Server, t: Tenant, bodies: list[dict[str, Any]]) -> list[Answer]:
    before = checks_by_worker(server)
    answers = asyncio.run(fire(server, t, bodies))
    bad = [(a.response.status_code, a.response.text) for a in answers
           if a.response.status_code != 200]
    assert not bad, f"{len(bad)} checks failed, e.g. {bad[:3]}\n{server.stderr()[-3000:]}"
    by_worker = Counter(a.worker for a in answers)
    print(f"checks answered per worker pid: {dict(by_worker)}")  # shown with -s or on failure
    assert set(by_worker) == server.worker_pids, by_worker
    # each worker's own metrics agree: it really decided the checks that reached it
    assert served_delta(before, checks_by_worker(server)) == dict(by_worker)
    return answers


def body(callee: str, external_id: str) -> dict[str, Any]:
    return {"campaign": "spring-2026", "callee": callee, "caller_id": "+33162000001",
            "external_id": external_id}


def block_codes(answer: dict[str, Any]) -> set[str]:
    return {r["code"] for r in answer["reasons"] if r["severity"] == "block"}


def db_attempts(tenant_id: str, callee: str) -> tuple[int, int, int]:
    """(all attempts, allowed, counted) for one callee, straight from the database."""
    a = Attempt.__table__.c
    where = (a.tenant_id == tenant_id, a.callee == callee)
    with get_engine().connect() as conn:
        total = conn.execute(select(func.count()).where(*where)).scalar_one()
        allowed = conn.execute(
            select(func.count()).where(*where, a.decision == "allow")
        ).scalar_one()
        counted = conn.execute(
            select(func.count()).where(*where, a.counted.is_(True))
        ).scalar_one()
    return total, allowed, counted


def report_rows(t: Tenant) -> list[dict[str, Any]]:
    r = t.get("/v1/reports/attempts", params={"format": "jsonl"})
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def assert_limit_held(answers: list[dict[str, Any]], callee: str) -> None:
    decisions = Counter(a["decision"] for a in answers)
    assert decisions == {"allow": LIMIT, "deny": BURST - LIMIT}, decisions
    for a in answers:
        assert a["callee"] == callee
        assert a["attempt_id"]
        if a["decision"] == "allow":
            assert block_codes(a) == set(), a
        else:
            assert block_codes(a) == {"FREQUENCY_LIMIT"}, a
    assert len({a["attempt_id"] for a in answers}) == BURST


# --- tests --------------------------------------------------------------------------------


@pytest.fixture
def http(live: Server) -> Any:
    with httpx.Client(base_url=live.base_url, timeout=TIMEOUT) as client:
        yield client


def test_server_runs_two_worker_processes(live: Server) -> None:
    """The fixture really serves from two live worker processes, children of the server."""
    workers = live.worker_processes()
    assert len(live.worker_pids) == 2
    assert workers == live.worker_pids, (workers, live.worker_pids, live.stderr())
    assert live.proc.pid not in workers


def test_frequency_limit_holds_for_concurrent_checks_of_one_callee(
    live: Server, http: httpx.Client
) -> None:
    t = tenant(http, "Concurrent", CALLEE)

    answers = burst(live, t, [body("06 12 34 56 78", f"freq-{i}") for i in range(BURST)])

    decided = [a.json() for a in answers]
    assert_limit_held(decided, CALLEE)
    assert all(not d["replayed"] for d in decided)
    # the ledger agrees: 50 attempts, exactly 4 allowed and counted
    assert db_attempts(t.id, CALLEE) == (BURST, LIMIT, LIMIT)
    rows = report_rows(t)
    assert len(rows) == BURST
    allowed = {r["attempt_id"] for r in rows if r["decision"] == "allow"}
    assert allowed == {d["attempt_id"] for d in decided if d["decision"] == "allow"}
    denied = [r for r in rows if r["decision"] == "deny"]
    assert len(denied) == BURST - LIMIT
    assert all("FREQUENCY_LIMIT" in str(r["reason_codes"]) for r in denied)
    # a further check afterwards is still denied: the count is durable, not a race artefact
    late = t.check(callee=CALLEE, external_id="freq-late").json()
    assert late["decision"] == "deny" and block_codes(late) == {"FREQUENCY_LIMIT"}


def test_concurrent_replays_of_one_external_id_create_one_attempt(
    live: Server, http: httpx.Client
) -> None:
    t = tenant(http, "Replays", CALLEE)

    answers = burst(live, t, [body(CALLEE, "dialer-call-7f3a") for _ in range(BURST)])

    decided = [a.json() for a in answers]
    ids = Counter(d["attempt_id"] for d in decided)
    assert len(ids) == 1, ids
    assert {d["decision"] for d in decided} == {"allow"}
    assert {d["external_id"] for d in decided} == {"dialer-call-7f3a"}
    assert sum(not d["replayed"] for d in decided) == 1  # one created it, 49 replayed it
    # both workers returned that same attempt
    assert {a.worker for a in answers if a.json()["replayed"]} == live.worker_pids
    assert db_attempts(t.id, CALLEE) == (1, 1, 1)
    assert [r["attempt_id"] for r in report_rows(t)] == list(ids)
    # the single attempt counted once: three more distinct checks are allowed, the next denied
    more = [t.check(callee=CALLEE, external_id=f"after-{i}").json()["decision"] for i in range(4)]
    assert more == ["allow", "allow", "allow", "deny"]


def test_concurrent_replays_in_varied_forms_still_create_one_attempt(
    live: Server, http: httpx.Client
) -> None:
    """The same external_id in bodies that differ (the callee written three ways, and another
    callee): on PostgreSQL these take different advisory locks, so the unique
    (tenant, external_id) constraint and the service's IntegrityError fallback must hold — and
    the fallback compares the request: the same callee in any form replays the one attempt,
    the other callee is 409 idempotency_conflict (never the stored "allow")."""
    t = tenant(http, "VariedReplays", CALLEE, OTHER_CALLEE)
    forms = ["06 12 34 56 78", CALLEE, "0033612345678", OTHER_CALLEE]
    bodies = [body(forms[i % len(forms)], "dialer-call-9c1d") for i in range(BURST)]

    answers = asyncio.run(fire(live, t, bodies))

    assert {a.worker for a in answers} == live.worker_pids
    ok = [(a.json(), b) for a, b in zip(answers, bodies, strict=True)
          if a.response.status_code == 200]
    refused = [(a.response, b) for a, b in zip(answers, bodies, strict=True)
               if a.response.status_code != 200]
    ids = Counter(d["attempt_id"] for d, _ in ok)
    assert len(ids) == 1, ids
    assert sum(not d["replayed"] for d, _ in ok) == 1
    winner = ok[0][0]["callee"]
    # every body for the winner's callee (in any form) replayed; every other one is a 409
    assert all(normalised(b["callee"]) == winner for _, b in ok)
    assert refused and all(normalised(b["callee"]) != winner for _, b in refused)
    for r, _ in refused:
        assert r.status_code == 409, r.text
        assert (r.json()["error"], r.json()["differs"]) == ("idempotency_conflict", ["callee"])
    assert [r["attempt_id"] for r in report_rows(t)] == list(ids)
    assert db_attempts(t.id, winner) == (1, 1, 1)


def normalised(callee: str) -> str:
    return OTHER_CALLEE if callee == OTHER_CALLEE else CALLEE


def test_second_callee_in_parallel_gets_its_own_limit(
    live: Server, http: httpx.Client
) -> None:
    t = tenant(http, "TwoCallees", CALLEE, OTHER_CALLEE)
    bodies = []
    for i in range(BURST):  # interleaved: both callees' checks race on both workers
        bodies.append(body(CALLEE, f"a-{i}"))
        bodies.append(body(OTHER_CALLEE, f"b-{i}"))

    answers = burst(live, t, bodies)

    for callee in (CALLEE, OTHER_CALLEE):
        mine = [a for a in answers if a.json()["callee"] == callee]
        assert len(mine) == BURST, callee
        assert {a.worker for a in mine} == live.worker_pids, callee
        assert_limit_held([a.json() for a in mine], callee)
        assert db_attempts(t.id, callee) == (BURST, LIMIT, LIMIT)
    assert len(report_rows(t)) == 2 * BURST
