"""Engine, sessions and the declarative base shared by every domain's models.

SQLite (default) and PostgreSQL are both first-class:

* SQLite runs in WAL mode; the driver's own transaction handling is switched off so that we
  emit ``BEGIN`` ourselves. Write transactions (``write_transaction()``,
  ``session_scope(write=True)``) first take a process-shared lock (``flock`` on
  ``<database>.lock``, plus a thread lock) and then ``BEGIN IMMEDIATE``: that serialises the
  frequency count and the insert of an attempt across worker processes, avoids SQLite's
  lock-upgrade deadlocks, and — unlike SQLite's busy handler, which sleeps 1, 2, 5, 10… ms
  between retries — hands the lock over the moment it is released.
* PostgreSQL uses psycopg 3 at READ COMMITTED; the check path serialises per (principal,
  callee) with a transaction-scoped advisory lock (``CALLEE_LOCK``, ``callee_lock_key``; taken
  by ``app.calls.service`` and ``app.erasure.service``).
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Engine,
    MetaData,
    bindparam,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator

from app.config import get_settings, normalise_database_url

log = logging.getLogger("gateway.db")

#: PostgreSQL: the transaction-scoped advisory lock of one (principal, callee), parameter
#: ``key`` = ``callee_lock_key(principal, callee)``: the check and the erasure of a number
#: take it, so that counting earlier attempts and inserting one (or erasing them) cannot
#: interleave across workers. SQLite needs none: its write transactions are serialised.
CALLEE_LOCK = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger)))


def callee_lock_key(principal_id: str, callee: str) -> int:
    """The advisory lock key of (principal, callee): every check of one callee for one
    principal, whichever tenant asks, waits for the one before (a tenant's own principal has
    the tenant's id, so for a single-tenant user the key is what it was)."""
    digest = hashlib.blake2b(f"{principal_id}|{callee}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class WriteLock:
    """Serialises SQLite writers: a thread lock within the process, ``flock`` across processes
    (a blocked ``flock`` wakes as soon as the holder releases it)."""

    def __init__(self, path: str | None) -> None:
        self._path = f"{path}.lock" if path else None
        self._thread_lock = threading.RLock()  # re-entrant: a nested write is not a deadlock
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        self._depth += 1
        if self._path is None or self._depth > 1:
            return
        try:
            if self._fd is None or self._pid != os.getpid():
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._depth -= 1
            self._thread_lock.release()
            raise

    def __exit__(self, *_: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._path is not None and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


_LOCKS: weakref.WeakKeyDictionary[Engine, WriteLock] = weakref.WeakKeyDictionary()
_NO_LOCK = _NoLock()


def write_lock(engine: Engine) -> WriteLock | _NoLock:
    """The SQLite writers' lock of ``engine`` (no-op on PostgreSQL)."""
    return _LOCKS.get(engine.engine, _NO_LOCK)


class LockBusy(RuntimeError):
    """``try_lock``: someone holds it."""


_TRY_LOCKS: dict[str, threading.Lock] = {}
_TRY_LOCKS_GUARD = threading.Lock()


@contextmanager
def try_lock(engine: Engine, name: str, key: tuple[int, int]) -> Iterator[None]:
    """Hold the lock ``name`` for as long as the block runs, across threads, processes and
    replicas, or raise ``LockBusy`` at once (long jobs: one import at a time).

    PostgreSQL: a session advisory lock in the two-int key space (``key``; the check path's
    per-callee locks use the bigint space, so they never collide) on a dedicated connection —
    not through a pooler in transaction mode. SQLite: ``flock`` on ``<database>.<name>.lock``.
    Both vanish with the process: a killed job never blocks the next one.
    """
    with _TRY_LOCKS_GUARD:
        thread_lock = _TRY_LOCKS.setdefault(name, threading.Lock())
    if not thread_lock.acquire(blocking=False):
        raise LockBusy(name)
    try:
        if engine.dialect.name == "postgresql":
            params = {"a": key[0], "b": key[1]}
            with engine.connect() as conn:
                got = conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), params).scalar()
                conn.commit()
                if not got:
                    raise LockBusy(name)
                try:
                    yield
                finally:
                    try:
                        conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), params)
                        conn.commit()
                    except Exception:  # never hand a connection still holding it to the pool
                        log.exception("%s: unlock failed; closing the session", name)
                        conn.invalidate()
            return
        database = make_url(str(engine.url)).database
        if not database or database == ":memory:":
            yield
            return
        fd = os.open(f"{database}.{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockBusy(name) from None
            yield
        finally:
            os.close(fd)
    finally:
        thread_lock.release()


# --- PostgreSQL: a database that does not answer is a 503, never a hang ----------------------
#
# The check runs its database calls inline in the worker's event loop (app/calls/router.py), so
# a call that waits for an answer that never comes would stall every request of the worker.
# Every wait is bounded (settings: ``app.config``, ``GATEWAY_DB_*``):
#
# * opening a connection: libpq's ``connect_timeout`` (psycopg enforces it, 2 s at least);
# * an answer: ``_BoundedConnection.wait`` — psycopg's single place where a connection waits for
#   its socket — gives up after ``db_loop_timeout_ms`` on an event loop, after
#   ``statement_timeout`` + 1 s elsewhere (PostgreSQL's own ``statement_timeout``, when set,
#   cancels first and cleanly), after ``answer_deadline``'s seconds inside that block. Giving
#   up closes the connection (its protocol state is unknown): SQLAlchemy then sees a
#   disconnect, invalidates the pool, and the request is answered 503;
# * the kernel: keepalives and ``tcp_user_timeout`` drop a socket whose peer vanished;
# * a free pooled connection: ``pool_timeout``, then 503 (``_FailClosedPool``);
# * after a connection could not be opened, a worker does not dial again for
#   ``db_down_hold_ms``: its requests are 503 at once instead of each waiting the full bound.
#
# Nothing is retried: the caller gets 503 with Retry-After and the next request (after the
# hold) connects afresh, so the pool recovers on its own when the database returns.

_DEADLINE = threading.local()
_CLIENT_GRACE_S = 1.0


@contextmanager
def answer_deadline(seconds: float) -> Iterator[None]:
    """PostgreSQL: in this block (this thread), no database answer is waited for longer than
    ``seconds`` (``/readyz``); past it the connection is closed and ``OperationalError``
    raised."""
    previous = getattr(_DEADLINE, "seconds", None)
    _DEADLINE.seconds = seconds
    try:
        yield
    finally:
        _DEADLINE.seconds = previous


class _FailClosedPool(QueuePool):
    """A pool whose exhaustion (``pool_timeout``) is an ``OperationalError`` — the database
    cannot serve this request now: 503 with Retry-After — not a 500."""

    def _do_get(self) -> Any:
        try:
            return super()._do_get()
        except sa_exc.TimeoutError as exc:
            raise sa_exc.OperationalError("pool checkout", None, exc) from exc


def _bound_postgresql(engine: Engine, settings: Any) -> None:
    import psycopg
    from psycopg import errors as pg_errors

    loop_timeout = settings.db_loop_timeout_ms / 1000
    statement_ms = settings.db_statement_timeout_ms
    other_timeout = statement_ms / 1000 + _CLIENT_GRACE_S if statement_ms else None
    hold = settings.db_down_hold_ms / 1000
    wait_timeout = pg_errors._WaitTimeout  # psycopg ≥ 3.2: what ``wait(timeout=)`` raises
    down_until = [0.0]  # monotonic instant before which this process does not dial

    def mark_down() -> None:
        down_until[0] = time.monotonic() + hold

    class _BoundedConnection(psycopg.Connection):  # type: ignore[type-arg]
        def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
            if timeout is None:
                timeout = getattr(_DEADLINE, "seconds", None)
                if timeout is None:
                    timeout = (loop_timeout if asyncio._get_running_loop() is not None
                               else other_timeout)
            if timeout is None:
                return super().wait(gen, interval)
            try:
                return super().wait(gen, interval, timeout)
            except wait_timeout:
                # no mark_down(): a slow answer (a long lock wait) does not prove the database
                # gone; the next checkout dials again, and a failed dial holds
                self.pgconn.finish()  # mid-protocol: unusable; closed, so SA invalidates it
                raise pg_errors.OperationalError(
                    f"no answer from the database within {timeout:g} s: connection closed"
                ) from None

    keepalive = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 2,
                 "keepalives_count": 3, "connect_timeout": settings.db_connect_timeout_s,
                 "tcp_user_timeout": settings.db_tcp_user_timeout_ms}

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        if time.monotonic() < down_until[0]:
            raise pg_errors.OperationalError(
                "the database did not answer a moment ago; not dialled again yet")
        for key, value in keepalive.items():
            cparams.setdefault(key, value)  # the URL's own parameters win
        if statement_ms and "statement_timeout" not in str(cparams.get("options", "")):
            cparams["options"] = (f"{cparams.get('options', '')} "
                                  f"-c statement_timeout={statement_ms}").strip()
        try:
            return _BoundedConnection.connect(*cargs, **cparams)
        except psycopg.OperationalError:
            mark_down()
            raise


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = normalise_database_url(url or get_settings().database_url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        _sqlite_setup(engine)
        database = parsed.database if parsed.database not in (None, "", ":memory:") else None
        _LOCKS[engine] = WriteLock(database)
        return engine
    # No pre-ping: it costs a round trip per checkout on the check path. A connection broken by
    # a database restart fails one request with a 503 (Retry-After) and the pool is refreshed.
    settings = get_settings()
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_recycle", 1800)
    if "poolclass" not in kwargs:
        kwargs["poolclass"] = _FailClosedPool
        kwargs.setdefault("pool_timeout", settings.db_pool_timeout_s)
    engine = create_engine(url, **kwargs)
    _bound_postgresql(engine, settings)

    # Sessions in UTC whatever the server's, database's or client's (PGTZ) time zone: the
    # driver turns a timestamptz into the session's zone, where a stored
    # 9999-12-31T23:59:59Z would be year 10000 in Paris (unreadable: every read of it failing).
    @event.listens_for(engine, "connect")
    def _utc(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
        dbapi_conn.commit()

    return engine


_engine: Engine | None = None
_engine_pid: int | None = None
_sessionmaker: sessionmaker[Session] | None = None


def get_engine() -> Engine:
    """The process-wide engine (re-created after a fork, e.g. in uvicorn workers)."""
    global _engine, _engine_pid, _sessionmaker
    if _engine is None or _engine_pid != os.getpid():
        _engine = make_engine()
        _engine_pid = os.getpid()
        _sessionmaker = sessionmaker(_engine, expire_on_commit=False)
    return _engine


@contextmanager
def write_transaction(engine: Engine | None = None) -> Iterator[Connection]:
    """A connection in a write transaction, committed on success (see module docstring)."""
    engine = engine or get_engine()
    with write_lock(engine), engine.execution_options(write=True).begin() as conn:
        yield conn


def reset_engine() -> None:
    """Forget the engine (tests switch ``DATABASE_URL``)."""
    global _engine, _sessionmaker
    if _engine is not None:
        _engine.dispose()
    _engine = None
    _sessionmaker = None


@contextmanager
def session_scope(write: bool = False) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error.

    ``write=True`` takes SQLite's write lock at BEGIN (no effect on PostgreSQL).
    """
    get_engine()
    assert _sessionmaker is not None
    with write_lock(get_engine()) if write else _NO_LOCK, _sessionmaker() as session:
        if write:
            session.connection(execution_options={"write": True})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
