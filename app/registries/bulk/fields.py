"""What a file's rows may hold: the fields and their column names, the header's mapping, and the
reading of each cell (numbers, dates, yes/no, evidence), a bad one rejecting its row
(``Reject``); the ``Report`` of the rows read."""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from app import clock
from app.ids import new_id
from app.registries.bulk.limits import BulkImportError
from app.registries.service import evidence_sha256
from bloctel.parse import BlockParser, Layout
from rules_fr.numbering import classify

Kind = Literal["consents", "contracts", "oppositions"]
KINDS: tuple[Kind, ...] = ("consents", "contracts", "oppositions")
SAMPLES = 100
MAX_VALUE_CHARS = 100


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
PRINCIPAL_SPLIT = re.compile(r"[|,;\s]+")


@dataclass(frozen=True)
class ConsentContext:
    """What a consent row is judged against, fixed when the import starts (and sent to the
    worker processes with the ``Mapping``): the principals the tenant holds a mandate from
    (a row naming another is rejected, as the API's 403), and the latest acceptable
    ``given_at`` (the import's start + ``CONSENT_FUTURE_SKEW``: a row dated later is rejected)."""

    tenant_id: str
    held: frozenset[str]
    not_after: datetime


def fold(name: str) -> str:
    name = unicodedata.normalize("NFKD", name)
    name = "".join(c for c in name if not unicodedata.combining(c)).lower().strip().strip('"')
    return re.sub(r"[\s\-.]+", "_", name.strip())


_ALIASES = {alias: f for f, names in HEADERS.items() for alias in names}


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
        raise Reject((R_RANGE_OPEN if open_ended else R_RANGE).format(field)) from None


def read_instant(value: str, field: str | None = None, *,
                 open_ended: bool = False) -> datetime | None:
    """A cell's instant, in UTC (``app.clock.parse_instant``: ISO 8601, no offset meaning Paris
    time, or ``DD/MM/YYYY[ HH:MM[:SS]]``); None when unreadable. Out of range (``app.clock``):
    the row is rejected naming ``field``."""
    try:
        d = clock.parse_instant(value, local=clock.PARIS, day_first=True)
    except clock.InstantError:
        return None
    return _in_range(d, field, open_ended).astimezone(UTC)


def read_day(value: str, field: str | None = None, *, open_ended: bool = False) -> date | None:
    """``YYYY-MM-DD`` or ``DD/MM/YYYY``; None when unreadable. Out of range (``app.clock``):
    the row is rejected naming ``field``."""
    try:
        d = date.fromisoformat(value)
    except ValueError:
        m = clock.DAY_FIRST.match(value)
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


class Evidence:
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


class Numbers:
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


@functools.lru_cache(maxsize=256)
def read_scope(raw: str) -> str | None:
    return SCOPES.get(fold(raw))


def read_yes_no(raw: str, name: str) -> bool | None:
    """A yes/no cell; None when empty."""
    if not raw:
        return None
    value = BOOLEANS.get(fold(raw))
    if value is None:
        raise Reject(R_BOOL.format(name))
    return value


class Reject(Exception):
    """The row is rejected; ``reason`` is its ``error`` (one of the ``R_*``)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
