"""Bulk import of consents, contracts and oppositions from a CSV file, streamed.

**File.** UTF-8 (BOM or not; CP-1252 accepted), UTF-16, CRLF or LF, gzip or not (all detected by
``bloctel.parse.Reader``, which also hashes the bytes as uploaded). The first non-blank line is
a header; the delimiter is ``;``, ``,`` or a tab, whichever the header holds most of. Column
names are matched without case, accents, spaces or hyphens (``HEADERS``), e.g. ``Numéro`` or
``phone`` for the number; unknown columns are ignored and listed in the answer. Numbers are
national (``06 12 34 56 78``, ``0692…`` overseas) or E.164 (``+33…``, ``0033…``).

**Fields** (``-`` = optional, with its default):

* consents: callee, given_at (ISO 8601; without an offset: Europe/Paris time; or
  ``DD/MM/YYYY[ HH:MM[:SS]]``, Paris), - scope (``canvassing``), - channel (``import``),
  - evidence (a JSON object, or text stored as ``{"text": …}``; ``{}`` when empty), - expires_at.
* contracts: callee, reference, starts_on (``YYYY-MM-DD`` or ``DD/MM/YYYY``), - sector
  (``general``), - ends_on (inclusive).
* oppositions: callee, - source (``import``).

**Natural keys** (what makes a re-import idempotent): consents (tenant, callee, scope,
given_at); contracts (tenant, reference); oppositions (tenant, callee). A row whose key exists
updates the record when a value differs (``updated``) or leaves it (``unchanged``); otherwise it
is ``created``. An import never revokes nor un-revokes a consent, and an opposition's source
changes only when the file has a ``source`` column. Rows count in file order, so a key repeated
in the file is created by its first row and updated (or unchanged) by the next: the last wins.
Every other row is ``rejected`` with its line number (physical line of the file) and the reason:
the first ``SAMPLES`` are listed, all are counted by reason. Blank lines are counted
(``blank``): ``lines`` = created + updated + unchanged + rejected + blank.

**Failure semantics: resumable.** Rows are written in batches, each in its own short
transaction (one natural-key SELECT, one executemany INSERT, one executemany UPDATE): a killed or
failed import leaves every row either entirely in or not at all, and the registry consistent.
Importing the same file again converges to the same state (the natural keys), so "run it again"
completes an interrupted import. One import per tenant at a time (``tenant_lock``); other
tenants' imports and the check path proceed (on SQLite they share the write lock between
batches only).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import hashlib
import io
import json
import logging
import os
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, BinaryIO, Literal, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, text
from sqlalchemy.exc import IntegrityError

from app.clock import now
from app.db import LockBusy, try_lock, write_transaction
from app.ids import new_id
from app.registries.models import Consent, Contract, Opposition
from app.registries.service import evidence_sha256
from bloctel.parse import BlockParser, FormatError, Layout, Reader
from rules_fr.data import SECTORS
from rules_fr.numbering import classify

log = logging.getLogger("gateway.registries.bulk")

Kind = Literal["consents", "contracts", "oppositions"]
KINDS: tuple[Kind, ...] = ("consents", "contracts", "oppositions")
SAMPLES = 100
MAX_VALUE_CHARS = 100
#: Rows per transaction. SQLite: every write transaction holds the database's one write lock,
#: which the check path needs too, so batches stay small (~30–80 ms each on a 2-core machine).
BATCH = 5000
SQLITE_BATCH = 2000
PARIS = ZoneInfo("Europe/Paris")

#: Accepted column names per field (compared folded: lower case, no accents, ``_`` for spaces
#: and hyphens).
HEADERS: dict[str, tuple[str, ...]] = {
    "callee": ("numero", "telephone", "tel", "phone", "callee", "number", "msisdn", "mobile",
               "numero_de_telephone", "numero_telephone", "phone_number"),
    "given_at": ("date_consentement", "given_at", "date_du_consentement", "consenti_le",
                 "consent_date"),
    "channel": ("canal", "channel"),
    "scope": ("portee", "scope"),
    "expires_at": ("expire", "expires_at", "expiration", "date_expiration", "expire_le"),
    "evidence": ("preuve", "evidence"),
    "reference": ("reference", "contrat", "contract", "ref", "reference_contrat"),
    "sector": ("secteur", "sector"),
    "starts_on": ("debut", "starts_on", "date_debut", "start", "start_date"),
    "ends_on": ("fin", "ends_on", "date_fin", "end", "end_date"),
    "source": ("source", "origine"),
}
FIELDS: dict[Kind, tuple[str, ...]] = {
    "consents": ("callee", "given_at", "scope", "channel", "evidence", "expires_at"),
    "contracts": ("callee", "reference", "sector", "starts_on", "ends_on"),
    "oppositions": ("callee", "source"),
}
REQUIRED: dict[Kind, tuple[str, ...]] = {
    "consents": ("callee", "given_at"),
    "contracts": ("callee", "reference", "starts_on"),
    "oppositions": ("callee",),
}
SCOPES = {"canvassing": "canvassing", "prospection": "canvassing", "demarchage": "canvassing",
          "outside_hours": "outside_hours", "hors_horaires": "outside_hours"}
MAX_LEN = {"channel": 100, "reference": 200, "source": 200, "sector": 40}

# Reasons (the ``error`` of a rejected sample; the keys of ``reasons``).
R_CALLEE_MISSING = "no number"
R_FIELDS = "fewer fields than the header"
R_MISSING = "missing {}"
R_DATETIME = "{} is not a date-time (ISO 8601, or DD/MM/YYYY HH:MM)"
R_DATE = "{} is not a date (YYYY-MM-DD or DD/MM/YYYY)"
R_SCOPE = "scope is not canvassing or outside_hours"
R_SECTOR = "unknown sector"
R_TOO_LONG = "{} is too long"
R_ORDER_CONSENT = "expires_at must be after given_at"
R_ORDER_CONTRACT = "ends_on must not be before starts_on"
R_EVIDENCE = "evidence is JSON but not an object"
R_NUMBER_CHARS = "unexpected characters in the number"


class BulkImportError(ValueError):
    """The file cannot be imported at all (no header, a required column missing…)."""


class ImportBusy(RuntimeError):
    """Another import for this tenant is running."""


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


# --------------------------------------------------------------------------- reading


def fold(name: str) -> str:
    name = unicodedata.normalize("NFKD", name)
    name = "".join(c for c in name if not unicodedata.combining(c)).lower().strip().strip('"')
    return re.sub(r"[\s\-.]+", "_", name.strip())


_ALIASES = {alias: f for f, names in HEADERS.items() for alias in names}


def _text_lines(reader: Reader) -> Iterator[str]:
    cp1252 = False
    for block in reader.blocks():
        if not cp1252:
            try:
                text_ = block.decode("utf-8")
            except UnicodeDecodeError:
                cp1252 = True  # a spreadsheet's "CSV (Windows)": from here on
        if cp1252:
            text_ = block.decode("cp1252", "replace")
        yield from io.StringIO(text_, newline="")


@dataclass
class Mapping:
    delimiter: str
    columns: dict[str, int]  # field -> column index
    names: dict[str, str]  # field -> column name in the file
    ignored: list[str]
    width: int


def map_header(kind: Kind, line: str) -> Mapping:
    counts = {d: line.count(d) for d in (";", ",", "\t")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ";"
    names = next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter), [])
    columns: dict[str, int] = {}
    shown: dict[str, str] = {}
    ignored: list[str] = []
    for i, name in enumerate(names):
        f = _ALIASES.get(fold(name))
        if f is None or f not in FIELDS[kind]:
            ignored.append(name)
            continue
        if f in columns:
            raise BulkImportError(
                f"columns {shown[f]!r} and {name!r} both give {f}: keep one")
        columns[f], shown[f] = i, name
    missing = [f for f in REQUIRED[kind] if f not in columns]
    if missing:
        want = "; ".join(f"{f} ({'|'.join(HEADERS[f])})" for f in missing)
        raise BulkImportError(
            f"the header {line.strip()[:200]!r} lacks required column(s) for {kind}: {want}")
    return Mapping(delimiter, columns, shown, ignored, len(names))


# --------------------------------------------------------------------------- values

_FR_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2})[:h](\d{2})(?::(\d{2}))?)?$")


def parse_instant(value: str) -> datetime | None:
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        m = _FR_DATE.match(value)
        if not m:
            return None
        dd, mm, yy, hh, mi, ss = m.groups()
        try:
            d = datetime(int(yy), int(mm), int(dd), int(hh or 0), int(mi or 0), int(ss or 0))
        except ValueError:
            return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=PARIS)
    return d.astimezone(UTC)


def parse_day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        m = _FR_DATE.match(value)
        if not m or m.group(4):
            return None
        try:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        except ValueError:
            return None


class _Evidence:
    """Evidence text → (object, SHA-256), memoised: files repeat a few evidence values."""

    def __init__(self) -> None:
        self._memo: dict[str, tuple[str, str] | None] = {}

    def __call__(self, raw: str) -> tuple[str, str] | None:
        """(JSON text to store, SHA-256 of the canonical JSON), or None: not an object."""
        got = self._memo.get(raw, False)
        if got is not False:
            return got  # type: ignore[return-value]
        value: Any
        if not raw:
            value = {}
        elif raw[0] in "{[\"" or raw in ("null", "true", "false") or raw[0].isdigit():
            try:
                value = json.loads(raw)
            except ValueError:
                value = {"text": raw}
            else:
                if not isinstance(value, dict):
                    value = {"text": raw} if not raw.startswith(("{", "[")) else None
        else:
            value = {"text": raw}
        if value is None:
            out = None
        elif len(value) == 1 and isinstance(value.get("text"), str):  # the common case
            out = ('{"text": ' + json.dumps(value["text"]) + "}", evidence_sha256(value))
        else:
            out = (json.dumps(value), evidence_sha256(value))
        if len(self._memo) < 100_000:
            self._memo[raw] = out
        return out


# --------------------------------------------------------------------------- the import


@dataclass
class Report:
    kind: str
    import_id: str = field(default_factory=lambda: new_id("imp"))
    lines: int = 0
    blank: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejected_samples: list[dict[str, Any]] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    def reject(self, line: int, value: str, reason: str) -> None:
        self.rejected += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        if len(self.rejected_samples) < SAMPLES:
            self.rejected_samples.append(
                {"line": line, "value": value[:MAX_VALUE_CHARS], "error": reason})


_ONE_COLUMN = Layout()


class _Numbers:
    """A batch of raw numbers → E.164, by ``bloctel.parse.BlockParser`` (vectorised); numbers
    it finds foreign are asked to ``classify`` (registries take any valid number, as the API)."""

    def __init__(self) -> None:
        self._parser = BlockParser(_ONE_COLUMN)

    def __call__(self, raws: list[str]) -> list[str | None | tuple[str]]:
        """E.164, or (reason,) for a rejected number."""
        block = ("\n".join(raws) + "\n").encode("utf-8", "replace")
        keys, reasons = self._parser.parse_lines(block, 1)
        self._parser.tally.rejected_samples.clear()
        out: list[str | None | tuple[str]] = [
            None if k < 0 else f"+{k}" for k in keys.tolist()]
        for i, reason in reasons.items():
            info = classify(raws[i])
            out[i] = info.e164 if info.e164 is not None and info.valid else (reason,)
        return out


def _values_differ(row: Any, new: dict[str, Any], cols: tuple[str, ...]) -> bool:
    return any(getattr(row, c) != new[c] for c in cols)


class _Importer:
    def __init__(self, engine: Engine, kind: Kind, tenant_id: str, mapping: Mapping,
                 report: Report, batch: int,
                 on_batch: Callable[[Report], None] | None = None) -> None:
        self.on_batch = on_batch
        self._cols = mapping.columns
        self._consent_ix = tuple(mapping.columns.get(f, 1 << 30) for f in (
            "given_at", "scope", "channel", "expires_at", "evidence"))
        self.engine, self.kind, self.tenant_id = engine, kind, tenant_id
        self.m, self.report, self.batch = mapping, report, batch
        self.numbers = _Numbers()
        self.evidence = _Evidence()
        self.pending: list[tuple[int, list[str]]] = []
        self.table: Table = {"consents": Consent, "contracts": Contract,
                             "oppositions": Opposition}[kind].__table__  # type: ignore[assignment]

    def add(self, line: int, fields: list[str]) -> None:
        self.pending.append((line, fields))
        if len(self.pending) >= self.batch:
            self.flush()

    def _get(self, fields: list[str], f: str) -> str:
        i = self._cols.get(f, 1 << 30)
        return fields[i].strip() if i < len(fields) else ""

    # -- validation: rows → {natural key: (line, values)} --------------------------------------

    def _rows(self) -> dict[Any, tuple[int, dict[str, Any]]]:
        r, get = self.report, self._get
        ci = self.m.columns["callee"]
        raws = [fields[ci].strip() if ci < len(fields) else "" for _, fields in self.pending]
        clean = [s if "\n" not in s and "\r" not in s else "" for s in raws]
        numbers = self.numbers(clean)
        out: dict[Any, tuple[int, dict[str, Any]]] = {}
        for (line, fields), raw, e164 in zip(self.pending, raws, numbers, strict=True):
            if not raw:
                r.reject(line, self.m.delimiter.join(fields), R_CALLEE_MISSING)
                continue
            if e164 is None or isinstance(e164, tuple):
                reason = R_NUMBER_CHARS if e164 is None else e164[0]
                r.reject(line, self.m.delimiter.join(fields), reason)
                continue
            try:
                key, values = self._validate(fields, e164, get)
            except _Reject as e:
                r.reject(line, self.m.delimiter.join(fields), e.reason)
                continue
            seen = out.get(key)
            if seen is not None:  # a key repeated in this batch: as if written in file order
                if seen[1] == values:
                    r.unchanged += 1
                else:
                    r.updated += 1
                    out[key] = (line, values)
                continue
            out[key] = (line, values)
        return out

    def _validate(self, fields: list[str], e164: str,
                  get: Callable[[list[str], str], str]) -> tuple[Any, dict[str, Any]]:
        cols = self.m.columns
        if self.kind == "consents":
            n = len(fields)
            gi, si, ci, xi, ei = self._consent_ix
            raw = fields[gi].strip() if gi < n else ""
            if not raw:
                raise _Reject(R_MISSING.format("given_at"))
            given_at = parse_instant(raw)
            if given_at is None:
                raise _Reject(R_DATETIME.format("given_at"))
            scope_raw = fields[si].strip() if si < n else ""
            scope = _scope(scope_raw) if scope_raw else "canvassing"
            if scope is None:
                raise _Reject(R_SCOPE)
            channel = (fields[ci].strip() if ci < n else "") or "import"
            if len(channel) > MAX_LEN["channel"]:
                raise _Reject(R_TOO_LONG.format("channel"))
            expires_at = None
            if raw := (fields[xi].strip() if xi < n else ""):
                expires_at = parse_instant(raw)
                if expires_at is None:
                    raise _Reject(R_DATETIME.format("expires_at"))
                if expires_at <= given_at:
                    raise _Reject(R_ORDER_CONSENT)
            ev = self.evidence(fields[ei].strip() if ei < n else "")
            if ev is None:
                raise _Reject(R_EVIDENCE)
            return (e164, scope, given_at), {
                "callee": e164, "scope": scope, "given_at": given_at, "channel": channel,
                "evidence": ev[0], "evidence_sha256": ev[1], "expires_at": expires_at}
        if self.kind == "contracts":
            reference = get(fields, "reference")
            if not reference:
                raise _Reject(R_MISSING.format("reference"))
            if len(reference) > MAX_LEN["reference"]:
                raise _Reject(R_TOO_LONG.format("reference"))
            sector = get(fields, "sector") or "general"
            if sector not in SECTORS:
                raise _Reject(R_SECTOR)
            raw = get(fields, "starts_on")
            if not raw:
                raise _Reject(R_MISSING.format("starts_on"))
            starts_on = parse_day(raw)
            if starts_on is None:
                raise _Reject(R_DATE.format("starts_on"))
            ends_on = None
            if raw := get(fields, "ends_on"):
                ends_on = parse_day(raw)
                if ends_on is None:
                    raise _Reject(R_DATE.format("ends_on"))
                if ends_on < starts_on:
                    raise _Reject(R_ORDER_CONTRACT)
            return reference, {"callee": e164, "reference": reference, "sector": sector,
                               "starts_on": starts_on, "ends_on": ends_on}
        source = get(fields, "source")
        if len(source) > MAX_LEN["source"]:
            raise _Reject(R_TOO_LONG.format("source"))
        values: dict[str, Any] = {"callee": e164}
        if "source" in cols:
            values["source"] = source or "import"
        return e164, values

    # -- writing --------------------------------------------------------------------------------

    def flush(self) -> None:
        if not self.pending:
            return
        rows = self._rows()
        self.pending = []
        if not rows:
            return
        integrity = self.engine.dialect.loaded_dbapi.IntegrityError
        for attempt in range(3):
            try:
                counts = self._write(rows)
            except (IntegrityError, integrity):  # a concurrent single write took a key
                if attempt == 2:
                    raise
                continue
            break
        self.report.created += counts[0]
        self.report.updated += counts[1]
        self.report.unchanged += counts[2]
        if self.on_batch is not None:
            self.on_batch(self.report)

    def _write(self, rows: dict[Any, tuple[int, dict[str, Any]]]) -> tuple[int, int, int]:
        """One transaction: one SELECT of the batch's natural keys, then one INSERT (SQLite:
        executemany; PostgreSQL: COPY) and one executemany UPDATE — through the driver, with
        values converted by the columns' own SQLAlchemy types (bind processors), so that rows
        read the same as rows written through the ORM."""
        kind, t = self.kind, self.table
        key_cols, compare, extra = _SHAPE[kind]
        if kind == "oppositions" and "source" in self.m.columns:
            compare = ("source",)
        with write_transaction(self.engine) as conn:
            dialect = conn.dialect
            pg = dialect.name == "postgresql"
            ph = "%s" if pg else "?"
            procs = {c.name: c.type.dialect_impl(dialect).bind_processor(dialect) for c in t.c}
            procs["evidence"] = None  # JSON text already (memoised per evidence value)

            def drv(name: str, v: Any) -> Any:
                proc = procs[name]
                return v if proc is None or v is None else proc(v)

            dt = _fast_datetime(procs["given_at"]) if kind == "consents" else None
            by_key: dict[Any, tuple[dict[str, Any], tuple[Any, ...]]] = {}
            if dt is not None:  # consents, the bulk of the volume: no generic loops
                for _, v in rows.values():
                    exp = v["expires_at"]
                    by_key[(v["callee"], v["scope"], dt(v["given_at"]))] = (v, (
                        v["channel"], v["evidence_sha256"], None if exp is None else dt(exp)))
            else:
                key_procs = [(c, procs[c]) for c in key_cols]
                cmp_procs = [(c, procs[c]) for c in compare]
                for _, values in rows.values():
                    dk = tuple(values[c] if p is None else p(values[c]) for c, p in key_procs)
                    by_key[dk] = (values, tuple(
                        values[c] if p is None or values[c] is None else p(values[c])
                        for c, p in cmp_procs))
            filter_col = key_cols[0]
            wanted = sorted({k[0] for k in by_key})
            cols_sql = ", ".join(("id", *key_cols, *compare))
            raw = conn.connection.driver_connection
            cur = raw.cursor()
            try:
                if pg:
                    cur.execute(f"SELECT {cols_sql} FROM {t.name} WHERE tenant_id = %s AND "
                                f"{filter_col} = ANY(%s)", (self.tenant_id, wanted))
                else:
                    cur.execute(f"SELECT {cols_sql} FROM {t.name} WHERE tenant_id = ? AND "
                                f"{filter_col} IN ({', '.join('?' * len(wanted))})",
                                (self.tenant_id, *wanted))
                existing: dict[Any, list[tuple[Any, ...]]] = {}
                nk = len(key_cols)
                for r in cur.fetchall():
                    existing.setdefault(tuple(r[1 : 1 + nk]), []).append(r)
                prefix = _PREFIX[kind]
                created_at = drv("created_at", now())
                insert_cols = ("id", "tenant_id", "created_at", *_VALUES[kind], *extra)
                inserts: list[tuple[Any, ...]] = []
                updates: list[tuple[Any, ...]] = []
                update_cols = compare + (("evidence",) if kind == "consents" else ())
                unchanged = updated = 0
                ids = _ids(prefix, len(by_key))
                for dk, (values, new) in by_key.items():
                    olds = existing.get(dk)
                    if not olds:
                        if dt is not None:  # _VALUES["consents"] order, from the converted
                            inserts.append((next(ids), self.tenant_id, created_at, *dk,
                                            values["channel"], values["evidence"], *new[1:],
                                            None, None))
                            continue
                        v = values | _DEFAULTS[kind]
                        inserts.append((next(ids), self.tenant_id, created_at,
                                        *(drv(c, v[c]) for c in _VALUES[kind]),
                                        *(v[c] for c in extra)))
                        continue
                    changed = [o for o in olds if tuple(o[1 + nk :]) != new]
                    if not changed:
                        unchanged += 1
                        continue
                    updated += 1
                    upd = tuple(drv(c, values[c]) for c in update_cols)
                    updates.extend((*upd, o[0]) for o in changed)
                if inserts:
                    inserts.sort(key=_by_callee)  # the (tenant, callee) index, in order
                    if pg:
                        with cur.copy(f"COPY {t.name} ({', '.join(insert_cols)}) FROM STDIN"
                                      ) as copy:
                            for row in inserts:
                                copy.write_row(row)
                    else:
                        cur.executemany(
                            f"INSERT INTO {t.name} ({', '.join(insert_cols)}) VALUES "
                            f"({', '.join('?' * len(insert_cols))})", inserts)
                if updates:
                    sets = ", ".join(
                        f"{c} = CAST({ph} AS json)" if c == "evidence" and pg else f"{c} = {ph}"
                        for c in update_cols)
                    cur.executemany(f"UPDATE {t.name} SET {sets} WHERE id = {ph}", updates)
            finally:
                cur.close()
        return len(inserts), updated, unchanged


_PROBE = datetime(2026, 9, 1, 8, 0, 0, 123, tzinfo=UTC)


def _fast_datetime(proc: Callable[[Any], Any] | None) -> Callable[[datetime], Any] | None:
    """A quicker equivalent of ``proc`` (the UTC datetime columns' bind processor) for UTC
    datetimes, if one gives the same value; else None (then ``proc`` itself is used)."""
    if proc is None:
        return None
    expected = proc(_PROBE)
    if expected == _PROBE:  # PostgreSQL: the aware UTC datetime itself
        return lambda d: d
    if expected == _PROBE.replace(tzinfo=None).isoformat(" ", "microseconds"):  # SQLite
        return lambda d: d.replace(tzinfo=None).isoformat(" ", "microseconds")
    return proc


def _by_callee(row: tuple[Any, ...]) -> Any:
    return row[3]  # id, tenant_id, created_at, callee, …  (``_VALUES``: callee first)


_id_lock = threading.Lock()
_id_last = 0


def _ids(prefix: str, n: int) -> Iterator[str]:
    """``n`` ids in ``app.ids.new_id``'s format (prefix, 20 hex digits) from one system call: 8
    digits of a clock that only grows (tenths of a millisecond), 12 random. Inserted in order,
    they append to the primary key's B-tree instead of dirtying a random page of it per row
    (SQLite writes every dirtied page to its WAL at each commit)."""
    global _id_last
    with _id_lock:
        _id_last = max(_id_last + 1, int(time.time() * 10_000) & 0xFFFFFFFF)
        head = f"{_id_last:08x}"
    pool = os.urandom(6 * n).hex()
    return (f"{prefix}_{head}{pool[i : i + 12]}" for i in range(0, 12 * n, 12))


_PREFIX = {"consents": "con", "contracts": "ctr", "oppositions": "opp"}
#: per kind: natural key columns, compared columns, extra insert-only columns
_SHAPE: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "consents": (("callee", "scope", "given_at"), ("channel", "evidence_sha256", "expires_at"),
                 ("revoked_at", "revoke_reason")),
    "contracts": (("reference",), ("callee", "sector", "starts_on", "ends_on"), ()),
    "oppositions": (("callee",), (), ("attempt_id",)),
}
_VALUES = {
    "consents": ("callee", "scope", "given_at", "channel", "evidence", "evidence_sha256",
                 "expires_at"),
    "contracts": ("callee", "reference", "sector", "starts_on", "ends_on"),
    "oppositions": ("callee", "source"),
}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "consents": {"revoked_at": None, "revoke_reason": None},
    "contracts": {},
    "oppositions": {"source": "import", "attempt_id": None},
}


@functools.lru_cache(maxsize=256)
def _scope(raw: str) -> str | None:
    return SCOPES.get(fold(raw))


class _Reject(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


#: Rows created above which PostgreSQL's statistics of the table are refreshed at once.
ANALYZE_AFTER = 10_000


def _refresh_statistics(engine: Engine, kind: str, created: int) -> None:
    """After a large import, ``ANALYZE`` the table on PostgreSQL: until autovacuum gets to it the
    planner keeps the old row count, and the next scrub or check of the tenant can pick a plan
    that is 10-100x slower (measured: a scrub right after importing 1M consents ran at 6k rows/s
    instead of 50k). SQLite's planner does not need it, and its ANALYZE would hold the write
    lock."""
    if created < ANALYZE_AFTER or engine.dialect.name != "postgresql":
        return
    try:
        with engine.begin() as conn:
            conn.execute(text(f"ANALYZE {kind}"))
    except Exception:  # statistics only: the import itself succeeded
        log.exception("ANALYZE %s after the import failed", kind)


def import_csv(
    engine: Engine, raw: BinaryIO, *, kind: Kind, tenant_id: str,
    progress: Progress | None = None, batch: int | None = None,
    on_batch: Callable[[Report], None] | None = None,
) -> dict[str, Any]:
    """Import a CSV file into one tenant's registry ``kind`` (see the module docstring).

    Raises ``ImportBusy`` (another import for this tenant), ``BulkImportError`` (no usable
    header) or ``bloctel.parse.FormatError`` (not readable as text)."""
    if kind not in KINDS:
        raise BulkImportError(f"unknown registry {kind!r}; one of {', '.join(KINDS)}")
    started = time.perf_counter()
    report = Report(kind=kind)
    reader = Reader(raw, on_bytes=progress.bytes_read if progress else None)
    with tenant_lock(engine, tenant_id):
        if progress:
            progress.phase("reading")
        lines = _text_lines(reader)
        mapping: Mapping | None = None
        header_line = 0
        for line_no, first in enumerate(lines, 1):
            if first.strip():
                mapping = map_header(kind, first.lstrip(codecs.BOM_UTF8.decode()))
                header_line = line_no
                break
        if mapping is None:
            raise BulkImportError("the file is empty: a header line is needed")
        batch = batch or (SQLITE_BATCH if engine.dialect.name == "sqlite" else BATCH)
        imp = _Importer(engine, kind, tenant_id, mapping, report, batch, on_batch)
        rows = csv.reader(lines, delimiter=mapping.delimiter)
        done = 0  # physical lines consumed by csv so far (after the header)
        last_needed = max(mapping.columns.values())
        for fields in rows:
            line = header_line + done + 1
            done = rows.line_num
            report.lines += 1
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                report.blank += 1
                continue
            if len(fields) <= last_needed and len(fields) < mapping.width:
                report.reject(line, mapping.delimiter.join(fields), R_FIELDS)
                continue
            imp.add(line, fields)
            if progress and report.lines % 10_000 == 0:
                progress.lines_read(report.lines)
        imp.flush()
        if progress:
            progress.lines_read(report.lines)
        _refresh_statistics(engine, kind, report.created)
    return {
        "import_id": report.import_id, "kind": kind, "lines": report.lines,
        "created": report.created, "updated": report.updated, "unchanged": report.unchanged,
        "rejected": report.rejected, "blank": report.blank,
        "rejected_samples": report.rejected_samples, "reasons": report.reasons,
        "sha256": reader.sha.hexdigest(), "bytes": reader.bytes_read,
        "columns": mapping.names, "ignored_columns": mapping.ignored,
        "delimiter": mapping.delimiter, "seconds": round(time.perf_counter() - started, 3),
    }


__all__ = ["BulkImportError", "FormatError", "ImportBusy", "import_csv", "tenant_lock"]
