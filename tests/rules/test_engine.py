"""Decision assembly: deny iff a block, penalty, zone, rescheduling."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from rules_fr import Policy, evaluate

from .factories import OPT_OUT_MONDAY, PARIS, at_day, blocking, make

AT = at_day(OPT_OUT_MONDAY, 11)


def test_allowed_call():
    d = evaluate(make(AT))
    assert (d.decision, d.reasons, d.next_allowed_at) == ("allow", (), None)
    assert d.penalty_eur == Decimal("0.00")
    assert d.callee_time_zone == "Europe/Paris"
    assert d.allowed


def test_denied_call_is_penalised_with_two_decimals():
    d = evaluate(make(AT, internal_opposition=True))
    assert d.decision == "deny" and d.penalty_eur == Decimal("0.02")
    assert str(d.penalty_eur) == "0.02"
    custom = replace(make(AT, internal_opposition=True),
                     policy=Policy(denied_attempt_penalty_eur=Decimal("0.1")))
    assert str(evaluate(custom).penalty_eur) == "0.10"


def test_every_rule_runs_not_only_the_first():
    saturday = at_day(date(2026, 6, 20), 22)
    d = evaluate(make(saturday, listed=True, consents=(), internal_opposition=True,
                      tenant_suspended=True, in_campaign=False))
    assert blocking(d) == {"TENANT_SUSPENDED", "CALLER_ID_NOT_IN_CAMPAIGN",
                           "INTERNAL_OPPOSITION", "WEEKEND", "BLOCTEL_LISTED"}


def test_next_allowed_at_none_when_a_block_has_no_retry():
    d = evaluate(make(at_day(date(2026, 6, 20), 22), internal_opposition=True))
    assert d.decision == "deny" and d.next_allowed_at is None


def test_next_allowed_at_takes_the_latest_constraint():
    refusal = datetime(2026, 5, 1, 15, tzinfo=PARIS)  # R+61 = 2026-07-01, a Wednesday
    quarantine = datetime(2026, 6, 20, 12, tzinfo=PARIS)
    d = evaluate(make(at_day(date(2026, 6, 20), 22), refusals=(refusal,),
                      quarantined_until=quarantine))
    assert d.next_allowed_at == at_day(date(2026, 7, 1), 10)
    assert evaluate(make(d.next_allowed_at, refusals=(refusal,),
                         quarantined_until=quarantine)).allowed


def test_next_allowed_at_skips_holidays_found_after_a_retry():
    # frequency frees the consumer on 2026-07-14 00:00 (Bastille Day) → 15th at 10:00
    attempts = (datetime(2026, 6, 14, 12, tzinfo=PARIS), *(
        datetime(2026, 7, d, 12, tzinfo=PARIS) for d in (1, 2, 3)))
    d = evaluate(make(at_day(date(2026, 7, 10), 11), counted_attempts=attempts))
    assert blocking(d) == {"FREQUENCY_LIMIT"}
    assert d.next_allowed_at == at_day(date(2026, 7, 15), 10)


def test_next_allowed_at_is_expressed_in_the_consumers_zone():
    d = evaluate(make(datetime(2026, 6, 15, 5, 0, tzinfo=PARIS), callee="0694123456"))
    assert d.callee_time_zone == "America/Cayenne"
    assert d.next_allowed_at.tzinfo == ZoneInfo("America/Cayenne")
    assert (d.next_allowed_at.hour, d.next_allowed_at.minute) == (10, 0)


def test_naive_instant_is_read_as_utc_rather_than_crashing():
    naive = datetime(2026, 6, 15, 9, 0)  # 11:00 in Paris
    assert evaluate(make(naive, consents=())).allowed
