"""§3 days and hours, judged in the consumer's time zone (D223-9, L3133-1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules_fr import Policy, evaluate

from .factories import (
    OPT_IN_MONDAY,
    OPT_OUT_MONDAY,
    PARIS,
    at_day,
    blocking,
    consent,
    make,
    reason,
)

MON = OPT_OUT_MONDAY  # 2026-06-15


def _t(day: date, hh: int, mm: int, ss: int = 0, tz: ZoneInfo = PARIS) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=tz)


BOUNDARIES = [
    # local time, allowed?, next allowed instant (Paris) when denied
    ((9, 59, 59), False, _t(MON, 10, 0)),
    ((10, 0, 0), True, None),
    ((12, 59, 59), True, None),
    ((13, 0, 0), False, _t(MON, 14, 0)),
    ((13, 59, 59), False, _t(MON, 14, 0)),
    ((14, 0, 0), True, None),
    ((19, 59, 59), True, None),
    ((20, 0, 0), False, _t(MON + timedelta(days=1), 10, 0)),
    ((0, 0, 0), False, _t(MON, 10, 0)),
    ((23, 59, 59), False, _t(MON + timedelta(days=1), 10, 0)),
]


@pytest.mark.parametrize(
    ("hms", "allowed", "next_at"), BOUNDARIES, ids=[f"{h:02}:{m:02}:{s:02}" for (h, m, s), *_ in
                                                    BOUNDARIES]
)
def test_window_boundaries(hms, allowed, next_at):
    d = evaluate(make(_t(MON, *hms)))
    assert d.allowed is allowed
    if allowed:
        assert d.reasons == ()
    else:
        assert blocking(d) == {"OUTSIDE_HOURS"}
        assert d.next_allowed_at == next_at
        assert reason(d, "OUTSIDE_HOURS").retry_at == next_at


def test_microseconds_before_the_end_are_inside():
    assert evaluate(make(_t(MON, 12, 59, 59).replace(microsecond=999_999))).allowed


@pytest.mark.parametrize(
    ("day", "hour", "next_at"),
    [
        (date(2026, 6, 19), 20, _t(date(2026, 6, 22), 10, 0)),  # Friday evening → Monday
        (date(2026, 6, 20), 11, _t(date(2026, 6, 22), 10, 0)),  # Saturday
        (date(2026, 6, 21), 11, _t(date(2026, 6, 22), 10, 0)),  # Sunday
        (date(2026, 6, 21), 23, _t(date(2026, 6, 22), 10, 0)),  # Sunday night
    ],
    ids=["friday-20h", "saturday", "sunday", "sunday-night"],
)
def test_weekend(day, hour, next_at):
    d = evaluate(make(at_day(day, hour)))
    expected = "OUTSIDE_HOURS" if day.weekday() < 5 else "WEEKEND"
    assert blocking(d) == {expected}
    assert d.next_allowed_at == next_at


HOLIDAYS = [
    # 2026
    (date(2026, 1, 1), date(2026, 1, 2)),
    (date(2026, 4, 6), date(2026, 4, 7)),  # Easter Monday
    (date(2026, 5, 1), date(2026, 5, 4)),
    (date(2026, 5, 8), date(2026, 5, 11)),
    (date(2026, 5, 14), date(2026, 5, 15)),  # Ascension
    (date(2026, 5, 25), date(2026, 5, 26)),  # Whit Monday
    (date(2026, 7, 14), date(2026, 7, 15)),
    (date(2026, 8, 15), date(2026, 8, 17)),  # a Saturday: PUBLIC_HOLIDAY, not WEEKEND
    (date(2026, 11, 1), date(2026, 11, 2)),  # a Sunday
    (date(2026, 11, 11), date(2026, 11, 12)),
    (date(2026, 12, 25), date(2026, 12, 28)),
    # 2027
    (date(2027, 1, 1), date(2027, 1, 4)),
    (date(2027, 3, 29), date(2027, 3, 30)),  # Easter Monday
    (date(2027, 5, 1), date(2027, 5, 3)),
    (date(2027, 5, 6), date(2027, 5, 7)),  # Ascension
    (date(2027, 5, 8), date(2027, 5, 10)),
    (date(2027, 5, 17), date(2027, 5, 18)),  # Whit Monday
    (date(2027, 7, 14), date(2027, 7, 15)),
    (date(2027, 8, 15), date(2027, 8, 16)),
    (date(2027, 11, 1), date(2027, 11, 2)),
    (date(2027, 11, 11), date(2027, 11, 12)),
    (date(2027, 12, 25), date(2027, 12, 27)),
]


@pytest.mark.parametrize(
    ("holiday", "next_day"), HOLIDAYS, ids=[h.isoformat() for h, _ in HOLIDAYS]
)
def test_national_holidays(holiday, next_day):
    d = evaluate(make(at_day(holiday, 11)))
    assert blocking(d) == {"PUBLIC_HOLIDAY"}
    assert d.next_allowed_at == _t(next_day, 10, 0)
    assert evaluate(make(d.next_allowed_at)).allowed


def test_day_before_a_holiday_in_the_evening_skips_it():
    # Wednesday 2026-05-13 20:30 → Thursday is Ascension → Friday 10:00
    d = evaluate(make(at_day(date(2026, 5, 13), 20, 30)))
    assert blocking(d) == {"OUTSIDE_HOURS"}
    assert d.next_allowed_at == _t(date(2026, 5, 15), 10, 0)


def test_non_l3133_days_are_ordinary_days_by_default():
    # Good Friday and 26 December are Alsace-Moselle days only
    assert evaluate(make(at_day(date(2026, 4, 3)))).allowed
    assert evaluate(make(at_day(date(2025, 12, 26)))).allowed


# --- local holidays (policy) -------------------------------------------------------------------

LOCAL = [
    # callee, department, day (a weekday), why
    ("0612345678", "57", date(2026, 4, 3), "Good Friday, Moselle"),
    ("0388123456", "67", date(2025, 12, 26), "Saint Stephen, Bas-Rhin"),
    ("0389123456", "68", date(2026, 4, 3), "Good Friday, Haut-Rhin"),
    ("0692123456", None, date(2027, 12, 20), "abolition of slavery, Réunion"),
    ("0690123456", None, date(2026, 5, 27), "abolition of slavery, Guadeloupe"),
    ("0696123456", None, date(2026, 5, 22), "abolition of slavery, Martinique"),
    ("0694123456", None, date(2026, 6, 10), "abolition of slavery, Guiana"),
    ("0639201234", None, date(2026, 4, 27), "abolition of slavery, Mayotte"),
]


@pytest.mark.parametrize(("callee", "dept", "day", "why"), LOCAL, ids=[r[3] for r in LOCAL])
def test_local_holidays_only_with_policy(callee, dept, day, why):
    facts = make(callee=callee, callee_department=dept)
    tz = ZoneInfo(facts.callee.time_zone)
    facts = make(at_day(day, 11, tz=tz), callee=callee, callee_department=dept)
    assert evaluate(facts).allowed, why
    d = evaluate(replace(facts, policy=Policy(local_holidays=True)))
    assert blocking(d) == {"PUBLIC_HOLIDAY"}, why
    assert d.next_allowed_at is not None and d.next_allowed_at.date() > day


def test_alsace_days_need_the_department():
    facts = make(at_day(date(2026, 4, 3)), callee_department="75")
    assert evaluate(replace(facts, policy=Policy(local_holidays=True))).allowed
    facts = make(at_day(date(2026, 4, 3)), callee_department=None)
    assert evaluate(replace(facts, policy=Policy(local_holidays=True))).allowed


# --- consumer's time zone ---------------------------------------------------------------------

OVERSEAS = [
    ("0692 12 34 56", "Indian/Reunion"),
    ("0639 20 12 34", "Indian/Mayotte"),
    ("0690 12 34 56", "America/Guadeloupe"),
    ("0696 12 34 56", "America/Martinique"),
    ("0694 12 34 56", "America/Cayenne"),
    ("0508 41 12 34", "America/Miquelon"),
]


@pytest.mark.parametrize(("callee", "zone"), OVERSEAS, ids=[z for _, z in OVERSEAS])
def test_overseas_numbers_are_judged_in_their_zone(callee, zone):
    tz = ZoneInfo(zone)
    day = OPT_IN_MONDAY
    inside = evaluate(make(at_day(day, 10, 30, tz=tz), callee=callee))
    assert inside.allowed and inside.callee_time_zone == zone
    before = evaluate(make(at_day(day, 9, 30, tz=tz), callee=callee))
    assert blocking(before) == {"OUTSIDE_HOURS"}
    assert before.next_allowed_at == at_day(day, 10, 0, tz=tz)
    assert before.next_allowed_at.tzinfo.key == zone  # expressed in the consumer's zone
    late = evaluate(make(at_day(day, 20, 0, tz=tz), callee=callee))
    assert late.next_allowed_at == at_day(day + timedelta(days=1), 10, 0, tz=tz)


def test_reunion_1030_is_0730_paris():
    instant = at_day(OPT_IN_MONDAY, 10, 30, tz=ZoneInfo("Indian/Reunion"))
    assert instant.astimezone(PARIS).time() == time(7, 30)
    assert evaluate(make(instant, callee="0692 12 34 56")).allowed
    paris = evaluate(make(instant, callee="06 12 34 56 78"))
    assert blocking(paris) == {"OUTSIDE_HOURS"}
    assert paris.next_allowed_at == at_day(OPT_IN_MONDAY, 10, 0)


def test_weekend_is_the_consumers_weekend():
    # Friday 2026-11-27 22:30 in Guadeloupe is Saturday 03:30 in Paris
    instant = at_day(date(2026, 11, 27), 22, 30, tz=ZoneInfo("America/Guadeloupe"))
    gp = evaluate(make(instant, callee="0690 12 34 56"))
    assert blocking(gp) == {"OUTSIDE_HOURS"}
    assert evaluate(make(instant, callee="06 12 34 56 78")).reasons[0].code == "WEEKEND"


def test_dst_change_weekend_keeps_local_ten_oclock():
    # Sunday 2026-03-29 is the spring-forward day in Paris
    d = evaluate(make(at_day(date(2026, 3, 29), 11)))
    assert d.next_allowed_at == _t(date(2026, 3, 30), 10, 0)
    assert d.next_allowed_at.utcoffset() == timedelta(hours=2)


# --- outside-hours consent lifts §3 only ------------------------------------------------------

SATURDAY = at_day(date(2026, 6, 20), 22)
HOURS_OK = consent("outside_hours", given_at=at_day(date(2026, 1, 5)))


def test_outside_hours_consent_lifts_days_and_hours():
    assert blocking(evaluate(make(SATURDAY))) == {"WEEKEND"}
    assert evaluate(make(SATURDAY, consents=(HOURS_OK, *make().consents))).allowed
    holiday = at_day(date(2026, 7, 14), 8)
    assert evaluate(make(holiday, consents=(HOURS_OK, *make().consents))).allowed


def test_outside_hours_consent_does_not_lift_other_rules():
    consents = (HOURS_OK, *make().consents)
    listed = evaluate(make(SATURDAY, consents=(HOURS_OK,), listed=True))
    assert blocking(listed) == {"BLOCTEL_LISTED"}
    attempts = tuple(SATURDAY - timedelta(days=i) for i in range(1, 5))
    freq = evaluate(make(SATURDAY, consents=consents, counted_attempts=attempts))
    assert blocking(freq) == {"FREQUENCY_LIMIT"}
    opt_in_saturday = at_day(date(2026, 11, 28), 22)
    no_canvassing = evaluate(make(opt_in_saturday, consents=(HOURS_OK,)))
    assert blocking(no_canvassing) == {"CONSENT_REQUIRED"}
    stale = evaluate(make(SATURDAY, consents=consents, as_of=date(2026, 1, 1)))
    assert blocking(stale) == {"BLOCTEL_LIST_STALE"}


@pytest.mark.parametrize(
    ("hours_consent", "why"),
    [
        (consent("outside_hours", given_at=at_day(date(2026, 6, 21))), "given after the call"),
        (consent("outside_hours", given_at=at_day(date(2026, 1, 5)),
                 expires_at=at_day(date(2026, 6, 1))), "expired"),
        (consent("outside_hours", given_at=at_day(date(2026, 1, 5)),
                 revoked_at=at_day(date(2026, 6, 1))), "revoked"),
        (consent("canvassing", given_at=at_day(date(2026, 1, 5))), "other scope"),
    ],
    ids=["future", "expired", "revoked", "canvassing-scope"],
)
def test_invalid_outside_hours_consent_does_not_lift(hours_consent, why):
    d = evaluate(make(SATURDAY, consents=(hours_consent, *make().consents)))
    assert blocking(d) == {"WEEKEND"}, why


def test_hours_rule_not_in_force_before_2023_03_01():
    saturday_2023 = at_day(date(2023, 2, 25), 22)
    assert evaluate(make(saturday_2023)).allowed
    assert blocking(evaluate(make(at_day(date(2023, 3, 4), 22)))) == {"WEEKEND"}


def test_reason_carries_legal_basis_and_rule():
    r = reason(evaluate(make(SATURDAY)), "WEEKEND")
    assert "D223-9" in r.legal_basis and r.rule == "hours" and r.severity == "block"
