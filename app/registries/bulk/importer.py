"""``import_csv``: one import, from the header to the report — reading (in-process, then in worker
processes past ``PARALLEL_AFTER`` records), then writing."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from sqlalchemy import Engine

from app.clock import now
from app.registries.bulk.fields import (
    KINDS,
    ConsentContext,
    Kind,
    Mapping,
    Report,
    map_header,
)
from app.registries.bulk.limits import (
    BulkImportError,
    Guard,
    ImportRefused,
    Limits,
    Progress,
    Stop,
    tenant_lock,
)
from app.registries.bulk.staging import Runs, Stager, consume
from app.registries.bulk.workers import Capture, Workers, import_workers, read_rest
from app.registries.bulk.writer import PG_WRITERS, Writer, refresh_statistics, write_sorted
from bloctel.parse import Reader
from rules_fr.data import CONSENT_FUTURE_SKEW

log = logging.getLogger("gateway.registries.bulk")

#: Rows per transaction. SQLite: every write transaction holds the database's one write lock,
#: which the check path needs too, so batches stay small (~15–20 ms each on a 2-core machine).
BATCH = 5000
SQLITE_BATCH = 2000
#: Staged rows sorted in memory before they are spilled to a temporary file (``Runs``): this,
#: not the file, bounds the import's memory (~40 MB of rows).
RUN_ROWS = 100_000
#: Records read in-process before worker processes take over (a small file never pays for
#: starting them). ``GATEWAY_IMPORT_WORKERS=0`` reads every record in-process.
PARALLEL_AFTER = 50_000


def _text_lines(reader: Reader) -> Iterator[str]:
    cp1252 = False
    for block in reader.blocks():
        if not cp1252:
            try:
                text_ = block.decode("utf-8")
            except UnicodeDecodeError:
                cp1252 = True  # a spreadsheet's "CSV (Windows)": from here on
        if cp1252:
            text_ = block.decode("cp1252", "replace")
        yield from io.StringIO(text_, newline="")


def import_csv(
    engine: Engine, raw: BinaryIO, *, kind: Kind, tenant_id: str,
    progress: Progress | None = None, batch: int | None = None,
    on_batch: Callable[[Report], None] | None = None, limits: Limits | None = None,
) -> dict[str, Any]:
    """Import a CSV file into one tenant's registry ``kind`` (see ``app.registries.bulk``), within
    ``limits`` (default: none).

    Raises ``ImportBusy`` (another import for this tenant), ``ImportRefused`` (too many rows
    rejected), ``TooManyRows``, ``BulkImportError`` (no usable header) or
    ``bloctel.parse.FormatError`` (not readable as text; ``TooLarge``)."""
    if kind not in KINDS:
        raise BulkImportError(f"unknown registry {kind!r}; one of {', '.join(KINDS)}")
    started = time.perf_counter()
    report = Report(kind=kind)
    limits = limits or Limits()
    guard = Guard(limits)
    reader = Reader(raw, on_bytes=progress.bytes_read if progress else None,
                    max_bytes=limits.max_bytes)
    with tenant_lock(engine, tenant_id):
        if progress:
            progress.phase("reading")
        lines = _text_lines(reader)
        mapping: Mapping | None = None
        header_line = 0
        for line_no, first in enumerate(lines, 1):
            if first.strip():
                mapping = map_header(kind, first.lstrip(codecs.BOM_UTF8.decode()))
                header_line = line_no
                break
        if mapping is None:
            raise BulkImportError("the file is empty: a header line is needed")
        if kind == "consents":
            mapping.consent = _consent_context(engine, tenant_id)
        batch = batch or (SQLITE_BATCH if engine.dialect.name == "sqlite" else BATCH)
        runs = Runs(RUN_ROWS)
        parallel = contextlib.ExitStack()  # the worker processes, if the file is large
        try:
            stager = Stager(engine.dialect, kind, mapping, report, runs.add)
            workers = import_workers()
            capture = Capture(lines)
            rows = csv.reader(capture, delimiter=mapping.delimiter)
            try:
                more = consume(rows, header_line + 1, mapping, report, stager, progress,
                                stop_at=PARALLEL_AFTER if workers else 0, guard=guard)
                stager.flush()
                if more:
                    pool = parallel.enter_context(contextlib.closing(Workers(
                        workers, kind, mapping, engine.url.drivername, report, runs, guard)))
                    read_rest(pool, capture, rows, header_line + 1 + rows.line_num, report,
                               progress)
                else:
                    guard.judge(report.lines - report.blank, report.rejected)
            except Stop as stop:
                log.info("bulk import of %s stopped after %d rows: %s", kind, report.lines,
                         stop)
                raise ImportRefused(str(stop), _answer(report, reader, mapping, started)
                                    | {"stopped_after_lines": report.lines}) from None
            parallel.close()
            if progress:
                progress.lines_read(report.lines)
                progress.phase("saving", total=runs.count)
            writer = Writer(engine, kind, tenant_id, "source" in mapping.columns, report,
                             progress, on_batch, frozenset(mapping.columns))
            write_sorted(writer, runs.sorted(), batch,
                          PG_WRITERS if engine.dialect.name == "postgresql" else 0)
        finally:
            parallel.close()
            runs.close()
        refresh_statistics(engine, kind, report.created)
    return _answer(report, reader, mapping, started)


def _consent_context(engine: Engine, tenant_id: str) -> ConsentContext:
    from sqlalchemy.orm import Session

    from app.principals.service import held_principals

    with Session(engine) as s:
        held = frozenset(held_principals(s, tenant_id))
    return ConsentContext(tenant_id, held, now() + CONSENT_FUTURE_SKEW)


def _answer(report: Report, reader: Reader, mapping: Mapping, started: float
            ) -> dict[str, Any]:
    """The import report (``BulkImportReport`` in ``app.registries.bulk_router``)."""
    return {
        "import_id": report.import_id, "kind": report.kind, "lines": report.lines,
        "created": report.created, "updated": report.updated, "unchanged": report.unchanged,
        "rejected": report.rejected, "blank": report.blank,
        "rejected_samples": report.rejected_samples, "reasons": report.reasons,
        "sha256": reader.sha.hexdigest(), "bytes": reader.bytes_read,
        "columns": mapping.names, "ignored_columns": mapping.ignored,
        "delimiter": mapping.delimiter, "seconds": round(time.perf_counter() - started, 3),
    }
