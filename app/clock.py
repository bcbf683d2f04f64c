"""The one place the service reads the time, and the range of dates it accepts.

Rules never read the clock: the service passes them ``now()``. ``GATEWAY_FROZEN_NOW`` freezes it
(tests, demos and replays); the server warns at start-up when it is set.
``GATEWAY_CLOCK_OFFSET_S`` shifts a running clock by a fixed number of seconds, the same in
every worker (a benchmark or a replay that needs time to pass, e.g. for the ledger's sealer,
on a Monday morning).

**Dates in input.** Every date and instant the gateway is given — JSON bodies, query and path
parameters, imported CSV rows — lies in ``FIRST_DAY`` … ``LAST_DAY`` (2000-01-01 … 2100-12-31;
an instant: the same range in UTC, once its offset is applied), or it is a 422 naming the field
(an imported row: rejected with its line and field). "Open-ended" is ``null``, never a
far-future sentinel such as ``9999-12-31``. The bounds are the calendar the rules reason about
(``rules_fr.days``); ``check_day`` and ``check_instant`` apply them (``app.schemas.ApiModel``
to every request body, ``Day`` / ``Instant`` and ``parse_bound`` to query parameters).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, AwareDatetime, PlainSerializer

from app.config import get_settings
from app.errors import Unprocessable
from rules_fr.data import PARIS  # the law's zone, declared once beside the rules
from rules_fr.days import CALENDAR_END, CALENDAR_START, FIRST_DAY, LAST_DAY

__all__ = ["CALENDAR_END", "CALENDAR_START", "FIRST_DAY", "LAST_DAY", "PARIS"]

#: How the range reads in messages and in the OpenAPI descriptions.
RANGE = f"{FIRST_DAY.isoformat()} … {LAST_DAY.isoformat()}"
DATE_RANGE_DOC = f"A date from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}."
INSTANT_RANGE_DOC = (f"An ISO 8601 instant with offset, from {FIRST_DAY.isoformat()} to "
                     f"{LAST_DAY.isoformat()} inclusive in UTC.")
OPEN_ENDED = ("open-ended is null (send null or leave the field out), "
              "not a far-future date such as 9999-12-31")


class OutOfRange(ValueError):
    """A date or instant outside ``FIRST_DAY`` … ``LAST_DAY``; ``late``: after it."""

    def __init__(self, message: str, late: bool) -> None:
        super().__init__(message)
        self.late = late


def _out_of_range(shown: str, late: bool, open_ended: bool, what: str = "dates") -> OutOfRange:
    side = f"after {LAST_DAY.isoformat()}" if late else f"before {FIRST_DAY.isoformat()}"
    hint = f"; {OPEN_ENDED}" if late and open_ended else ""
    return OutOfRange(f"{shown} is {side}: {what} are accepted from {RANGE}{hint}", late)


def check_day(value: date, *, open_ended: bool = False) -> date:
    """``value`` when within the range, else ``OutOfRange``. ``open_ended``: the field may be
    null, and the message for a far-future date says so."""
    if FIRST_DAY <= value <= LAST_DAY:
        return value
    raise _out_of_range(value.isoformat(), value > LAST_DAY, open_ended)


def utc_or_none(value: datetime) -> datetime | None:
    """``value`` in UTC (a naive value is read as UTC), or None when that falls outside the
    years 1–9999 (``9999-12-31T23:59:59-23:59``)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return None


def check_instant(value: datetime, *, open_ended: bool = False) -> datetime:
    """``value`` when within the range in UTC (offset applied), else ``OutOfRange``."""
    utc = utc_or_none(value)
    if utc is not None and CALENDAR_START <= utc < CALENDAR_END:
        return value
    late = utc >= CALENDAR_END if utc is not None else value.year > 5000
    shown = value.isoformat()
    if utc is not None and utc.utcoffset() != value.utcoffset():
        shown += f" ({utc.isoformat().replace('+00:00', 'Z')})"
    raise _out_of_range(shown, late, open_ended, "instants (in UTC)")


#: Query and path parameters (FastAPI validates them with pydantic: a 422 naming the parameter).
Day = Annotated[date, AfterValidator(check_day)]
Instant = Annotated[AwareDatetime, AfterValidator(check_instant)]


class InstantError(ValueError):
    pass


#: ``DD/MM/YYYY[ HH:MM[:SS]]`` (``HHhMM`` too): the day first, as French spreadsheets write it
DAY_FIRST = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2})[:h](\d{2})(?::(\d{2}))?)?$")


def _day_first(text: str) -> datetime | None:
    m = DAY_FIRST.match(text)
    if not m:
        return None
    dd, mm, yy, hh, mi, ss = m.groups()
    try:
        return datetime(int(yy), int(mm), int(dd), int(hh or 0), int(mi or 0), int(ss or 0))
    except ValueError:
        return None


def parse_instant(value: str, *, local: ZoneInfo | None = None,
                  day_first: bool = False) -> datetime:
    """An ISO 8601 instant with an offset (``Z`` accepted), else ``InstantError``. Not bounded:
    see ``parse_bound``. What an imported cell may be (``app.registries.bulk``): ``local``, the
    zone of an instant written without an offset (a date alone: its midnight); ``day_first``,
    ``DAY_FIRST`` read too."""
    text = value.strip()
    try:
        # a local zone reads "2026-01-01+00:00" as naive: so "Z" is respelled only without one
        parsed = datetime.fromisoformat(text if local else text.replace("Z", "+00:00"))
    except ValueError as exc:
        day = _day_first(text) if day_first else None
        if day is None:
            raise InstantError(f"not an ISO 8601 instant: {value!r}") from exc
        parsed = day
    if parsed.tzinfo is None:
        if local is None:
            raise InstantError(
                f"instant needs an offset, e.g. 2026-11-23T09:59:00+01:00: {value!r}"
            )
        parsed = parsed.replace(tzinfo=local)
    return parsed


def parse_bound(value: str | None, *, end: bool, name: str | None = None) -> datetime | None:
    """A period bound given as a query parameter, in UTC: an ISO 8601 instant with offset, or
    a date (YYYY-MM-DD: the Paris day's start, or with ``end`` the start of the next day).
    Within the range, or a 422 whose message starts with ``name``. Empty or None: no bound."""
    if value is None or value == "":
        return None
    where = f"{name}: " if name else ""
    try:
        if len(value) == 10:
            day = check_day(date.fromisoformat(value))
            if end:
                day += timedelta(days=1)  # at most 2101-01-01: no overflow
            return datetime.combine(day, time.min, PARIS).astimezone(UTC)
        return check_instant(parse_instant(value)).astimezone(UTC)
    except OutOfRange as exc:
        hint = f"; for no bound, leave {name or 'it'} out" if exc.late else ""
        raise Unprocessable(f"{where}{exc}{hint}") from exc
    except ValueError as exc:  # InstantError included
        raise Unprocessable(
            f"{where}not a date (YYYY-MM-DD) or an ISO 8601 instant with offset: {value!r}"
        ) from exc


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


# --- instants in answers: one format -------------------------------------------------------


def iso(at: datetime | None, zone: ZoneInfo | str | None = None) -> str | None:
    """THE format of every instant the gateway answers with: ISO 8601, whole seconds, a
    numeric offset — ``2026-11-23T10:30:00+01:00`` — in ``zone`` (a callee's time zone for a
    call's own instants) or else UTC (``…+00:00``). The ledger keeps full precision; answers
    and exports show seconds, as the contract's examples do. An instant the zone cannot show
    (a stored ``9999-12-31T23:59:59Z`` seen from Paris) stays in UTC: the same instant."""
    if at is None:
        return None
    if at.tzinfo is None:  # naive values from the database are UTC (UTCDateTime)
        at = at.replace(tzinfo=UTC)
    tz = ZoneInfo(zone) if isinstance(zone, str) else (zone or UTC)
    try:
        at = at.astimezone(tz)
    except OverflowError:
        at = at.astimezone(UTC)
    return at.isoformat(timespec="seconds")


#: a datetime field of a response model, serialised by ``iso`` (UTC)
InstantOut = Annotated[datetime, PlainSerializer(iso, return_type=str)]
