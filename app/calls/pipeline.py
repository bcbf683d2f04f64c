"""The check's database work on PostgreSQL in two round trips (psycopg pipeline mode).

Through SQLAlchemy each statement of a check waited for its answer before the next was sent:
``BEGIN``, the advisory lock, the facts, the attempt, its penalty line, ``COMMIT`` — five or
six round trips, each one a wake-up of the worker and of a PostgreSQL backend (measured with
``bench/inproc.py``: ~0.6 ms each on a loaded 2-core machine, most of a check's wall time).
Here the same statements go through psycopg's pipeline on the same connection, in the same
transaction:

1. ``BEGIN`` + ``pg_advisory_xact_lock(principal, callee)`` + the facts statement (+ the mobile
   caller-ID count when the caller ID is a mobile): one round trip. PostgreSQL runs a
   pipeline's statements one after the other, and at READ COMMITTED each statement takes its
   snapshot when it starts, so the facts statement sees every attempt committed by whoever
   held the lock before us — exactly as when it was sent after the lock's answer came back.
2. ``INSERT`` attempt (+ penalty line) + ``COMMIT``: one round trip; the answer is built only
   after the commit is acknowledged (durability unchanged: ``synchronous_commit`` untouched).

Two round trips exactly (measured by ``bench.capacity`` on the socket: 2.2 answers per check,
the 0.2 being the idle server's background; 5.3 before): psycopg on its own would wait for its
implicit ``BEGIN`` before the first statement and sync once more at each block's exit, so
``read`` sends an explicit ``BEGIN`` with the driver in autocommit mode and reads the rows
after the block, and ``write_and_commit`` sends ``COMMIT`` as a statement. The connection is
put back in its ordinary mode when the transaction ends (or at check-in, after a replay or an
error: ``_autocommit_off``).

The SQL is SQLAlchemy's own, compiled once for the psycopg dialect from the statements of
``app.calls.facts`` / ``app.calls.service``; values are bound as SQLAlchemy's types would
(aware UTC datetimes, JSON). A unique violation (two checks racing with one ``external_id``)
is raised as SQLAlchemy's ``IntegrityError`` (and a lost database as its
``OperationalError``, a 503), so the caller's handling is the same on both paths. SQLite keeps
the plain path: it has no round trips.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Json
from sqlalchemy import Connection, event
from sqlalchemy.dialects.postgresql.psycopg import dialect as _psycopg_dialect
from sqlalchemy.dialects.sqlite import dialect as _sqlite_dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import Pool

_DIALECT = _psycopg_dialect()


def compile_sql(statement: Any, keys: list[str] | None = None) -> str:
    """``statement`` as psycopg SQL (``%(name)s`` placeholders), compiled once at import."""
    return str(statement.compile(dialect=_DIALECT, column_keys=keys))


def _row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A facts row as SQLAlchemy's ``UTCDateTime`` would give it (aware, UTC)."""
    return tuple(v.astimezone(UTC) if isinstance(v, datetime) else v for v in row)


def driver(conn: Connection) -> psycopg.Connection[Any]:
    """The psycopg connection under ``conn`` (same transaction)."""
    return conn.connection.driver_connection  # type: ignore[return-value]


@contextmanager
def _translated(conn: Connection, sql: str, params: dict[str, Any] | None,
                restore: bool = False) -> Iterator[None]:
    """psycopg's errors as SQLAlchemy's (``IntegrityError``, ``OperationalError``…), as if the
    statement had gone through SQLAlchemy: the HTTP layer maps them (409, 503), the replay
    handling catches them, and a connection the error broke is invalidated, not pooled.
    ``restore``: on an error, end the transaction here and leave autocommit mode, so that
    SQLAlchemy's rollback finds an ordinary idle connection."""
    try:
        yield
    except psycopg.Error as exc:
        raw = driver(conn)
        if raw.broken or raw.closed:
            # let SQLAlchemy meet the broken connection itself: it then invalidates the whole
            # pool (a restarted database broke every pooled connection, not just this one),
            # exactly as on the plain path
            conn.exec_driver_sql("SELECT 1")
        elif restore and raw.autocommit:
            raw.rollback()
            _restore(conn)
        raise DBAPIError.instance(sql, params, exc, psycopg.Error,
                                  hide_parameters=True) from exc


def read(conn: Connection, lock_sql: str, lock_key: int, facts_sql: str,
         facts_params: dict[str, Any], count_sql: str | None = None,
         count_params: dict[str, Any] | None = None) -> tuple[list[tuple[Any, ...]], int | None]:
    """``BEGIN``, lock, facts rows (and a count): one round trip. Returns (rows, count or
    None).

    psycopg would cost two more: it sends its implicit ``BEGIN`` and waits for it before the
    first statement of a pipeline, and fetching inside the block syncs before the block's exit
    syncs again. So the transaction is opened with an explicit ``BEGIN`` in the pipeline (the
    driver in autocommit mode, where it sends no ``BEGIN`` of its own; ``transaction_status``
    then follows the server's, so SQLAlchemy's commit or rollback still ends the transaction),
    and the rows are read after the block, whose one sync brought them in."""
    raw = driver(conn)
    begin = raw.pgconn.transaction_status == _IDLE
    with _translated(conn, facts_sql, facts_params, restore=begin):
        if begin:
            raw.autocommit = True
            conn.connection.info[_AUTOCOMMIT] = True  # put back at check-in whatever happens
        with raw.pipeline():
            lock = raw.cursor()
            if begin:
                lock.execute(b"BEGIN")
            lock.execute(lock_sql, {"key": lock_key})
            facts = raw.cursor()
            facts.execute(facts_sql, facts_params)
            counter = None
            if count_sql is not None:
                counter = raw.cursor()
                counter.execute(count_sql, count_params)
        rows = [_row(r) for r in facts.fetchall()]  # already in: no I/O
        count = counter.fetchone()[0] if counter is not None else None  # type: ignore[index]
    return rows, count


def write_and_commit(conn: Connection, writes: list[tuple[str, dict[str, Any]]]) -> None:
    """Run ``writes`` and ``COMMIT``: one round trip (the pipeline's one sync, at its exit).
    SQLAlchemy's own commit at the end of the transaction block then finds the connection idle
    and sends nothing."""
    raw = driver(conn)
    with _translated(conn, writes[0][0], writes[0][1], restore=True):
        with raw.pipeline():
            cur = raw.cursor()
            for sql, params in writes:
                cur.execute(sql, params)
            if raw.autocommit:
                cur.execute(b"COMMIT")  # the transaction read() opened
            else:
                raw.commit()
        _restore(conn)


_IDLE = psycopg.pq.TransactionStatus.IDLE
_AUTOCOMMIT = "gateway_pipeline_autocommit"


def _restore(conn: Connection) -> None:
    """The driver back in its ordinary (non-autocommit) mode once the transaction is over."""
    raw = driver(conn)
    if raw.autocommit and raw.pgconn.transaction_status == _IDLE and not raw.closed:
        raw.autocommit = False
        conn.connection.info.pop(_AUTOCOMMIT, None)


@event.listens_for(Pool, "checkin")
def _autocommit_off(dbapi_conn: Any, record: Any) -> None:
    """A connection read() left in autocommit mode (a replay, an error) is put back in its
    ordinary mode before another request borrows it (SQLAlchemy rolled it back already)."""
    if record is not None and record.info.pop(_AUTOCOMMIT, False) and dbapi_conn is not None:
        try:
            if dbapi_conn.pgconn.transaction_status != _IDLE:
                dbapi_conn.rollback()
            dbapi_conn.autocommit = False
        except Exception:  # a broken connection: the pool discards it
            record.invalidate()


def json_value(value: Any) -> Json:
    return Json(value)


# --- SQLite: the same statements on the driver's cursor ---------------------------------------
#
# SQLite has no round trips, but each statement through SQLAlchemy's Core execution costs tens
# of µs of Python (compiled-cache look-up, parameter processing, result wrapping), all of it
# spent *inside* the writers' lock that serialises every check of the database. The facts read
# and the inserts go to the ``sqlite3`` cursor of the same connection, in the same transaction
# (``BEGIN IMMEDIATE`` and ``COMMIT`` stay SQLAlchemy's), with the values SQLAlchemy's types
# would write: instants as naive UTC text ``YYYY-MM-DD HH:MM:SS.ffffff`` (``UTCDateTime`` on
# SQLite), booleans as 0/1, JSON as ``json.dumps`` text; and read back as they would give them.

_SQLITE = _sqlite_dialect(paramstyle="named")
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def compile_sqlite(statement: Any, keys: list[str] | None = None) -> str:
    """``statement`` as sqlite3 SQL (``:name`` placeholders), compiled once at import."""
    return str(statement.compile(dialect=_SQLITE, column_keys=keys))


def sqlite_value(value: Any) -> Any:
    """A bound value as SQLAlchemy's SQLite types store it."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(_SQLITE_TIME)
    return value


def _sqlite_facts_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A facts row ``(kind, text, source, b1, b2, t1, t2, t3, d1, d2)`` as SQLAlchemy's types
    would give it: booleans as bool, instants aware UTC (dates stay text: ``facts_of_rows``
    reads both)."""
    kind, text, source, b1, b2, t1, t2, t3, d1, d2 = row
    return (kind, text, source,
            None if b1 is None else bool(b1), None if b2 is None else bool(b2),
            _sqlite_instant(t1), _sqlite_instant(t2), _sqlite_instant(t3), d1, d2)


def _sqlite_instant(value: Any) -> Any:
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value


def sqlite_facts(conn: Connection, facts_sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The facts rows, read on the driver's cursor in ``conn``'s transaction."""
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with _sqlite_translated(facts_sql, params):
            cur.execute(facts_sql, {k: sqlite_value(v) for k, v in params.items()})
            return [_sqlite_facts_row(r) for r in cur.fetchall()]
    finally:
        cur.close()


def sqlite_write(conn: Connection, writes: list[tuple[str, dict[str, Any]]]) -> None:
    """Run ``writes`` on the driver's cursor in ``conn``'s transaction (SQLAlchemy commits)."""
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        for sql, params in writes:
            with _sqlite_translated(sql, params):
                cur.execute(sql, {k: sqlite_value(v) for k, v in params.items()})
    finally:
        cur.close()


@contextmanager
def _sqlite_translated(sql: str, params: dict[str, Any]) -> Iterator[None]:
    """sqlite3's errors as SQLAlchemy's (a unique violation → ``IntegrityError``; a locked or
    unreadable database → ``OperationalError``, a 503)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, params, exc, sqlite3.Error,
                                  hide_parameters=True) from exc


__all__ = ["compile_sql", "compile_sqlite", "driver", "json_value", "read", "sqlite_facts",
           "sqlite_value", "sqlite_write", "write_and_commit"]
