"""Request rate limits per API key (``app.tenancy.ratelimit``): a token bucket per key, sized by
role through ``GATEWAY_RATE_LIMITS``, 429 with ``Retry-After`` when empty.

The API tests replace the worker's limiter by one on a fake monotonic clock (``limits``), so
that time passes without sleeping."""

from __future__ import annotations

import itertools
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app.config import Settings, get_settings
from app.tenancy import auth, ratelimit
from app.tenancy.ratelimit import Limit, RateLimiter, parse_limits
from tests.factories import CALLEE, Tenant
from tests.factories import auth as bearer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], FakeClock]]:
    """``limits("dialer=2/s:3")``: the worker's limiter from that setting, on a fake clock."""

    def configure(spec: str) -> FakeClock:
        monkeypatch.setenv("GATEWAY_RATE_LIMITS", spec)
        get_settings.cache_clear()
        clock = FakeClock()
        ratelimit.reset(clock=clock)
        return clock

    yield configure
    monkeypatch.delenv("GATEWAY_RATE_LIMITS", raising=False)
    get_settings.cache_clear()
    ratelimit.reset()


def evaluate(t: Tenant, key: str | None = None) -> Any:
    body = {"campaign": "spring-2026", "callee": CALLEE, "caller_id": "+33162000001"}
    return t.client.post("/v1/calls/evaluate", json=body, headers=bearer(key or t.dialer))


# --- over HTTP ----------------------------------------------------------------------------


def test_429_after_the_burst_with_retry_after_until_the_next_token(
    tenant: Tenant, limits: Callable[[str], FakeClock]
) -> None:
    clock = limits("dialer=15/m:3")  # a token every 4 s, 3 at once
    assert [evaluate(tenant).status_code for _ in range(3)] == [200, 200, 200]
    r = evaluate(tenant)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "4"
    body = r.json()
    assert body["error"] == "rate_limited"
    assert "dialer" in body["detail"] and "15/m:3" in body["detail"]
    assert body["retry_after_s"] == pytest.approx(4.0)
    # a refused request spends nothing: still 4 s to wait
    assert evaluate(tenant).headers["Retry-After"] == "4"
    clock.advance(2.5)
    r = evaluate(tenant)
    assert (r.status_code, r.headers["Retry-After"]) == (429, "2")  # 1.5 s, rounded up
    clock.advance(1.4)
    r = evaluate(tenant)
    assert (r.status_code, r.headers["Retry-After"]) == (429, "1")  # 0.1 s: never "0"
    clock.advance(0.1)
    assert evaluate(tenant).status_code == 200
    assert evaluate(tenant).status_code == 429


def test_tokens_come_back_with_time_up_to_the_burst(
    tenant: Tenant, limits: Callable[[str], FakeClock]
) -> None:
    clock = limits("dialer=2/s:3")
    assert [evaluate(tenant).status_code for _ in range(4)] == [200, 200, 200, 429]
    clock.advance(1.0)  # two tokens
    assert [evaluate(tenant).status_code for _ in range(3)] == [200, 200, 429]
    clock.advance(3600)  # a quiet hour fills the bucket, no more
    assert [evaluate(tenant).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_a_check_is_limited_too_and_a_refused_one_is_not_logged(
    tenant: Tenant, limits: Callable[[str], FakeClock]
) -> None:
    limits("dialer=1/h:2")
    assert [tenant.check(callee=CALLEE).status_code for _ in range(3)] == [200, 200, 429]
    attempts = tenant.get("/v1/reports/summary").json()
    assert attempts["total"] == 2


def test_two_keys_of_one_tenant_are_independent(
    tenant: Tenant, limits: Callable[[str], FakeClock]
) -> None:
    r = tenant.post(f"/v1/tenants/{tenant.id}/keys", {"role": "dialer"})
    assert r.status_code == 201, r.text
    second = r.json()["key"]
    limits("dialer=1/h:5")
    runaway = [evaluate(tenant).status_code for _ in range(50)]
    assert runaway.count(200) == 5 and runaway[5:] == [429] * 45
    assert [evaluate(tenant, second).status_code for _ in range(6)] == [200] * 5 + [429]


def test_limits_differ_by_role(tenant: Tenant, limits: Callable[[str], FakeClock]) -> None:
    limits("dialer=1/h:5,compliance=1/h:2,admin=1/h:3")
    assert [evaluate(tenant).status_code for _ in range(6)] == [200] * 5 + [429]
    assert [tenant.get("/v1/consents").status_code for _ in range(3)] == [200, 200, 429]
    admin = [tenant.get("/v1/policy", role="admin").status_code for _ in range(4)]
    assert admin == [200, 200, 200, 429]


def test_a_disabled_role_is_never_limited(
    tenant: Tenant, limits: Callable[[str], FakeClock]
) -> None:
    limits("dialer=off,compliance=0,admin=1/h:1")
    assert {evaluate(tenant).status_code for _ in range(300)} == {200}
    assert {tenant.get("/v1/consents").status_code for _ in range(100)} == {200}
    assert [tenant.get("/v1/policy", role="admin").status_code for _ in range(2)] == [200, 429]


def test_off_disables_every_limit(tenant: Tenant, limits: Callable[[str], FakeClock]) -> None:
    limits("off")
    assert {evaluate(tenant).status_code for _ in range(100)} == {200}
    assert ratelimit.limiter().limits == dict.fromkeys(ratelimit.ROLES)


def test_unauthenticated_requests_and_probes_are_not_limited(
    tenant: Tenant, limits: Callable[[str], FakeClock]
) -> None:
    limits("dialer=1/h:2,operator=1/h:1,admin=1/h:1,compliance=1/h:1")
    for _ in range(20):
        assert tenant.client.post("/v1/calls/evaluate", json={}).status_code == 401
        assert evaluate(tenant, "gw_not-a-key").status_code == 401
        assert tenant.client.get("/healthz").status_code == 200
        assert tenant.client.get("/readyz").status_code == 200
        assert tenant.client.get("/metrics").status_code == 200
    # none of that spent the dialer's tokens
    assert [evaluate(tenant).status_code for _ in range(3)] == [200, 200, 429]


def test_default_limits_leave_the_bench_load_alone(
    tenant: Tenant, limits: Callable[[str], FakeClock]
) -> None:
    """``make bench``: one dialer key, ~1,000-1,300 checks/s over 2 workers, so at most about
    one worker's whole capacity (~800 checks/s on the 2-core machine) through one worker."""
    clock = limits("")
    dialer = ratelimit.limiter().limits["dialer"]
    assert dialer is not None and dialer.rate >= 1000 and dialer.burst >= 1000
    for _ in range(200):  # 200 checks within 0.2 s of fake time: 1,000/s through one worker
        assert evaluate(tenant).status_code == 200
        clock.advance(0.001)


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "message"), [
    ("dialer", "expected ROLE=RATE/s[:BURST]"),
    ("dialer=", "expected ROLE=RATE/s[:BURST]"),
    ("dialer=fast", "expected ROLE=RATE/s[:BURST]"),
    ("dialer=500", "expected ROLE=RATE/s[:BURST]"),
    ("dialer=500/d:10", "expected ROLE=RATE/s[:BURST]"),
    ("dialer=500/s:1.5", "expected ROLE=RATE/s[:BURST]"),
    ("dialer=-5/s", "expected ROLE=RATE/s[:BURST]"),
    ("dialer=500/s:0", "burst must be a whole number of at least 1"),
    ("dialer=0/s:10", "rate must be above 0"),
    ("dailer=500/s:1000", "unknown role 'dailer'"),
    ("dialer=5/s,dialer=6/s", "role dialer is given twice"),
])
def test_bad_syntax_is_a_clear_error_at_start_up(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_limits(spec)
    with pytest.raises(ValidationError) as err:  # the settings, as read from the environment
        Settings(**{"GATEWAY_RATE_LIMITS": spec})
    assert "GATEWAY_RATE_LIMITS" in str(err.value) and message in str(err.value)
    assert repr(spec.split(",")[-1]) in str(err.value)  # names the faulty item


def test_a_server_with_bad_limits_does_not_start(tmp_path: Path) -> None:
    """Start-up fails with the message (not the first request with a 500)."""
    gateway = Path(sys.executable).parent / "gateway"
    env = os.environ | {"GATEWAY_RATE_LIMITS": "dialer=500/s,admin=lots",
                        "DATABASE_URL": f"sqlite:///{tmp_path / 'gw.db'}"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run([str(gateway), "serve", "--port", str(port)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "GATEWAY_RATE_LIMITS: 'admin=lots': expected ROLE=RATE/s[:BURST]" in proc.stderr
    assert "Application startup failed" in proc.stderr


def test_syntax_units_default_burst_and_overlay_on_the_defaults() -> None:
    defaults = parse_limits("")
    assert set(defaults) == set(ratelimit.ROLES) == set(auth.ROLES)
    assert all(lim is not None for lim in defaults.values())
    got = parse_limits(" dialer = 500/s:1000 , admin=120/m, compliance=0.5/s:2, operator=3600/h,")
    assert got["dialer"] == Limit(500.0, 1000.0, "500/s:1000")
    assert got["admin"] == Limit(2.0, 2.0, "120/m:2")  # burst: one second's worth
    assert got["compliance"] == Limit(0.5, 2.0, "0.5/s:2")
    assert got["operator"] == Limit(1.0, 1.0, "3600/h:1")
    only = parse_limits("admin=off")
    assert only["admin"] is None and only["dialer"] == defaults["dialer"]
    assert parse_limits("dialer=0.25/s")["dialer"] == Limit(0.25, 1.0, "0.25/s:1")
    assert parse_limits("OFF") == dict.fromkeys(ratelimit.ROLES)


# --- the bucket itself ----------------------------------------------------------------------


def test_the_limiter_is_thread_safe() -> None:
    """16,000 requests from 8 threads on one key, the clock moving 1/8 s per request (inside
    the limiter's lock): exactly burst + rate × elapsed are allowed, whatever the interleaving."""
    ticks = itertools.count()

    def clock() -> float:
        time.sleep(0)  # let another thread in, in the middle of the bucket's update
        return next(ticks) * 0.125

    limiter = RateLimiter({"dialer": Limit(0.5, 100.0, "0.5/s:100")}, clock=clock)
    threads, per_thread = 8, 2000
    allowed = [0] * threads
    start = threading.Barrier(threads)

    def hammer(i: int) -> None:
        start.wait()
        n = 0
        for _ in range(per_thread):
            if limiter.take("key", "dialer") == 0.0:
                n += 1
        allowed[i] = n

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        workers = [threading.Thread(target=hammer, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(old)
    elapsed = (threads * per_thread - 1) * 0.125
    assert sum(allowed) == 100 + math.floor(0.5 * elapsed) == 1099


@settings(max_examples=300, deadline=None, database=None)
@given(
    rate=st.floats(0.01, 1000.0),
    burst=st.integers(1, 50),
    steps=st.lists(st.tuples(st.floats(0.0, 5.0), st.integers(1, 5)), min_size=1, max_size=80),
)
def test_never_more_than_burst_plus_rate_times_elapsed(
    rate: float, burst: int, steps: list[tuple[float, int]]
) -> None:
    """Over any interval [t1, t2], the requests allowed at instants within it number at most
    burst + rate × (t2 − t1); a refused request is told when the next token comes, and a
    request at that instant is allowed."""
    clock = FakeClock()
    limiter = RateLimiter({"dialer": Limit(rate, float(burst), "x")}, clock=clock)
    allowed: list[float] = []
    for gap, count in steps:
        clock.advance(gap)
        for _ in range(count):
            wait = limiter.take("k", "dialer")
            if wait == 0.0:
                allowed.append(clock.now)
                continue
            assert wait > 0 and wait <= 1.0 / rate * (1 + 1e-9)
            assert limiter.take("k", "dialer") == pytest.approx(wait)  # nothing spent
    for i in range(len(allowed)):
        for j in range(i, len(allowed)):
            assert j - i + 1 <= burst + rate * (allowed[j] - allowed[i]) + 1e-6
    if steps[0][1] >= burst:  # a fresh key gets its whole burst at once
        assert allowed[:burst] == [allowed[0]] * burst


@settings(max_examples=200, deadline=None, database=None)
@given(rate=st.floats(0.01, 1000.0), burst=st.integers(1, 20), gaps=st.lists(
    st.floats(0.0, 3.0), min_size=1, max_size=40))
def test_the_announced_wait_is_exact(rate: float, burst: int, gaps: list[float]) -> None:
    """After a refusal, a request at now + wait is allowed (and before it, refused)."""
    clock = FakeClock()
    limiter = RateLimiter({"dialer": Limit(rate, float(burst), "x")}, clock=clock)
    for gap in gaps:
        clock.advance(gap)
        while (wait := limiter.take("k", "dialer")) == 0.0:
            pass
        clock.advance(wait * (1 - 1e-6))
        if wait * 1e-6 * rate > 1e-9:  # far enough from the edge for floats to tell
            assert limiter.take("k", "dialer") > 0.0
        clock.advance(wait * 2e-6)
        assert limiter.take("k", "dialer") == 0.0


def test_many_keys_stay_bounded_in_memory() -> None:
    clock = FakeClock()
    limiter = RateLimiter({"dialer": Limit(1.0, 2.0, "1/s:2")}, clock=clock, max_keys=100)
    for i in range(100):
        limiter.take(f"k{i}", "dialer")
    limiter.take("k0", "dialer")  # k0 is now empty: kept when the others are full
    clock.advance(1.5)
    limiter.take("new", "dialer")
    assert len(limiter._buckets) <= 100
    assert "k0" in limiter._buckets and "new" in limiter._buckets


@pytest.mark.serial  # asserts on elapsed time: alone on the CPU
def test_the_cost_per_request_is_well_under_10_microseconds() -> None:
    """The check path's budget: measured on a key that stays allowed (the common case)."""
    limiter = RateLimiter(parse_limits("dialer=1000000/s:1000000"))
    take = limiter.take
    n = 20_000
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n):
            take("key_0123456789", "dialer")
        runs.append((time.perf_counter() - t) / n)
    assert statistics.median(runs) < 10e-6, f"{statistics.median(runs) * 1e6:.2f} µs"
