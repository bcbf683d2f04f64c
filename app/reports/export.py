"""The attempt export: one row per attempt, streamed in constant memory, fast.

Reading the ledger
    One hand-written ``SELECT`` per dialect, run on the **driver's own cursor** (as
    ``app/registries/bulk/`` does): SQLAlchemy's per-row result processing (a Python call per
    datetime for ``UTCDateTime``, a ``Row`` per row) cost more than everything else together.
    SQLite's cursor steps through the statement lazily; on PostgreSQL a **named (server-side)
    cursor** fetches 2,000 rows per round trip, so the client holds one batch whatever the
    period. Rows come in ``checked_at, id`` order (index ``ix_attempts_tenant_checked``).
    Timestamps arrive as text in one shape on both backends (``YYYY-MM-DD HH:MM:SS.ffffff``,
    UTC: SQLite stores them so; PostgreSQL formats them with ``to_char``) and are turned into
    ISO 8601 by slicing; ``reasons`` arrives as its JSON text.

Columns
    The contract's twelve first, in the contract's order, then ``reasons`` (every reason as
    ``CODE: legal basis``, notices as ``CODE (notice): legal basis``, joined by `` | ``; read
    from the reasons record stored on the attempt, so the basis is the one in force at the
    check), ``external_id``, ``contract_ref``, ``ruleset_version``, ``next_allowed_at``,
    ``outcome_at``, ``sip_code``, and last ``principal`` (the principal the attempt was made
    for, app.principals: the tenant's id for its own). Instants are ISO 8601 in UTC
    (``+00:00``), as before.

Formats
    * ``csv`` (default): RFC 4180 — ``,``, CRLF line ends, quotes only where needed, UTF-8.
    * ``csv`` + ``dialect=excel-fr``: what a French Excel opens by double-click — UTF-8 with a
      BOM, ``;`` separator, CRLF, and a decimal comma in money (``penalty_eur`` ``"0,02"``,
      ``"1500,00"``: no thousands separator, so Excel reads a number, not text).
    * ``jsonl``: one JSON object per line, the same keys and values as the CSV, with ``null``
      for empty cells, integers for ``duration_s`` and ``sip_code``, and ``reason_codes`` as a
      JSON array of codes (``[]`` when none; the CSV keeps them space-separated in one cell);
      not neutralised (not a spreadsheet format).

Formula injection (CSV only)
    A cell whose first character is ``=``, ``+``, ``-``, ``@``, TAB or CR gets a leading
    ``'`` so that a spreadsheet shows it as text instead of evaluating it — except ``+`` or
    ``-`` followed only by digits and spaces (``+33612345678``, ``+33 1 62 00 00 01``,
    ``-5``): E.164 numbers are what users expect to read, and a spreadsheet turns such a cell
    into a number at worst, never into a formula. Only the columns a client can write are
    checked (campaign, callee, caller_id, agent_id, external_id, contract_ref); the others are
    produced by the gateway (ids, enums, dates, numbers, legal bases).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.cells import csv_cell
from app.db import get_engine
from app.money import format_eur

CONTRACT_COLUMNS = (
    "attempt_id", "checked_at", "campaign", "callee", "caller_id", "agent_id", "decision",
    "reason_codes", "penalty_eur", "regime", "outcome_status", "duration_s",
)
EXTRA_COLUMNS = (
    "reasons", "external_id", "contract_ref", "ruleset_version", "next_allowed_at",
    "outcome_at", "sip_code", "principal",
)
COLUMNS = CONTRACT_COLUMNS + EXTRA_COLUMNS

BATCH = 2000  # rows per fetch and per yielded chunk (~400 KB of CSV)
BOM = "\ufeff"
_CACHE_LIMIT = 20_000  # distinct values kept per memo before it is emptied


@dataclass(frozen=True, slots=True)
class Filters:
    """Validated filters (``app.reports.service.filters`` builds them from the query)."""

    start: datetime | None = None
    end: datetime | None = None
    campaign: str | None = None
    decision: str | None = None
    reason: str | None = None
    caller_id: str | None = None
    agent_id: str | None = None
    principal: str | None = None


def format_reasons(raw: str | list[dict[str, Any]] | None) -> str:
    """The stored reasons record → ``CODE: legal basis | CODE (notice): legal basis``."""
    reasons = json.loads(raw) if isinstance(raw, str) else (raw or [])
    return " | ".join(
        f"{r['code']}{' (notice)' if r.get('severity') == 'notice' else ''}: {r['legal_basis']}"
        for r in reasons
    )


def iso_utc(text: str | None) -> str | None:
    """``2026-11-23 09:30:00.123456`` (UTC) → ``2026-11-23T09:30:00+00:00``: the one format
    of instants in answers (``app.clock.iso``), from the database's text without parsing."""
    if text is None:
        return None
    return f"{text[:10]}T{text[11:19]}+00:00"


def _db_instant(value: datetime, dialect: str) -> Any:
    value = value.astimezone(UTC)
    # SQLite compares the stored text: bind the same shape (app.db.UTCDateTime stores naive UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else value


def query(tenant_id: str, f: Filters, dialect: str) -> tuple[str, dict[str, Any]]:
    """The export's SELECT and its parameters (also what the bench hands the database's own
    CSV dump, so both read the same rows)."""
    if dialect == "sqlite":
        def ts(col: str) -> str:
            return col

        def p(name: str) -> str:
            return f":{name}"
        reasons = "reasons"
    else:
        def ts(col: str) -> str:
            return f"to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"

        def p(name: str) -> str:
            return f"%({name})s"
        reasons = "reasons::text"
    where = [f"tenant_id = {p('tenant')}"]
    params: dict[str, Any] = {"tenant": tenant_id}
    if f.start is not None:
        where.append(f"checked_at >= {p('start')}")
        params["start"] = _db_instant(f.start, dialect)
    if f.end is not None:
        where.append(f"checked_at < {p('end')}")
        params["end"] = _db_instant(f.end, dialect)
    for column, name in (("campaign_id", "campaign"), ("decision", "decision"),
                         ("caller_id", "caller_id"), ("agent_id", "agent_id"),
                         ("principal_id", "principal")):
        value = getattr(f, name)
        if value is not None:
            where.append(f"{column} = {p(name)}")
            params[name] = value
    if f.reason is not None:  # codes are [A-Z_]: escape LIKE's _ wildcard
        where.append(f"(' ' || reason_codes || ' ') LIKE {p('reason')} ESCAPE '!'")
        params["reason"] = "% " + f.reason.replace("_", "!_") + " %"
    sql = (
        f"SELECT id, {ts('checked_at')}, campaign_id, callee, caller_id, agent_id, decision, "
        f"reason_codes, penalty_micros, regime, outcome_status, duration_s, {reasons}, "
        f"external_id, contract_ref, ruleset_version, {ts('next_allowed_at')}, "
        f"{ts('outcome_at')}, sip_code, COALESCE(principal_id, tenant_id) "
        f"FROM attempts WHERE {' AND '.join(where)} "
        "ORDER BY checked_at, id"
    )
    return sql, params


def _batches(tenant_id: str, f: Filters) -> Iterator[list[tuple[Any, ...]]]:
    """The rows, a batch at a time, from the driver's cursor (server-side on PostgreSQL)."""
    engine = get_engine()
    dialect = engine.dialect.name
    sql, params = query(tenant_id, f, dialect)
    raw = engine.raw_connection()
    try:
        if dialect == "sqlite":
            cur = raw.driver_connection.cursor()
            cur.arraysize = BATCH
            cur.execute(sql, params)
        else:
            cur = raw.driver_connection.cursor(name="attempts_export")
            cur.itersize = BATCH
            cur.execute(sql, params)
        try:
            while batch := cur.fetchmany(BATCH):
                yield batch
        finally:
            cur.close()
    finally:
        try:
            raw.rollback()  # end the read transaction (and the server-side cursor with it)
        finally:
            raw.close()  # back to the pool


class _Memo(dict[Any, Any]):
    """value → formatted value, for columns with few distinct values (caller IDs, campaigns,
    penalties, reason records); emptied past ``_CACHE_LIMIT`` entries so memory stays flat."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        super().__init__()
        self.fn = fn

    def __missing__(self, key: Any) -> Any:
        if len(self) >= _CACHE_LIMIT:
            self.clear()
        value = self[key] = self.fn(key)
        return value


def _eur_comma(micros: int) -> str:
    return format_eur(micros).replace(".", ",")


def csv_chunks(tenant_id: str, f: Filters, *, excel_fr: bool = False) -> Iterator[str]:
    """The CSV export, one yielded string per ``BATCH`` rows.

    Lines are built by hand rather than by ``csv.writer`` (which scans every character of every
    field: 60 % of the export's time): cells the gateway wrote itself (ids, enums, reason codes,
    instants, numbers) never need quoting, cells from columns with few distinct values
    (campaign, caller ID, agent, penalty, duration, SIP code, reasons…) are encoded once and
    memoised, and the rest (callee, external_id, contract_ref) go through ``csv_cell`` unless
    they are plainly an E.164 number. ``tests/api/test_reports_formats.py`` reads the output
    back with the ``csv`` module, Hypothesis included.
    """
    d = ";" if excel_fr else ","

    def text(v: str | None) -> str:
        return "" if v is None else csv_cell(v, d)

    def number(v: int | None) -> str:
        return "" if v is None else str(v)

    def instant(v: str | None) -> str:
        return "" if v is None else iso_utc(v) or ""

    def reasons_cell(raw: str) -> str:
        return csv_cell(format_reasons(raw), d)

    eur = _Memo(_eur_comma if excel_fr else format_eur)
    few, num, why = _Memo(text), _Memo(number), _Memo(reasons_cell)
    enum = _Memo(lambda v: "" if v is None else v)
    cell = csv_cell
    yield (BOM if excel_fr else "") + d.join(COLUMNS) + "\r\n"
    for batch in _batches(tenant_id, f):
        yield "".join([
            f"{r[0]}{d}{iso_utc(r[1])}{d}{few[r[2]]}{d}"
            f"{r[3] if r[3][:1] == '+' and r[3][1:].isdigit() else cell(r[3], d)}{d}"
            f"{few[r[4]]}{d}{few[r[5]]}{d}{r[6]}{d}{r[7]}{d}{eur[r[8]]}{d}{r[9]}{d}"
            f"{enum[r[10]]}{d}{num[r[11]]}{d}{why[r[12]]}{d}"
            f"{'' if r[13] is None else cell(r[13], d)}{d}"
            f"{'' if r[14] is None else cell(r[14], d)}{d}{r[15]}{d}"
            f"{'' if r[16] is None else instant(r[16])}{d}"
            f"{'' if r[17] is None else instant(r[17])}{d}{num[r[18]]}{d}{r[19]}\r\n"
            for r in batch
        ])


def jsonl_chunks(tenant_id: str, f: Filters) -> Iterator[str]:
    """The JSON-lines export: the CSV's keys and values, typed (``reason_codes`` an array),
    not neutralised."""
    eur = _Memo(format_eur)
    codes = _Memo(str.split)  # the lists are shared between rows: only ever serialised
    reasons = _Memo(format_reasons)
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    for batch in _batches(tenant_id, f):
        yield "".join(
            dumps({
                "attempt_id": r[0], "checked_at": iso_utc(r[1]), "campaign": r[2],
                "callee": r[3], "caller_id": r[4], "agent_id": r[5], "decision": r[6],
                "reason_codes": codes[r[7]], "penalty_eur": eur[r[8]], "regime": r[9],
                "outcome_status": r[10], "duration_s": r[11], "reasons": reasons[r[12]],
                "external_id": r[13], "contract_ref": r[14], "ruleset_version": r[15],
                "next_allowed_at": iso_utc(r[16]), "outcome_at": iso_utc(r[17]),
                "sip_code": r[18], "principal": r[19],
            }) + "\n"
            for r in batch
        )
