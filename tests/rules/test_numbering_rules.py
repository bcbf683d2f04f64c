"""§1–§2 callee and caller-ID rules, which apply to every campaign."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules_fr import Policy, classify, evaluate

from .factories import (
    OPT_IN_MONDAY,
    OPT_OUT_MONDAY,
    PARIS,
    UTC,
    at_day,
    blocking,
    codes,
    make,
    reason,
)

AT = at_day(OPT_OUT_MONDAY, 11)

# --- callee ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("callee", "code"),
    [
        ("garbage", "CALLEE_INVALID"),
        ("", "CALLEE_INVALID"),
        ("+33639123456", "CALLEE_INVALID"),
        ("08 99 12 34 56", "CALLEE_SPECIAL_SERVICE"),
        ("08 25 12 34 56", "CALLEE_SPECIAL_SERVICE"),
        ("08 00 12 34 56", "CALLEE_SPECIAL_SERVICE"),
        ("118 712", "CALLEE_SPECIAL_SERVICE"),
        ("3949", "CALLEE_SPECIAL_SERVICE"),
        ("+881 6 123 45678", "CALLEE_SPECIAL_SERVICE"),
        ("+870 773 111 632", "CALLEE_SPECIAL_SERVICE"),
        ("+44 7911 123456", "CALLEE_NOT_SERVED"),
        ("+1 202 555 0123", "CALLEE_NOT_SERVED"),
    ],
)
def test_callee_rules_give_one_reason(callee, code):
    # a Saturday with a listed number: the consumer rules are skipped for such callees
    saturday = at_day(date(2026, 6, 20), 22)
    d = evaluate(make(saturday, callee=callee, listed=True, consents=()))
    assert codes(d) == {code}
    assert d.decision == "deny" and d.next_allowed_at is None


@pytest.mark.parametrize("callee", ["0612345678", "0140000000", "0692123456", "0508411234",
                                    "0937123456", "0912345678"])
def test_valid_french_callees_pass(callee):
    tz = classify(callee).time_zone
    assert evaluate(make(at_day(OPT_OUT_MONDAY, 11, tz=ZoneInfo(tz)), callee=callee)).allowed


def test_foreign_destination_allowed_by_policy_is_a_notice_and_skips_consumer_rules():
    saturday = at_day(date(2026, 6, 20), 22)
    facts = make(saturday, callee="+44 7911 123456", listed=True, consents=())
    d = evaluate(replace(facts, policy=Policy(foreign_destinations="allow")))
    assert d.allowed
    assert reason(d, "CALLEE_NOT_SERVED").severity == "notice"
    assert d.callee_time_zone == "Europe/Paris"  # fallback zone


def test_quarantine():
    until = AT + timedelta(days=3)
    d = evaluate(make(AT, quarantined_until=until))
    assert blocking(d) == {"CALLEE_UNASSIGNED"}
    assert reason(d, "CALLEE_UNASSIGNED").retry_at == until
    assert d.next_allowed_at == until
    assert evaluate(make(AT, quarantined_until=AT)).allowed  # ends at that instant
    assert evaluate(make(AT, quarantined_until=AT - timedelta(seconds=1))).allowed


def test_quarantine_ending_at_night_waits_for_the_window():
    until = datetime(2026, 6, 17, 3, 0, tzinfo=PARIS)
    d = evaluate(make(AT, quarantined_until=until))
    assert d.next_allowed_at == at_day(date(2026, 6, 17), 10)


def test_quarantine_applies_to_non_commercial_campaigns():
    d = evaluate(make(AT, purpose="non_commercial", quarantined_until=AT + timedelta(days=1)))
    assert blocking(d) == {"CALLEE_UNASSIGNED"}


# --- caller ID ---------------------------------------------------------------------------------


def test_missing_caller_id_gives_only_missing():
    for automated in (False, True):
        d = evaluate(make(AT, caller=None, automated=automated))
        assert codes(d) == {"CALLER_ID_MISSING"}
    blank = replace(make(AT), caller=classify("   "))
    assert codes(evaluate(blank)) == {"CALLER_ID_MISSING"}


@pytest.mark.parametrize("cli", ["garbage", "06 12 34", "+33639123456", "0033"])
def test_invalid_caller_id_gives_only_invalid(cli):
    d = evaluate(make(AT, caller=cli, automated=True))
    assert codes(d) == {"CALLER_ID_INVALID"}


@pytest.mark.parametrize(
    ("cli", "blocked"),
    [("08 99 12 34 56", True), ("08 25 12 34 56", True), ("08 10 12 34 56", True),
     ("08 00 12 34 56", False), ("01 40 00 00 00", False), ("09 12 34 56 78", False)],
    ids=["premium", "shared-cost-82", "shared-cost-81", "toll-free", "geographic", "voip"],
)
def test_special_service_caller_id(cli, blocked):
    d = evaluate(make(AT, caller=cli))
    assert blocking(d) == ({"CALLER_ID_SPECIAL_SERVICE"} if blocked else set())


def test_special_service_cli_in_automated_campaign_is_not_also_out_of_range():
    d = evaluate(make(AT, caller="08 99 12 34 56", automated=True))
    assert codes(d) == {"CALLER_ID_SPECIAL_SERVICE"}


def test_not_owned():
    d = evaluate(make(AT, registered=False))
    assert codes(d) == {"CALLER_ID_NOT_OWNED"}  # not also NOT_IN_CAMPAIGN


def test_not_in_campaign():
    d = evaluate(make(AT, in_campaign=False))
    assert codes(d) == {"CALLER_ID_NOT_IN_CAMPAIGN"}


def test_owned_and_in_campaign_passes():
    assert evaluate(make(AT)).allowed


# --- mobile caller IDs (ARCEP 2022-1583, since 2023-01-01) ------------------------------------

MOBILE_CLI = "07 81 23 45 67"


def test_mobile_cli_in_automated_campaign():
    d = evaluate(make(AT, caller=MOBILE_CLI, automated=True, assigned_to="a1", agent_id="a1"))
    assert codes(d) == {"CALLER_ID_MOBILE_AUTOMATED"}  # not also NOT_CANVASSING_RANGE


def test_overseas_mobile_cli_in_automated_campaign():
    d = evaluate(make(AT, caller="0692 12 34 56", automated=True))
    assert codes(d) == {"CALLER_ID_MOBILE_AUTOMATED"}


def test_mobile_rules_not_in_force_before_2023():
    friday = datetime(2022, 12, 30, 11, tzinfo=PARIS)
    d = evaluate(make(friday, caller=MOBILE_CLI, automated=False, assigned_to="a1",
                      agent_id="a2", mobile_cli_attempts=500,
                      mobile_cli_day=date(2022, 12, 30)))
    assert d.allowed
    assert codes(evaluate(make(friday, caller=MOBILE_CLI, automated=True))) == set()
    monday = datetime(2023, 1, 2, 11, tzinfo=PARIS)
    auto = evaluate(make(monday, caller=MOBILE_CLI, automated=True))
    assert codes(auto) == {"CALLER_ID_MOBILE_AUTOMATED"}


@pytest.mark.parametrize(
    ("assigned_to", "agent_id", "shared"),
    [("a1", "a1", False), ("a1", "a2", True), ("a1", None, True), (None, None, True),
     (None, "a1", True)],
    ids=["own-agent", "other-agent", "no-agent", "unassigned", "unassigned-with-agent"],
)
def test_mobile_cli_belongs_to_one_agent(assigned_to, agent_id, shared):
    d = evaluate(make(AT, caller=MOBILE_CLI, assigned_to=assigned_to, agent_id=agent_id))
    assert blocking(d) == ({"CALLER_ID_MOBILE_SHARED"} if shared else set())


@pytest.mark.parametrize(
    ("attempts", "day", "blocked"),
    [(149, OPT_OUT_MONDAY, False), (150, OPT_OUT_MONDAY, True), (400, OPT_OUT_MONDAY, True),
     (400, OPT_OUT_MONDAY - timedelta(days=1), False)],
    ids=["149", "150", "400", "yesterday"],
)
def test_mobile_cli_daily_volume(attempts, day, blocked):
    d = evaluate(make(AT, caller=MOBILE_CLI, assigned_to="a1", agent_id="a1",
                      mobile_cli_attempts=attempts, mobile_cli_day=day))
    assert blocking(d) == ({"CALLER_ID_MOBILE_VOLUME"} if blocked else set())
    if blocked:
        tomorrow = datetime(2026, 6, 16, 0, 0, tzinfo=PARIS)
        assert reason(d, "CALLER_ID_MOBILE_VOLUME").retry_at == tomorrow
        assert d.next_allowed_at == at_day(date(2026, 6, 16), 10)


def test_mobile_volume_cap_is_a_policy():
    facts = make(AT, caller=MOBILE_CLI, assigned_to="a1", agent_id="a1",
                 mobile_cli_attempts=20, mobile_cli_day=OPT_OUT_MONDAY)
    assert evaluate(facts).allowed
    assert not evaluate(replace(facts, policy=Policy(mobile_daily_cap=20))).allowed


def test_mobile_volume_day_is_the_paris_day():
    instant = datetime(2026, 6, 15, 23, 30, tzinfo=UTC)  # 2026-06-16 01:30 in Paris
    facts = make(instant, caller=MOBILE_CLI, assigned_to="a1", agent_id="a1",
                 mobile_cli_attempts=200, mobile_cli_day=date(2026, 6, 16))
    d = evaluate(facts)
    assert reason(d, "CALLER_ID_MOBILE_VOLUME").retry_at == datetime(2026, 6, 17, tzinfo=PARIS)
    stale_count = replace(facts, mobile_cli_day=date(2026, 6, 15))  # the UTC day: not today
    assert "CALLER_ID_MOBILE_VOLUME" not in codes(evaluate(stale_count))


# --- canvassing ranges ------------------------------------------------------------------------

RANGES = [
    # cli, purpose, automated, at, blocked
    ("01 62 00 00 01", "commercial", True, AT, False),
    ("09 49 12 34 56", "commercial", True, AT, False),
    ("09 47 51 23 45", "commercial", True, AT, False),  # overseas range, national form
    ("+590 947 51 23 45", "commercial", True, AT, False),
    ("+33 9 47 51 23 45", "commercial", True, AT, False),  # the same line (one line, one key)
    ("01 40 00 00 00", "commercial", True, AT, True),
    ("09 37 12 34 56", "commercial", True, AT, True),  # a platform number is not an NPV
    ("09 12 34 56 78", "commercial", True, AT, True),
    ("08 00 12 34 56", "commercial", True, AT, False),  # a free number satisfies it
    ("+44 20 7946 0958", "commercial", True, AT, True),
    ("01 40 00 00 00", "commercial", False, AT, False),  # manual calls: any valid CLI
    ("01 40 00 00 00", "non_commercial", True, AT, True),  # Conseil d'État 2024-06-06
    # the Conseil d'État confirmed (2024-06-06) a rule in force since 2023-01-01
    ("01 40 00 00 00", "non_commercial", True, datetime(2024, 6, 5, 11, tzinfo=PARIS), True),
    ("01 40 00 00 00", "non_commercial", True, datetime(2024, 6, 6, 11, tzinfo=PARIS), True),
    ("0590 99 12 34", "non_commercial", True, AT, True),  # overseas geographic too
    ("09 37 12 34 56", "non_commercial", True, AT, True),  # every automated campaign
    ("01 62 00 00 01", "non_commercial", True, AT, False),
    ("01 40 00 00 00", "commercial", True, datetime(2022, 12, 30, 11, tzinfo=PARIS), False),
]


@pytest.mark.parametrize(
    ("cli", "purpose", "automated", "at", "blocked"),
    RANGES,
    ids=[f"{c}-{p}-{'auto' if a else 'manual'}-{t.date()}" for c, p, a, t, _ in RANGES],
)
def test_canvassing_ranges(cli, purpose, automated, at, blocked):
    d = evaluate(make(at, caller=cli, purpose=purpose, automated=automated))
    expected = {"CALLER_ID_NOT_CANVASSING_RANGE"} if blocked else set()
    assert blocking(d) == expected
    if blocked:
        r = reason(d, "CALLER_ID_NOT_CANVASSING_RANGE")
        assert "2022-1583" in r.legal_basis
        if at >= datetime(2024, 6, 6, tzinfo=PARIS):
            assert "Conseil d'État" in r.legal_basis


def test_professional_audience_automated_commercial_still_needs_canvassing_range():
    d = evaluate(make(at_day(OPT_IN_MONDAY), caller="01 40 00 00 00", automated=True,
                      audience="professionals", consents=()))
    assert codes(d) == {"CALLER_ID_NOT_CANVASSING_RANGE"}
