"""A real cluster for the failover tests: 3 × ``gateway serve --workers 2`` on one PostgreSQL
database (a cluster shares one PostgreSQL database: there is no SQLite variant here), behind
Debian's HAProxy health-checking ``/readyz`` (``cluster.Cluster``), with a TCP relay
(``tests/cluster/tcpproxy.py``) between every replica and PostgreSQL so that a test can take
the database away (a cut, a black hole) and give it back.

The cluster is started once per session (its start-up is most of the cost); ``healthy`` hands
each test a cluster whose relay is up, whose replicas all run (a killed one is started again)
and whom HAProxy holds all UP, with this process pointed at the database directly (not through
the relay: the tests read the attempts table while the replicas are cut from it).

HAProxy missing: skipped, except under ``CI=true`` where it is a failure. The clock is frozen
on a Monday in business hours (``FROZEN_NOW``); request rate limits are off (the load would
be throttled per key otherwise).
"""

from __future__ import annotations

import asyncio
import csv
import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app import db as app_db
from app.calls.models import Attempt
from app.config import get_settings
from cluster import Cluster, haproxy_binary
from cluster.invariant import invariant_run
from tests.cluster.tcpproxy import RelayProcess
from tests.conftest import IN_CI, _pg_create, _pg_drop, use_database
from tests.factories import Tenant, add_consent, make_tenant, operator_key
from tests.integration.conftest import FROZEN_NOW

REPLICAS = 3
WORKERS = 2
LIMIT = 4  # art. D223-9: 4 attempts per consumer in 30 calendar days
#: the bounds the cluster runs with (app.config's defaults): an answer awaited from a worker's
#: event loop, a connection attempt (psycopg's floor), the pause after a failed one, /readyz
LOOP_TIMEOUT_MS = 2000
CONNECT_TIMEOUT_S = 2
DOWN_HOLD_MS = 500
READYZ_TIMEOUT_MS = 1000
ENV = {
    "GATEWAY_FROZEN_NOW": FROZEN_NOW,
    "GATEWAY_RATE_LIMITS": "off",
    "GATEWAY_DB_LOOP_TIMEOUT_MS": str(LOOP_TIMEOUT_MS),
    "GATEWAY_DB_CONNECT_TIMEOUT_S": str(CONNECT_TIMEOUT_S),
    "GATEWAY_DB_DOWN_HOLD_MS": str(DOWN_HOLD_MS),
    "GATEWAY_READYZ_TIMEOUT_MS": str(READYZ_TIMEOUT_MS),
    "GATEWAY_LOG_LEVEL": "warning",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than 20 s (still run in CI)")


# --- the cluster ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database (the direct URL), dropped at the end."""
    try:
        url = _pg_create()
    except Exception as exc:  # server down, auth refused…
        if IN_CI:
            pytest.fail(f"PostgreSQL unreachable: {exc} (CI=true: required)")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    try:
        yield url
    finally:
        app_db.reset_engine()
        _pg_drop(url)


@pytest.fixture(scope="session")
def db_relay(pg_url: str) -> Iterator[RelayProcess]:
    """The relay between the replicas and PostgreSQL (in a process of its own)."""
    parsed = make_url(pg_url)
    with RelayProcess(parsed.host or "127.0.0.1", parsed.port or 5432) as relay:
        yield relay


@pytest.fixture(scope="session")
def running_cluster(pg_url: str, db_relay: RelayProcess,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if haproxy_binary() is None:
        message = "haproxy is not installed (Debian: apt-get install haproxy)"
        if IN_CI:
            pytest.fail(message + " (CI=true: the cluster tests are required)")
        pytest.skip(message)
    relayed = make_url(pg_url).set(port=db_relay.port).render_as_string(hide_password=False)
    c = Cluster(relayed, replicas=REPLICAS, workers=WORKERS, env=ENV,
                workdir=tmp_path_factory.mktemp("cluster"))  # the replicas' logs stay there
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def healthy(running_cluster: Cluster, db_relay: RelayProcess, pg_url: str,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    """The cluster with its relay up, every replica running and UP in HAProxy; this process
    on the database directly (``operator_key``, ``attempts_of``)."""
    c = running_cluster
    db_relay.start()
    for r in c.replicas:
        if r.proc is None or r.proc.poll() is not None:
            r.start(c.env, c.workdir / "metrics" / r.name)
    for r in c.replicas:
        r.wait_ready()
    c.balancer.wait_states({r.name: "UP" for r in c.replicas})
    monkeypatch.setenv("DATABASE_URL", pg_url)
    use_database(pg_url)
    try:
        yield c
    finally:
        app_db.reset_engine()
        get_settings.cache_clear()


# --- a tenant and what it recorded --------------------------------------------------------


_NAMES = iter(range(1, 10_000))


def new_tenant(base_url: str, consented: list[str]) -> Tenant:
    """A tenant built through ``base_url`` with canvassing consent for ``consented``."""
    client = httpx.Client(base_url=base_url, timeout=30, trust_env=False)
    t = make_tenant(client, f"Failover {next(_NAMES)}", operator=operator_key())
    for callee in consented:
        add_consent(t, callee)
    return t


def callees(prefix: int, n: int) -> list[str]:
    """``n`` distinct French mobile numbers (``+336PPNNNNNN``)."""
    return [f"+336{prefix:02d}{i:06d}" for i in range(n)]


def attempts_of(tenant_id: str) -> list[tuple[str | None, str, bool]]:
    """(external_id, decision, counted) of every attempt of the tenant, from the database."""
    a = Attempt.__table__.c
    with app_db.get_engine().connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(a.external_id, a.decision, a.counted).where(a.tenant_id == tenant_id))]


def counted_rows(tenant_id: str, callee: str) -> int:
    a = Attempt.__table__.c
    with app_db.get_engine().connect() as conn:
        return int(conn.execute(select(func.count()).where(
            a.tenant_id == tenant_id, a.callee == callee, a.counted.is_(True))).scalar_one())


def served_by_replica(c: Cluster) -> dict[str, int]:
    """Requests HAProxy has sent to each replica so far (``stot``)."""
    text = c.balancer.admin("show stat").lstrip("# ")
    return {r["svname"]: int(r["stot"] or 0) for r in csv.DictReader(io.StringIO(text))
            if r["pxname"] == "replicas" and r["svname"] not in ("BACKEND", "FRONTEND")}


def assert_invariant(c: Cluster, t: Tenant, callee: str) -> None:
    """50 concurrent checks of one consented callee across the replicas: exactly 4 allowed,
    exactly 4 counted rows, and more than one replica decided them."""
    before = served_by_replica(c)
    allowed = invariant_run(c.url, t.dialer, "spring-2026", t.canvassing_cli, callee)
    after = served_by_replica(c)
    spread = {k: after[k] - before.get(k, 0) for k in after}
    assert allowed == LIMIT, f"{allowed} allowed (spread over replicas: {spread})"
    assert counted_rows(t.id, callee) == LIMIT
    assert sum(1 for n in spread.values() if n > 0) >= 2, spread
    print(f"invariant: {allowed} allowed of 50, spread {spread}")


# --- a load of checks, recorded ---------------------------------------------------------------


@dataclass
class Shot:
    """One check: when it was sent and answered (monotonic), and what came back."""

    external_id: str
    sent: float
    done: float = 0.0
    status: int = 0  # 0: no HTTP answer (connection refused, reset, timeout)
    body: Any = None
    retry_after: str | None = None
    error: str | None = None

    @property
    def seconds(self) -> float:
        return self.done - self.sent


@dataclass
class Load:
    """``tasks`` clients sending checks at ``base_url`` back to back, in a thread of their
    own, until ``stop()``; every check is recorded (``shots``)."""

    base_url: str
    key: str
    bodies: Callable[[int], dict[str, Any]]  # n -> the n-th check's body (with external_id)
    tasks: int = 8
    timeout: float = 10.0
    keepalive: bool = True
    shots: list[Shot] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _count: int = 0

    def start(self) -> Load:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> list[Shot]:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=self.timeout + 10)
        assert not self._thread.is_alive(), "the load did not stop"
        return sorted(self.shots, key=lambda s: s.sent)

    def wait_for(self, predicate: Callable[[Shot], bool], after: float,
                 timeout: float) -> Shot | None:
        """The first shot sent after ``after`` that satisfies ``predicate`` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [s for s in list(self.shots) if s.sent >= after and s.done and predicate(s)]
            if hits:
                return min(hits, key=lambda s: s.done)
            time.sleep(0.02)
        return None

    async def _run(self) -> None:
        await asyncio.gather(*(self._client() for _ in range(self.tasks)))

    async def _client(self) -> None:
        limits = httpx.Limits(max_connections=1,
                              max_keepalive_connections=1 if self.keepalive else 0)
        headers = {"Authorization": f"Bearer {self.key}"}
        async with httpx.AsyncClient(base_url=self.base_url, limits=limits, headers=headers,
                                     timeout=self.timeout, trust_env=False) as client:
            while not self._stop.is_set():
                n = self._count
                self._count += 1
                body = self.bodies(n)
                shot = Shot(body["external_id"], time.monotonic())
                try:
                    r = await client.post("/v1/calls/check", json=body)
                    shot.status = r.status_code
                    shot.retry_after = r.headers.get("retry-after")
                    try:
                        shot.body = r.json()
                    except ValueError:
                        shot.body = r.text
                except httpx.HTTPError as exc:
                    shot.error = repr(exc)
                shot.done = time.monotonic()
                self.shots.append(shot)
                if shot.status != 200:
                    await asyncio.sleep(0.01)  # no busy loop on errors
