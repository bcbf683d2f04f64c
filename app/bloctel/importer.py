"""Import a BLOCTEL file as a new version of the list, then activate it atomically.

1. Take the import lock (one import at a time; it dies with its process) and mark versions a
   killed import left ``loading`` as failed: the next import needs no manual clean-up.
2. Record the new version as ``loading`` (who, when, mode, as_of).
3. Stream the file through ``bloctel.read`` (gzip by content, BOM, CRLF, CSV column…): every
   line is a header, blank, accepted, a duplicate or rejected with its line number and reason.
4. Build the new list: the file (``replace``), or the list in force plus or minus the file
   (``add`` / ``remove``).
5. Refuse — keep the list in force, record the version as ``refused`` with the counts — when
   the rejected share exceeds the limit; the new list would be empty or less than half the
   list in force; ``as_of`` is older than the list in force; or a delta (add / remove) would
   date a list more than 30 days older as fresh. ``force`` overrides all of these.
6. Store the new list as compressed chunks in short transactions, then one transaction makes
   it ``active`` and the previous one ``superseded``.

Any error before that last transaction marks the version ``failed`` and leaves the list in
force untouched; workers swap to the new version by themselves (``app.bloctel.lookup``).

A file mostly rejected is refused as soon as that is clear: past its first ``read.EARLY_SAMPLE``
lines, after each block read, a rejected share above the limit stops the reading (unless
forced) — 100 million lines of junk are refused in seconds, not read to the end.
"""

from __future__ import annotations

import logging
import time
from datetime import date
from typing import Any, BinaryIO, NoReturn

import numpy as np
from sqlalchemy import Engine, func, insert, select, update

from app.bloctel import lookup, store
from app.bloctel.models import BloctelVersion
from app.bloctel.status import STALE_AFTER_DAYS
from app.bloctel.store import ImportBusy
from app.clock import PARIS, iso, now
from app.config import get_settings
from app.db import write_transaction
from app.ids import new_id
from bloctel.index import Index, split
from bloctel.read import Progress, Quiet, read_file

log = logging.getLogger("gateway.bloctel")

MODES = ("replace", "add", "remove")
SHRINK_LIMIT = 0.5  # a replace keeping less than half of the list in force needs force

_v = BloctelVersion.__table__

__all__ = ["MODES", "BloctelImportError", "ImportBusy", "ImportRefused", "import_file"]


class BloctelImportError(ValueError):
    """The request itself is wrong (mode, as_of): nothing was recorded."""


class ImportRefused(BloctelImportError):
    """The file was read and refused; ``report`` has the counts and samples."""

    def __init__(self, message: str, report: dict[str, Any]):
        super().__init__(message)
        self.report = report


def check_request(mode: str, as_of: date) -> None:
    if mode not in MODES:
        raise BloctelImportError(f"mode must be one of {', '.join(MODES)}")
    if as_of > now().astimezone(PARIS).date():
        raise BloctelImportError(f"as_of {as_of.isoformat()} is in the future")




def _refusal(mode: str, as_of: date, report: dict[str, Any], result_size: int,
             base: store.Active | None, max_rejected: float) -> str | None:
    """Why the import must not be activated without ``force`` (None: it may)."""
    if report["rejected_share"] > max_rejected:
        considered = report["accepted"] + report["duplicates"] + report["rejected"]
        stopped = report.get("stopped_after_lines")
        return (
            f"{report['rejected']} of {'the first ' if stopped else ''}{considered} lines "
            f"({report['rejected_share']:.1%}) were rejected, more than the "
            f"{max_rejected:.1%} allowed: is it the right file? "
            f"{'The reading stopped there. ' if stopped else ''}"
            f"(see rejected_samples; force to import anyway)"
        )
    if result_size == 0:
        what = "the file has no valid number" if mode == "replace" else (
            f"this {mode} leaves no number")
        return f"{what}: the list would be empty (force to do so)"
    if base is not None and result_size < base.total * SHRINK_LIMIT:
        return (
            f"this {mode} would cut the list from {base.total} to {result_size} numbers, "
            f"less than half: is it the right file and mode? (force to import anyway)"
        )
    if base is not None and as_of < base.as_of:
        return (
            f"as_of {as_of.isoformat()} is older than the list in force "
            f"({base.as_of.isoformat()}, version {base.version}) (force to import anyway)"
        )
    if base is not None and mode != "replace" and (as_of - base.as_of).days > STALE_AFTER_DAYS:
        return (
            f"a {mode} dated {as_of.isoformat()} on a list of {base.as_of.isoformat()} "
            f"(more than {STALE_AFTER_DAYS} days older) would make a stale list look fresh: "
            f"import the full list with mode=replace (force to import anyway)"
        )
    return None


def _member(sorted_keys: np.ndarray, probes: np.ndarray) -> np.ndarray:
    """Which ``probes`` are in ``sorted_keys`` (both sorted unique int64): a binary search,
    a third of ``np.isin``'s memory."""
    if len(sorted_keys) == 0:
        return np.zeros(len(probes), dtype=bool)
    pos = np.searchsorted(sorted_keys, probes)
    np.minimum(pos, len(sorted_keys) - 1, out=pos)
    return sorted_keys[pos] == probes


def _base_keys(engine: Engine, base: store.Active) -> np.ndarray:
    """The list in force, sorted: from the index this process holds when it is that version
    (no reload), else from the database."""
    held = lookup.default_lookup().held()
    if held is not None and held.import_id == base.import_id:
        return held.keys()
    return store.load(engine).keys()


def import_file(
    engine: Engine, raw: BinaryIO, *, mode: str, as_of: date, imported_by: str | None = None,
    force: bool = False, max_rejected: float | None = None, progress: Progress | None = None,
    max_bytes: int | None = None,
) -> dict[str, Any]:
    """Import ``raw`` (a binary stream) and activate it. Returns the report (see contract).
    ``max_bytes``: the file's size once decompressed (``bloctel.parse.TooLarge``).

    Raises ``BloctelImportError`` (bad request), ``ImportBusy`` (another import runs),
    ``ImportRefused`` (read and refused; the report is attached), ``FormatError`` (unreadable).
    """
    check_request(mode, as_of)
    progress = progress or Quiet()
    limit = get_settings().bloctel_max_rejected if max_rejected is None else max_rejected
    started = time.monotonic()
    with store.import_lock(engine):
        store.abandon_stale(engine)
        with write_transaction(engine) as conn:
            version = (conn.execute(select(func.max(_v.c.version))).scalar() or 0) + 1
            import_id = new_id("blk")
            conn.execute(insert(_v).values(
                version=version, import_id=import_id, mode=mode, status="loading", as_of=as_of,
                sha256="", imported_by=imported_by, forced=force, created_at=now(),
            ))
        meta = {"import_id": import_id, "version": version, "mode": mode,
                "as_of": as_of.isoformat(), "imported_by": imported_by, "forced": force}
        try:
            return _run(engine, raw, version, meta, mode, as_of, force, limit, progress,
                        started, max_bytes)
        except ImportRefused:
            raise
        except BaseException as exc:
            _fail(engine, version, exc)
            raise


def _run(engine: Engine, raw: BinaryIO, version: int, meta: dict[str, Any], mode: str,
         as_of: date, force: bool, limit: float, progress: Progress, started: float,
         max_bytes: int | None = None) -> dict[str, Any]:
    progress.phase("reading")
    parsed = read_file(raw, progress, None if force else limit, max_bytes)
    report = {**meta, **parsed.report}
    columns = {k: report[k] for k in (
        "lines", "header", "blank", "accepted", "duplicates", "rejected", "rejected_samples",
        "sha256", "file_bytes")} | {"file_format": report["format"]}
    with engine.connect() as conn:
        base = store.active(conn)
    if parsed.stopped:  # refused for its rejected lines: no list to build
        _refuse(engine, version, _refusal(mode, as_of, report, 0, base, limit) or "",
                columns, report, started)

    # the new list: the file (replace), or the list in force plus / minus the file
    new = parsed.keys
    added: int | None
    removed: int | None
    if mode == "replace":
        added, removed = len(new), 0
        if base is not None:
            try:  # counts only: a damaged list in force must not block its replacement
                kept = int(_member(_base_keys(engine, base), new).sum())
                added, removed = len(new) - kept, base.total - kept
            except Exception:
                log.exception("BLOCTEL: list in force unreadable; added/removed not counted")
                added = removed = None
    else:
        progress.phase("merging")
        old = _base_keys(engine, base) if base is not None else np.zeros(0, dtype=np.int64)
        present = _member(old, new)
        if mode == "add":
            new = np.concatenate((old, new[~present]))
            new.sort()
            added, removed = int((~present).sum()), 0
        else:
            new = old[~_member(new, old)]
            added, removed = 0, int(present.sum())
        del old, present
    del parsed

    refusal = None if force else _refusal(mode, as_of, report, len(new), base, limit)
    if refusal is not None:
        _refuse(engine, version, refusal, columns, report, started)

    progress.phase("writing", total=len(new))
    total = len(new)
    index = Index(split(new))
    del new
    for written in store.write_chunks(engine, version, index.encode()):
        progress.advance(written)
    del index

    progress.phase("activating")
    with write_transaction(engine) as conn:
        activated = now()
        conn.execute(update(_v).where(_v.c.status == "active").values(status="superseded"))
        done = conn.execute(update(_v).where(_v.c.version == version, _v.c.status == "loading")
                            .values(status="active", activated_at=activated, finished_at=activated,
                                    total_numbers=total, added=added, removed=removed,
                                    base_version=base.version if base else None, **columns))
        if done.rowcount != 1:
            raise RuntimeError(f"version {version} was no longer loading at activation")
    # Activated: whatever happens now, the import succeeded (an error here must not tell the
    # admin otherwise). A serving process swaps at once; others at their next poll.
    try:
        lookup.default_lookup().refresh_if_held()
    except Exception:
        log.exception("BLOCTEL version %s active; this worker will load it at its next poll",
                      version)
    try:
        store.prune(engine, keep_from=base.version if base else version)
    except Exception:
        log.exception("BLOCTEL version %s active; pruning old chunks failed (next import "
                      "retries)", version)
    return report | {
        "status": "active", "total_numbers": total, "added": added, "removed": removed,
        "base_version": base.version if base else None, "activated_at": iso(activated),
        "seconds": round(time.monotonic() - started, 3),
    }


def _refuse(engine: Engine, version: int, refusal: str, columns: dict[str, Any],
            report: dict[str, Any], started: float) -> NoReturn:
    with write_transaction(engine) as conn:
        conn.execute(update(_v).where(_v.c.version == version).values(
            status="refused", error=refusal, finished_at=now(), **columns))
    report |= {"status": "refused", "error": refusal, "total_numbers": None,
               "added": None, "removed": None, "activated_at": None,
               "seconds": round(time.monotonic() - started, 3)}
    raise ImportRefused(refusal, report)


def _fail(engine: Engine, version: int, exc: BaseException) -> None:
    message = f"{type(exc).__name__}: {exc}"[:2000]
    try:
        with write_transaction(engine) as conn:
            conn.execute(update(_v).where(_v.c.version == version, _v.c.status == "loading")
                         .values(status="failed", error=message, finished_at=now()))
        store.prune(engine, keep_from=0)
    except Exception:  # the database itself is away: the next import marks it abandoned
        pass

