"""Reports read the attempt ledger in a streaming fashion (server-side cursor, constant memory)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select

from app.calls.models import Attempt, PenaltyLine
from app.clock import parse_instant
from app.db import get_engine
from app.errors import Unprocessable
from app.money import format_eur

PARIS = ZoneInfo("Europe/Paris")
COLUMNS = (
    "attempt_id", "checked_at", "campaign", "callee", "caller_id", "agent_id", "decision",
    "reason_codes", "penalty_eur", "regime", "outcome_status", "duration_s",
)
_a = Attempt.__table__
_p = PenaltyLine.__table__


def parse_bound(value: str | None, *, end: bool) -> datetime | None:
    """An ISO instant with offset, or a date (Paris day: start, or the end of that day)."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time.min, PARIS).astimezone(UTC)
        return parse_instant(value).astimezone(UTC)
    except ValueError as exc:  # InstantError included
        raise Unprocessable(f"not a date or an ISO 8601 instant with offset: {value!r}") from exc


def _filtered(
    query: Select[Any], tenant_id: str, start: datetime | None, end: datetime | None,
    campaign: str | None = None, decision: str | None = None,
) -> Select[Any]:
    query = query.where(_a.c.tenant_id == tenant_id)
    if start is not None:
        query = query.where(_a.c.checked_at >= start)
    if end is not None:
        query = query.where(_a.c.checked_at < end)
    if campaign:
        query = query.where(_a.c.campaign_id == campaign)
    if decision:
        query = query.where(_a.c.decision == decision)
    return query


def _neutralise(value: str) -> str:
    """Keep spreadsheet formulas out of exported cells (phone numbers like +33… stay as is)."""
    if value and value[0] in "=@\t\r" or (
        value[:1] in ("+", "-") and not value[1:].replace(" ", "").isdigit()
    ):
        return "'" + value
    return value


def _rows(
    tenant_id: str, start: datetime | None, end: datetime | None, campaign: str | None,
    decision: str | None,
) -> Iterator[dict[str, Any]]:
    c = _a.c
    query = _filtered(
        select(
            c.id, c.checked_at, c.campaign_id, c.callee, c.caller_id, c.agent_id, c.decision,
            c.reason_codes, c.penalty_micros, c.regime, c.outcome_status, c.duration_s,
        ),
        tenant_id, start, end, campaign, decision,
    ).order_by(c.checked_at, c.id)
    with get_engine().connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=2000).execute(query)
        for r in result:
            yield {
                "attempt_id": r.id, "checked_at": r.checked_at.isoformat(),
                "campaign": r.campaign_id, "callee": r.callee, "caller_id": r.caller_id,
                "agent_id": r.agent_id, "decision": r.decision, "reason_codes": r.reason_codes,
                "penalty_eur": format_eur(r.penalty_micros), "regime": r.regime,
                "outcome_status": r.outcome_status, "duration_s": r.duration_s,
            }


def attempts_csv(tenant_id: str, **filters: Any) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for n, row in enumerate(_rows(tenant_id, **filters), start=1):
        writer.writerow(
            _neutralise(str(v)) if isinstance(v, str) else ("" if v is None else v)
            for v in row.values()
        )
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def attempts_jsonl(tenant_id: str, **filters: Any) -> Iterator[str]:
    for row in _rows(tenant_id, **filters):
        yield json.dumps(row, ensure_ascii=False) + "\n"


def summary(tenant_id: str, start: datetime | None, end: datetime | None) -> dict[str, Any]:
    c = _a.c
    total = allowed = 0
    by_reason: Counter[str] = Counter()
    by_campaign: dict[str, Counter[str]] = defaultdict(Counter)
    by_day: dict[str, Counter[str]] = defaultdict(Counter)
    query = _filtered(
        select(c.checked_at, c.campaign_id, c.decision, c.reason_codes), tenant_id, start, end
    )
    with get_engine().connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(query)
        for r in result:
            total += 1
            allowed += r.decision == "allow"
            by_reason.update(r.reason_codes.split())
            by_campaign[r.campaign_id][r.decision] += 1
            by_day[r.checked_at.astimezone(PARIS).date().isoformat()][r.decision] += 1
        pq = select(_p.c.code, func.sum(_p.c.amount_micros)).where(_p.c.tenant_id == tenant_id)
        if start is not None:
            pq = pq.where(_p.c.created_at >= start)
        if end is not None:
            pq = pq.where(_p.c.created_at < end)
        penalties = {code: int(m or 0) for code, m in conn.execute(pq.group_by(_p.c.code))}

    def split(counter: Counter[str]) -> dict[str, int]:
        return {"total": counter["allow"] + counter["deny"], "allowed": counter["allow"],
                "denied": counter["deny"]}

    return {
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "total": total, "allowed": allowed, "denied": total - allowed,
        "penalty_eur": format_eur(sum(penalties.values())),
        "penalties_by_code": {k: format_eur(v) for k, v in sorted(penalties.items())},
        "by_reason": dict(by_reason.most_common()),
        "by_campaign": {k: split(v) for k, v in sorted(by_campaign.items())},
        "by_day": {k: split(v) for k, v in sorted(by_day.items())},
    }
