"""Acceptance: a new BLOCTEL version reaches every worker within a second, and no check ever
sees a partial or missing list while imports run.

Runs against ``gateway serve --workers 2`` on SQLite and PostgreSQL. The imports are made by
this test process straight into the server's database (as ``gateway bloctel import`` does with
no server involved): the workers must notice by themselves. Which version each worker holds is
read from that worker's own Prometheus file (``gateway_bloctel_index_version``).
"""

from __future__ import annotations

import io
import threading
import time
from datetime import date
from typing import Any

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from app.bloctel.importer import import_file
from app.db import get_engine
from tests.factories import add_consent, make_tenant, operator_key
from tests.integration.conftest import Server

pytestmark = pytest.mark.integration

SWAP_DEADLINE_S = 1.0


def held_versions(server: Server) -> dict[int, int]:
    """{worker pid: BLOCTEL version it holds in memory}."""
    out: dict[int, int] = {}
    for pid in server.worker_pids:
        path = server.metrics_dir / f"gauge_liveall_{pid}.db"
        if not path.exists():
            continue
        for metric in MultiProcessCollector.merge([str(path)]):
            for s in metric.samples:
                if s.name == "gateway_bloctel_index_version":
                    out[pid] = int(s.value)
    return out


def keys(start: int, count: int) -> list[int]:
    return [33_600_000_000 + start + i for i in range(count)]


def upload(numbers: list[int], mode: str = "replace") -> dict[str, Any]:
    body = io.BytesIO("".join(f"0{k - 33_000_000_000}\n" for k in numbers).encode())
    return import_file(get_engine(), body, mode=mode, as_of=date(2026, 11, 20), force=True)


def wait_for(server: Server, version: int) -> None:
    deadline = time.monotonic() + 5
    while set(held_versions(server).values()) != {version}:
        assert time.monotonic() < deadline, held_versions(server)
        time.sleep(0.02)


@pytest.fixture
def http(live: Server) -> Any:
    with httpx.Client(base_url=live.base_url, timeout=30.0) as client:
        yield client


def test_every_worker_serves_a_new_version_within_a_second(live: Server, http: Any) -> None:
    upload(keys(0, 1000))
    wait_for(live, 1)
    assert held_versions(live) == dict.fromkeys(live.worker_pids, 1)

    for version, numbers in ((2, keys(0, 300_000)), (3, keys(500_000, 300_000))):
        report = upload(numbers)
        activated = time.monotonic()
        assert report["version"] == version
        while set(held_versions(live).values()) != {version}:
            assert time.monotonic() - activated < SWAP_DEADLINE_S, held_versions(live)
            time.sleep(0.01)
        # and the workers do answer from it
        t = make_tenant(http, f"swap{version}", operator=operator_key())
        add_consent(t, f"+{numbers[-1]}")  # opt-in regime: listed is then a notice
        for _ in range(6):  # new connections: both workers get some
            with httpx.Client(base_url=live.base_url) as fresh:
                r = fresh.post("/v1/calls/evaluate", json={
                    "campaign": "spring-2026", "callee": f"+{numbers[-1]}",
                    "caller_id": t.canvassing_cli}, headers={"Authorization": f"Bearer {t.dialer}"})
                assert "BLOCTEL_LISTED" in [x["code"] for x in r.json()["reasons"]], r.text
    ready = http.get("/readyz").json()
    assert ready["bloctel"] == {"version": 3, "numbers": 300_000}


def test_checks_never_see_a_partial_or_missing_list_while_imports_run(
    live: Server, http: Any
) -> None:
    """Numbers on every version are listed in every answer, before, during and after each
    import (replace, add, remove) — on both workers."""
    always = keys(0, 200_000)
    upload(always)
    wait_for(live, 1)  # the starting point: every worker holds it
    t = make_tenant(http, "atomic", operator=operator_key())
    probes = [f"+{k}" for k in always[::40_000] + always[-1:]]
    for callee in probes:
        add_consent(t, callee)  # opt-in regime: a listed number is then a notice
    answers: list[tuple[str, list[str]]] = []
    errors: list[str] = []
    stop = threading.Event()

    def checker() -> None:
        with httpx.Client(base_url=live.base_url, timeout=30.0) as c:
            i = 0
            while not stop.is_set():
                callee = probes[i % len(probes)]
                i += 1
                r = c.post("/v1/calls/evaluate", json={
                    "campaign": "spring-2026", "callee": callee, "caller_id": "+33162000001"},
                    headers={"Authorization": f"Bearer {t.dialer}", "Connection": "close"})
                if r.status_code != 200:
                    errors.append(r.text)
                    continue
                answers.append((callee, [x["code"] for x in r.json()["reasons"]]))

    threads = [threading.Thread(target=checker) for _ in range(2)]
    for th in threads:
        th.start()
    try:
        upload(always + keys(300_000, 200_000))             # replace: bigger
        upload(keys(600_000, 200_000), mode="add")          # add
        upload(keys(300_000, 200_000), mode="remove")       # remove
        upload(always)                                      # replace: back to the start
        time.sleep(SWAP_DEADLINE_S)
    finally:
        stop.set()
        for th in threads:
            th.join()
    assert errors == []
    assert len(answers) > 50
    missing = [(callee, codes) for callee, codes in answers if "BLOCTEL_LISTED" not in codes]
    assert missing == []
    assert set(held_versions(live).values()) == {5}
