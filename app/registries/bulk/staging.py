"""Reading, phase 1: records → validated rows in the driver's form (``Stager``), sorted in runs
spilled to anonymous temporary files (``Runs``), the limits judged as rows are read
(``consume``)."""

from __future__ import annotations

import heapq
import pickle
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

from app.registries.bulk.fields import (
    MAX_LEN,
    OWN,
    PRINCIPAL_SPLIT,
    R_CALLEE_MISSING,
    R_DATE,
    R_DATETIME,
    R_EVIDENCE,
    R_FIELDS,
    R_FUTURE,
    R_MANDATE,
    R_MISSING,
    R_NUMBER_CHARS,
    R_ORDER_CONSENT,
    R_ORDER_CONTRACT,
    R_PRINCIPAL_ID,
    R_SCOPE,
    R_SECTOR,
    R_TOO_LONG,
    ConsentContext,
    Evidence,
    Kind,
    Mapping,
    Numbers,
    Reject,
    Report,
    read_day,
    read_instant,
    read_scope,
    read_yes_no,
)
from app.registries.bulk.limits import Guard, Limits, Progress
from app.registries.models import Consent, Contract, Opposition
from rules_fr.data import SECTORS

#: Per kind, a staged row: (first natural-key column, line, the other values) — values in the
#: driver's form (SQLite: text dates; PostgreSQL: datetime), ready to compare with stored rows and
#: to insert. The first item is what the rows are sorted on before they are written.
STAGED: dict[str, tuple[str, ...]] = {
    "consents": ("callee", "line", "scope", "given_at", "channel", "evidence", "evidence_sha256",
                 "expires_at", "source", "notice_given", "conditional_on_sale", "principals"),
    "contracts": ("reference", "line", "callee", "sector", "starts_on", "ends_on"),
    "oppositions": ("callee", "line", "source"),
}
#: Rows per pickled chunk of a spilled run: the merge holds one chunk per run in memory.
SPILL_CHUNK = 1_000
#: Rows per call of the vectorised number parser while reading.
PARSE_BATCH = 5_000


def driver_procs(dialect: Dialect, table: Table) -> dict[str, Callable[[Any], Any] | None]:
    """Each column's bind processor for ``dialect``: values converted by the columns' own
    SQLAlchemy types, so that imported rows read the same as rows written by the ORM."""
    return {c.name: c.type.dialect_impl(dialect).bind_processor(dialect) for c in table.c}


class Stager:
    """Reading: each row → rejected (line, reason) in ``report``, or a staged row to ``add``."""

    def __init__(self, dialect: Dialect, kind: Kind, mapping: Mapping, report: Report,
                 add: Callable[[tuple[Any, ...]], None]) -> None:
        self.kind, self.m, self.report, self.add_staged = kind, mapping, report, add
        self._cols = mapping.columns
        self._consent_ix = tuple(mapping.columns.get(f, 1 << 30) for f in (
            "given_at", "scope", "channel", "expires_at", "evidence"))
        self._evidence_ix = tuple(mapping.columns.get(f, 1 << 30) for f in (
            "principals", "source", "notice_given", "conditional_on_sale"))
        self._plain = all(i == 1 << 30 for i in self._evidence_ix)
        self._ctx = mapping.consent or ConsentContext("", frozenset(), datetime.max.replace(
            tzinfo=UTC))
        self.numbers = Numbers()
        self.evidence = Evidence()
        self.pending: list[tuple[int, list[str]]] = []
        table: Table = {"consents": Consent, "contracts": Contract,
                        "oppositions": Opposition}[kind].__table__  # type: ignore[assignment]
        procs = driver_procs(dialect, table)
        self._dt = _fast_datetime(procs["given_at"]) if kind == "consents" else None
        self._day = procs.get("starts_on") if kind == "contracts" else None

    def add(self, line: int, fields: list[str]) -> None:
        self.pending.append((line, fields))
        if len(self.pending) >= PARSE_BATCH:
            self.flush()

    def _get(self, fields: list[str], f: str) -> str:
        i = self._cols.get(f, 1 << 30)
        return fields[i].strip() if i < len(fields) else ""

    def flush(self) -> None:
        if not self.pending:
            return
        r, add = self.report, self.add_staged
        ci = self.m.columns["callee"]
        pending, self.pending = self.pending, []
        raws = [fields[ci].strip() if ci < len(fields) else "" for _, fields in pending]
        clean = [s if "\n" not in s and "\r" not in s else "" for s in raws]
        validate = {"consents": self._consent, "contracts": self._contract,
                    "oppositions": self._opposition}[self.kind]
        for (line, fields), raw, e164 in zip(pending, raws, self.numbers(clean), strict=True):
            if not raw:
                r.reject(line, self.m.delimiter.join(fields), R_CALLEE_MISSING)
                continue
            if e164 is None or isinstance(e164, tuple):
                reason = R_NUMBER_CHARS if e164 is None else e164[0]
                r.reject(line, self.m.delimiter.join(fields), reason)
                continue
            try:
                add(validate(line, fields, e164))
            except Reject as e:
                r.reject(line, self.m.delimiter.join(fields), e.reason)

    def _consent(self, line: int, fields: list[str], e164: str) -> tuple[Any, ...]:
        n = len(fields)
        gi, si, ci, xi, ei = self._consent_ix
        raw = fields[gi].strip() if gi < n else ""
        if not raw:
            raise Reject(R_MISSING.format("given_at"))
        given_at = read_instant(raw, "given_at")
        if given_at is None:
            raise Reject(R_DATETIME.format("given_at"))
        if given_at > self._ctx.not_after:
            raise Reject(R_FUTURE)
        scope_raw = fields[si].strip() if si < n else ""
        scope = read_scope(scope_raw) if scope_raw else "canvassing"
        if scope is None:
            raise Reject(R_SCOPE)
        channel = (fields[ci].strip() if ci < n else "") or "import"
        if len(channel) > MAX_LEN["channel"]:
            raise Reject(R_TOO_LONG.format("channel"))
        expires_at = None
        if raw := (fields[xi].strip() if xi < n else ""):
            expires = read_instant(raw, "expires_at", open_ended=True)
            if expires is None:
                raise Reject(R_DATETIME.format("expires_at"))
            if expires <= given_at:
                raise Reject(R_ORDER_CONSENT)
            expires_at = self._dt(expires)  # type: ignore[misc]
        ev = self.evidence(fields[ei].strip() if ei < n else "")
        if ev is None:
            raise Reject(R_EVIDENCE)
        return (e164, line, scope, self._dt(given_at), channel,  # type: ignore[misc]
                ev[0], ev[1], expires_at, *self._named(fields, n))

    def _named(self, fields: list[str], n: int) -> tuple[str, bool | None, bool, str]:
        """A consent's source, notice_given, conditional_on_sale and principals ("|"-joined,
        sorted; "" for none), as ``app.registries.service.named_principals`` reads them: no
        principals named → the tenant's own for an "own" consent, none for a partner's."""
        pi, si, ni, ci = self._evidence_ix
        if self._plain:  # none of these columns in the file: the defaults
            return OWN, None, False, self._ctx.tenant_id
        source = (fields[si].strip() if si < n else "") or OWN
        if len(source) > MAX_LEN["source"]:
            raise Reject(R_TOO_LONG.format("source"))
        notice = read_yes_no(fields[ni].strip() if ni < n else "", "notice_given")
        conditional = read_yes_no(fields[ci].strip() if ci < n else "", "conditional_on_sale")
        raw = fields[pi].strip() if pi < n else ""
        if not raw:
            principals = self._ctx.tenant_id if source == OWN else ""
        else:
            named = sorted({p for p in PRINCIPAL_SPLIT.split(raw) if p})
            for p in named:
                if p not in self._ctx.held:
                    raise Reject(R_PRINCIPAL_ID if len(p) > 40 else R_MANDATE.format(p))
            principals = "|".join(named)
        return source, notice, bool(conditional), principals

    def _contract(self, line: int, fields: list[str], e164: str) -> tuple[Any, ...]:
        get = self._get
        reference = get(fields, "reference")
        if not reference:
            raise Reject(R_MISSING.format("reference"))
        if len(reference) > MAX_LEN["reference"]:
            raise Reject(R_TOO_LONG.format("reference"))
        sector = get(fields, "sector") or "general"
        if sector not in SECTORS:
            raise Reject(R_SECTOR)
        raw = get(fields, "starts_on")
        if not raw:
            raise Reject(R_MISSING.format("starts_on"))
        starts_on = read_day(raw, "starts_on")
        if starts_on is None:
            raise Reject(R_DATE.format("starts_on"))
        ends_on = None
        if raw := get(fields, "ends_on"):
            ends_on = read_day(raw, "ends_on", open_ended=True)
            if ends_on is None:
                raise Reject(R_DATE.format("ends_on"))
            if ends_on < starts_on:
                raise Reject(R_ORDER_CONTRACT)
        day = self._day or (lambda d: d)
        return (reference, line, e164, sector, day(starts_on),
                None if ends_on is None else day(ends_on))

    def _opposition(self, line: int, fields: list[str], e164: str) -> tuple[Any, ...]:
        source = self._get(fields, "source")
        if len(source) > MAX_LEN["source"]:
            raise Reject(R_TOO_LONG.format("source"))
        return (e164, line, source or "import")


class Runs:
    """External merge sort of staged rows (``STAGED``): as tuples, they sort by their first
    natural-key column, then by line — file order among the rows of one key, so the last row of
    a repeated key still wins. At most ``run_rows`` rows are held to be sorted; each full run is
    spilled, pickled, to an anonymous temporary file (gone when closed or when the process
    dies); the runs are merged lazily, ``SPILL_CHUNK`` rows per run in memory.

    Why sort: the registries are indexed by (tenant, number). Rows written in number order touch
    each page of that index once over the whole import; in file order every row dirties a random
    page, which SQLite rewrites to its WAL at each commit (measured on 1 M consents: 22 s of
    SQLite work in file order, 6 s in number order)."""

    def __init__(self, run_rows: int) -> None:
        self.run_rows = run_rows
        self.rows: list[tuple[Any, ...]] = []
        self.files: list[IO[bytes]] = []
        self.count = 0

    def add(self, row: tuple[Any, ...]) -> None:
        self.rows.append(row)
        self.count += 1
        if len(self.rows) >= self.run_rows:
            self._spill()

    def add_file(self, f: IO[bytes], count: int) -> None:
        """A run spilled elsewhere (a worker process), in ``write``'s format."""
        self.files.append(f)
        self.count += count

    def _spill(self) -> None:
        rows, self.rows = self.rows, []
        rows.sort()
        f = tempfile.TemporaryFile(prefix="gateway-import-")  # noqa: SIM115 - closed by close()
        self.files.append(f)  # listed first: closed by close() even if the disk is full
        self.write(f, rows)
        f.seek(0)

    @staticmethod
    def write(f: IO[bytes], rows: list[tuple[Any, ...]]) -> None:
        """A sorted run to ``f``, pickled ``SPILL_CHUNK`` rows at a time (``_read``'s format)."""
        for i in range(0, len(rows), SPILL_CHUNK):
            pickle.dump(rows[i : i + SPILL_CHUNK], f, pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def _read(f: IO[bytes]) -> Iterator[tuple[Any, ...]]:
        while True:
            try:
                chunk = pickle.load(f)  # noqa: S301 - our own anonymous temporary file
            except EOFError:
                return
            yield from chunk

    def sorted(self) -> Iterator[tuple[Any, ...]]:
        if not self.files:
            self.rows.sort()
            return iter(self.rows)
        if self.rows:
            self._spill()
        return heapq.merge(*(self._read(f) for f in self.files))

    def close(self) -> None:
        for f in self.files:
            f.close()
        self.files, self.rows = [], []


def consume(rows: Any, first_line: int, mapping: Mapping, report: Report,
             stager: Stager, progress: Progress | None = None, stop_at: int = 0,
             guard: Guard | None = None) -> bool:
    """Count, check and stage the CSV records of ``rows`` (a ``csv.reader``; its first line is
    physical line ``first_line`` of the file) until ``report.lines`` reaches ``stop_at`` (then
    True) or the records run out (False). ``guard``: the import's limits, judged as it goes."""
    last_needed = max(mapping.columns.values())
    guard = guard or Guard(Limits())  # none: never checks
    max_rows = guard.max_rows
    check_at = min(guard.next_check, max_rows + 1)
    done = 0  # physical lines the reader has consumed so far
    for fields in rows:
        line = first_line + done
        done = rows.line_num
        report.lines += 1
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            report.blank += 1
        elif len(fields) <= last_needed and len(fields) < mapping.width:
            report.reject(line, mapping.delimiter.join(fields), R_FIELDS)
        else:
            stager.add(line, fields)
        if progress and report.lines % 10_000 == 0:
            progress.lines_read(report.lines)
        if report.lines >= check_at:  # one comparison per row; the rest now and then
            if report.lines > max_rows:
                guard.too_many()
            if report.lines >= guard.next_check:
                stager.flush()  # every row read so far judged
                guard.judge(report.lines - report.blank, report.rejected)
                guard.next_check = report.lines + PARSE_BATCH
            check_at = min(guard.next_check, max_rows + 1)
        if report.lines == stop_at:
            return True
    return False


_PROBE = datetime(2026, 9, 1, 8, 0, 0, 123, tzinfo=UTC)


def _sqlite_instant(d: datetime) -> str:
    return d.isoformat(" ", "microseconds")[:26]  # d is UTC: "+00:00" cut


def pg_instant(d: datetime) -> str:
    return d.isoformat(" ", "microseconds")[:26] + "+00"  # d is UTC


def _fast_datetime(proc: Callable[[Any], Any] | None) -> Callable[[datetime], Any]:
    """A quicker equivalent of ``proc`` (the UTC datetime columns' bind processor) for UTC
    datetimes, if one gives the same value; else ``proc`` itself.

    PostgreSQL (whose driver takes the datetime itself): text in PostgreSQL's own ISO form,
    which COPY's text format needs and parameters accept (psycopg sends text of unknown type,
    cast by the server); stored rows' datetimes are put in the same form to be compared."""
    if proc is None or proc(_PROBE) == _PROBE:  # PostgreSQL: the aware UTC datetime itself
        return pg_instant
    if proc(_PROBE) == _sqlite_instant(_PROBE):  # SQLite: naive UTC text
        return _sqlite_instant
    return proc
