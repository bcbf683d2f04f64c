"""Writing, phase 2: the sorted staged rows in batches cut between numbers, each in its own short
transaction (``Writer``; on PostgreSQL ``PG_WRITERS`` at once), then the table's statistics."""

from __future__ import annotations

import collections
import logging
import operator
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import Engine, Table, text
from sqlalchemy.exc import IntegrityError

from app.clock import now
from app.db import write_transaction
from app.registries.bulk.fields import Kind, Report
from app.registries.bulk.limits import Progress
from app.registries.bulk.staging import STAGED, driver_procs, pg_instant
from app.registries.models import Consent, Contract, Opposition

log = logging.getLogger("gateway.registries.bulk")


def _tuple_getter(positions: list[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """``row -> tuple(row[p] for p in positions)``, at C speed."""
    if not positions:
        return lambda row: ()
    if len(positions) == 1:
        (p,) = positions
        return lambda row: (row[p],)
    return operator.itemgetter(*positions)  # type: ignore[return-value]


_PREFIX = {"consents": "con", "contracts": "ctr", "oppositions": "opp"}
#: per kind: natural key columns, compared columns, extra insert-only columns (NULL, but
#: ``principal_id``: the tenant's own principal — an import is the tenant's own records)
_SHAPE: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "consents": (("callee", "scope", "given_at"), ("channel", "evidence_sha256", "expires_at"),
                 ("revoked_at", "revoke_reason")),  # + CONSENT_NAMES present in the file
    "contracts": (("reference",), ("callee", "sector", "starts_on", "ends_on"),
                  ("principal_id",)),
    "oppositions": (("callee",), (), ("attempt_id", "principal_id")),
}
#: consents: what the consent names (rules-fr.md §5), compared and updated only when the file
#: has the column (as an opposition's source): re-importing an older file changes none of it.
#: ``principals`` is no column of ``consents`` but rows of ``consent_principals`` (compared as
#: "|"-joined ids, rewritten when they differ); a ``source`` column decides its default.
CONSENT_NAMES = ("source", "notice_given", "conditional_on_sale", "principals")
_VALUES = {
    "consents": ("callee", "scope", "given_at", "channel", "evidence", "evidence_sha256",
                 "expires_at", "source", "notice_given", "conditional_on_sale"),
    "contracts": ("callee", "reference", "sector", "starts_on", "ends_on"),
    "oppositions": ("callee", "source"),
}


@dataclass
class _Batch:
    by_key: dict[tuple[Any, ...], tuple[Any, ...]]
    rows: int
    updated: int  # rows of a key repeated in the batch, with other values than the row before
    unchanged: int  # … with the same values
    last: bool


class Writer:
    """Writing: staged rows, in sorted order, a batch per short transaction."""

    def __init__(self, engine: Engine, kind: Kind, tenant_id: str, has_source: bool,
                 report: Report, progress: Progress | None = None,
                 on_batch: Callable[[Report], None] | None = None,
                 columns: frozenset[str] = frozenset()) -> None:
        self.engine, self.kind, self.tenant_id, self.report = engine, kind, tenant_id, report
        self.progress, self.on_batch = progress, on_batch
        self.commit_lock = threading.Lock()
        self.table: Table = {"consents": Consent, "contracts": Contract,
                             "oppositions": Opposition}[kind].__table__  # type: ignore[assignment]
        pos = {name: i for i, name in enumerate(STAGED[kind])}
        key_cols, compare, extra = _SHAPE[kind]
        if kind == "oppositions" and has_source:  # else an import never changes the source
            compare = ("source",)
        if kind == "consents":  # what the file states of what the consent names
            compare += tuple(c for c in CONSENT_NAMES if c in columns
                             or (c == "principals" and "source" in columns))
        #: consents: whether the principals are compared (then the last compared column)
        self.principals = "principals" in compare
        self.principals_at = STAGED[kind].index("principals") if kind == "consents" else -1
        self.key_cols, self.compare, self.extra = key_cols, compare, extra
        stored = tuple(c for c in compare if c != "principals")  # consents' own columns
        self.update_cols = stored + (("evidence",) if kind == "consents" else ())
        self.key = _tuple_getter([pos[c] for c in key_cols])
        self.cmp = _tuple_getter([pos[c] for c in compare])
        self.values = _tuple_getter([pos[c] for c in _VALUES[kind]])
        self.upd = _tuple_getter([pos[c] for c in self.update_cols])
        self.created_at = driver_procs(engine.dialect, self.table)["created_at"]
        select_cols = ("id", *key_cols, *stored)
        self.select_cols = select_cols
        #: columns of the natural-key SELECT staged as text on PostgreSQL
        #: (``staging._fast_datetime``)
        self.instants = frozenset(i for i, c in enumerate(select_cols)
                                  if kind == "consents" and c in ("given_at", "expires_at"))

    def prepare(self, rows: list[tuple[Any, ...]], last: bool) -> _Batch:
        """Rows (sorted: a repeated key's rows in file order) → one row per natural key, a key
        repeated in the batch counted as if its rows were written one after the other."""
        key, cmp = self.key, self.cmp
        by_key: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        updated = unchanged = 0
        for row in rows:
            k = key(row)
            seen = by_key.get(k)
            if seen is not None:
                if cmp(seen) == cmp(row):
                    unchanged += 1
                    continue
                updated += 1
            by_key[k] = row
        return _Batch(by_key, len(rows), updated, unchanged, last)

    def write(self, batch: _Batch) -> None:
        """One transaction (retried if a concurrent single write took a key); then, before
        another batch commits, the counts, the progress bar and ``on_batch``."""
        integrity = self.engine.dialect.loaded_dbapi.IntegrityError
        for attempt in range(3):
            try:
                self._write(batch)
            except (IntegrityError, integrity):
                if attempt == 2:
                    raise
                continue
            break

    def _committed(self, batch: _Batch, counts: tuple[int, int, int]) -> None:
        """Called with ``commit_lock`` held, right after the batch's commit."""
        self.report.created += counts[0]
        self.report.updated += counts[1] + batch.updated
        self.report.unchanged += counts[2] + batch.unchanged
        if self.progress:
            self.progress.advance(batch.rows)
        if self.on_batch is not None:
            self.on_batch(self.report)

    def _write(self, batch: _Batch) -> None:
        """One transaction: one SELECT of the batch's natural keys, then one INSERT (SQLite:
        executemany; PostgreSQL: COPY) and one executemany UPDATE, through the driver.

        PostgreSQL: every batch but the last commits without waiting for its WAL flush
        (``synchronous_commit = off``): a crash of the database server can lose the last
        fraction of a second of batches, whole (then importing the file again completes it);
        the last batch's commit waits, and flushes every earlier one with it, before the
        report is returned."""
        t, nk = self.table, len(self.key_cols)
        by_key, last = batch.by_key, batch.last
        acquired = False
        try:
            with write_transaction(self.engine) as conn:
                counts = self._statements(conn, by_key, last, t, nk)
                self.commit_lock.acquire()  # the commit, counting and on_batch: one at a time
                acquired = True
            self._committed(batch, counts)
        finally:
            if acquired:
                self.commit_lock.release()

    def _statements(self, conn: Any, by_key: dict[tuple[Any, ...], tuple[Any, ...]],
                    last: bool, t: Table, nk: int) -> tuple[int, int, int]:
        pg = conn.dialect.name == "postgresql"
        ph = "%s" if pg else "?"
        wanted = sorted({k[0] for k in by_key})
        filter_col = self.key_cols[0]
        # an opposition is kept per (tenant, principal, callee): the own principal's here
        own = " AND principal_id = tenant_id" if self.kind == "oppositions" else ""
        cols_sql = ", ".join(self.select_cols)
        cur = conn.connection.driver_connection.cursor()
        try:
            if pg and not last:
                cur.execute("SET LOCAL synchronous_commit = off")
            if pg and filter_col == "callee":  # E.164 or tombstones: no quoting needed,
                # and one text parameter is much quicker to send than a list of 5,000
                cur.execute(f"SELECT {cols_sql} FROM {t.name} WHERE tenant_id = %s AND "
                            f"callee = ANY(%s::text[]){own}",
                            (self.tenant_id, "{" + ",".join(wanted) + "}"))
            elif pg:
                cur.execute(f"SELECT {cols_sql} FROM {t.name} WHERE tenant_id = %s AND "
                            f"{filter_col} = ANY(%s){own}", (self.tenant_id, wanted))
            else:
                cur.execute(f"SELECT {cols_sql} FROM {t.name} WHERE tenant_id = ? AND "
                            f"{filter_col} IN ({', '.join('?' * len(wanted))}){own}",
                            (self.tenant_id, *wanted))
            existing: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
            instants = self.instants if pg else ()
            found = cur.fetchall()
            if self.principals and found:  # compared as staged: "|"-joined, sorted
                named = self._named(cur, ph, [r[0] for r in found])
                found = [(*r, named.get(r[0], "")) for r in found]
            for r in found:
                if instants:  # as staged: PostgreSQL's text form (see _fast_datetime)
                    r = tuple(pg_instant(v.astimezone(UTC)) if i in instants and v
                              is not None else v for i, v in enumerate(r))
                existing.setdefault(tuple(r[1 : 1 + nk]), []).append(r)
            created_at: Any = now()
            if pg:
                created_at = pg_instant(created_at)
            elif self.created_at is not None:
                created_at = self.created_at(created_at)
            head = (self.tenant_id, created_at)
            tail = tuple(self.tenant_id if c == "principal_id" else None for c in self.extra)
            inserts: list[tuple[Any, ...]] = []
            updates: list[tuple[Any, ...]] = []
            unchanged = updated = 0
            ids = _ids(_PREFIX[self.kind], len(by_key))
            values, cmp, upd = self.values, self.cmp, self.upd
            pi = self.principals_at
            named: list[tuple[str, str, str]] = []  # consent_principals rows to insert
            renamed: list[str] = []  # consents whose principals are rewritten
            for k, row in by_key.items():
                olds = existing.get(k)
                if not olds:
                    cid = next(ids)
                    inserts.append((cid, *head, *values(row), *tail))
                    if pi >= 0 and (names := row[pi]):
                        if "|" in names:
                            named.extend((cid, p, row[0]) for p in names.split("|"))
                        else:
                            named.append((cid, names, row[0]))
                    continue
                new = cmp(row)
                changed = [o for o in olds if tuple(o[1 + nk :]) != new]
                if not changed:
                    unchanged += 1
                    continue
                updated += 1
                u = upd(row)
                updates.extend((*u, o[0]) for o in changed)
                if self.principals:
                    for o in changed:
                        renamed.append(o[0])
                        if row[pi]:
                            named.extend((o[0], p, row[0]) for p in row[pi].split("|"))
            insert_cols = ", ".join(("id", "tenant_id", "created_at", *_VALUES[self.kind],
                                     *self.extra))
            if inserts and pg and self.kind == "consents":  # the volume: one text block
                esc, tenant = _copy_text, _copy_text(self.tenant_id)
                block = "".join([
                    f"{i[0]}\t{tenant}\t{i[2]}\t{i[3]}\t{i[4]}\t{i[5]}\t{esc(i[6])}\t"
                    f"{esc(i[7])}\t{i[8]}\t{i[9] or NULL}\t{esc(i[10])}\t{_PG_BOOL[i[11]]}\t"
                    f"{_PG_BOOL[i[12]]}\t\\N\t\\N\n" for i in inserts])
                with cur.copy(f"COPY {t.name} ({insert_cols}) FROM STDIN") as copy:
                    copy.write(block)
            elif inserts and pg:
                with cur.copy(f"COPY {t.name} ({insert_cols}) FROM STDIN") as copy:
                    for ins in inserts:
                        copy.write_row(ins)
            elif inserts:
                marks = ", ".join("?" * len(inserts[0]))
                cur.executemany(f"INSERT INTO {t.name} ({insert_cols}) VALUES ({marks})",
                                inserts)
            if updates:
                sets = ", ".join(
                    f"{c} = CAST({ph} AS json)" if c == "evidence" and pg else f"{c} = {ph}"
                    for c in self.update_cols)
                cur.executemany(f"UPDATE {t.name} SET {sets} WHERE id = {ph}", updates)
            for i in range(0, len(renamed), 1000):
                chunk = renamed[i : i + 1000]
                cur.execute(f"DELETE FROM consent_principals WHERE consent_id IN "
                            f"({', '.join([ph] * len(chunk))})", chunk)
            if named and pg:  # after the consents they reference
                with cur.copy("COPY consent_principals (consent_id, principal_id, callee) "
                              "FROM STDIN") as copy:
                    copy.write("".join([f"{c}\t{_copy_text(p)}\t{n}\n" for c, p, n in named]))
            elif named:
                cur.executemany("INSERT INTO consent_principals (consent_id, principal_id, "
                                "callee) VALUES (?, ?, ?)", named)
        finally:
            cur.close()
        return len(inserts), updated, unchanged

    @staticmethod
    def _named(cur: Any, ph: str, consent_ids: list[str]) -> dict[str, str]:
        """The principals stored consents name, "|"-joined and sorted, as staged."""
        out: dict[str, list[str]] = {}
        for i in range(0, len(consent_ids), 1000):
            chunk = consent_ids[i : i + 1000]
            cur.execute(f"SELECT consent_id, principal_id FROM consent_principals WHERE "
                        f"consent_id IN ({', '.join([ph] * len(chunk))})", chunk)
            for cid, pid in cur.fetchall():
                out.setdefault(cid, []).append(pid)
        return {cid: "|".join(sorted(ps)) for cid, ps in out.items()}


#: PostgreSQL connections writing batches at once (SQLite has one writer; there, a thread would
#: only fight the reader for the GIL at every row it steps).
PG_WRITERS = 2


def write_sorted(writer: Writer, rows: Iterator[tuple[Any, ...]], batch: int,
                  threads: int) -> None:
    """Write sorted staged rows in batches of about ``batch`` rows, each cut between two values
    of the first natural-key column, so that no two batches share a natural key: then batches
    are independent, and on PostgreSQL ``threads`` connections write them at once (the server's
    share of a COPY, most of its cost, runs in parallel; commits and counting stay one at a
    time, ``Writer.commit_lock``). The last batch is written alone, after every other one has
    committed, with a synchronous commit that makes them all durable (``Writer._write``)."""
    pool = ThreadPoolExecutor(threads, thread_name_prefix="bulk-import") if threads else None
    inflight: collections.deque[Future[None]] = collections.deque()

    def drain(limit: int) -> None:
        while len(inflight) > limit:
            inflight.popleft().result()

    try:
        pending: list[tuple[Any, ...]] = []
        for row in rows:
            if len(pending) >= batch and row[0] != pending[-1][0]:
                prepared = writer.prepare(pending, last=False)
                pending = []
                if pool is None:
                    writer.write(prepared)
                else:
                    inflight.append(pool.submit(writer.write, prepared))
                    drain(2 * threads)
            pending.append(row)
        drain(0)
        if pending:
            writer.write(writer.prepare(pending, last=True))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


NULL = "\\N"  # COPY's NULL
_PG_BOOL = {True: "t", False: "f", None: NULL}
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    """``value`` escaped for COPY's text format."""
    return value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value


_id_lock = threading.Lock()
_id_last = 0


def _ids(prefix: str, n: int) -> Iterator[str]:
    """``n`` ids in ``app.ids.new_id``'s format (prefix, 20 hex digits) from one system call: 8
    digits of a clock that only grows (tenths of a millisecond), 12 random. Inserted in order,
    they append to the primary key's B-tree instead of dirtying a random page of it per row
    (SQLite writes every dirtied page to its WAL at each commit)."""
    global _id_last
    with _id_lock:
        _id_last = max(_id_last + 1, int(time.time() * 10_000) & 0xFFFFFFFF)
        head = f"{_id_last:08x}"
    pool = os.urandom(6 * n).hex()
    return (f"{prefix}_{head}{pool[i : i + 12]}" for i in range(0, 12 * n, 12))


#: Rows created above which PostgreSQL's statistics of the table are refreshed at once.
ANALYZE_AFTER = 10_000


def refresh_statistics(engine: Engine, kind: str, created: int) -> None:
    """After a large import, ``ANALYZE`` the table on PostgreSQL: until autovacuum gets to it the
    planner keeps the old row count, and the next scrub or check of the tenant can pick a plan
    that is 10-100x slower (measured: a scrub right after importing 1M consents ran at 6k rows/s
    instead of 50k). SQLite's planner does not need it, and its ANALYZE would hold the write
    lock."""
    if created < ANALYZE_AFTER or engine.dialect.name != "postgresql":
        return
    try:
        with engine.begin() as conn:
            conn.execute(text(f"ANALYZE {kind}"))
    except Exception:  # statistics only: the import itself succeeded
        log.exception("ANALYZE %s after the import failed", kind)
