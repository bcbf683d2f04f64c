"""What an import may be and how it fails: the errors, the ``Limits`` (and the ``Guard`` that
applies them while a file is read), the progress it reports, the per-tenant lock."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine

from app.db import LockBusy, try_lock


class BulkImportError(ValueError):
    """The file cannot be imported at all (no header, a required column missing…)."""


class ImportBusy(RuntimeError):
    """Another import for this tenant is running."""


class ImportRefused(BulkImportError):
    """Too many rows rejected (``Limits.max_rejected``): the import stopped, nothing written;
    ``report`` has the counts so far and the rejected samples."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


class TooManyRows(BulkImportError):
    """The file has more rows than ``Limits.max_rows``: nothing written."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file has more than {limit:,} rows: split it")
        self.limit = limit


#: Data rows read before the rejected share is first judged; then again after every
#: ``PARSE_BATCH`` rows (every chunk, with worker processes) and at the end of the file.
EARLY_SAMPLE = 1000


@dataclass(frozen=True)
class Limits:
    """What an import may be. ``max_rejected``: past the first ``EARLY_SAMPLE`` data rows, the
    share of rejected rows above which the import stops (``ImportRefused``; None: never, as
    ``force`` asks); ``max_rows``: rows (lines after the header) above which it stops
    (``TooManyRows``); ``max_bytes``: the file's size once decompressed
    (``bloctel.parse.TooLarge``). Nothing is written when an import stops."""

    max_rejected: float | None = None
    max_rows: int | None = None
    max_bytes: int | None = None

    @classmethod
    def from_settings(cls, *, force: bool = False, local: bool = False) -> Limits:
        """The settings' limits (``GATEWAY_IMPORT_*``); ``local`` (the shell, the operator's
        own file): only the rejected share."""
        from app.config import get_settings

        s = get_settings()
        share = None if force else s.import_max_rejected
        if local:
            return cls(max_rejected=share)
        return cls(max_rejected=share, max_rows=s.import_max_rows,
                   max_bytes=s.import_max_bytes)


class Guard:
    """``Limits`` applied while a file is read (the main process only)."""

    def __init__(self, limits: Limits) -> None:
        self.max_rejected = limits.max_rejected
        self.max_rows = limits.max_rows or (1 << 62)
        self.next_check = EARLY_SAMPLE if limits.max_rejected is not None else 1 << 62

    def too_many(self) -> None:
        raise TooManyRows(self.max_rows)

    def judge(self, considered: int, rejected: int) -> None:
        """Stop (``Stop``) if ``rejected`` of ``considered`` data rows is too large a share."""
        limit = self.max_rejected
        if limit is None or considered < EARLY_SAMPLE or rejected <= considered * limit:
            return
        raise Stop(
            f"{rejected:,} of the first {considered:,} rows were rejected "
            f"({rejected / considered:.1%}), more than the {limit:.1%} allowed "
            f"(GATEWAY_IMPORT_MAX_REJECTED): is it the right file? The import stopped and "
            f"nothing was written (see rejected_samples; force=true imports it anyway)")


class Stop(Exception):
    """The guard's decision to stop an import for its rejected rows (``ImportRefused``)."""


class Progress(Protocol):
    def phase(self, name: str, total: int | None = None) -> None: ...
    def bytes_read(self, n: int) -> None: ...
    def lines_read(self, total: int) -> None: ...


# --------------------------------------------------------------------------- the per-tenant lock

def _advisory_key(tenant_id: str) -> tuple[int, int]:
    # two-int key space, like BLOCTEL's; first int distinct from BLOCTEL's lock
    digest = hashlib.sha256(f"bulk-import:{tenant_id}".encode()).digest()
    return 0x62756C6B, int.from_bytes(digest[:4], "big", signed=True)  # "bulk"


@contextlib.contextmanager
def tenant_lock(engine: Engine, tenant_id: str) -> Iterator[None]:
    """One bulk import per tenant at a time, or ``ImportBusy`` at once (``app.db.try_lock``:
    it dies with its process, so a killed import never blocks the next one)."""
    a, b = _advisory_key(tenant_id)
    held = contextlib.ExitStack()
    try:
        held.enter_context(try_lock(engine, f"import-{b & 0xFFFFFFFF:08x}", (a, b)))
    except LockBusy:
        raise ImportBusy("another import for this tenant is running") from None
    with held:
        yield
