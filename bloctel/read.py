"""Read a whole BLOCTEL file: its keys sorted and unique, and the report of every line.

``read_file`` streams the file through ``bloctel.parse`` (``Reader``, ``sniff``, ``BlockParser``),
then sorts the keys to drop the duplicates. A file mostly rejected stops the reading early: past
its first ``EARLY_SAMPLE`` lines, after each block, once the rejected share exceeds the limit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import numpy as np

from bloctel.parse import BlockParser, FormatError, Reader, sniff

log = logging.getLogger("gateway.bloctel")

EARLY_SAMPLE = 1000


class Progress(Protocol):
    """What a reading (and the import around it) reports as it goes: a CLI progress bar."""

    def bytes_read(self, n: int) -> None: ...
    def lines_read(self, total: int) -> None: ...
    def phase(self, name: str, total: int | None = None) -> None: ...
    def advance(self, n: int) -> None: ...


class Quiet:
    """Reports nothing."""

    def bytes_read(self, n: int) -> None: ...
    def lines_read(self, total: int) -> None: ...
    def phase(self, name: str, total: int | None = None) -> None: ...
    def advance(self, n: int) -> None: ...


@dataclass
class Parsed:
    """A whole file read: its keys and the report of its lines (see ``read_file``)."""

    keys: np.ndarray  # sorted unique
    report: dict[str, Any]
    stopped: bool = False  # the reading stopped early: too many lines rejected


def read_file(raw: BinaryIO, progress: Progress, max_rejected: float | None = None,
              max_bytes: int | None = None) -> Parsed:
    """A whole file: its keys sorted and unique, and the report of every line (counts,
    rejected samples and reasons, sha256, format).

    ``max_rejected``: past ``EARLY_SAMPLE`` lines, the rejected share that stops the reading
    (None: read it all)."""
    reader = Reader(raw, on_bytes=progress.bytes_read, max_bytes=max_bytes)
    parser: BlockParser | None = None
    parts: list[np.ndarray] = []
    stopped = False
    for block in reader.blocks():
        if parser is None:
            parser = BlockParser(sniff(block))
        parts.append(parser.parse(block, parser.tally.lines + 1))
        progress.lines_read(parser.tally.lines)
        t = parser.tally
        if (max_rejected is not None and t.lines >= EARLY_SAMPLE
                and t.rejected > (t.valid + t.rejected) * max_rejected):
            stopped = True
            log.info("BLOCTEL import stopped after %d lines: %d rejected", t.lines, t.rejected)
            break
    if parser is None:
        raise FormatError("the file is empty")
    progress.phase("sorting")
    keys = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    del parts
    keys.sort()  # in place
    if len(keys) > 1:
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
    t = parser.tally
    considered = t.valid + t.rejected
    layout = parser.layout.describe()
    if reader.gzip:
        layout = "gzip, " + layout
    if reader.encoding != "utf-8":
        layout += f", {reader.encoding}"
    report = {
        "lines": t.lines, "header": t.header, "blank": t.blank,
        "accepted": len(keys), "duplicates": t.valid - len(keys), "rejected": t.rejected,
        "rejected_share": round(t.rejected / considered, 6) if considered else 0.0,
        "rejected_samples": t.rejected_samples,
        "rejected_reasons": dict(sorted(t.reasons.items(), key=lambda kv: -kv[1])),
        "sha256": reader.sha.hexdigest(), "file_bytes": reader.bytes_read, "format": layout,
    }
    if stopped:
        report["stopped_after_lines"] = t.lines
    return Parsed(keys, report, stopped)
