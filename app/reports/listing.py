"""The attempts list, one page at a time, newest first (the console's ``/console/tentatives``).

The export (``app.reports.export``) streams every row of a filter oldest first; a person reads
the newest ones, fifty at a time. This is that page: the same filters with the same meaning —
the ``WHERE`` is ``app.reports.service._where``, the one the summary applies (reused from this
sibling module of the package, not copied), so a page, the summary and the export of one
``Filters`` always agree on which attempts match.

Paging is by keyset on ``(checked_at, id)`` descending: ``after`` is the id of the last attempt
of the previous page (as ``app.alerts.service.list_alerts`` and ``app.numbers.service`` do). The
query walks the index ``ix_attempts_tenant_checked`` (tenant_id, checked_at) backwards from the
cursor's instant (``checked_at <= mark`` bounds the scan, the ``OR`` only breaks ties), stops
after ``limit + 1`` matching rows, and never counts the whole table nor uses ``OFFSET``: a
page costs the same on the first and the thousandth page of a tenant with millions of attempts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, or_, select

from app.calls.models import Attempt
from app.db import get_engine
from app.errors import Unprocessable
from app.money import format_eur
from app.reports.export import Filters
from app.reports.service import _where  # the package's one reading of the filters

PAGE = 50
MAX_PAGE = 500
_a = Attempt.__table__


@dataclass(frozen=True)
class AttemptsPage:
    items: list[dict[str, Any]]
    limit: int
    next_after: str | None  # the id to pass as ``after`` for the next page; None: last page


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _row(r: Any) -> dict[str, Any]:
    return {
        "attempt_id": r.id, "checked_at": _aware(r.checked_at), "campaign": r.campaign_id,
        "callee": r.callee, "caller_id": r.caller_id, "agent_id": r.agent_id,
        "decision": r.decision, "reason_codes": r.reason_codes.split(),
        "reasons": list(r.reasons or []), "penalty_eur": format_eur(r.penalty_micros),
        "regime": r.regime, "outcome_status": r.outcome_status, "sip_code": r.sip_code,
        "duration_s": r.duration_s, "outcome_at": _aware(r.outcome_at),
        "principal": r.principal_id or r.tenant_id,
    }


def attempts_page(tenant_id: str, f: Filters, *, limit: int = PAGE,
                  after: str | None = None) -> AttemptsPage:
    """One page of the tenant's attempts matching ``f``, newest first (module docstring).
    ``after`` that is not an attempt of this tenant is a 422."""
    if not 1 <= limit <= MAX_PAGE:
        raise Unprocessable(f"limit must be between 1 and {MAX_PAGE}", code="invalid_limit")
    c = _a.c
    q = _where(select(c.id, c.checked_at, c.campaign_id, c.callee, c.caller_id, c.agent_id,
                      c.decision, c.reason_codes, c.reasons, c.penalty_micros, c.regime,
                      c.outcome_status, c.sip_code, c.duration_s, c.outcome_at,
                      c.principal_id, c.tenant_id), tenant_id, f)
    with get_engine().connect() as conn:
        if after:
            mark = conn.execute(
                select(c.checked_at).where(c.id == after, c.tenant_id == tenant_id)
            ).scalar()
            if mark is None:
                raise Unprocessable(f"after={after!r} is not an attempt of this list",
                                    code="invalid_cursor")
            q = q.where(c.checked_at <= mark,
                        or_(c.checked_at < mark, and_(c.checked_at == mark, c.id < after)))
        rows = conn.execute(
            q.order_by(c.checked_at.desc(), c.id.desc()).limit(limit + 1)
        ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return AttemptsPage(items=[_row(r) for r in rows], limit=limit,
                        next_after=rows[-1].id if more else None)
