"""Import a BLOCTEL file as a new version of the list, then activate it atomically.

Minimal version (issue 2): plain text, one number per line (a CSV's first column is read),
optionally gzip-compressed. Every line is counted as accepted, duplicate or rejected (with its
line number, value and reason, the first 100 kept as samples). Numbers are written under a new
version in ``loading`` state; one short transaction flips it to ``active``. A check therefore
sees the old list or the new one, never a mixture, and a failed import leaves the old one
active. Numbers of versions older than the previous one are then deleted.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, BinaryIO

from sqlalchemy import Engine, delete, func, insert, select, update

from app.clock import now
from app.db import write_transaction
from app.ids import new_id
from bloctel import lookup
from bloctel.models import BloctelNumber, BloctelVersion
from rules_fr.numbering import classify

MODES = ("replace", "add", "remove")
SAMPLES = 100
BATCH = 10_000

_v = BloctelVersion.__table__
_n = BloctelNumber.__table__


class BloctelImportError(ValueError):
    pass


@dataclass
class ParseResult:
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejected_samples: list[dict[str, Any]] = field(default_factory=list)
    sha256: str = ""
    numbers: set[int] = field(default_factory=set)


def _open(raw: BinaryIO) -> BinaryIO:
    head = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw


class _Hashing(io.RawIOBase):
    """Reads through, hashing the bytes as they were uploaded (before decompression)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        self.sha.update(data)
        buffer[: len(data)] = data
        return len(data)


def parse(raw: BinaryIO, progress: Callable[[int], None] | None = None) -> ParseResult:
    hashing = _Hashing(raw)
    stream = _open(io.BufferedReader(hashing, buffer_size=1 << 20))  # type: ignore[arg-type]
    result = ParseResult()
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline=None)
    for lineno, line in enumerate(text, start=1):
        result.lines = lineno
        if progress is not None and lineno % 10_000 == 0:
            progress(lineno)
        value = line.strip()
        if not value:
            continue
        first = value.replace(";", ",").split(",", 1)[0].strip().strip('"')
        info = classify(first)
        if info.e164 is None or not info.valid:
            result.rejected += 1
            if len(result.rejected_samples) < SAMPLES:
                result.rejected_samples.append(
                    {"line": lineno, "value": value[:100], "error": "not a valid phone number"}
                )
            continue
        key = lookup.number_key(info.e164)
        if key in result.numbers:
            result.duplicates += 1
        else:
            result.numbers.add(key)
            result.accepted += 1
    result.sha256 = hashing.sha.hexdigest()
    return result


def _batches(items: Iterable[int], version: int) -> Iterator[list[dict[str, int]]]:
    batch: list[dict[str, int]] = []
    for n in items:
        batch.append({"version": version, "number": n})
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def import_file(
    engine: Engine, raw: BinaryIO, *, mode: str, as_of: date, imported_by: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    if mode not in MODES:
        raise BloctelImportError(f"mode must be one of {', '.join(MODES)}")
    parsed = parse(raw, progress)
    with write_transaction(engine) as conn:
        previous = lookup.active_version(conn)
        version = (conn.execute(select(func.max(_v.c.version))).scalar() or 0) + 1
        import_id = new_id("blk")
        conn.execute(
            insert(_v).values(
                version=version, import_id=import_id, mode=mode, status="loading", as_of=as_of,
                lines=parsed.lines, accepted=parsed.accepted, duplicates=parsed.duplicates,
                rejected=parsed.rejected, rejected_samples=parsed.rejected_samples,
                sha256=parsed.sha256, total_numbers=0, imported_by=imported_by,
                created_at=now(),
            )
        )
    try:
        with write_transaction(engine) as conn:
            numbers = set(parsed.numbers)
            if mode != "replace" and previous is not None:
                old = set(
                    conn.execute(select(_n.c.number).where(_n.c.version == previous[0])).scalars()
                )
                numbers = old | numbers if mode == "add" else old - numbers
            elif mode == "remove":
                numbers = set()
            for batch in _batches(sorted(numbers), version):
                conn.execute(insert(_n), batch)
        with write_transaction(engine) as conn:
            activated = now()
            conn.execute(
                update(_v)
                .where(_v.c.version == version)
                .values(status="active", activated_at=activated, total_numbers=len(numbers))
            )
    except BaseException:
        with write_transaction(engine) as conn:
            conn.execute(delete(_n).where(_n.c.version == version))
            conn.execute(update(_v).where(_v.c.version == version).values(status="failed"))
        raise
    lookup.invalidate()
    # keep the previous version's numbers for checks still holding it; drop older ones
    with write_transaction(engine) as conn:
        conn.execute(delete(_n).where(_n.c.version < version - 1))
    return {
        "import_id": import_id, "version": version, "mode": mode, "as_of": as_of.isoformat(),
        "lines": parsed.lines, "accepted": parsed.accepted, "duplicates": parsed.duplicates,
        "rejected": parsed.rejected, "rejected_samples": parsed.rejected_samples,
        "sha256": parsed.sha256, "total_numbers": len(numbers),
        "activated_at": activated.isoformat(),
    }
