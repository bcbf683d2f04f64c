"""Versions and their chunks in the database, and the one-import-at-a-time lock.

Atomicity comes from the version row: chunks are written under a ``loading`` version (no
reader looks at those), then one short transaction makes it ``active`` and the previous one
``superseded``. Readers load a version's chunks inside one snapshot (REPEATABLE READ on
PostgreSQL; a read transaction is a snapshot in SQLite's WAL mode) and check the count
recorded on the version row, so they get a whole version or an error, never part of one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from app.bloctel.models import BloctelChunk, BloctelVersion
from app.clock import now
from app.db import LockBusy, try_lock, write_transaction
from bloctel.index import Chunk, Index, decode

log = logging.getLogger("gateway.bloctel")

_v = BloctelVersion.__table__
_c = BloctelChunk.__table__
# pg_try_advisory_lock(int, int) key of "a BLOCTEL import is running": the two-int key space
# does not overlap the bigint one the check path locks callees in.
_ADVISORY_KEY = (0x0B10C7E1, 1)


class ImportBusy(RuntimeError):
    """Another import holds the lock."""


@dataclass(frozen=True)
class Active:
    version: int
    as_of: date
    total: int
    import_id: str


def active(conn: Connection) -> Active | None:
    row = conn.execute(
        select(_v.c.version, _v.c.as_of, _v.c.total_numbers, _v.c.import_id)
        .where(_v.c.status == "active").order_by(_v.c.version.desc()).limit(1)
    ).first()
    return Active(row.version, row.as_of, row.total_numbers, row.import_id) if row else None


def load(engine: Engine) -> Index:
    """The active version as an ``Index`` (empty, version None, when there is no list)."""
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name != "sqlite" else {}
    with engine.connect().execution_options(**options) as conn, conn.begin():
        current = active(conn)
        if current is None:
            return Index.empty()
        sizes = dict(conn.execute(
            select(_c.c.bucket, func.sum(_c.c.count))
            .where(_c.c.version == current.version).group_by(_c.c.bucket)
        ).all())
        rows = conn.execute(
            select(_c.c.bucket, _c.c.count, _c.c.first, _c.c.data)
            .where(_c.c.version == current.version).order_by(_c.c.seq)
            .execution_options(yield_per=4)  # a few compressed chunks in memory at a time
        )
        buckets = decode(
            (Chunk(r.bucket, r.count, r.first, bytes(r.data)) for r in rows),
            {int(b): int(n) for b, n in sizes.items()},
        )
    index = Index(buckets, version=current.version, as_of=current.as_of,
                  import_id=current.import_id)
    if index.size != current.total:
        raise ValueError(
            f"BLOCTEL version {current.version}: {index.size} numbers stored, "
            f"{current.total} recorded"
        )
    return index


def write_chunks(engine: Engine, version: int, chunks: Iterator[Chunk],
                 per_transaction: int = 1) -> Iterator[int]:
    """Store ``chunks`` under ``version``, a few per short transaction (SQLite's write lock is
    shared with the check path). Yields the count of numbers written after each transaction."""
    batch: list[dict[str, object]] = []

    def flush() -> None:
        with write_transaction(engine) as conn:
            conn.execute(insert(_c), batch)

    for seq, c in enumerate(chunks):
        batch.append({"version": version, "seq": seq, "bucket": c.bucket, "count": c.count,
                      "first": c.first, "data": c.data})
        if len(batch) >= per_transaction:
            flush()
            yield sum(int(b["count"]) for b in batch)  # type: ignore[call-overload]
            batch = []
    if batch:
        flush()
        yield sum(int(b["count"]) for b in batch)  # type: ignore[call-overload]


def abandon_stale(engine: Engine) -> list[int]:
    """Mark versions left ``loading`` by a dead import as failed and drop their chunks.
    Only call with the import lock held (then no live import is loading)."""
    with write_transaction(engine) as conn:
        stale = list(conn.execute(select(_v.c.version).where(_v.c.status == "loading")).scalars())
        if stale:
            conn.execute(delete(_c).where(_c.c.version.in_(stale)))
            conn.execute(
                update(_v).where(_v.c.version.in_(stale)).values(
                    status="failed", finished_at=now(),
                    error="abandoned: the import stopped before activation (process killed?)",
                )
            )
    return stale


def prune(engine: Engine, keep_from: int) -> None:
    """Drop the chunks of versions older than ``keep_from`` and of failed or refused ones."""
    with write_transaction(engine) as conn:
        gone = select(_v.c.version).where(_v.c.status.in_(("failed", "refused")))
        conn.execute(delete(_c).where((_c.c.version < keep_from) | _c.c.version.in_(gone)))


# --------------------------------------------------------------------------- import lock


@contextmanager
def import_lock(engine: Engine) -> Iterator[None]:
    """Hold "a BLOCTEL import is running" for the whole import, or raise ``ImportBusy`` at once
    (``app.db.try_lock``: it dies with its process, so a killed import never blocks the next).
    """
    held = ExitStack()
    try:
        held.enter_context(try_lock(engine, "bloctel-import", _ADVISORY_KEY))
    except LockBusy:
        raise ImportBusy("another BLOCTEL import is running") from None
    with held:
        yield
