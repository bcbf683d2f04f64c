"""§6 regulated sectors, and which campaigns the consumer rules (§3–§6) apply to."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from rules_fr import evaluate

from .factories import (
    OPT_IN_MONDAY,
    OPT_OUT_MONDAY,
    PARIS,
    at_day,
    blocking,
    codes,
    consent,
    contract,
    make,
    reason,
)

OPT_OUT = at_day(OPT_OUT_MONDAY, 11)
OPT_IN = at_day(OPT_IN_MONDAY, 11)


def _weekday_at(day: date) -> datetime:
    """``day`` at 11:00 Paris, with an outside-hours consent so that only §4–§6 matter."""
    return datetime(day.year, day.month, day.day, 11, tzinfo=PARIS)


HOURS_OK = consent("outside_hours", given_at=datetime(2015, 1, 5, tzinfo=PARIS))
# a consent given within a year of every opt-in day below (R223-1: 365 days at most)
CONSENTS = (HOURS_OK, consent(given_at=datetime(2026, 1, 5, tzinfo=PARIS)))

SECTORS = [
    # sector, day, contract sector (None: no contract), banned
    ("energy_renovation", date(2020, 7, 25), None, False),
    ("energy_renovation", date(2020, 7, 26), None, True),
    ("energy_renovation", OPT_OUT_MONDAY, None, True),
    ("energy_renovation", OPT_IN_MONDAY, None, True),
    ("energy_renovation", OPT_OUT_MONDAY, "energy_renovation", False),
    ("energy_renovation", OPT_OUT_MONDAY, "general", True),
    ("home_adaptation", date(2025, 7, 1), None, False),
    ("home_adaptation", date(2025, 7, 2), None, True),
    ("home_adaptation", OPT_IN_MONDAY, "home_adaptation", False),
    ("home_adaptation", OPT_IN_MONDAY, "energy_renovation", True),
    ("cpf_training", date(2022, 12, 20), None, False),
    ("cpf_training", date(2022, 12, 21), None, True),
    ("cpf_training", OPT_OUT_MONDAY, "cpf_training", False),  # ongoing training
    ("cpf_training", OPT_OUT_MONDAY, "general", True),
    ("premium_rate_callback", date(2019, 1, 7), None, True),
    ("premium_rate_callback", OPT_OUT_MONDAY, None, True),
    ("premium_rate_callback", OPT_OUT_MONDAY, "premium_rate_callback", True),  # no exception
    ("press_subscription", OPT_OUT_MONDAY, None, False),
    ("general", OPT_OUT_MONDAY, None, False),
    ("general", OPT_IN_MONDAY, "general", False),
]


@pytest.mark.parametrize(
    ("sector", "day", "contract_sector", "banned"),
    SECTORS,
    ids=[f"{s}-{d}-{c or 'no-contract'}" for s, d, c, _ in SECTORS],
)
def test_sector_table(sector, day, contract_sector, banned):
    contracts = (contract(sector=contract_sector, starts_on=date(2015, 1, 1)),) \
        if contract_sector else ()
    d = evaluate(make(_weekday_at(day), sector=sector, contracts=contracts, consents=CONSENTS))
    assert blocking(d) == ({"SECTOR_BANNED"} if banned else set())
    if banned:
        r = reason(d, "SECTOR_BANNED")
        assert r.legal_basis and r.rule == "sector"
        assert d.next_allowed_at is None


def test_sector_legal_basis_follows_the_version_in_force():
    old = reason(evaluate(make(_weekday_at(date(2024, 3, 4)), sector="energy_renovation")),
                 "SECTOR_BANNED")
    new = reason(evaluate(make(OPT_OUT, sector="energy_renovation")), "SECTOR_BANNED")
    assert "2020-901" in old.legal_basis and "2025-594" in new.legal_basis
    cpf = reason(evaluate(make(OPT_OUT, sector="cpf_training")), "SECTOR_BANNED")
    assert "L6323-8-1" in cpf.legal_basis


def test_expired_contract_does_not_lift_the_ban():
    k = contract(sector="energy_renovation", ends_on=OPT_OUT_MONDAY - timedelta(days=1))
    d = evaluate(make(OPT_OUT, sector="energy_renovation", contracts=(k,)))
    assert blocking(d) == {"SECTOR_BANNED"}


def test_press_subscription_still_bound_by_hours_and_frequency():
    saturday = at_day(date(2026, 6, 20), 11)
    assert blocking(evaluate(make(saturday, sector="press_subscription", listed=True))) == {
        "WEEKEND"
    }
    attempts = tuple(OPT_OUT - timedelta(days=i) for i in range(1, 5))
    d = evaluate(make(OPT_OUT, sector="press_subscription", counted_attempts=attempts))
    assert blocking(d) == {"FREQUENCY_LIMIT"}


# --- scope ---------------------------------------------------------------------------------

EVERYTHING_WRONG_FOR_A_CONSUMER = {
    "listed": True,
    "as_of": None,
    "consents": (),
    "sector": "energy_renovation",
    "refusals": (datetime(2026, 11, 20, 15, tzinfo=PARIS),),
}


@pytest.mark.parametrize(
    ("purpose", "audience"),
    [("non_commercial", "consumers"), ("commercial", "professionals"),
     ("non_commercial", "professionals")],
)
@pytest.mark.parametrize("regime_day", [date(2026, 6, 20), date(2026, 11, 28)],
                         ids=["opt-out-saturday", "opt-in-saturday"])
def test_non_consumer_campaigns_skip_consumer_rules(purpose, audience, regime_day):
    at = at_day(regime_day, 23)
    attempts = tuple(at - timedelta(days=i) for i in range(1, 9))
    facts = make(at, purpose=purpose, audience=audience, counted_attempts=attempts,
                 **EVERYTHING_WRONG_FOR_A_CONSUMER)
    assert evaluate(facts).allowed
    # ... but not the numbering rules, internal opposition, suspension
    assert codes(evaluate(make(at, purpose=purpose, audience=audience, caller=None))) == {
        "CALLER_ID_MISSING"
    }
    assert codes(evaluate(make(at, purpose=purpose, audience=audience, callee="0899123456"))) \
        == {"CALLEE_SPECIAL_SERVICE"}
    assert codes(evaluate(make(at, purpose=purpose, audience=audience,
                               internal_opposition=True))) == {"INTERNAL_OPPOSITION"}
    assert codes(evaluate(make(at, purpose=purpose, audience=audience,
                               tenant_suspended=True))) == {"TENANT_SUSPENDED"}
    assert codes(evaluate(make(at, purpose=purpose, audience=audience, registered=False))) == {
        "CALLER_ID_NOT_OWNED"
    }


def test_the_same_facts_deny_a_commercial_consumer_campaign():
    at = at_day(date(2026, 11, 28), 23)
    attempts = tuple(at - timedelta(days=i) for i in range(1, 9))
    d = evaluate(make(at, counted_attempts=attempts, **EVERYTHING_WRONG_FOR_A_CONSUMER))
    assert blocking(d) == {"WEEKEND", "FREQUENCY_LIMIT", "REFUSAL_COOLDOWN", "CONSENT_REQUIRED",
                           "SECTOR_BANNED"}
    assert codes(d) == blocking(d) | {"BLOCTEL_LISTED"}  # a notice in opt-in
    opt_out = at_day(date(2026, 6, 20), 23)
    refusals = (datetime(2026, 6, 18, 15, tzinfo=PARIS),)
    attempts = tuple(opt_out - timedelta(days=i) for i in range(1, 9))
    d = evaluate(make(opt_out, counted_attempts=attempts,
                      **{**EVERYTHING_WRONG_FOR_A_CONSUMER, "refusals": refusals}))
    assert blocking(d) == {"WEEKEND", "FREQUENCY_LIMIT", "REFUSAL_COOLDOWN",
                           "BLOCTEL_LIST_MISSING", "BLOCTEL_LISTED", "SECTOR_BANNED"}


def test_suspended_tenant_every_call_denied():
    d = evaluate(make(OPT_OUT, tenant_suspended=True))
    assert codes(d) == {"TENANT_SUSPENDED"} and d.next_allowed_at is None
