"""Reading answers that are not one JSON object: streamed report rows, the scrubbed file, and
the check's own sanity checks."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any, Literal

import httpx

from gateway_client.errors import MalformedResponse
from gateway_client.models import CheckResult, ScrubResult

RowFormat = Literal["jsonl", "csv"]
ROW_FORMATS = ("jsonl", "csv")


def check_answer(result: CheckResult, external_id: str) -> CheckResult:
    """A check's answer must name a logged attempt, for the request sent."""
    if result.attempt_id is None:
        raise MalformedResponse("check answered without an attempt_id", body=result.raw)
    if result.external_id is not None and result.external_id != external_id:
        raise MalformedResponse(
            f"check answered for external_id {result.external_id!r}, not {external_id!r}",
            body=result.raw)
    return result


def _lines(chunks: Iterator[str]) -> Iterator[str]:
    """Whole lines (line ends kept, for CSV fields that span lines) from text chunks."""
    pending = ""
    for chunk in chunks:
        pending += chunk
        lines = pending.splitlines(keepends=True)
        pending = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
        yield from lines
    if pending:
        yield pending


def parse_rows(chunks: Iterator[str], format: RowFormat) -> Iterator[dict[str, Any]]:
    lines = _lines(chunks)
    if format == "csv":
        yield from csv.DictReader(lines)
        return
    for line in lines:
        if line.strip():
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise MalformedResponse(f"report row is not JSON: {line[:200]!r}") from exc
            if not isinstance(row, dict):
                raise MalformedResponse(f"report row is not an object: {line[:200]!r}")
            yield row


async def parse_rows_async(chunks: AsyncIterator[str],
                           format: RowFormat) -> AsyncIterator[dict[str, Any]]:
    """``parse_rows`` over an async stream: the complete records of each chunk at once."""
    header: list[str] | None = None
    pending = ""
    async for chunk in chunks:
        pending += chunk
        cut = _complete(pending, format)
        block, pending = pending[:cut], pending[cut:]
        for row in _block_rows(block, format, header):
            if isinstance(row, list):
                header = row
            else:
                yield row
    for row in _block_rows(pending, format, header):
        if isinstance(row, dict):
            yield row


def _complete(text: str, format: RowFormat) -> int:
    """Where the last complete record of ``text`` ends (a CSV record ends at a line end
    outside quotes)."""
    idx = text.rfind("\n")
    while format == "csv" and idx >= 0 and text.count('"', 0, idx + 1) % 2:
        idx = text.rfind("\n", 0, idx)
    return idx + 1


def _block_rows(block: str, format: RowFormat,
                header: list[str] | None) -> Iterator[dict[str, Any] | list[str]]:
    """The rows of whole records; for CSV, the header (a list) first when not known yet."""
    if not block:
        return
    if format == "jsonl":
        yield from parse_rows(iter([block]), "jsonl")
        return
    for values in csv.reader(io.StringIO(block, newline="")):
        if header is None:
            header = values
            yield values
        else:
            yield dict(zip(header, values, strict=False))


def scrub_result(response: httpx.Response, content: bytes | None) -> ScrubResult:
    at_text = response.headers.get("x-scrub-at") or ""
    try:
        at = datetime.fromisoformat(at_text) if at_text else None
    except ValueError:
        at = None

    def count(name: str) -> int:
        try:
            return int(response.headers.get(name, "0"))
        except ValueError:
            return 0

    return ScrubResult(content=content, rows=count("x-scrub-rows"),
                       callable=count("x-scrub-callable"), at=at,
                       content_type=response.headers.get("content-type", ""))
