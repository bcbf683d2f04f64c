"""§5 opposition and consent: Bloctel until 2026-08-10, prior consent from 2026-08-11."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from rules_fr import Policy, evaluate

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

LAST_OPT_OUT = datetime(2026, 8, 10, 23, 59, tzinfo=PARIS)
FIRST_OPT_IN = datetime(2026, 8, 11, 0, 0, tzinfo=PARIS)
HOURS_OK = consent("outside_hours", given_at=datetime(2026, 1, 5, 12, tzinfo=PARIS))
OPT_IN = at_day(OPT_IN_MONDAY, 11)
OPT_OUT = at_day(OPT_OUT_MONDAY, 11)


# --- the switch -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("listed", "canvassing", "before", "after"),
    [
        (True, False, {"BLOCTEL_LISTED"}, {"CONSENT_REQUIRED"}),
        (False, False, set(), {"CONSENT_REQUIRED"}),
        (True, True, set(), set()),
        (False, True, set(), set()),
    ],
    ids=["listed-no-consent", "unlisted-no-consent", "listed-consent", "unlisted-consent"],
)
def test_regime_switch_at_paris_midnight(listed, canvassing, before, after):
    consents = (HOURS_OK, *((consent(),) if canvassing else ()))
    d1 = evaluate(make(LAST_OPT_OUT, listed=listed, consents=consents))
    d2 = evaluate(make(FIRST_OPT_IN, listed=listed, consents=consents))
    assert (d1.regime, d2.regime) == ("opt_out", "opt_in")
    assert (d1.ruleset_version, d2.ruleset_version) == ("fr-2025-07-02", "fr-2026-08-11")
    assert blocking(d1) == before
    assert blocking(d2) == after
    if listed and not canvassing:
        assert reason(d2, "BLOCTEL_LISTED").severity == "notice"


def test_regime_is_decided_on_paris_time_not_the_consumers():
    # 2026-08-11 01:00 in Réunion is still 2026-08-10 in Paris
    instant = datetime(2026, 8, 10, 23, 0, tzinfo=PARIS)
    d = evaluate(make(instant, callee="0692123456", consents=(HOURS_OK,)))
    assert d.regime == "opt_out" and d.allowed


def test_reschedule_across_the_switch_finds_the_new_regime():
    evening = datetime(2026, 8, 10, 21, tzinfo=PARIS)
    with_consent = evaluate(make(evening))
    assert blocking(with_consent) == {"OUTSIDE_HOURS"}
    assert with_consent.next_allowed_at == datetime(2026, 8, 11, 10, tzinfo=PARIS)
    without = evaluate(make(evening, consents=()))
    assert blocking(without) == {"OUTSIDE_HOURS"}
    assert without.next_allowed_at is None  # 2026-08-11 10:00 needs consent


def test_stale_list_stops_mattering_in_opt_in():
    consents = (HOURS_OK, consent())
    assert blocking(evaluate(make(LAST_OPT_OUT, as_of=date(2026, 6, 1), consents=consents))) == {
        "BLOCTEL_LIST_STALE"
    }
    assert evaluate(make(FIRST_OPT_IN, as_of=date(2026, 6, 1), consents=consents)).allowed
    assert evaluate(make(FIRST_OPT_IN, as_of=None, consents=consents)).allowed


# --- opt-out: Bloctel --------------------------------------------------------------------------


def test_bloctel_listed_blocks_without_exception():
    d = evaluate(make(OPT_OUT, listed=True, consents=()))
    assert blocking(d) == {"BLOCTEL_LISTED"}
    assert "L223-1" in reason(d, "BLOCTEL_LISTED").legal_basis
    assert d.next_allowed_at is None


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"consents": (consent(),)}, "recorded consent"),
        ({"consents": (), "contracts": (contract(),)}, "ongoing contract"),
        ({"consents": (), "sector": "press_subscription"}, "press subscription"),
    ],
    ids=["consent", "contract", "press"],
)
def test_bloctel_exceptions(kwargs, why):
    assert evaluate(make(OPT_OUT, listed=True, **kwargs)).allowed, why


@pytest.mark.parametrize(
    ("age", "stale"),
    [(0, False), (30, False), (31, True), (365, True)],
    ids=["today", "30-days", "31-days", "a-year"],
)
def test_bloctel_list_staleness(age, stale):
    d = evaluate(make(OPT_OUT, as_of=OPT_OUT_MONDAY - timedelta(days=age)))
    assert blocking(d) == ({"BLOCTEL_LIST_STALE"} if stale else set())


def test_bloctel_list_missing():
    d = evaluate(make(OPT_OUT, as_of=None))
    assert blocking(d) == {"BLOCTEL_LIST_MISSING"}
    assert d.next_allowed_at is None


def test_stale_or_missing_list_denies_even_with_contract_but_not_press():
    with_contract = make(OPT_OUT, as_of=None, contracts=(contract(),))
    assert blocking(evaluate(with_contract)) == {"BLOCTEL_LIST_MISSING"}
    assert evaluate(make(OPT_OUT, as_of=None, sector="press_subscription")).allowed
    assert evaluate(make(OPT_OUT, as_of=date(2025, 1, 1), sector="press_subscription")).allowed


def test_staleness_is_judged_on_the_paris_date():
    # 2026-07-01 00:30 Paris is still 2026-06-30 in UTC; a list of 2026-05-31 is 31 days old
    instant = datetime(2026, 7, 1, 0, 30, tzinfo=PARIS)
    consents = (HOURS_OK, consent())
    stale = evaluate(make(instant, as_of=date(2026, 5, 31), consents=consents))
    assert blocking(stale) == {"BLOCTEL_LIST_STALE"}
    assert evaluate(make(instant, as_of=date(2026, 6, 1), consents=consents)).allowed


# --- opt-in: consent ---------------------------------------------------------------------------


def test_no_consent_requires_consent():
    d = evaluate(make(OPT_IN, consents=()))
    assert blocking(d) == {"CONSENT_REQUIRED"}
    assert "2025-594" in reason(d, "CONSENT_REQUIRED").legal_basis


CONSENTS = [
    (consent(), True, None),
    (consent(given_at=OPT_IN), True, None),  # given at the very instant
    (consent(given_at=OPT_IN + timedelta(seconds=1)), False, "CONSENT_REQUIRED"),
    (consent(expires_at=OPT_IN), False, "CONSENT_EXPIRED"),
    (consent(expires_at=OPT_IN + timedelta(seconds=1)), True, None),
    (consent(revoked_at=OPT_IN), False, "CONSENT_REVOKED"),
    (consent(revoked_at=OPT_IN - timedelta(days=3)), False, "CONSENT_REVOKED"),
    (consent(revoked_at=OPT_IN + timedelta(seconds=1)), True, None),
    (consent("outside_hours"), False, "CONSENT_REQUIRED"),
]


@pytest.mark.parametrize(
    ("c", "allowed", "code"),
    CONSENTS,
    ids=["valid", "given-now", "given-later", "expired-now", "expires-later", "revoked-now",
         "revoked-before", "revoked-later", "wrong-scope"],
)
def test_consent_validity(c, allowed, code):
    d = evaluate(make(OPT_IN, consents=(c,)))
    assert d.allowed is allowed
    if code:
        assert blocking(d) == {code}


def test_expiry_is_explained():
    d = evaluate(make(OPT_IN, consents=(consent(expires_at=OPT_IN - timedelta(days=1)),)))
    assert "valid until 2026-11-22T10:59:59+01:00" in reason(d, "CONSENT_EXPIRED").message


def test_one_valid_consent_is_enough():
    revoked = consent(revoked_at=OPT_IN - timedelta(days=3))
    fresh = consent(given_at=OPT_IN - timedelta(days=1))
    assert evaluate(make(OPT_IN, consents=(revoked, fresh))).allowed


def test_refusal_withdraws_consent_in_opt_in():
    refusal = OPT_IN - timedelta(days=90)  # the cooldown is over
    d = evaluate(make(OPT_IN, refusals=(refusal,)))
    assert blocking(d) == {"CONSENT_REVOKED"}
    renewed = consent(given_at=refusal + timedelta(days=1))
    assert evaluate(make(OPT_IN, refusals=(refusal,), consents=(consent(), renewed))).allowed


def test_refusal_does_not_withdraw_consent_in_opt_out():
    refusal = OPT_OUT - timedelta(days=90)
    assert evaluate(make(OPT_OUT, listed=True, refusals=(refusal,))).allowed


def test_bloctel_listed_is_a_notice_in_opt_in_unless_policy_blocks():
    notice = evaluate(make(OPT_IN, listed=True, consents=()))
    assert reason(notice, "BLOCTEL_LISTED").severity == "notice"
    assert blocking(notice) == {"CONSENT_REQUIRED"}
    covered = evaluate(make(OPT_IN, listed=True))
    assert covered.allowed
    assert [(r.code, r.severity) for r in covered.reasons] == [("BLOCTEL_LISTED", "notice")]
    strict = make(OPT_IN, listed=True, consents=(), contracts=())
    strict = replace(strict, policy=Policy(bloctel_after_opt_in="block"))
    assert blocking(evaluate(strict)) == {"CONSENT_REQUIRED", "BLOCTEL_LISTED"}
    # the policy is for tenants who honour the list even with a consent
    strict_covered = replace(make(OPT_IN, listed=True), policy=Policy(bloctel_after_opt_in="block"))
    assert blocking(evaluate(strict_covered)) == {"BLOCTEL_LISTED"}


def test_a_notice_does_not_deny():
    d = evaluate(make(OPT_IN, listed=True, consents=(), contracts=(contract(),)))
    assert d.allowed and codes(d) == {"BLOCTEL_LISTED"} and blocking(d) == set()


# --- ongoing related contract ------------------------------------------------------------------

CONTRACTS = [
    (contract(), None, True),
    (contract(starts_on=OPT_IN_MONDAY), None, True),
    (contract(ends_on=OPT_IN_MONDAY), None, True),
    (contract(starts_on=OPT_IN_MONDAY + timedelta(days=1)), None, False),
    (contract(ends_on=OPT_IN_MONDAY - timedelta(days=1)), None, False),
    (contract(sector="energy_renovation"), None, False),  # not related to a general campaign
    (contract(reference="K-1"), "K-1", True),
    (contract(reference="K-1"), "K-2", False),
]


@pytest.mark.parametrize(
    ("k", "ref", "allowed"),
    CONTRACTS,
    ids=["open-ended", "starts-today", "ends-today", "not-started", "ended", "other-sector",
         "named-ref", "other-ref"],
)
def test_ongoing_related_contract_replaces_consent(k, ref, allowed):
    d = evaluate(make(OPT_IN, consents=(), contracts=(k,), contract_ref=ref))
    assert d.allowed is allowed
    if not allowed:
        assert blocking(d) == {"CONSENT_REQUIRED"}


def test_press_subscription_needs_no_consent_in_opt_in():
    # L223-5: press is outside the L223-1 bans (was CONSENT_REQUIRED before issue 12)
    d = evaluate(make(OPT_IN, consents=(), sector="press_subscription", listed=True))
    assert d.allowed and codes(d) == set()


# --- internal opposition (both regimes, all campaigns) ----------------------------------------


@pytest.mark.parametrize("at", [OPT_OUT, OPT_IN], ids=["opt-out", "opt-in"])
@pytest.mark.parametrize(
    ("purpose", "audience"),
    [("commercial", "consumers"), ("non_commercial", "consumers"),
     ("commercial", "professionals")],
)
def test_internal_opposition_everywhere(at, purpose, audience):
    d = evaluate(make(at, purpose=purpose, audience=audience, internal_opposition=True,
                      contracts=(contract(),)))
    assert blocking(d) == {"INTERNAL_OPPOSITION"}
    assert d.next_allowed_at is None
