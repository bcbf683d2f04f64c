"""The bounds ``app.db.make_engine`` puts on every wait for PostgreSQL (PostgreSQL only: they
are libpq's and the server's), each shown on an engine of this process behind the TCP relay:
a pool that is full, an answer that never comes (from an event loop, as the check; under
``answer_deadline``, as ``/readyz``), the server's ``statement_timeout``, a dial that failed.
Each ends in SQLAlchemy's ``OperationalError`` (the HTTP layer's 503) and the same engine
works again once the database is back. The cluster tests show the same from the outside."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app.config import get_settings
from app.db import answer_deadline, make_engine
from tests.cluster.tcpproxy import TcpProxy


@pytest.fixture
def relay(pg_url: str) -> Iterator[TcpProxy]:
    parsed = make_url(pg_url)
    with TcpProxy(parsed.host or "127.0.0.1", parsed.port or 5432) as r:
        yield r


@pytest.fixture
def engine_with(relay: TcpProxy, pg_url: str,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Engine]]:
    """An engine through the relay, made with these ``GATEWAY_*`` settings."""
    made: list[Engine] = []

    def make(pool_size: int = 5, **env: str) -> Engine:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        url = make_url(pg_url).set(port=relay.port).render_as_string(hide_password=False)
        made.append(make_engine(url, pool_size=pool_size, max_overflow=0))
        return made[-1]

    try:
        yield make
    finally:
        for e in made:
            e.dispose()
        get_settings.cache_clear()


def select_1(engine: Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(text("SELECT 1")).scalar()


def timed(fn: Callable[[], Any]) -> tuple[BaseException | None, float]:
    started = time.monotonic()
    try:
        fn()
    except Exception as exc:
        return exc, time.monotonic() - started
    return None, time.monotonic() - started


def from_event_loop(fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` run inline in a coroutine, as the check runs its database calls."""
    async def inline() -> Any:
        return fn()
    return lambda: asyncio.run(inline())


def test_a_full_pool_is_unavailable_not_an_internal_error(
        engine_with: Callable[..., Engine]) -> None:
    engine = engine_with(pool_size=1, GATEWAY_DB_POOL_TIMEOUT_S="0.3")
    with engine.connect():
        exc, seconds = timed(lambda: select_1(engine))
    assert isinstance(exc, OperationalError), exc  # the HTTP layer's 503
    assert 0.25 < seconds < 1.5
    assert select_1(engine) == 1


def test_an_answer_that_never_comes_is_bounded_and_the_engine_recovers(
        engine_with: Callable[..., Engine], relay: TcpProxy) -> None:
    engine = engine_with(GATEWAY_DB_LOOP_TIMEOUT_MS="400", GATEWAY_DB_DOWN_HOLD_MS="100")
    assert from_event_loop(lambda: select_1(engine))() == 1
    relay.blackhole()
    exc, seconds = timed(from_event_loop(lambda: select_1(engine)))
    assert isinstance(exc, OperationalError) and "no answer" in str(exc), exc
    assert 0.35 < seconds < 1.5, seconds
    # /readyz's own deadline, in a thread of the pool (not an event loop): a new connection
    # is dialled, the relay accepts and never answers: psycopg's connect_timeout (2 s)
    with answer_deadline(0.3):
        exc, seconds = timed(lambda: select_1(engine))
    assert isinstance(exc, OperationalError), exc
    assert seconds < 3.0, seconds
    relay.stop()
    relay.start()
    time.sleep(0.2)  # the hold after the failed dial
    assert from_event_loop(lambda: select_1(engine))() == 1  # same engine, no restart


def test_answer_deadline_bounds_a_pooled_connection_outside_the_event_loop(
        engine_with: Callable[..., Engine], relay: TcpProxy) -> None:
    engine = engine_with()
    assert select_1(engine) == 1
    relay.blackhole()
    with answer_deadline(0.3):
        exc, seconds = timed(lambda: select_1(engine))
    assert isinstance(exc, OperationalError) and "no answer" in str(exc), exc
    assert 0.25 < seconds < 1.5, seconds


def test_statement_timeout_is_the_servers_and_leaves_the_connection_usable(
        engine_with: Callable[..., Engine]) -> None:
    engine = engine_with(pool_size=1, GATEWAY_DB_STATEMENT_TIMEOUT_MS="300")
    with engine.connect() as conn:
        exc, seconds = timed(lambda: conn.execute(text("SELECT pg_sleep(5)")))
        assert isinstance(exc, OperationalError) and "statement timeout" in str(exc), exc
        assert 0.25 < seconds < 2.0, seconds
        conn.rollback()
        assert conn.execute(text("SELECT 1")).scalar() == 1  # cancelled, not closed


def test_a_failed_dial_is_not_retried_for_the_hold(engine_with: Callable[..., Engine],
                                                   relay: TcpProxy) -> None:
    engine = engine_with(GATEWAY_DB_DOWN_HOLD_MS="500")
    relay.stop()
    exc, _ = timed(lambda: select_1(engine))
    assert isinstance(exc, OperationalError) and "refused" in str(exc), exc
    relay.start()
    exc, seconds = timed(lambda: select_1(engine))  # back already, but within the hold
    assert isinstance(exc, OperationalError) and "not dialled again" in str(exc), exc
    assert seconds < 0.1
    time.sleep(0.5)
    assert select_1(engine) == 1
