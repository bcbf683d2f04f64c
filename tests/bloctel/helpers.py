"""Helpers for the BLOCTEL parser tests: whole-file reports and per-line outcomes."""

from __future__ import annotations

import io
from typing import Any

from bloctel import parse, read
from bloctel.parse import BlockParser, Layout, Reader


def report(data: bytes) -> tuple[list[int], dict[str, Any]]:
    """The sorted unique keys and the import report of a whole file, as the importer reads it."""
    parsed = read.read_file(io.BufferedReader(io.BytesIO(data)), read.Quiet())
    r = parsed.report
    assert r["lines"] == r["header"] + r["blank"] + r["accepted"] + r["duplicates"] + \
        r["rejected"], r
    assert sum(r["rejected_reasons"].values()) == r["rejected"]
    return parsed.keys.tolist(), r


def counts(r: dict[str, Any]) -> dict[str, int]:
    return {k: r[k] for k in ("lines", "header", "blank", "accepted", "duplicates", "rejected")}


def parse_blocks(data: bytes, layout: Layout | None = None) -> tuple[list[int], parse.Tally]:
    """Keys in file order and the tally, block by block at the current ``parse.BLOCK``; the
    layout is sniffed from the whole decoded file unless given (a tiny first block would
    otherwise be all the sniffer sees)."""
    blocks = list(Reader(io.BytesIO(data)).blocks())
    if layout is None:
        layout = parse.sniff(b"".join(blocks)) if blocks else Layout()
    parser = BlockParser(layout)
    keys: list[int] = []
    for block in blocks:
        keys += parser.parse(block, parser.tally.lines + 1).tolist()
    return keys, parser.tally


def outcomes(lines: list[str], layout: Layout | None = None) -> list[int | str | None]:
    """Per line: its key, the reason it was rejected, or None (blank or header).

    ``parse.SAMPLES`` must be at least ``len(lines)`` (monkeypatch it) so that every rejected
    line is sampled.
    """
    assert len(lines) <= parse.SAMPLES
    parser = BlockParser(layout or Layout())
    keys = iter(parser.parse(("\n".join(lines) + "\n").encode(), 1).tolist())
    rejected = {s["line"]: s["error"] for s in parser.tally.rejected_samples}
    t = parser.tally
    assert t.lines == len(lines) == t.header + t.blank + t.valid + t.rejected
    out: list[int | str | None] = []
    header_pending = bool(t.header)
    for no, line in enumerate(lines, 1):
        blank = not any(b > 32 for b in line.encode())
        if no in rejected:
            out.append(rejected[no])
        elif blank or header_pending:
            header_pending = header_pending and blank
            out.append(None)
        else:
            out.append(next(keys))
    assert next(keys, None) is None
    return out
