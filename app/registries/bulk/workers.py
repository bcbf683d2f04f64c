"""Reading a large file in worker processes: this process splits the text into chunks of whole
records, each worker stages one chunk as one sorted run (``Workers``)."""

from __future__ import annotations

import collections
import csv
import io
import logging
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from sqlalchemy.engine import make_url

from app.registries.bulk.fields import SAMPLES, Kind, Mapping, Report
from app.registries.bulk.limits import Guard, Limits, Progress
from app.registries.bulk.staging import Runs, Stager, consume

log = logging.getLogger("gateway.registries.bulk")

#: Records per chunk handed to a worker process: the worker parses, validates, sorts and spills
#: them as one run; at most two chunks per worker are in flight.
WORKER_CHUNK = 100_000


def _stage_text(kind: Kind, mapping: Mapping, drivername: str, first_line: int, text: str,
                spill_dir: str) -> tuple[str | None, int, Report]:
    """In a worker process: the records of ``text`` (whole CSV records, the first on physical
    line ``first_line``) → (a file of their staged rows, sorted, in ``Runs``' format, or None;
    how many; the report of their blank and rejected lines)."""
    report, out = Report(kind=kind), []
    dialect = make_url(f"{drivername}://").get_dialect()()
    stager = Stager(dialect, kind, mapping, report, out.append)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter)
    consume(rows, first_line, mapping, report, stager)
    stager.flush()
    if not out:
        return None, 0, report
    out.sort()
    fd, path = tempfile.mkstemp(prefix="run-", dir=spill_dir)
    with os.fdopen(fd, "wb") as f:
        Runs.write(f, out)
    return path, len(out), report


class Capture:
    """The text lines that a ``csv.reader`` reads, kept until taken: whole records' text."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.kept: list[str] = []
        self.on = False

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            if self.on:
                self.kept.append(line)
            yield line

    def take(self) -> str:
        text, self.kept = "".join(self.kept), []
        return text


class Workers:
    """Worker processes reading the rest of a large file: the reading process only splits the
    text into chunks of whole CSV records (its csv reader finds where records end and counts
    lines for the progress bar); each worker parses, validates, sorts and spills a chunk as one
    run, and returns its report, merged here (the first ``SAMPLES`` rejected lines by line
    number, as if read in one process). At most two chunks per worker are in flight, so
    memory stays bounded whatever the file size.

    Processes are spawned, not forked: an API import runs in a server process with threads
    (the BLOCTEL poller, the thread pool) that a fork would copy mid-flight. A run file is
    unlinked as soon as it is opened here; the directory is removed at the end."""

    def __init__(self, workers: int, kind: Kind, mapping: Mapping, drivername: str,
                 report: Report, runs: Runs, guard: Guard | None = None) -> None:
        self.args = (kind, mapping, drivername)
        self.report, self.runs, self.guard = report, runs, guard or Guard(Limits())
        self.decided = report.lines  # rows judged: those read in-process, then each chunk's
        self.dir = tempfile.mkdtemp(prefix="gateway-import-")
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        self.inflight: collections.deque[Future[Any]] = collections.deque()
        self.limit = 2 * workers

    def submit(self, first_line: int, text: str) -> None:
        self.inflight.append(self.pool.submit(_stage_text, *self.args, first_line, text,
                                              self.dir))
        while len(self.inflight) > self.limit:
            self._absorb(self.inflight.popleft().result())

    def _absorb(self, result: tuple[str | None, int, Report]) -> None:
        path, count, part = result
        if path is not None:
            self.runs.add_file(open(path, "rb"), count)  # noqa: SIM115 - closed by runs.close()
            os.unlink(path)
        r = self.report
        r.blank += part.blank
        r.rejected += part.rejected
        for reason, n in part.reasons.items():
            r.reasons[reason] = r.reasons.get(reason, 0) + n
        if part.rejected_samples:
            r.rejected_samples = sorted(r.rejected_samples + part.rejected_samples,
                                        key=lambda x: x["line"])[:SAMPLES]
        self.decided += part.lines
        self.guard.judge(self.decided - r.blank, r.rejected)

    def finish(self) -> None:
        while self.inflight:
            self._absorb(self.inflight.popleft().result())

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def read_rest(workers: Workers, capture: Capture, rows: Any, first_line: int,
               report: Report, progress: Progress | None) -> None:
    """The records after the first ``PARALLEL_AFTER``: chunks of ``WORKER_CHUNK`` records to
    the workers. ``first_line``: the physical line of the next record."""
    capture.on = True
    base = rows.line_num
    start, n = first_line, 0
    max_rows = workers.guard.max_rows
    for _ in rows:
        n += 1
        report.lines += 1
        if report.lines > max_rows:
            workers.guard.too_many()
        if n == WORKER_CHUNK:
            workers.submit(start, capture.take())
            start, n = first_line + rows.line_num - base, 0
        if progress and report.lines % 10_000 == 0:
            progress.lines_read(report.lines)
    if n:
        workers.submit(start, capture.take())
    workers.finish()


def import_workers() -> int:
    """Worker processes for a large import: ``GATEWAY_IMPORT_WORKERS``, else one per CPU (at
    most 4); 0 or 1 CPU: none."""
    raw = os.environ.get("GATEWAY_IMPORT_WORKERS", "")
    if raw.strip():
        try:
            return max(0, int(raw))
        except ValueError:
            log.warning("GATEWAY_IMPORT_WORKERS=%r is not a number: reading in-process", raw)
            return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 0 if (cpus or 1) < 2 else min(4, cpus or 1)
