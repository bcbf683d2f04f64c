"""Long work started from the console (a bulk import, a BLOCTEL list), run off the request.

The upload is copied to a file of its own while the request is read (the browser shows its
own progress for the upload itself), the work then runs in a thread of the worker that received
it, and its progress — the phase, what is done of what total, the bytes read — is written to
``console_jobs`` at most every ``WRITE_EVERY_S``. The page polls ``/console/travaux/{id}``
(htmx), which any worker or replica can answer: the bar moves wherever the page lands. When the
work ends, its report (or refusal) is stored with the job and shown in place of the bar.

A job whose worker died stops being updated: shown as interrupted after ``STALE_AFTER_S``
without news. The work itself keeps its own guarantees (a bulk import is all-or-nothing per
batch, a BLOCTEL version activates whole or not at all).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select, update

from app.console.models import ConsoleJob
from app.console.sessions import wall_now
from app.db import session_scope
from app.ids import new_id

log = logging.getLogger("gateway.console")

WRITE_EVERY_S = 0.25
STALE_AFTER_S = 120.0
COPY_CHUNK = 1 << 20


class JobRefused(Exception):
    """The work refused its input with a report to show (e.g. too many rejected lines)."""

    def __init__(self, message: str, report: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.report = report


class JobProgress:
    """The ``Progress`` the importers report to (``bloctel.read.Progress``,
    ``app.registries.bulk.limits.Progress``), written to the job's row."""

    def __init__(self, job_id: str, size: int | None) -> None:
        self.job_id, self.size = job_id, size
        self.phase_name: str | None = None
        self.done = 0
        self.total: int | None = size
        self.unit: str | None = "bytes"
        self.read = 0
        self._written = 0.0

    def phase(self, name: str, total: int | None = None) -> None:
        self.phase_name = name
        if name == "reading":
            self.done, self.total, self.unit = self.read, self.size, "bytes"
        else:
            self.done, self.total, self.unit = 0, total, ("rows" if total else None)
        self.flush(force=True)

    def bytes_read(self, n: int) -> None:
        self.read += n
        if self.unit == "bytes":
            self.done = self.read
        self.flush()

    def lines_read(self, total: int) -> None:
        self.flush()

    def advance(self, n: int) -> None:
        self.done += n
        self.flush()

    def flush(self, force: bool = False) -> None:
        at = time.monotonic()
        if not force and at - self._written < WRITE_EVERY_S:
            return
        self._written = at
        try:
            with session_scope(write=True) as s:
                s.execute(update(ConsoleJob).where(ConsoleJob.id == self.job_id).values(
                    phase=self.phase_name, done=self.done, total=self.total, unit=self.unit,
                    bytes=self.read, updated_at=wall_now()))
        except Exception:  # progress is best effort: the work goes on
            log.warning("could not record the progress of job %s", self.job_id, exc_info=True)


def spool(upload: IO[bytes]) -> tuple[Path, int]:
    """The uploaded file copied to a temporary file of the job's own (the request's copy goes
    when the request ends); its path and size."""
    fd, name = tempfile.mkstemp(prefix="gw-console-", suffix=".upload")
    size = 0
    with os.fdopen(fd, "wb") as out:
        upload.seek(0)
        while data := upload.read(COPY_CHUNK):
            out.write(data)
            size += len(data)
    return Path(name), size


Work = Callable[[IO[bytes] | None, JobProgress], dict[str, Any]]


def start(*, kind: str, label: str, tenant_id: str | None, key_id: str, work: Work,
          path: Path | None = None, size: int | None = None) -> str:
    """A job row, then ``work(file, progress)`` in a thread; the job's id at once. The work
    returns its report (JSON), or raises ``JobRefused`` (a report of why), or anything else
    (failed: its message shown). The file is removed when the work ends; work without a file
    gets ``None``."""
    job_id = new_id("job")
    at = wall_now()
    with session_scope(write=True) as s:
        s.add(ConsoleJob(id=job_id, tenant_id=tenant_id, key_id=key_id, kind=kind,
                         label=label[:200] or kind, status="running", phase="queued", done=0,
                         total=size, unit="bytes" if path else None, bytes=0, pid=os.getpid(),
                         created_at=at,
                         updated_at=at))

    def run() -> None:
        progress = JobProgress(job_id, size)
        status, result, error = "done", None, None
        try:
            if path is None:
                result = work(None, progress)
            else:
                with path.open("rb") as raw:
                    result = work(raw, progress)
        except JobRefused as exc:
            status, result, error = "refused", exc.report, str(exc)
        except Exception as exc:
            log.exception("console job %s (%s) failed", job_id, kind)
            status, error = "failed", f"{exc}"[:2000] or type(exc).__name__
        finally:
            if path is not None:
                path.unlink(missing_ok=True)
        try:
            with session_scope(write=True) as s:
                s.execute(update(ConsoleJob).where(ConsoleJob.id == job_id).values(
                    status=status, result=result, error=error, phase="finished",
                    done=progress.done, total=progress.total, unit=progress.unit,
                    bytes=progress.read, updated_at=wall_now(), finished_at=wall_now()))
        except Exception:
            log.exception("could not record the end of console job %s", job_id)

    threading.Thread(target=run, name=f"console-{job_id}", daemon=True).start()
    return job_id


def get(job_id: str, tenant_id: str | None) -> dict[str, Any] | None:
    """The job as the page shows it, or None (no such job for this tenant: the operator's jobs
    have no tenant)."""
    with session_scope() as s:
        q = select(ConsoleJob).where(ConsoleJob.id == job_id)
        q = q.where(ConsoleJob.tenant_id.is_(None) if tenant_id is None
                    else ConsoleJob.tenant_id == tenant_id)
        job = s.scalar(q)
        if job is None:
            return None
        return _view(job, wall_now())


def latest(tenant_id: str | None, kind: str) -> dict[str, Any] | None:
    """The tenant's newest job of this kind, or None."""
    found = recent(tenant_id, (kind,), limit=1)
    return found[0] if found else None


def recent(tenant_id: str | None, kinds: tuple[str, ...], limit: int = 10) -> list[dict[str, Any]]:
    with session_scope() as s:
        q = select(ConsoleJob).where(ConsoleJob.kind.in_(kinds))
        q = q.where(ConsoleJob.tenant_id.is_(None) if tenant_id is None
                    else ConsoleJob.tenant_id == tenant_id)
        at = wall_now()
        return [_view(j, at) for j in s.scalars(q.order_by(ConsoleJob.created_at.desc())
                                                .limit(limit))]


def _view(job: ConsoleJob, at: datetime) -> dict[str, Any]:
    status = job.status
    if status == "running" and (at - job.updated_at).total_seconds() > STALE_AFTER_S:
        status = "interrupted"
    share = None
    if job.total:
        share = min(1.0, job.done / job.total)
    if status == "done":
        share = 1.0
    return {"id": job.id, "kind": job.kind, "label": job.label, "status": status,
            "phase": job.phase, "done": job.done, "total": job.total, "unit": job.unit,
            "bytes": job.bytes, "share": share, "result": job.result, "error": job.error,
            "created_at": job.created_at, "finished_at": job.finished_at,
            "running": status == "running"}
