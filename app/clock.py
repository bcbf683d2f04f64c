"""The one place the service reads the time.

Rules never read the clock: the service passes them ``now()``. ``GATEWAY_FROZEN_NOW`` freezes it
(tests, demos and replays); the server warns at start-up when it is set.
``GATEWAY_CLOCK_OFFSET_S`` shifts a running clock by a fixed number of seconds, the same in
every worker (a benchmark or a replay that needs time to pass, e.g. for the ledger's sealer,
on a Monday morning).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from app.config import get_settings


class InstantError(ValueError):
    pass


def parse_instant(value: str) -> datetime:
    """An ISO 8601 instant with an offset (``Z`` accepted)."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise InstantError(f"not an ISO 8601 instant: {value!r}") from exc
    if parsed.tzinfo is None:
        raise InstantError(
            f"instant needs an offset, e.g. 2026-11-23T09:59:00+01:00: {value!r}"
        )
    return parsed


@lru_cache(maxsize=4)
def _frozen(raw: str) -> datetime:
    return parse_instant(raw).astimezone(UTC)


def frozen_instant() -> datetime | None:
    raw = get_settings().frozen_now
    return _frozen(raw) if raw else None


def now() -> datetime:
    frozen = frozen_instant()
    if frozen is not None:
        return frozen
    offset = get_settings().clock_offset_s
    return datetime.now(UTC) + timedelta(seconds=offset) if offset else datetime.now(UTC)
