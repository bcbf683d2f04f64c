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
  - evidence (a JSON object, or text stored as ``{"text": …}``; ``{}`` when empty), - expires_at,
  - principals (ids separated by ``|`` or spaces, each held by a mandate, else the row is
  rejected; default: the tenant's own for an own consent, none for a partner's), - source
  (``own``), - notice_given (yes/no; empty: not recorded), - conditional_on_sale (yes/no,
  ``no``). A ``given_at`` more than ``CONSENT_FUTURE_SKEW`` (5 minutes) after the import
  started is rejected (``ConsentContext``). Each named principal is a ``consent_principals``
  row, written in the consent's batch.
* contracts: callee, reference, starts_on (``YYYY-MM-DD`` or ``DD/MM/YYYY``), - sector
  (``general``), - ends_on (inclusive).
* oppositions: callee, - source (``import``).

**Natural keys** (what makes a re-import idempotent): consents (tenant, callee, scope,
given_at); contracts (tenant, reference); oppositions (tenant, callee). A row whose key exists
updates the record when a value differs (``updated``) or leaves it (``unchanged``); otherwise it
is ``created``. An import never revokes nor un-revokes a consent, and an opposition's source
changes only when the file has a ``source`` column — as do a consent's ``CONSENT_NAMES``.
Rows count in file order, so a key repeated in the file is created by its first row and
updated (or unchanged) by the next: the last wins.
Every other row is ``rejected`` with its line number (physical line of the file) and the reason:
the first ``SAMPLES`` are listed, all are counted by reason. Blank lines are counted
(``blank``): ``lines`` = created + updated + unchanged + rejected + blank.

**How (the throughput).** Two phases, memory bounded by constants, not by the file:

1. *Reading*: every record is parsed, validated and *staged* — a tuple of the values in the
   driver's form, first the first natural-key column (the number; a contract's reference), then
   the line. Staged rows are sorted in runs of ``RUN_ROWS`` spilled to anonymous temporary
   files (``_Runs``). Past the first ``PARALLEL_AFTER`` records, worker processes do this work
   on chunks of ``WORKER_CHUNK`` records (``_Workers``, ``GATEWAY_IMPORT_WORKERS``; default one
   per CPU, at most 4); this process only splits the text into whole records.
2. *Writing*: the runs are merged in number order and written in batches cut between numbers,
   each in its own short transaction (one natural-key SELECT; one executemany INSERT on SQLite,
   one COPY on PostgreSQL; one executemany UPDATE). Number order touches each page of the
   (tenant, number) index once over the whole import instead of once per row: 3.5x less
   SQLite work on 1 M consents. On PostgreSQL two connections write at once
   (``PG_WRITERS``): batches never share a natural key, so they are independent.

**Failure semantics: resumable.** Nothing is written before the whole file has been read (a
file refused for its header, or cut short by a client, writes nothing); then a killed or
failed import leaves every row either entirely in or not at all (whole batches), and the
registry consistent. Importing the same file again converges to the same state (the natural
keys), so "run it again" completes an interrupted import. One import per tenant at a time
(``tenant_lock``); other tenants' imports and the check path proceed (on SQLite they share the
write lock between batches only, each a few milliseconds).
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import csv
import functools
import hashlib
import heapq
import io
import json
import logging
import multiprocessing
import operator
import os
import pickle
import re
import shutil
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO, Any, BinaryIO, Literal, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import IntegrityError

from app import clock
from app.clock import now
from app.db import LockBusy, try_lock, write_transaction
from app.ids import new_id
from app.registries.models import Consent, Contract, Opposition
from app.registries.service import evidence_sha256
from bloctel.parse import BlockParser, FormatError, Layout, Reader
from rules_fr.data import CONSENT_FUTURE_SKEW, SECTORS
from rules_fr.numbering import classify

log = logging.getLogger("gateway.registries.bulk")

Kind = Literal["consents", "contracts", "oppositions"]
KINDS: tuple[Kind, ...] = ("consents", "contracts", "oppositions")
SAMPLES = 100
MAX_VALUE_CHARS = 100
#: Rows per transaction. SQLite: every write transaction holds the database's one write lock,
#: which the check path needs too, so batches stay small (~15–20 ms each on a 2-core machine).
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
    "principals": ("principals", "principal", "mandants", "mandant", "donneurs_d_ordre"),
    "notice_given": ("notice_given", "information_donnee", "notice", "mention_information"),
    "conditional_on_sale": ("conditional_on_sale", "condition_de_vente", "vente_liee"),
}
FIELDS: dict[Kind, tuple[str, ...]] = {
    "consents": ("callee", "given_at", "scope", "channel", "evidence", "expires_at",
                 "principals", "source", "notice_given", "conditional_on_sale"),
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
R_RANGE = f"{{}} is outside {clock.RANGE}"
R_RANGE_OPEN = R_RANGE + "; open-ended: leave the cell empty"
R_SCOPE = "scope is not canvassing or outside_hours"
R_SECTOR = "unknown sector"
R_TOO_LONG = "{} is too long"
R_ORDER_CONSENT = "expires_at must be after given_at"
R_ORDER_CONTRACT = "ends_on must not be before starts_on"
R_EVIDENCE = "evidence is JSON but not an object"
R_NUMBER_CHARS = "unexpected characters in the number"
R_FUTURE = ("given_at is in the future (more than 5 minutes after the import started): a proof "
            "dated in the future is no proof")
R_MANDATE = "principals: no mandate from principal {}"
R_PRINCIPAL_ID = "principals: an id is longer than 40 characters"
R_BOOL = "{} is not yes or no (oui/non, true/false, 1/0)"
#: yes/no cells (``notice_given``, ``conditional_on_sale``), folded
BOOLEANS = {"true": True, "1": True, "yes": True, "y": True, "oui": True, "o": True,
            "vrai": True, "false": False, "0": False, "no": False, "n": False, "non": False,
            "faux": False}
OWN = "own"
_PRINCIPAL_SPLIT = re.compile(r"[|,;\s]+")


@dataclass(frozen=True)
class ConsentContext:
    """What a consent row is judged against, fixed when the import starts (and sent to the
    worker processes with the ``Mapping``): the principals the tenant holds a mandate from
    (a row naming another is rejected, as the API's 403), and the latest acceptable
    ``given_at`` (the import's start + ``CONSENT_FUTURE_SKEW``: a row dated later is rejected)."""

    tenant_id: str
    held: frozenset[str]
    not_after: datetime


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


class _Guard:
    """``Limits`` applied while a file is read (the main process only)."""

    def __init__(self, limits: Limits) -> None:
        self.max_rejected = limits.max_rejected
        self.max_rows = limits.max_rows or (1 << 62)
        self.next_check = EARLY_SAMPLE if limits.max_rejected is not None else 1 << 62

    def too_many(self) -> None:
        raise TooManyRows(self.max_rows)

    def judge(self, considered: int, rejected: int) -> None:
        """Stop (``_Stop``) if ``rejected`` of ``considered`` data rows is too large a share."""
        limit = self.max_rejected
        if limit is None or considered < EARLY_SAMPLE or rejected <= considered * limit:
            return
        raise _Stop(
            f"{rejected:,} of the first {considered:,} rows were rejected "
            f"({rejected / considered:.1%}), more than the {limit:.1%} allowed "
            f"(GATEWAY_IMPORT_MAX_REJECTED): is it the right file? The import stopped and "
            f"nothing was written (see rejected_samples; force=true imports it anyway)")


class _Stop(Exception):
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
    consent: ConsentContext | None = None  # consents: set by import_csv before reading


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


def _in_range(value: Any, field: str | None, open_ended: bool) -> Any:
    """``value`` when within ``app.clock``'s range; else the row is rejected naming ``field``
    (``ValueError`` without a field: the caller's own reading of a bad value)."""
    try:
        if isinstance(value, datetime):
            return clock.check_instant(value)
        return clock.check_day(value)
    except clock.OutOfRange:
        if field is None:
            raise
        raise _Reject((R_RANGE_OPEN if open_ended else R_RANGE).format(field)) from None


def parse_instant(value: str, field: str | None = None, *,
                  open_ended: bool = False) -> datetime | None:
    """An ISO 8601 instant (no offset: Paris time) or ``DD/MM/YYYY[ HH:MM[:SS]]`` in UTC; None
    when unreadable. Out of range (``app.clock``): the row is rejected naming ``field``."""
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
    return _in_range(d, field, open_ended).astimezone(UTC)


def parse_day(value: str, field: str | None = None, *, open_ended: bool = False) -> date | None:
    """``YYYY-MM-DD`` or ``DD/MM/YYYY``; None when unreadable. Out of range (``app.clock``):
    the row is rejected naming ``field``."""
    try:
        d = date.fromisoformat(value)
    except ValueError:
        m = _FR_DATE.match(value)
        if not m or m.group(4):
            return None
        try:
            d = date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        except ValueError:
            return None
    return _in_range(d, field, open_ended)


_encode_str = json.encoder.encode_basestring  # type: ignore[attr-defined]
_encode_ascii = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
_EMPTY_SHA = evidence_sha256({})


def _text_evidence(text_: str) -> tuple[str, str]:
    """``{"text": text_}``: what ``json.dumps`` and ``evidence_sha256`` give, without their
    overhead (one evidence per row of a large file)."""
    canonical = '{"text":' + _encode_str(text_) + "}"
    return ('{"text": ' + _encode_ascii(text_) + "}",
            hashlib.sha256(canonical.encode("utf-8")).hexdigest())


_JSON_WORDS = frozenset(("null", "true", "false"))


class _Evidence:
    """Evidence text → (JSON text to store, SHA-256 of the canonical JSON), or None when it is
    JSON but not an object. Plain text (the common case) is stored as ``{"text": …}``; JSON
    values are memoised: files repeat a few of them."""

    def __init__(self) -> None:
        self._memo: dict[str, tuple[str, str] | None] = {}

    def __call__(self, raw: str) -> tuple[str, str] | None:
        if not raw:
            return "{}", _EMPTY_SHA
        if raw[0] not in '{["' and not raw[0].isdigit() and raw not in _JSON_WORDS:
            return _text_evidence(raw)
        got = self._memo.get(raw, False)
        if got is not False:
            return got  # type: ignore[return-value]
        value: Any
        try:
            value = json.loads(raw)
        except ValueError:
            value = {"text": raw}
        else:
            if not isinstance(value, dict):
                value = {"text": raw} if not raw.startswith(("{", "[")) else None
        out: tuple[str, str] | None
        if value is None:
            out = None
        elif len(value) == 1 and isinstance(text_ := value.get("text"), str):
            out = _text_evidence(text_)
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


def _tuple_getter(positions: list[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """``row -> tuple(row[p] for p in positions)``, at C speed."""
    if not positions:
        return lambda row: ()
    if len(positions) == 1:
        (p,) = positions
        return lambda row: (row[p],)
    return operator.itemgetter(*positions)  # type: ignore[return-value]


#: Per kind, a staged row: (first natural-key column, line, the other values) — values in the
#: driver's form (SQLite: text dates; PostgreSQL: datetime), ready to compare with stored rows and
#: to insert. The first item is what the rows are sorted on before they are written.
_STAGED: dict[str, tuple[str, ...]] = {
    "consents": ("callee", "line", "scope", "given_at", "channel", "evidence", "evidence_sha256",
                 "expires_at", "source", "notice_given", "conditional_on_sale", "principals"),
    "contracts": ("reference", "line", "callee", "sector", "starts_on", "ends_on"),
    "oppositions": ("callee", "line", "source"),
}
_PREFIX = {"consents": "con", "contracts": "ctr", "oppositions": "opp"}
#: per kind: natural key columns, compared columns, extra insert-only columns (NULL, but
#: ``principal_id``: the tenant's own principal — an import is the tenant's own records)
_SHAPE: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "consents": (("callee", "scope", "given_at"), ("channel", "evidence_sha256", "expires_at"),
                 ("revoked_at", "revoke_reason")),  # + CONSENT_NAMES present in the file
    "contracts": (("reference",), ("callee", "sector", "starts_on", "ends_on"),
                  ("principal_id",)),
    "oppositions": (("callee",), (), ("attempt_id", "principal_id")),
}
#: consents: what the consent names (rules-fr.md §5), compared and updated only when the file
#: has the column (as an opposition's source): re-importing an older file changes none of it.
#: ``principals`` is no column of ``consents`` but rows of ``consent_principals`` (compared as
#: "|"-joined ids, rewritten when they differ); a ``source`` column decides its default.
CONSENT_NAMES = ("source", "notice_given", "conditional_on_sale", "principals")
_VALUES = {
    "consents": ("callee", "scope", "given_at", "channel", "evidence", "evidence_sha256",
                 "expires_at", "source", "notice_given", "conditional_on_sale"),
    "contracts": ("callee", "reference", "sector", "starts_on", "ends_on"),
    "oppositions": ("callee", "source"),
}

#: Staged rows sorted in memory before they are spilled to a temporary file (``_Runs``): this,
#: not the file, bounds the import's memory (~40 MB of rows).
RUN_ROWS = 100_000
#: Rows per pickled chunk of a spilled run: the merge holds one chunk per run in memory.
SPILL_CHUNK = 1_000
#: Rows per call of the vectorised number parser while reading.
PARSE_BATCH = 5_000


class _Runs:
    """External merge sort of staged rows (``_STAGED``): as tuples, they sort by their first
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
        """A run spilled elsewhere (a worker process), in ``_spill``'s format."""
        self.files.append(f)
        self.count += count

    def _spill(self) -> None:
        rows, self.rows = self.rows, []
        rows.sort()
        f = tempfile.TemporaryFile(prefix="gateway-import-")  # noqa: SIM115 - closed by close()
        self.files.append(f)  # listed first: closed by close() even if the disk is full
        for i in range(0, len(rows), SPILL_CHUNK):
            pickle.dump(rows[i : i + SPILL_CHUNK], f, pickle.HIGHEST_PROTOCOL)
        f.seek(0)

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


def _driver_procs(dialect: Dialect, table: Table) -> dict[str, Callable[[Any], Any] | None]:
    """Each column's bind processor for ``dialect``: values converted by the columns' own
    SQLAlchemy types, so that imported rows read the same as rows written by the ORM."""
    return {c.name: c.type.dialect_impl(dialect).bind_processor(dialect) for c in table.c}


class _Stager:
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
        self.numbers = _Numbers()
        self.evidence = _Evidence()
        self.pending: list[tuple[int, list[str]]] = []
        table: Table = {"consents": Consent, "contracts": Contract,
                        "oppositions": Opposition}[kind].__table__  # type: ignore[assignment]
        procs = _driver_procs(dialect, table)
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
            except _Reject as e:
                r.reject(line, self.m.delimiter.join(fields), e.reason)

    def _consent(self, line: int, fields: list[str], e164: str) -> tuple[Any, ...]:
        n = len(fields)
        gi, si, ci, xi, ei = self._consent_ix
        raw = fields[gi].strip() if gi < n else ""
        if not raw:
            raise _Reject(R_MISSING.format("given_at"))
        given_at = parse_instant(raw, "given_at")
        if given_at is None:
            raise _Reject(R_DATETIME.format("given_at"))
        if given_at > self._ctx.not_after:
            raise _Reject(R_FUTURE)
        scope_raw = fields[si].strip() if si < n else ""
        scope = _scope(scope_raw) if scope_raw else "canvassing"
        if scope is None:
            raise _Reject(R_SCOPE)
        channel = (fields[ci].strip() if ci < n else "") or "import"
        if len(channel) > MAX_LEN["channel"]:
            raise _Reject(R_TOO_LONG.format("channel"))
        expires_at = None
        if raw := (fields[xi].strip() if xi < n else ""):
            expires = parse_instant(raw, "expires_at", open_ended=True)
            if expires is None:
                raise _Reject(R_DATETIME.format("expires_at"))
            if expires <= given_at:
                raise _Reject(R_ORDER_CONSENT)
            expires_at = self._dt(expires)  # type: ignore[misc]
        ev = self.evidence(fields[ei].strip() if ei < n else "")
        if ev is None:
            raise _Reject(R_EVIDENCE)
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
            raise _Reject(R_TOO_LONG.format("source"))
        notice = _yes_no(fields[ni].strip() if ni < n else "", "notice_given")
        conditional = _yes_no(fields[ci].strip() if ci < n else "", "conditional_on_sale")
        raw = fields[pi].strip() if pi < n else ""
        if not raw:
            principals = self._ctx.tenant_id if source == OWN else ""
        else:
            named = sorted({p for p in _PRINCIPAL_SPLIT.split(raw) if p})
            for p in named:
                if p not in self._ctx.held:
                    raise _Reject(R_PRINCIPAL_ID if len(p) > 40 else R_MANDATE.format(p))
            principals = "|".join(named)
        return source, notice, bool(conditional), principals

    def _contract(self, line: int, fields: list[str], e164: str) -> tuple[Any, ...]:
        get = self._get
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
        starts_on = parse_day(raw, "starts_on")
        if starts_on is None:
            raise _Reject(R_DATE.format("starts_on"))
        ends_on = None
        if raw := get(fields, "ends_on"):
            ends_on = parse_day(raw, "ends_on", open_ended=True)
            if ends_on is None:
                raise _Reject(R_DATE.format("ends_on"))
            if ends_on < starts_on:
                raise _Reject(R_ORDER_CONTRACT)
        day = self._day or (lambda d: d)
        return (reference, line, e164, sector, day(starts_on),
                None if ends_on is None else day(ends_on))

    def _opposition(self, line: int, fields: list[str], e164: str) -> tuple[Any, ...]:
        source = self._get(fields, "source")
        if len(source) > MAX_LEN["source"]:
            raise _Reject(R_TOO_LONG.format("source"))
        return (e164, line, source or "import")


@dataclass
class _Batch:
    by_key: dict[tuple[Any, ...], tuple[Any, ...]]
    rows: int
    updated: int  # rows of a key repeated in the batch, with other values than the row before
    unchanged: int  # … with the same values
    last: bool


class _Writer:
    """Writing: staged rows, in sorted order, a batch per short transaction."""

    def __init__(self, engine: Engine, kind: Kind, tenant_id: str, has_source: bool,
                 report: Report, progress: Progress | None = None,
                 on_batch: Callable[[Report], None] | None = None,
                 columns: frozenset[str] = frozenset()) -> None:
        self.engine, self.kind, self.tenant_id, self.report = engine, kind, tenant_id, report
        self.progress, self.on_batch = progress, on_batch
        self.commit_lock = threading.Lock()
        self.table: Table = {"consents": Consent, "contracts": Contract,
                             "oppositions": Opposition}[kind].__table__  # type: ignore[assignment]
        pos = {name: i for i, name in enumerate(_STAGED[kind])}
        key_cols, compare, extra = _SHAPE[kind]
        if kind == "oppositions" and has_source:  # else an import never changes the source
            compare = ("source",)
        if kind == "consents":  # what the file states of what the consent names
            compare += tuple(c for c in CONSENT_NAMES if c in columns
                             or (c == "principals" and "source" in columns))
        #: consents: whether the principals are compared (then the last compared column)
        self.principals = "principals" in compare
        self.principals_at = _STAGED[kind].index("principals") if kind == "consents" else -1
        self.key_cols, self.compare, self.extra = key_cols, compare, extra
        stored = tuple(c for c in compare if c != "principals")  # consents' own columns
        self.update_cols = stored + (("evidence",) if kind == "consents" else ())
        self.key = _tuple_getter([pos[c] for c in key_cols])
        self.cmp = _tuple_getter([pos[c] for c in compare])
        self.values = _tuple_getter([pos[c] for c in _VALUES[kind]])
        self.upd = _tuple_getter([pos[c] for c in self.update_cols])
        self.created_at = _driver_procs(engine.dialect, self.table)["created_at"]
        select_cols = ("id", *key_cols, *stored)
        self.select_cols = select_cols
        #: columns of the natural-key SELECT staged as text on PostgreSQL (``_fast_datetime``)
        self.instants = frozenset(i for i, c in enumerate(select_cols)
                                  if kind == "consents" and c in ("given_at", "expires_at"))

    def prepare(self, rows: list[tuple[Any, ...]], last: bool) -> _Batch:
        """Rows (sorted: a repeated key's rows in file order) → one row per natural key, a key
        repeated in the batch counted as if its rows were written one after the other."""
        key, cmp = self.key, self.cmp
        by_key: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        updated = unchanged = 0
        for row in rows:
            k = key(row)
            seen = by_key.get(k)
            if seen is not None:
                if cmp(seen) == cmp(row):
                    unchanged += 1
                    continue
                updated += 1
            by_key[k] = row
        return _Batch(by_key, len(rows), updated, unchanged, last)

    def write(self, batch: _Batch) -> None:
        """One transaction (retried if a concurrent single write took a key); then, before
        another batch commits, the counts, the progress bar and ``on_batch``."""
        integrity = self.engine.dialect.loaded_dbapi.IntegrityError
        for attempt in range(3):
            try:
                self._write(batch)
            except (IntegrityError, integrity):
                if attempt == 2:
                    raise
                continue
            break

    def _committed(self, batch: _Batch, counts: tuple[int, int, int]) -> None:
        """Called with ``commit_lock`` held, right after the batch's commit."""
        self.report.created += counts[0]
        self.report.updated += counts[1] + batch.updated
        self.report.unchanged += counts[2] + batch.unchanged
        if self.progress:
            self.progress.advance(batch.rows)
        if self.on_batch is not None:
            self.on_batch(self.report)

    def _write(self, batch: _Batch) -> None:
        """One transaction: one SELECT of the batch's natural keys, then one INSERT (SQLite:
        executemany; PostgreSQL: COPY) and one executemany UPDATE, through the driver.

        PostgreSQL: every batch but the last commits without waiting for its WAL flush
        (``synchronous_commit = off``): a crash of the database server can lose the last
        fraction of a second of batches, whole (then importing the file again completes it);
        the last batch's commit waits, and flushes every earlier one with it, before the
        report is returned."""
        t, nk = self.table, len(self.key_cols)
        by_key, last = batch.by_key, batch.last
        acquired = False
        try:
            with write_transaction(self.engine) as conn:
                counts = self._statements(conn, by_key, last, t, nk)
                self.commit_lock.acquire()  # the commit, counting and on_batch: one at a time
                acquired = True
            self._committed(batch, counts)
        finally:
            if acquired:
                self.commit_lock.release()

    def _statements(self, conn: Any, by_key: dict[tuple[Any, ...], tuple[Any, ...]],
                    last: bool, t: Table, nk: int) -> tuple[int, int, int]:
        pg = conn.dialect.name == "postgresql"
        ph = "%s" if pg else "?"
        wanted = sorted({k[0] for k in by_key})
        filter_col = self.key_cols[0]
        # an opposition is kept per (tenant, principal, callee): the own principal's here
        own = " AND principal_id = tenant_id" if self.kind == "oppositions" else ""
        cols_sql = ", ".join(self.select_cols)
        cur = conn.connection.driver_connection.cursor()
        try:
            if pg and not last:
                cur.execute("SET LOCAL synchronous_commit = off")
            if pg and filter_col == "callee":  # E.164 or tombstones: no quoting needed,
                # and one text parameter is much quicker to send than a list of 5,000
                cur.execute(f"SELECT {cols_sql} FROM {t.name} WHERE tenant_id = %s AND "
                            f"callee = ANY(%s::text[]){own}",
                            (self.tenant_id, "{" + ",".join(wanted) + "}"))
            elif pg:
                cur.execute(f"SELECT {cols_sql} FROM {t.name} WHERE tenant_id = %s AND "
                            f"{filter_col} = ANY(%s){own}", (self.tenant_id, wanted))
            else:
                cur.execute(f"SELECT {cols_sql} FROM {t.name} WHERE tenant_id = ? AND "
                            f"{filter_col} IN ({', '.join('?' * len(wanted))}){own}",
                            (self.tenant_id, *wanted))
            existing: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
            instants = self.instants if pg else ()
            found = cur.fetchall()
            if self.principals and found:  # compared as staged: "|"-joined, sorted
                named = self._named(cur, ph, [r[0] for r in found])
                found = [(*r, named.get(r[0], "")) for r in found]
            for r in found:
                if instants:  # as staged: PostgreSQL's text form (see _fast_datetime)
                    r = tuple(_pg_instant(v.astimezone(UTC)) if i in instants and v
                              is not None else v for i, v in enumerate(r))
                existing.setdefault(tuple(r[1 : 1 + nk]), []).append(r)
            created_at: Any = now()
            if pg:
                created_at = _pg_instant(created_at)
            elif self.created_at is not None:
                created_at = self.created_at(created_at)
            head = (self.tenant_id, created_at)
            tail = tuple(self.tenant_id if c == "principal_id" else None for c in self.extra)
            inserts: list[tuple[Any, ...]] = []
            updates: list[tuple[Any, ...]] = []
            unchanged = updated = 0
            ids = _ids(_PREFIX[self.kind], len(by_key))
            values, cmp, upd = self.values, self.cmp, self.upd
            pi = self.principals_at
            named: list[tuple[str, str, str]] = []  # consent_principals rows to insert
            renamed: list[str] = []  # consents whose principals are rewritten
            for k, row in by_key.items():
                olds = existing.get(k)
                if not olds:
                    cid = next(ids)
                    inserts.append((cid, *head, *values(row), *tail))
                    if pi >= 0 and (names := row[pi]):
                        if "|" in names:
                            named.extend((cid, p, row[0]) for p in names.split("|"))
                        else:
                            named.append((cid, names, row[0]))
                    continue
                new = cmp(row)
                changed = [o for o in olds if tuple(o[1 + nk :]) != new]
                if not changed:
                    unchanged += 1
                    continue
                updated += 1
                u = upd(row)
                updates.extend((*u, o[0]) for o in changed)
                if self.principals:
                    for o in changed:
                        renamed.append(o[0])
                        if row[pi]:
                            named.extend((o[0], p, row[0]) for p in row[pi].split("|"))
            insert_cols = ", ".join(("id", "tenant_id", "created_at", *_VALUES[self.kind],
                                     *self.extra))
            if inserts and pg and self.kind == "consents":  # the volume: one text block
                esc, tenant = _copy_text, _copy_text(self.tenant_id)
                block = "".join([
                    f"{i[0]}\t{tenant}\t{i[2]}\t{i[3]}\t{i[4]}\t{i[5]}\t{esc(i[6])}\t"
                    f"{esc(i[7])}\t{i[8]}\t{i[9] or NULL}\t{esc(i[10])}\t{_PG_BOOL[i[11]]}\t"
                    f"{_PG_BOOL[i[12]]}\t\\N\t\\N\n" for i in inserts])
                with cur.copy(f"COPY {t.name} ({insert_cols}) FROM STDIN") as copy:
                    copy.write(block)
            elif inserts and pg:
                with cur.copy(f"COPY {t.name} ({insert_cols}) FROM STDIN") as copy:
                    for ins in inserts:
                        copy.write_row(ins)
            elif inserts:
                marks = ", ".join("?" * len(inserts[0]))
                cur.executemany(f"INSERT INTO {t.name} ({insert_cols}) VALUES ({marks})",
                                inserts)
            if updates:
                sets = ", ".join(
                    f"{c} = CAST({ph} AS json)" if c == "evidence" and pg else f"{c} = {ph}"
                    for c in self.update_cols)
                cur.executemany(f"UPDATE {t.name} SET {sets} WHERE id = {ph}", updates)
            for i in range(0, len(renamed), 1000):
                chunk = renamed[i : i + 1000]
                cur.execute(f"DELETE FROM consent_principals WHERE consent_id IN "
                            f"({', '.join([ph] * len(chunk))})", chunk)
            if named and pg:  # after the consents they reference
                with cur.copy("COPY consent_principals (consent_id, principal_id, callee) "
                              "FROM STDIN") as copy:
                    copy.write("".join([f"{c}\t{_copy_text(p)}\t{n}\n" for c, p, n in named]))
            elif named:
                cur.executemany("INSERT INTO consent_principals (consent_id, principal_id, "
                                "callee) VALUES (?, ?, ?)", named)
        finally:
            cur.close()
        return len(inserts), updated, unchanged

    @staticmethod
    def _named(cur: Any, ph: str, consent_ids: list[str]) -> dict[str, str]:
        """The principals stored consents name, "|"-joined and sorted, as staged."""
        out: dict[str, list[str]] = {}
        for i in range(0, len(consent_ids), 1000):
            chunk = consent_ids[i : i + 1000]
            cur.execute(f"SELECT consent_id, principal_id FROM consent_principals WHERE "
                        f"consent_id IN ({', '.join([ph] * len(chunk))})", chunk)
            for cid, pid in cur.fetchall():
                out.setdefault(cid, []).append(pid)
        return {cid: "|".join(sorted(ps)) for cid, ps in out.items()}


# --------------------------------------------------------------------------- reading in parallel

#: Records read in-process before worker processes take over (a small file never pays for
#: starting them). ``GATEWAY_IMPORT_WORKERS=0`` reads every record in-process.
PARALLEL_AFTER = 50_000
#: Records per chunk handed to a worker process: the worker parses, validates, sorts and spills
#: them as one run; at most two chunks per worker are in flight.
WORKER_CHUNK = 100_000


def _consume(rows: Any, first_line: int, mapping: Mapping, report: Report,
             stager: _Stager, progress: Progress | None = None, stop_at: int = 0,
             guard: _Guard | None = None) -> bool:
    """Count, check and stage the CSV records of ``rows`` (a ``csv.reader``; its first line is
    physical line ``first_line`` of the file) until ``report.lines`` reaches ``stop_at`` (then
    True) or the records run out (False). ``guard``: the import's limits, judged as it goes."""
    last_needed = max(mapping.columns.values())
    guard = guard or _Guard(Limits())  # none: never checks
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


def _stage_text(kind: Kind, mapping: Mapping, drivername: str, first_line: int, text: str,
                spill_dir: str) -> tuple[str | None, int, Report]:
    """In a worker process: the records of ``text`` (whole CSV records, the first on physical
    line ``first_line``) → (a file of their staged rows, sorted, in ``_Runs``' format, or None;
    how many; the report of their blank and rejected lines)."""
    report, out = Report(kind=kind), []
    dialect = make_url(f"{drivername}://").get_dialect()()
    stager = _Stager(dialect, kind, mapping, report, out.append)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter)
    _consume(rows, first_line, mapping, report, stager)
    stager.flush()
    if not out:
        return None, 0, report
    out.sort()
    fd, path = tempfile.mkstemp(prefix="run-", dir=spill_dir)
    with os.fdopen(fd, "wb") as f:
        for i in range(0, len(out), SPILL_CHUNK):
            pickle.dump(out[i : i + SPILL_CHUNK], f, pickle.HIGHEST_PROTOCOL)
    return path, len(out), report


class _Capture:
    """The text lines that a ``csv.reader`` reads, kept until taken: whole records' text."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self.kept: list[str] = []
        self.on = False

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            if self.on:
                self.kept.append(line)
            yield line

    def take(self) -> str:
        text, self.kept = "".join(self.kept), []
        return text


class _Workers:
    """Worker processes reading the rest of a large file: the reading process only splits the
    text into chunks of whole CSV records (its csv reader finds where records end and counts
    lines for the progress bar); each worker parses, validates, sorts and spills a chunk as one
    run, and returns its report, merged here (the first ``SAMPLES`` rejected lines by line
    number, as if read in one process). At most two chunks per worker are in flight, so
    memory stays bounded whatever the file size.

    Processes are spawned, not forked: an API import runs in a server process with threads
    (the BLOCTEL poller, the thread pool) that a fork would copy mid-flight. A run file is
    unlinked as soon as it is opened here; the directory is removed at the end."""

    def __init__(self, workers: int, kind: Kind, mapping: Mapping, drivername: str,
                 report: Report, runs: _Runs, guard: _Guard | None = None) -> None:
        self.args = (kind, mapping, drivername)
        self.report, self.runs, self.guard = report, runs, guard or _Guard(Limits())
        self.decided = report.lines  # rows judged: those read in-process, then each chunk's
        self.dir = tempfile.mkdtemp(prefix="gateway-import-")
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        self.inflight: collections.deque[Future[Any]] = collections.deque()
        self.limit = 2 * workers

    def submit(self, first_line: int, text: str) -> None:
        self.inflight.append(self.pool.submit(_stage_text, *self.args, first_line, text,
                                              self.dir))
        while len(self.inflight) > self.limit:
            self._absorb(self.inflight.popleft().result())

    def _absorb(self, result: tuple[str | None, int, Report]) -> None:
        path, count, part = result
        if path is not None:
            self.runs.add_file(open(path, "rb"), count)  # noqa: SIM115 - closed by runs.close()
            os.unlink(path)
        r = self.report
        r.blank += part.blank
        r.rejected += part.rejected
        for reason, n in part.reasons.items():
            r.reasons[reason] = r.reasons.get(reason, 0) + n
        if part.rejected_samples:
            r.rejected_samples = sorted(r.rejected_samples + part.rejected_samples,
                                        key=lambda x: x["line"])[:SAMPLES]
        self.decided += part.lines
        self.guard.judge(self.decided - r.blank, r.rejected)

    def finish(self) -> None:
        while self.inflight:
            self._absorb(self.inflight.popleft().result())

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def _read_rest(workers: _Workers, capture: _Capture, rows: Any, first_line: int,
               report: Report, progress: Progress | None) -> None:
    """The records after the first ``PARALLEL_AFTER``: chunks of ``WORKER_CHUNK`` records to
    the workers. ``first_line``: the physical line of the next record."""
    capture.on = True
    base = rows.line_num
    start, n = first_line, 0
    max_rows = workers.guard.max_rows
    for _ in rows:
        n += 1
        report.lines += 1
        if report.lines > max_rows:
            workers.guard.too_many()
        if n == WORKER_CHUNK:
            workers.submit(start, capture.take())
            start, n = first_line + rows.line_num - base, 0
        if progress and report.lines % 10_000 == 0:
            progress.lines_read(report.lines)
    if n:
        workers.submit(start, capture.take())
    workers.finish()


#: PostgreSQL connections writing batches at once (SQLite has one writer; there, a thread would
#: only fight the reader for the GIL at every row it steps).
PG_WRITERS = 2


def _write_sorted(writer: _Writer, rows: Iterator[tuple[Any, ...]], batch: int,
                  threads: int) -> None:
    """Write sorted staged rows in batches of about ``batch`` rows, each cut between two values
    of the first natural-key column, so that no two batches share a natural key: then batches
    are independent, and on PostgreSQL ``threads`` connections write them at once (the server's
    share of a COPY, most of its cost, runs in parallel; commits and counting stay one at a
    time, ``_Writer.commit_lock``). The last batch is written alone, after every other one has
    committed, with a synchronous commit that makes them all durable (``_Writer._write``)."""
    pool = ThreadPoolExecutor(threads, thread_name_prefix="bulk-import") if threads else None
    inflight: collections.deque[Future[None]] = collections.deque()

    def drain(limit: int) -> None:
        while len(inflight) > limit:
            inflight.popleft().result()

    try:
        pending: list[tuple[Any, ...]] = []
        for row in rows:
            if len(pending) >= batch and row[0] != pending[-1][0]:
                prepared = writer.prepare(pending, last=False)
                pending = []
                if pool is None:
                    writer.write(prepared)
                else:
                    inflight.append(pool.submit(writer.write, prepared))
                    drain(2 * threads)
            pending.append(row)
        drain(0)
        if pending:
            writer.write(writer.prepare(pending, last=True))
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def import_workers() -> int:
    """Worker processes for a large import: ``GATEWAY_IMPORT_WORKERS``, else one per CPU (at
    most 4); 0 or 1 CPU: none."""
    raw = os.environ.get("GATEWAY_IMPORT_WORKERS", "")
    if raw.strip():
        try:
            return max(0, int(raw))
        except ValueError:
            log.warning("GATEWAY_IMPORT_WORKERS=%r is not a number: reading in-process", raw)
            return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 0 if (cpus or 1) < 2 else min(4, cpus or 1)


_PROBE = datetime(2026, 9, 1, 8, 0, 0, 123, tzinfo=UTC)


def _sqlite_instant(d: datetime) -> str:
    return d.isoformat(" ", "microseconds")[:26]  # d is UTC: "+00:00" cut


def _pg_instant(d: datetime) -> str:
    return d.isoformat(" ", "microseconds")[:26] + "+00"  # d is UTC


def _fast_datetime(proc: Callable[[Any], Any] | None) -> Callable[[datetime], Any]:
    """A quicker equivalent of ``proc`` (the UTC datetime columns' bind processor) for UTC
    datetimes, if one gives the same value; else ``proc`` itself.

    PostgreSQL (whose driver takes the datetime itself): text in PostgreSQL's own ISO form,
    which COPY's text format needs and parameters accept (psycopg sends text of unknown type,
    cast by the server); stored rows' datetimes are put in the same form to be compared."""
    if proc is None or proc(_PROBE) == _PROBE:  # PostgreSQL: the aware UTC datetime itself
        return _pg_instant
    if proc(_PROBE) == _sqlite_instant(_PROBE):  # SQLite: naive UTC text
        return _sqlite_instant
    return proc


NULL = "\\N"  # COPY's NULL
_PG_BOOL = {True: "t", False: "f", None: NULL}
_COPY_SPECIAL = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    """``value`` escaped for COPY's text format."""
    return value.translate(_COPY_ESCAPES) if _COPY_SPECIAL.search(value) else value


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


@functools.lru_cache(maxsize=256)
def _scope(raw: str) -> str | None:
    return SCOPES.get(fold(raw))


def _yes_no(raw: str, name: str) -> bool | None:
    """A yes/no cell; None when empty."""
    if not raw:
        return None
    value = BOOLEANS.get(fold(raw))
    if value is None:
        raise _Reject(R_BOOL.format(name))
    return value


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
    on_batch: Callable[[Report], None] | None = None, limits: Limits | None = None,
) -> dict[str, Any]:
    """Import a CSV file into one tenant's registry ``kind`` (see the module docstring), within
    ``limits`` (default: none).

    Raises ``ImportBusy`` (another import for this tenant), ``ImportRefused`` (too many rows
    rejected), ``TooManyRows``, ``BulkImportError`` (no usable header) or
    ``bloctel.parse.FormatError`` (not readable as text; ``TooLarge``)."""
    if kind not in KINDS:
        raise BulkImportError(f"unknown registry {kind!r}; one of {', '.join(KINDS)}")
    started = time.perf_counter()
    report = Report(kind=kind)
    limits = limits or Limits()
    guard = _Guard(limits)
    reader = Reader(raw, on_bytes=progress.bytes_read if progress else None,
                    max_bytes=limits.max_bytes)
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
        if kind == "consents":
            mapping.consent = _consent_context(engine, tenant_id)
        batch = batch or (SQLITE_BATCH if engine.dialect.name == "sqlite" else BATCH)
        runs = _Runs(RUN_ROWS)
        parallel = contextlib.ExitStack()  # the worker processes, if the file is large
        try:
            stager = _Stager(engine.dialect, kind, mapping, report, runs.add)
            workers = import_workers()
            capture = _Capture(lines)
            rows = csv.reader(capture, delimiter=mapping.delimiter)
            try:
                more = _consume(rows, header_line + 1, mapping, report, stager, progress,
                                stop_at=PARALLEL_AFTER if workers else 0, guard=guard)
                stager.flush()
                if more:
                    pool = parallel.enter_context(contextlib.closing(_Workers(
                        workers, kind, mapping, engine.url.drivername, report, runs, guard)))
                    _read_rest(pool, capture, rows, header_line + 1 + rows.line_num, report,
                               progress)
                else:
                    guard.judge(report.lines - report.blank, report.rejected)
            except _Stop as stop:
                log.info("bulk import of %s stopped after %d rows: %s", kind, report.lines,
                         stop)
                raise ImportRefused(str(stop), _answer(report, reader, mapping, started)
                                    | {"stopped_after_lines": report.lines}) from None
            parallel.close()
            if progress:
                progress.lines_read(report.lines)
                progress.phase("saving", total=runs.count)
            writer = _Writer(engine, kind, tenant_id, "source" in mapping.columns, report,
                             progress, on_batch, frozenset(mapping.columns))
            _write_sorted(writer, runs.sorted(), batch,
                          PG_WRITERS if engine.dialect.name == "postgresql" else 0)
        finally:
            parallel.close()
            runs.close()
        _refresh_statistics(engine, kind, report.created)
    return _answer(report, reader, mapping, started)


def _consent_context(engine: Engine, tenant_id: str) -> ConsentContext:
    from sqlalchemy.orm import Session

    from app.principals.service import held_principals

    with Session(engine) as s:
        held = frozenset(held_principals(s, tenant_id))
    return ConsentContext(tenant_id, held, now() + CONSENT_FUTURE_SKEW)


def _answer(report: Report, reader: Reader, mapping: Mapping, started: float
            ) -> dict[str, Any]:
    """The import report (``ImportReport`` in ``app.registries.bulk_router``)."""
    return {
        "import_id": report.import_id, "kind": report.kind, "lines": report.lines,
        "created": report.created, "updated": report.updated, "unchanged": report.unchanged,
        "rejected": report.rejected, "blank": report.blank,
        "rejected_samples": report.rejected_samples, "reasons": report.reasons,
        "sha256": reader.sha.hexdigest(), "bytes": reader.bytes_read,
        "columns": mapping.names, "ignored_columns": mapping.ignored,
        "delimiter": mapping.delimiter, "seconds": round(time.perf_counter() - started, 3),
    }


__all__ = ["BulkImportError", "FormatError", "ImportBusy", "ImportRefused", "Limits",
           "TooManyRows", "import_csv", "tenant_lock"]
