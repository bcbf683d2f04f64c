"""The list in force and its freshness (rules-fr.md §5: a cleaned file is valid 30 days)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.bloctel.models import BloctelVersion
from app.clock import PARIS, iso, now
from app.db import session_scope

STALE_AFTER_DAYS = 30


def _iso(value: Any) -> str | None:
    return iso(value)


def version_out(r: BloctelVersion) -> dict[str, Any]:
    considered = r.accepted + r.duplicates + r.rejected
    return {
        "import_id": r.import_id, "version": r.version, "mode": r.mode, "status": r.status,
        "as_of": r.as_of.isoformat(), "lines": r.lines, "header": r.header, "blank": r.blank,
        "accepted": r.accepted, "duplicates": r.duplicates, "rejected": r.rejected,
        "rejected_share": round(r.rejected / considered, 6) if considered else 0.0,
        "rejected_samples": r.rejected_samples, "sha256": r.sha256,
        "file_bytes": r.file_bytes, "format": r.file_format,
        "total_numbers": r.total_numbers if r.status in ("active", "superseded") else None,
        "added": r.added, "removed": r.removed, "base_version": r.base_version,
        "forced": r.forced, "error": r.error, "imported_by": r.imported_by,
        "created_at": iso(r.created_at), "finished_at": _iso(r.finished_at),
        "activated_at": _iso(r.activated_at),
    }


def history(limit: int = 100) -> list[dict[str, Any]]:
    """``GET /v1/bloctel/imports``: the newest versions first, each as ``version_out``."""
    with session_scope() as s:
        newest_first = select(BloctelVersion).order_by(BloctelVersion.version.desc())
        return [version_out(r) for r in s.scalars(newest_first.limit(limit))]


def current() -> dict[str, Any]:
    """``GET /v1/bloctel``: the version in force, its age in Paris days, and whether it is stale
    (no list, or ``as_of`` more than 30 days ago: checks of commercial calls then deny)."""
    with session_scope() as s:
        r = s.scalar(
            select(BloctelVersion)
            .where(BloctelVersion.status == "active")
            .order_by(BloctelVersion.version.desc())
            .limit(1)
        )
        latest = s.scalar(select(BloctelVersion).order_by(BloctelVersion.version.desc()).limit(1))
        last_import = (
            {"import_id": latest.import_id, "version": latest.version, "status": latest.status,
             "created_at": iso(latest.created_at), "error": latest.error}
            if latest is not None else None
        )
        if r is None:
            return {"version": None, "total_numbers": 0, "as_of": None, "activated_at": None,
                    "age_days": None, "stale": True, "stale_after_days": STALE_AFTER_DAYS,
                    "last_import": last_import}
        age = (now().astimezone(PARIS).date() - r.as_of).days
        return {
            "version": r.version, "total_numbers": r.total_numbers, "as_of": r.as_of.isoformat(),
            "activated_at": _iso(r.activated_at), "age_days": age,
            "stale": age > STALE_AFTER_DAYS, "stale_after_days": STALE_AFTER_DAYS,
            "last_import": last_import,
        }
