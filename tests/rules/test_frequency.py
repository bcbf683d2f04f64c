"""§4 frequency (4 attempts in 30 calendar days) and the 60-day refusal cooldown (D223-9)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from rules_fr import evaluate

from .factories import (
    OPT_OUT_MONDAY,
    PARIS,
    REUNION,
    at_day,
    blocking,
    consent,
    make,
    reason,
)

D = OPT_OUT_MONDAY  # 2026-06-15, a Monday
AT = at_day(D, 11)


def _days_ago(*offsets: int, hour: int = 15) -> tuple[datetime, ...]:
    return tuple(at_day(D - timedelta(days=o), hour) for o in offsets)


@pytest.mark.parametrize(
    ("earlier", "allowed"),
    [
        ((), True),
        ((1,), True),
        ((1, 2, 3), True),  # this is the 4th attempt: allowed
        ((1, 2, 3, 4), False),  # this would be the 5th
        ((0, 0, 0, 0), False),  # four earlier today
        ((1, 2, 3, 4, 5, 6), False),
    ],
    ids=["first", "second", "fourth", "fifth", "fifth-same-day", "seventh"],
)
def test_fourth_vs_fifth_attempt(earlier, allowed):
    attempts = tuple(at_day(D - timedelta(days=o), 10 if o == 0 else 15) for o in earlier)
    d = evaluate(make(AT, counted_attempts=attempts))
    assert d.allowed is allowed
    if not allowed:
        assert blocking(d) == {"FREQUENCY_LIMIT"}


def test_day_29_counts_day_30_does_not():
    in_window = evaluate(make(AT, counted_attempts=_days_ago(29, 20, 10, 1)))
    assert blocking(in_window) == {"FREQUENCY_LIMIT"}
    out_of_window = evaluate(make(AT, counted_attempts=_days_ago(30, 20, 10, 1)))
    assert out_of_window.allowed


def test_window_is_calendar_days_not_hours():
    # 29 days ago at 00:00:01 still counts although it is more than 29×24 h ago
    early = tuple(at_day(D - timedelta(days=29), 0, 0, 1) for _ in range(1)) + _days_ago(2, 3, 4)
    assert blocking(evaluate(make(at_day(D, 19, 59), counted_attempts=early))) == {
        "FREQUENCY_LIMIT"
    }
    # 30 days ago at 23:59:59 does not, although it is less than 30×24 h ago
    late = (at_day(D - timedelta(days=30), 23, 59, 59),) + _days_ago(2, 3, 4)
    assert evaluate(make(at_day(D, 10), counted_attempts=late)).allowed


def test_retry_at_is_midnight_after_the_fourth_most_recent_leaves_the_window():
    d = evaluate(make(AT, counted_attempts=_days_ago(29, 20, 10, 1)))
    r = reason(d, "FREQUENCY_LIMIT")
    assert r.retry_at == at_day(D + timedelta(days=1), 0)
    assert d.next_allowed_at == at_day(D + timedelta(days=1), 10)  # then the hours rule
    # five attempts: the 4th most recent decides
    d5 = evaluate(make(AT, counted_attempts=_days_ago(25, 20, 12, 10, 1)))
    assert reason(d5, "FREQUENCY_LIMIT").retry_at == at_day(D + timedelta(days=10), 0)
    assert d5.next_allowed_at == at_day(D + timedelta(days=10), 10)


def test_attempts_after_the_instant_judged_are_ignored():
    later = tuple(AT + timedelta(hours=h) for h in (1, 2, 3, 4))
    assert evaluate(make(AT, counted_attempts=later)).allowed


def test_window_uses_the_consumers_local_dates():
    # d-29 in Réunion starts at 2026-05-16 22:00 Paris time (UTC+4 vs UTC+2)
    reunion_at = at_day(D, 11, tz=REUNION)
    edge = datetime(2026, 5, 16, 22, 30, tzinfo=PARIS)  # 2026-05-17 00:30 in Réunion
    attempts = (edge, *(reunion_at - timedelta(days=o) for o in (1, 2, 3)))
    d = evaluate(make(reunion_at, callee="0692123456", counted_attempts=attempts))
    assert blocking(d) == {"FREQUENCY_LIMIT"}
    assert reason(d, "FREQUENCY_LIMIT").retry_at == at_day(date(2026, 6, 16), 0, tz=REUNION)
    # the same instants for a Paris consumer: the edge attempt is on d-30
    paris_at = reunion_at.astimezone(PARIS)
    assert evaluate(make(paris_at.replace(hour=11), counted_attempts=attempts)).allowed


def test_frequency_not_in_force_before_2023_03_01():
    monday = at_day(date(2023, 2, 27), 11)
    attempts = tuple(monday - timedelta(days=o) for o in (1, 2, 3, 4, 5))
    assert evaluate(make(monday, counted_attempts=attempts)).allowed
    after = at_day(date(2023, 3, 6), 11)
    attempts = tuple(after - timedelta(days=o) for o in (1, 2, 3, 4))
    assert blocking(evaluate(make(after, counted_attempts=attempts))) == {"FREQUENCY_LIMIT"}


# --- refusal cooldown --------------------------------------------------------------------------

REFUSAL = datetime(2026, 4, 17, 15, 0, tzinfo=PARIS)  # Friday; R+60 = Tue 06-16, R+61 = Wed


@pytest.mark.parametrize(
    ("at", "blocked"),
    [
        (REFUSAL + timedelta(minutes=1), True),
        (at_day(date(2026, 4, 20), 11), True),
        (at_day(date(2026, 6, 15), 11), True),  # R+59
        (at_day(date(2026, 6, 16), 19, 59, 59), True),  # last second of R+60
        (at_day(date(2026, 6, 17), 10), False),  # R+61
    ],
    ids=["same-day", "R+3", "R+59", "R+60-evening", "R+61"],
)
def test_sixty_full_days_after_the_refusal_day(at, blocked):
    d = evaluate(make(at, refusals=(REFUSAL,)))
    if blocked:
        assert "REFUSAL_COOLDOWN" in blocking(d)
        assert reason(d, "REFUSAL_COOLDOWN").retry_at == at_day(date(2026, 6, 17), 0)
    else:
        assert d.allowed


def test_next_allowed_after_refusal_combines_with_hours():
    d = evaluate(make(at_day(date(2026, 6, 16), 11), refusals=(REFUSAL,)))
    assert d.next_allowed_at == at_day(date(2026, 6, 17), 10)


def test_refusal_after_the_instant_is_ignored():
    assert evaluate(make(REFUSAL - timedelta(days=1), refusals=(REFUSAL,))).allowed


def test_latest_refusal_wins():
    second = datetime(2026, 5, 4, 11, tzinfo=PARIS)  # R2+61 = 2026-07-04 (Saturday)
    d = evaluate(make(at_day(date(2026, 6, 17), 11), refusals=(REFUSAL, second)))
    assert reason(d, "REFUSAL_COOLDOWN").retry_at == at_day(date(2026, 7, 4), 0)
    assert d.next_allowed_at == at_day(date(2026, 7, 6), 10)  # the Monday after


def test_new_consent_does_not_shorten_the_cooldown_opt_out():
    fresh = consent("canvassing", given_at=REFUSAL + timedelta(days=1))
    d = evaluate(make(at_day(date(2026, 5, 4), 11), refusals=(REFUSAL,), consents=(fresh,)))
    assert blocking(d) == {"REFUSAL_COOLDOWN"}


def test_opt_in_refusal_withdraws_consent_until_a_new_one():
    refusal = datetime(2026, 9, 1, 15, tzinfo=PARIS)  # R+61 = 2026-11-01, a Sunday (holiday)
    during = at_day(date(2026, 10, 30), 11)
    # consent given before the refusal is withdrawn: no date to retry at
    d = evaluate(make(during, refusals=(refusal,)))
    assert blocking(d) == {"REFUSAL_COOLDOWN", "CONSENT_REVOKED"}
    assert d.next_allowed_at is None
    # a new consent after the refusal: the cooldown still runs its course
    new = consent("canvassing", given_at=refusal + timedelta(days=10))
    d = evaluate(make(during, refusals=(refusal,), consents=(*make().consents, new)))
    assert blocking(d) == {"REFUSAL_COOLDOWN"}
    assert reason(d, "REFUSAL_COOLDOWN").retry_at == at_day(date(2026, 11, 1), 0)
    assert d.next_allowed_at == at_day(date(2026, 11, 2), 10)  # Sunday, All Saints → Monday
