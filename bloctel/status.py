"""The list in force and its freshness (rules-fr.md §5: a cleaned file is valid 30 days)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.clock import now
from app.db import session_scope
from bloctel.models import BloctelVersion

PARIS = ZoneInfo("Europe/Paris")
STALE_AFTER_DAYS = 30


def version_out(r: BloctelVersion) -> dict[str, Any]:
    return {
        "import_id": r.import_id, "version": r.version, "mode": r.mode, "status": r.status,
        "as_of": r.as_of.isoformat(), "lines": r.lines, "accepted": r.accepted,
        "duplicates": r.duplicates, "rejected": r.rejected, "sha256": r.sha256,
        "total_numbers": r.total_numbers, "imported_by": r.imported_by,
        "created_at": r.created_at.isoformat(),
        "activated_at": r.activated_at.isoformat() if r.activated_at else None,
    }


def current() -> dict[str, Any]:
    with session_scope() as s:
        r = s.scalar(
            select(BloctelVersion)
            .where(BloctelVersion.status == "active")
            .order_by(BloctelVersion.version.desc())
            .limit(1)
        )
        if r is None:
            return {"version": None, "total_numbers": 0, "as_of": None, "activated_at": None,
                    "age_days": None, "stale": True}
        age = (now().astimezone(PARIS).date() - r.as_of).days
        return {
            "version": r.version, "total_numbers": r.total_numbers, "as_of": r.as_of.isoformat(),
            "activated_at": r.activated_at.isoformat() if r.activated_at else None,
            "age_days": age, "stale": age > STALE_AFTER_DAYS,
        }
