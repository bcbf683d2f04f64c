"""Acceptance (issue 14): when the database goes, the replicas fail closed — and come back.

A cluster of 3 replicas (``gateway serve --workers 2``) shares one PostgreSQL database behind
HAProxy (PostgreSQL only: that is what a cluster runs on); a TCP relay sits between every
replica and PostgreSQL (``tests/cluster/conftest.py``). Under a load of checks:

* a **cut** (the relay closes every connection and refuses new ones): every check, in flight
  or new, is answered 503 ``unavailable`` with ``Retry-After`` within 1 s — never an allow
  made without the database, never a hang; ``/readyz`` is 503; through HAProxy every replica
  is marked DOWN and the balancer answers the gateway's own 503 envelope. When the relay
  listens again, decisions are 200 within 5 s, without any restart, and HAProxy marks the
  replicas UP;
* a **black hole** (the relay keeps every socket open and answers nothing, as when the
  database's host vanishes without a reset): checks are 503 within a bounded time
  (``GATEWAY_DB_LOOP_TIMEOUT_MS`` + ``GATEWAY_DB_CONNECT_TIMEOUT_S``), not held forever.

After each, the invariant: 50 concurrent checks for one consented callee across the replicas
allow exactly 4 and leave exactly 4 counted rows.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from cluster import Cluster
from tests.cluster.conftest import (
    CONNECT_TIMEOUT_S,
    LOOP_TIMEOUT_MS,
    Load,
    Shot,
    assert_invariant,
    callees,
    new_tenant,
)
from tests.cluster.tcpproxy import RelayProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FAIL_WITHIN_S = 1.0  # a check while the database is gone: 503 within this
BACK_WITHIN_S = 5.0  # after the database returns: a 200 decision within this
OUTAGE_S = 2.5
#: a black hole: one answer awaited in vain, then at worst one connection attempt
BLACKHOLE_BOUND_S = LOOP_TIMEOUT_MS / 1000 + CONNECT_TIMEOUT_S + 1.0


def bodies(t: Any, pool: list[str], tag: str):  # noqa: ANN201
    def body(n: int) -> dict[str, Any]:
        return {"campaign": "spring-2026", "caller_id": t.canvassing_cli,
                "callee": pool[n % len(pool)], "external_id": f"{tag}-{n}"}
    return body


def is_unavailable(s: Shot) -> bool:
    """The gateway's 503 envelope, from a replica or from the balancer."""
    return (s.status == 503 and isinstance(s.body, dict) and s.body.get("error") == "unavailable"
            and s.retry_after is not None)


def readyz(url: str) -> tuple[int, float]:
    started = time.monotonic()
    try:
        status = httpx.get(f"{url}/readyz", timeout=10, trust_env=False).status_code
    except httpx.HTTPError:
        status = 0
    return status, time.monotonic() - started


def warm(load: Load) -> None:
    """The load runs against a healthy database first: decisions come back."""
    assert load.wait_for(lambda s: s.status == 200, after=0, timeout=15), load.shots[:3]
    time.sleep(1.0)


def cut_and_return(relay: RelayProcess, load: Load, watch: str, *,
                   during: Any = None) -> dict[str, float]:
    """Load running: cut the relay, hold the outage (``during()`` runs in it), listen again;
    the times of the cut, the return, and the first 200 after it."""
    warm(load)
    cut = time.monotonic()
    relay.stop()
    cut_done = time.monotonic()
    readyz_down = readyz(watch)
    extra = during() if during is not None else {}
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut)))
    back = time.monotonic()
    relay.start()
    first = load.wait_for(lambda s: s.status == 200, after=back, timeout=BACK_WITHIN_S + 5)
    time.sleep(0.5)
    assert first is not None, "no 200 after the database returned"
    return {"cut": cut, "cut_done": cut_done, "back": back, "first_200": first.done,
            "readyz_status": readyz_down[0], "readyz_s": readyz_down[1], **extra}


def check_fail_closed(shots: list[Shot], times: dict[str, float]) -> dict[str, Any]:
    """The assertions common to a cut seen directly and through HAProxy; the figures."""
    cut, cut_done, back = times["cut"], times["cut_done"], times["back"]
    odd = [vars(s) for s in shots if s.status not in (200, 503)]
    assert not odd, f"answers other than 200/503: {odd[:3]}"
    in_flight = [s for s in shots if s.sent < cut < s.done]
    during = [s for s in shots if cut_done <= s.sent and s.done < back]
    # how long each check waited for its answer once the database was gone
    waited = {id(s): s.done - max(s.sent, cut) for s in in_flight + during}
    slow = [vars(s) for s in in_flight + during if waited[id(s)] > FAIL_WITHIN_S]
    assert not slow, f"checks answered over {FAIL_WITHIN_S} s after the cut: {slow[:3]}"
    assert len(during) >= 10, f"only {len(during)} checks during the outage"
    allowed = [vars(s) for s in during if s.status == 200]
    assert not allowed, f"decisions made without the database: {allowed[:3]}"
    assert all(is_unavailable(s) for s in during), [vars(s) for s in during][:3]
    assert all(is_unavailable(s) for s in in_flight if s.status != 200)
    first_503 = min((s.done for s in shots if s.done > cut and s.status == 503), default=None)
    assert first_503 is not None
    assert times["readyz_status"] == 503, times
    assert times["readyz_s"] < FAIL_WITHIN_S, times
    back_in = times["first_200"] - back
    assert back_in < BACK_WITHIN_S, f"first 200 {back_in:.2f} s after the return"
    return {
        "in_flight_at_cut": len(in_flight),
        "in_flight_503": sum(1 for s in in_flight if s.status == 503),
        "checks_during_outage": len(during),
        "max_s_during_outage": round(max(s.seconds for s in during), 3),
        "max_s_in_flight_after_cut": round(max((waited[id(s)] for s in in_flight),
                                               default=0), 3),
        "first_503_after_cut_s": round(first_503 - cut, 3),
        "readyz_503_s": round(times["readyz_s"], 3),
        "first_200_after_return_s": round(back_in, 3),
        "relay_stop_s": round(cut_done - cut, 3),
    }


def test_cut_on_one_replica_fails_closed_and_recovers(healthy: Cluster,
                                                      db_relay: RelayProcess) -> None:
    c = healthy
    replica = c.replicas[0]
    t = new_tenant(c.url, callees(10, 30) + ["+33699000001"])
    load = Load(replica.url, t.dialer, bodies(t, callees(10, 30), "cut1"), tasks=8).start()
    try:
        times = cut_and_return(db_relay, load, replica.url)
    finally:
        shots = load.stop()
    figures = check_fail_closed(shots, times)
    print(f"cut, one replica directly: {figures}")
    # no restart: the same processes answer
    assert replica.proc is not None and replica.proc.poll() is None
    after = [httpx.post(f"{replica.url}/v1/calls/check", timeout=5, trust_env=False,
                        headers={"Authorization": f"Bearer {t.dialer}"},
                        json=bodies(t, callees(10, 30), "cut1-after")(n)) for n in range(10)]
    assert [r.status_code for r in after] == [200] * 10
    assert_invariant(c, t, "+33699000001")


def test_cut_through_haproxy_drains_every_replica_and_recovers(healthy: Cluster,
                                                               db_relay: RelayProcess) -> None:
    c = healthy
    names = [r.name for r in c.replicas]
    t = new_tenant(c.url, callees(11, 30) + ["+33699000002"])
    load = Load(c.url, t.dialer, bodies(t, callees(11, 30), "cut2"), tasks=8).start()

    def all_down() -> dict[str, float]:
        started = time.monotonic()
        c.balancer.wait_states({n: "DOWN" for n in names}, timeout=10)
        down = time.monotonic()
        r = httpx.post(f"{c.url}/v1/calls/check", timeout=5, trust_env=False,
                       headers={"Authorization": f"Bearer {t.dialer}"},
                       json=bodies(t, callees(11, 30), "cut2-down")(0))
        assert r.status_code == 503, r.text
        assert r.json()["error"] == "unavailable" and r.headers["retry-after"]
        assert "no gateway replica" in r.json()["detail"]  # the balancer's own answer
        return {"all_down": down, "down_wait_s": down - started}

    try:
        times = cut_and_return(db_relay, load, c.url, during=all_down)
        c.balancer.wait_states({n: "UP" for n in names}, timeout=10)
        all_up = time.monotonic()
    finally:
        shots = load.stop()
    figures = check_fail_closed(shots, times)
    figures["all_down_after_cut_s"] = round(times["all_down"] - times["cut"], 3)
    figures["all_up_after_return_s"] = round(all_up - times["back"], 3)
    print(f"cut, through HAProxy: {figures}")
    balancer_503 = [s for s in shots if s.sent > times["all_down"] and s.done < times["back"]]
    assert balancer_503 and all(is_unavailable(s) for s in balancer_503)
    assert all(r.proc is not None and r.proc.poll() is None for r in c.replicas)
    assert_invariant(c, t, "+33699000002")


def test_black_hole_is_503_within_a_bound_not_a_hang(healthy: Cluster,
                                                     db_relay: RelayProcess) -> None:
    c = healthy
    replica = c.replicas[0]
    names = [r.name for r in c.replicas]
    t = new_tenant(c.url, callees(12, 30) + ["+33699000003"])
    load = Load(replica.url, t.dialer, bodies(t, callees(12, 30), "hole"), tasks=8).start()
    try:
        warm(load)
        hole = time.monotonic()
        db_relay.blackhole()
        status, readyz_s = readyz(replica.url)
        c.balancer.wait_states({n: "DOWN" for n in names}, timeout=15)
        all_down = time.monotonic()
        time.sleep(max(0.0, 4.0 - (time.monotonic() - hole)))
        back = time.monotonic()
        db_relay.stop()  # the held sockets closed: the host is back, its connections gone
        db_relay.start()
        first = load.wait_for(lambda s: s.status == 200, after=back, timeout=BACK_WITHIN_S + 5)
        c.balancer.wait_states({n: "UP" for n in names}, timeout=15)
        all_up = time.monotonic()
    finally:
        shots = load.stop()
    odd = [vars(s) for s in shots if s.status not in (200, 503)]
    assert not odd, f"answers other than 200/503: {odd[:3]}"
    overlapping = [s for s in shots if s.done > hole and s.sent < back]
    assert len(overlapping) >= 8, f"only {len(overlapping)} checks met the black hole"
    during = [s for s in shots if s.sent >= hole and s.done < back]
    assert all(is_unavailable(s) for s in during), [vars(s) for s in during][:3]
    caught = [s for s in overlapping if s.sent < hole and s.done < back]
    assert all(is_unavailable(s) for s in caught if s.status != 200)
    worst = max(s.done - max(s.sent, hole) for s in overlapping)
    assert worst < BLACKHOLE_BOUND_S, f"a check took {worst:.2f} s in the black hole"
    assert status == 503 and readyz_s < READYZ_BOUND_S, (status, readyz_s)
    assert first is not None and first.done - back < BACK_WITHIN_S
    figures = {
        "checks_meeting_hole": len(overlapping),
        "checks_sent_in_hole": len(during),
        "max_s": round(worst, 3),
        "median_s": round(sorted(s.done - max(s.sent, hole)
                                 for s in overlapping)[len(overlapping) // 2], 3),
        "readyz_503_s": round(readyz_s, 3),
        "all_down_after_hole_s": round(all_down - hole, 3),
        "first_200_after_return_s": round(first.done - back, 3),
        "all_up_after_return_s": round(all_up - back, 3),
    }
    print(f"black hole, one replica directly: {figures}")
    assert_invariant(c, t, "+33699000003")


#: /readyz in a black hole: its own deadline or one connection attempt, after the worker's
#: event loop is free to read the request (a check may hold it for the loop's bound)
READYZ_BOUND_S = BLACKHOLE_BOUND_S
