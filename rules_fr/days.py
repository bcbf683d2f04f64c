"""Time zones, public holidays and calling windows (cached: this is on the hot path).

Holidays come from the ``holidays`` package, never from a hand-written list. The national days
are the package's ``France`` calendar filtered to the names of code du travail art. L3133-1 (the
package has no other category for France, but filtering by name keeps any future extra day
out). Local days (tenant policy ``local_holidays``) are the package's subdivisions: Moselle
("57") and Alsace ("6AE") for départements 57, 67 and 68, and the overseas territories.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from rules_fr.data import HoursVersion

UTC = ZoneInfo("UTC")

#: The calendar the gateway reasons about, first and last day included. Every date and instant
#: it accepts as input lies in it (``app.clock`` enforces that at the edges); rows stored before
#: that rule, or written straight into the database, may lie outside (``9999-12-31`` as "never"):
#: the helpers below keep the arithmetic on them from overflowing, and the engine does not
#: reschedule a call beyond the last day (``next_allowed_at`` is then null).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
#: The same range as UTC instants: ``CALENDAR_START <= instant < CALENDAR_END``.
CALENDAR_START = datetime(2000, 1, 1, tzinfo=UTC)
CALENDAR_END = datetime(2101, 1, 1, tzinfo=UTC)

#: python-holidays France subdivision of each French region code of a number.
REGION_SUBDIVISIONS = {
    "GP": "971",
    "MQ": "972",
    "GF": "973",
    "RE": "974",
    "YT": "976",
    "BL": "BL",
    "MF": "MF",
    "PM": "PM",
}
#: Alsace-Moselle départements (local law: Good Friday, 26 December).
DEPARTMENT_SUBDIVISIONS = {"57": "57", "67": "6AE", "68": "6AE"}


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def aware(at: datetime) -> datetime:
    """Naive instants are a caller error; they are read as UTC rather than crash."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def in_zone(at: datetime, tz: ZoneInfo) -> datetime:
    """``at`` in ``tz``, or ``at`` unchanged when its local time there would fall outside the
    years 1–9999 (a stored ``9999-12-31T23:59:59Z`` seen from Paris): the same instant."""
    try:
        return at.astimezone(tz)
    except OverflowError:
        return at


def plus_days(day: date, days: int) -> date:
    """``day + days``, clamped to ``date.min`` … ``date.max`` instead of overflowing."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


@lru_cache(maxsize=512)
def _calendar(year: int, subdiv: str | None) -> holidays.HolidayBase:
    return holidays.France(years=year, subdiv=subdiv, language="en_US")


@lru_cache(maxsize=512)
def national_holidays(year: int, names: frozenset[str]) -> dict[date, str]:
    """The L3133-1 days of ``year``: {date: name}."""
    cal = _calendar(year, None)
    out = {}
    for day in cal:
        kept = [n for n in cal.get_list(day) if n in names]
        if kept:
            out[day] = "; ".join(kept)
    return out


@lru_cache(maxsize=512)
def holidays_for(year: int, names: frozenset[str], subdiv: str | None) -> dict[date, str]:
    """National days, plus every day of the subdivision's calendar when ``subdiv`` is set."""
    days = dict(national_holidays(year, names))
    if subdiv is not None:
        for day, name in _calendar(year, subdiv).items():
            days.setdefault(day, name)
    return days


def holiday_subdivision(region: str | None, department: str | None) -> str | None:
    """The subdivision whose local days apply (policy ``local_holidays``), if any."""
    if region in REGION_SUBDIVISIONS:
        return REGION_SUBDIVISIONS[region]
    if department is not None:
        return DEPARTMENT_SUBDIVISIONS.get(department.strip())
    return None


def holiday_name(day: date, version: HoursVersion, subdiv: str | None) -> str | None:
    return holidays_for(day.year, version.national_holidays, subdiv).get(day)


def allowed_day(day: date, version: HoursVersion, subdiv: str | None) -> bool:
    return day.weekday() in version.weekdays and holiday_name(day, version, subdiv) is None


def in_window(t: time, version: HoursVersion) -> bool:
    return any(start <= t < end for start, end in version.windows)


def next_window_start(
    local: datetime, version: HoursVersion, subdiv: str | None
) -> datetime | None:
    """The first window start strictly after ``local`` (aware, in the consumer's zone)."""
    today, now = local.date(), local.time()
    for offset in range(400):
        day = plus_days(today, offset)
        if day == date.max:  # a stored extreme: no calendar there
            return None
        if not allowed_day(day, version, subdiv):
            continue
        for start, _end in version.windows:
            if offset > 0 or now < start:
                return datetime.combine(day, start, tzinfo=local.tzinfo)
    return None


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)
