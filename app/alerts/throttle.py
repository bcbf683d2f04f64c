"""The throttles in force for a tenant, where they are stored: the monitors' ``throttle`` alerts.
The check path reads them at most once per ``GATEWAY_CACHE_TTL_S`` per worker (no round trip per
check); ``app.monitors`` invalidates the cache when it raises or lifts one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app import clock
from app.alerts.models import Alert
from app.cache import cache
from app.db import get_engine

_al = Alert.__table__

_throttles = cache()  # tenant id -> ((scope, until, monitor), …)


def load_throttles(tenant_id: str) -> tuple[tuple[str, datetime, str], ...]:
    """(scope, until, monitor) of every throttle in force for ``tenant_id`` (not cached)."""
    with get_engine().connect() as conn:
        rows = conn.execute(
            select(_al.c.scope, _al.c.until, _al.c.monitor).where(
                _al.c.tenant_id == tenant_id, _al.c.action == "throttle",
                _al.c.until > clock.now()))
        return tuple((r.scope, r.until, r.monitor) for r in rows)


def throttle_for(tenant_id: str, campaign_id: str, caller_id: str | None, at: datetime
                 ) -> tuple[datetime | None, str | None]:
    """(until when, by which monitor) this call is throttled, or (None, None); cached per
    worker for ``GATEWAY_CACHE_TTL_S``."""
    found: tuple[datetime | None, str | None] = (None, None)
    for scope, until, monitor in _throttles.get_or_load(
            tenant_id, lambda: load_throttles(tenant_id)):
        if until <= at or (found[0] is not None and until <= found[0]):
            continue
        if (scope == "tenant" or scope == f"campaign:{campaign_id}"
                or (caller_id is not None and scope == f"caller_id:{caller_id}")):
            found = (until, monitor)
    return found


def invalidate(tenant_id: str | None = None) -> None:
    _throttles.invalidate(tenant_id)
