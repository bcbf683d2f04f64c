"""Scrubbing a prospect file: every row judged by the full rule set at one instant, nothing logged.

A file is read as it arrives (``bloctel.parse.Reader``: gzip by content, BOM, CRLF/CR) and
written back as it is judged, ``ROWS`` rows at a time, so memory stays flat in the file's size:

1. the layout is sniffed from the first block (``bloctel.parse.sniff``: delimiter, header,
   which column holds the number);
2. each row's number is normalised (``app.scrub.numbers``: ``classify``'s answer, by prefix);
3. the registries and the ledger are read for the whole batch in one statement
   (``app.calls.facts.batch_facts``), BLOCTEL from the in-memory index;
4. each row is judged by ``rules_fr.evaluate`` on the same ``CallFacts`` the check path builds —
   memoised on the facts that can differ between rows (the number's kind, region and zone, and
   its registry and BLOCTEL facts): most prospects have no registry entry at all, so a file is
   judged a few dozen times, not once per row;
5. the row goes out unchanged (same columns, same quoting, same delimiter) followed by four
   columns: ``e164``, ``callable_now``, ``blocking_reasons`` (codes, space-separated) and
   ``next_allowed_at`` (ISO 8601 in the callee's zone, empty when no instant is known) —
   except that a cell a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``, tab,
   CR first) is neutralised as the reports' CSV export does (``app.cells.neutralise``:
   a ``'`` before it; ``+33 6 12…`` numbers kept), its row then re-quoted minimally.

**Junk and limits.** Past the first ``EARLY_SAMPLE`` rows, a file where more than
``max_invalid`` of the rows hold no valid telephone number (junk, or the number column not
found) stops with ``ScrubRefused`` (the API: 422, ``force`` overrides); more than ``max_rows``
rows stops with ``TooManyRows``; ``max_bytes``: the file's size once decompressed.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from app import clock
from app.bloctel.lookup import default_lookup
from app.calls.facts import LOOKBACK, MOBILE_CLI_COUNT, NO_FACTS, batch_facts
from app.campaigns.service import caller_registration, campaign_facts, verification_required
from app.cells import csv_cell, neutralise
from app.clock import PARIS, iso
from app.db import get_engine
from app.errors import NotFound
from app.scrub.numbers import Normaliser, save_templates
from app.tenancy.auth import Principal
from bloctel.parse import Reader, sniff
from rules_fr import evaluate
from rules_fr.model import BloctelFacts, CallFacts, Decision, NumberInfo, NumberKind
from rules_fr.numbering import classify

#: rows judged together (one facts statement per batch)
ROWS = 2000
COLUMNS = ("e164", "callable_now", "blocking_reasons", "next_allowed_at")
#: rows read before the share of rows without a valid number is first judged (then after
#: every batch)
EARLY_SAMPLE = 1000
SAMPLES = 20
R_INVALID = "not a valid telephone number"


class ScrubRefused(ValueError):
    """Too many rows without a valid number: ``report`` has the counts and samples."""

    def __init__(self, message: str, report: dict[str, Any]) -> None:
        super().__init__(message)
        self.report = report


class TooManyRows(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the file has more than {limit:,} rows: split it")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Stats:
    rows: int
    callable: int
    invalid: int


class Scrub:
    """One scrub: a campaign, a caller, an instant. ``run`` turns input bytes into output
    chunks; ``rows`` / ``callable`` / ``invalid`` count as it goes."""

    def __init__(self, p: Principal, campaign: str, *, caller_id: str | None = None,
                 agent_id: str | None = None, at: datetime | None = None,
                 max_invalid: float | None = None, max_rows: int | None = None,
                 max_bytes: int | None = None) -> None:
        self.max_invalid, self.max_rows, self.max_bytes = max_invalid, max_rows, max_bytes
        self.samples: list[dict[str, Any]] = []
        self.tenant_id = p.tenant_id or ""
        found = campaign_facts(self.tenant_id, campaign)
        if found is None:
            raise NotFound(f"no campaign {campaign!r}")
        self.campaign = found
        self.at = (at or clock.now()).astimezone(UTC)
        if caller_id is None and found.caller_ids:
            caller_id = min(found.caller_ids)  # what the campaign presents
        self.caller = classify(caller_id) if caller_id and caller_id.strip() else None
        c = self.caller
        self.registration = (
            caller_registration(self.tenant_id, c.e164) if c is not None and c.e164 else None
        )
        self.agent_id = agent_id
        self.p = p
        self._mobile: dict[str, Any] = {}
        self.number = Normaliser()
        self._decisions: dict[Any, tuple[bool, str, str]] = {}
        self.rows = self.callable = self.invalid = 0

    # -- facts known once -------------------------------------------------------------------

    def _mobile_cli(self, conn: Any) -> None:
        c = self.caller
        if c is None or c.kind is not NumberKind.MOBILE or not c.e164:
            return
        day = self.at.astimezone(PARIS).date()
        start = datetime(day.year, day.month, day.day, tzinfo=PARIS).astimezone(UTC)
        n = conn.execute(
            MOBILE_CLI_COUNT,
            {"tenant_id": self.tenant_id, "caller_id": c.e164, "since": start, "at": self.at},
        ).scalar_one()
        self._mobile = {"mobile_cli_attempts": n, "mobile_cli_day": day}

    # -- per row ------------------------------------------------------------------------------

    def _judge(self, info: NumberInfo, facts: Any, bloctel: BloctelFacts | None
               ) -> tuple[bool, str, str]:
        # the rules read the callee's number only through these (and in messages, which a
        # scrub does not return): rows equal on this key get the same answer
        key = (info.kind, info.region, info.time_zone, info.e164 is None, facts, bloctel)
        answer = self._decisions.get(key)
        if answer is None:
            answer = self._decisions[key] = self._decide(info, facts, bloctel)
        return answer

    def _decide(self, info: NumberInfo, facts: Any, bloctel: BloctelFacts | None
                ) -> tuple[bool, str, str]:
        extra: dict[str, Any] = {}
        if info.e164:
            extra = dict(
                consents=facts.consents, contracts=facts.contracts,
                internal_opposition=facts.internal_opposition, refusals=facts.refusals,
                quarantined_until=facts.quarantined_until,
                counted_attempts=facts.counted_attempts, bloctel=bloctel,
            )
        call = CallFacts(
            at=self.at, campaign=self.campaign, callee=info, caller=self.caller,
            caller_registration=self.registration, agent_id=self.agent_id,
            caller_id_verification_required=verification_required(),
            tenant_suspended=self.p.tenant_suspended, policy=self.p.policy,
            **extra, **self._mobile,
        )
        return _annotation(evaluate(call))

    def judge_batch(self, conn: Any, texts: list[str]) -> list[tuple[NumberInfo, bool, str, str]]:
        infos = [self.number(t) for t in texts]
        numbers = [i.e164 for i in infos if i.e164]
        # the campaign's principal's facts, across its call centres (app.calls.facts)
        known = batch_facts(conn, self.tenant_id, numbers, self.at - LOOKBACK, self.at,
                            self.campaign.principal or self.tenant_id)
        lookup = default_lookup()
        out = []
        for info in infos:
            if info.e164:
                facts = known.get(info.e164, NO_FACTS)
                bloctel = lookup.lookup(None, info.e164)
            else:
                facts, bloctel = NO_FACTS, None
            ok, reasons, nxt = self._judge(info, facts, bloctel)
            out.append((info, ok, reasons, nxt))
            self.callable += ok
            self.invalid += info.kind is NumberKind.INVALID
        self.rows += len(texts)
        return out

    # -- the file -----------------------------------------------------------------------------

    def run(self, raw: BinaryIO, on_bytes: Callable[[int], None] | None = None
            ) -> Iterator[bytes]:
        """The annotated file, chunk by chunk (one chunk per batch of rows)."""
        reader = Reader(raw, on_bytes, max_bytes=self.max_bytes)
        blocks = reader.blocks()
        first = next(blocks, b"")
        if not first:
            return
        layout = sniff(first)
        delimiter = (layout.delimiter or b",").decode()
        column = layout.column if layout.delimiter is not None else None
        eol = "\r\n" if b"\r\n" in first[:1 << 16] else "\n"
        header_pending = layout.header
        safe = functools.partial(_safe_row, delimiter=delimiter,
                                 one_column=layout.delimiter is None)
        line_no = 0
        engine = get_engine()
        with engine.connect() as conn:
            with conn.begin():
                self._mobile_cli(conn)
            for lines in _batches(_lines(first, blocks), ROWS):
                out: list[str] = []
                texts: list[str] = []
                rows: list[str] = []
                numbers: list[int] = []
                for line in lines:
                    line_no += 1
                    if not line.strip():
                        continue  # blank lines are not rows
                    if header_pending:
                        header_pending = False
                        out.append(safe(line) + delimiter + delimiter.join(COLUMNS) + eol)
                        continue
                    rows.append(line)
                    numbers.append(line_no)
                    texts.append(_field(line, layout.delimiter, column))
                if rows:
                    if self.max_rows is not None and self.rows + len(rows) > self.max_rows:
                        raise TooManyRows(self.max_rows)
                    with conn.begin():
                        judged = self.judge_batch(conn, texts)
                    for n, line, text, (info, ok, reasons, nxt) in zip(
                            numbers, rows, texts, judged, strict=True):
                        if info.kind is NumberKind.INVALID and len(self.samples) < SAMPLES:
                            self.samples.append({"line": n, "value": text[:100],
                                                 "error": R_INVALID})
                        out.append(delimiter.join(
                            (safe(line), info.e164 or "", "true" if ok else "false", reasons,
                             nxt)) + eol)
                    self._judge_share()
                if out:
                    yield "".join(out).encode()
        save_templates()

    def _judge_share(self) -> None:
        limit = self.max_invalid
        if limit is None or self.rows < EARLY_SAMPLE or self.invalid <= self.rows * limit:
            return
        raise ScrubRefused(
            f"{self.invalid:,} of the first {self.rows:,} rows hold no valid telephone number "
            f"({self.invalid / self.rows:.1%}), more than the {limit:.0%} allowed "
            f"(GATEWAY_SCRUB_MAX_INVALID): is it a prospect file, with its numbers in one "
            f"column? (see rejected_samples; force=true scrubs it anyway)",
            {"rows": self.rows, "invalid": self.invalid, "rejected_samples": self.samples})


@functools.lru_cache(maxsize=8)
def _danger(delimiter: str) -> re.Pattern[str]:
    """In a row without quotes: a cell starting with what ``neutralise`` guards against, a
    ``+``/``-`` followed by digits and spaces only (``+33 6 12…``) excepted — ``neutralise``'s
    own rule, as a regular expression (60 % of rows start with ``+33``: parsing each costs a
    fifth of the scrub's time)."""
    d = re.escape(delimiter)
    return re.compile(rf"(?:^|{d})(?:[=@\t\r]|[+\-](?![\d ]*\d[\d ]*(?:{d}|$)))")


def _safe_row(line: str, *, delimiter: str, one_column: bool) -> str:
    """``line`` with every cell a spreadsheet would run as a formula neutralised
    (``app.cells.neutralise``); unchanged, quoting included, when none is. Rows with
    quotes are parsed; the others are searched (``_danger``), parsed only on a match."""
    if '"' not in line and not _danger(delimiter).search(line):
        return line
    if one_column:
        return line if neutralise(line) == line else csv_cell(line, delimiter)
    try:
        fields = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        fields = line.split(delimiter)
    if all(neutralise(f) == f for f in fields):
        return line
    return delimiter.join(csv_cell(f, delimiter) for f in fields)


def _annotation(decision: Decision) -> tuple[bool, str, str]:
    blocks = " ".join(r.code for r in decision.reasons if r.severity == "block")
    nxt = decision.next_allowed_at
    text = iso(nxt, decision.callee_time_zone) if nxt else ""
    return decision.allowed, blocks, text


def _lines(first: bytes, rest: Iterable[bytes]) -> Iterator[str]:
    for block in _chain(first, rest):
        text = block.decode("utf-8", "replace")
        for line in text.split("\n")[:-1]:  # a block ends with a line end
            yield line[:-1] if line.endswith("\r") else line


def _chain(first: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _batches(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _field(line: str, delimiter: bytes | None, column: int | None) -> str:
    if column is None or delimiter is None:
        return line.strip()
    d = delimiter.decode()
    if '"' in line:
        try:
            fields = next(csv.reader([line], delimiter=d), [])
        except csv.Error:
            fields = line.split(d)
    else:
        fields = line.split(d)
    return fields[column].strip() if column < len(fields) else ""
