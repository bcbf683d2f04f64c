"""Press subscriptions (L223-5) outside the L223-1 bans in both regimes, and prerecorded
messages (CPCE L34-5) needing consent or an ongoing contract in both regimes."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from rules_fr import CallFacts, catalog, evaluate
from rules_fr.data import L34_5, sector_version

from .factories import (
    OPT_IN_MONDAY,
    OPT_OUT_MONDAY,
    at_day,
    blocking,
    codes,
    consent,
    contract,
    make,
    paris,
    reason,
)

OPT_OUT = at_day(OPT_OUT_MONDAY)
OPT_IN = at_day(OPT_IN_MONDAY)
PRESS = "press_subscription"
EXPIRED_IN_OPT_IN = consent(given_at=OPT_IN - timedelta(days=366))

# --- press ------------------------------------------------------------------------------------


def test_press_consent_exemption_is_dated_data():
    before, after = sector_version(PRESS, date(2026, 8, 10)), sector_version(PRESS, date(2026,
                                                                                         8, 11))
    assert before is not None and after is not None
    assert before.bloctel_exempt and not before.consent_exempt
    assert after.bloctel_exempt and after.consent_exempt
    assert "L223-5" in after.legal_basis and after.since == date(2026, 8, 11)


PRESS_CASES = {
    # name: (at, facts overrides, expected blocking codes)
    "opt-out-listed-no-consent": (OPT_OUT, {"listed": True, "consents": ()}, set()),
    "opt-out-no-list": (OPT_OUT, {"as_of": None, "consents": ()}, set()),
    "switch-eve-no-consent": (paris(2026, 8, 10, 11), {"consents": ()}, set()),
    "switch-day-no-consent": (paris(2026, 8, 11, 11), {"consents": ()}, set()),
    "opt-in-no-consent": (OPT_IN, {"consents": ()}, set()),
    "opt-in-listed-no-consent": (OPT_IN, {"consents": (), "listed": True}, set()),
    "opt-in-expired-consent": (OPT_IN, {"consents": (EXPIRED_IN_OPT_IN,)}, set()),
    "opt-in-revoked-consent": (
        OPT_IN, {"consents": (consent(given_at=OPT_IN - timedelta(days=9),
                                      revoked_at=OPT_IN - timedelta(days=1)),)}, set()),
    "opt-in-void-consent": (
        OPT_IN, {"consents": (replace(consent(given_at=OPT_IN - timedelta(days=9)),
                                      conditional_on_sale=True),)}, set()),
    "opt-in-old-refusal-withdrew-consent": (
        OPT_IN, {"refusals": (OPT_IN - timedelta(days=90),)}, set()),
    # still bound by §3, §4 and internal opposition
    "opt-in-recent-refusal": (OPT_IN, {"refusals": (OPT_IN - timedelta(days=10),)},
                              {"REFUSAL_COOLDOWN"}),
    "opt-in-saturday": (at_day(OPT_IN_MONDAY - timedelta(days=2)), {"consents": ()},
                        {"WEEKEND"}),
    "opt-in-evening": (at_day(OPT_IN_MONDAY, 20), {"consents": ()}, {"OUTSIDE_HOURS"}),
    "opt-in-christmas": (paris(2026, 12, 25, 11), {"consents": ()}, {"PUBLIC_HOLIDAY"}),
    "opt-in-fifth-attempt": (
        OPT_IN, {"consents": (), "counted_attempts": tuple(
            OPT_IN - timedelta(days=d) for d in (1, 2, 3, 4))}, {"FREQUENCY_LIMIT"}),
    "opt-in-internal-opposition": (OPT_IN, {"consents": (), "internal_opposition": True},
                                   {"INTERNAL_OPPOSITION"}),
    "opt-out-internal-opposition": (OPT_OUT, {"internal_opposition": True},
                                    {"INTERNAL_OPPOSITION"}),
}


@pytest.mark.parametrize(("at", "overrides", "expected"), PRESS_CASES.values(),
                         ids=list(PRESS_CASES))
def test_press_is_outside_the_l223_1_bans_but_not_outside_d223_9(at, overrides, expected):
    d = evaluate(make(at, sector=PRESS, **overrides))
    assert blocking(d) == expected
    assert not {c for c in codes(d) if c.startswith(("CONSENT_", "BLOCTEL_"))}


def test_other_sectors_still_need_consent_on_the_same_call():
    assert blocking(evaluate(make(OPT_IN, consents=()))) == {"CONSENT_REQUIRED"}


# --- prerecorded ------------------------------------------------------------------------------


def prerecorded(at: datetime, *, purpose: str = "commercial", audience: str = "consumers",
                **kw: object) -> CallFacts:
    facts = make(at, purpose=purpose, audience=audience, automated=True, **kw)
    return replace(facts, campaign=replace(facts.campaign, prerecorded=True))


VALID = {OPT_OUT: consent(given_at=OPT_OUT - timedelta(days=30)),
         OPT_IN: consent(given_at=OPT_IN - timedelta(days=30))}

PRERECORDED = {
    # name: (at, overrides, expected blocking codes)
    "opt-out-consent": (OPT_OUT, {"consents": (VALID[OPT_OUT],)}, set()),
    "opt-out-no-consent": (OPT_OUT, {"consents": ()}, {"PRERECORDED_WITHOUT_CONSENT"}),
    "opt-out-contract": (OPT_OUT, {"consents": (), "contracts": (contract(),)}, set()),
    "opt-out-old-consent-no-ceiling": (
        OPT_OUT, {"consents": (consent(given_at=datetime(2023, 1, 2, 12,
                                                          tzinfo=OPT_OUT.tzinfo)),)}, set()),
    "opt-out-expires_at-passed": (
        OPT_OUT, {"consents": (consent(given_at=OPT_OUT - timedelta(days=30),
                                       expires_at=OPT_OUT),)}, {"PRERECORDED_WITHOUT_CONSENT"}),
    "opt-out-revoked": (
        OPT_OUT, {"consents": (consent(given_at=OPT_OUT - timedelta(days=30),
                                       revoked_at=OPT_OUT),)}, {"PRERECORDED_WITHOUT_CONSENT"}),
    "opt-out-tied-sale": (
        OPT_OUT, {"consents": (replace(VALID[OPT_OUT], conditional_on_sale=True),)},
        {"PRERECORDED_WITHOUT_CONSENT"}),
    "opt-out-outside-hours-scope-only": (
        OPT_OUT, {"consents": (consent("outside_hours", given_at=OPT_OUT - timedelta(days=3)),)},
        {"PRERECORDED_WITHOUT_CONSENT"}),
    "opt-out-listed-no-consent": (OPT_OUT, {"consents": (), "listed": True},
                                  {"PRERECORDED_WITHOUT_CONSENT", "BLOCTEL_LISTED"}),
    "opt-in-consent": (OPT_IN, {"consents": (VALID[OPT_IN],)}, set()),
    "opt-in-contract": (OPT_IN, {"consents": (), "contracts": (contract(),)}, set()),
    "opt-in-contract-other-sector": (
        OPT_IN, {"consents": (), "contracts": (contract(sector="energy_renovation"),)},
        {"PRERECORDED_WITHOUT_CONSENT", "CONSENT_REQUIRED"}),
    "opt-in-no-consent": (OPT_IN, {"consents": ()},
                          {"PRERECORDED_WITHOUT_CONSENT", "CONSENT_REQUIRED"}),
    "opt-in-expired": (OPT_IN, {"consents": (EXPIRED_IN_OPT_IN,)},
                       {"PRERECORDED_WITHOUT_CONSENT", "CONSENT_EXPIRED"}),
    "opt-in-press-no-consent": (OPT_IN, {"consents": (), "sector": PRESS},
                                {"PRERECORDED_WITHOUT_CONSENT"}),
    "opt-out-press-no-consent": (OPT_OUT, {"consents": (), "sector": PRESS},
                                 {"PRERECORDED_WITHOUT_CONSENT"}),
}


@pytest.mark.parametrize(("at", "overrides", "expected"), PRERECORDED.values(),
                         ids=list(PRERECORDED))
def test_prerecorded_needs_consent_or_contract_in_both_regimes(at, overrides, expected):
    assert blocking(evaluate(prerecorded(at, **overrides))) == expected


@pytest.mark.parametrize("at", [OPT_OUT, OPT_IN], ids=["opt-out", "opt-in"])
@pytest.mark.parametrize(
    ("purpose", "audience", "expected"),
    [
        ("commercial", "professionals", {"PRERECORDED_WITHOUT_CONSENT"}),  # sole traders
        ("non_commercial", "consumers", set()),
        ("non_commercial", "professionals", set()),
    ],
)
def test_prerecorded_scope(at, purpose, audience, expected):
    d = evaluate(prerecorded(at, purpose=purpose, audience=audience, consents=()))
    assert blocking(d) == expected


@pytest.mark.parametrize(
    ("callee", "only"),
    [("01 23", "CALLEE_INVALID"), ("0899123456", "CALLEE_SPECIAL_SERVICE"),
     ("+442079460000", "CALLEE_NOT_SERVED")],
    ids=["invalid", "special", "foreign"],
)
def test_prerecorded_skips_callees_the_consumer_rules_skip(callee, only):
    assert blocking(evaluate(prerecorded(OPT_IN, callee=callee, consents=()))) == {only}


def test_a_live_campaign_is_not_judged_by_l34_5():
    assert blocking(evaluate(make(OPT_OUT, consents=(), automated=True))) == set()


def test_l34_5_is_in_force_since_the_lcen():
    before = evaluate(prerecorded(paris(2004, 6, 21, 11), audience="professionals", consents=()))
    after = evaluate(prerecorded(paris(2004, 6, 22, 11), audience="professionals", consents=()))
    assert "PRERECORDED_WITHOUT_CONSENT" not in codes(before)
    assert "PRERECORDED_WITHOUT_CONSENT" in codes(after)


def test_the_prerecorded_reason_names_l34_5_and_the_consent_problem():
    d = evaluate(prerecorded(OPT_IN, consents=(EXPIRED_IN_OPT_IN,)))
    r = reason(d, "PRERECORDED_WITHOUT_CONSENT")
    assert r.legal_basis == L34_5 and r.rule == "prerecorded" and r.retry_at is None
    assert "CONSENT_EXPIRED" in r.message and "valid until" in r.message
    assert d.next_allowed_at is None
    entry = {e.code: e for e in catalog()}["PRERECORDED_WITHOUT_CONSENT"]
    assert entry.since == date(2004, 6, 22) and "L34-5" in entry.legal_basis
