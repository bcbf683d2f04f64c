"""§5 consent lifetime (R223-1, décret 2026-662, from 2026-08-11) and what makes a consent
void or foreign (loi 2025-594 art. 13): every boundary, in both scopes and both regimes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules_fr import ConsentFacts, Policy, catalog, evaluate
from rules_fr.data import R223_1_LIFETIME, consent_valid_until, paris_date

from .factories import PARIS, blocking, codes, consent, make, paris, reason

YEAR = timedelta(days=365)
SECOND = timedelta(seconds=1)
#: collected in the opt-in era; +365 days is Wednesday 2027-09-01 10:00, inside the hours
G = paris(2026, 9, 1, 10)
#: collected in the opt-out era; +365 days is Tuesday 2026-12-01 10:00
G_OLD = paris(2025, 12, 1, 10)
#: a shorter expires_at: the first invalid instant is Thursday 2026-10-01 11:00
SHORT = timedelta(days=30, hours=1)


def ok(**kw: object) -> ConsentFacts:
    return replace(consent(given_at=G), **kw)  # type: ignore[arg-type]


# --- the lifetime boundaries ----------------------------------------------------------------

LIFETIME = {
    # name: (consent, at, policy max age, expected blocking codes)
    "anniversary-instant": (ok(), G + YEAR, None, set()),
    "anniversary+1s": (ok(), G + YEAR + SECOND, None, {"CONSENT_EXPIRED"}),
    "collected-before-switch-anniversary": (
        consent(given_at=G_OLD), G_OLD + YEAR, None, set()),
    "collected-before-switch+1s": (
        consent(given_at=G_OLD), G_OLD + YEAR + SECOND, None, {"CONSENT_EXPIRED"}),
    "january-2025-in-november-2026": (
        consent(given_at=paris(2025, 1, 6, 12)), paris(2026, 11, 23, 11), None,
        {"CONSENT_EXPIRED"}),
    "expires_at-shorter-last-second": (ok(expires_at=G + SHORT), G + SHORT - SECOND, None, set()),
    "expires_at-shorter-reached": (
        ok(expires_at=G + SHORT), G + SHORT, None, {"CONSENT_EXPIRED"}),
    "expires_at-longer-cannot-widen": (
        ok(expires_at=G + 2 * YEAR), G + YEAR + SECOND, None, {"CONSENT_EXPIRED"}),
    "policy-tighter-last-instant": (ok(), G + timedelta(days=90), 90, set()),
    "policy-tighter+1s": (ok(), G + timedelta(days=90) + SECOND, 90, {"CONSENT_EXPIRED"}),
    "policy-looser-cannot-widen": (ok(), G + YEAR + SECOND, 400, {"CONSENT_EXPIRED"}),
    "policy-looser-anniversary": (ok(), G + YEAR, 400, set()),
    "given-in-the-future": (ok(given_at=G + SECOND), G, None, {"CONSENT_REQUIRED"}),
    "given-at-the-instant": (ok(), G, None, set()),
}


@pytest.mark.parametrize(("c", "at", "max_age", "expected"), LIFETIME.values(),
                         ids=list(LIFETIME))
def test_lifetime_boundaries(c, at, max_age, expected):
    d = evaluate(make(at, consents=(c,), policy=Policy(consent_max_age_days=max_age)))
    assert blocking(d) == expected
    assert d.allowed is (not expected)


def test_expiry_names_the_last_valid_instant_and_r223_1():
    d = evaluate(make(G + YEAR + SECOND, consents=(ok(),)))
    r = reason(d, "CONSENT_EXPIRED")
    assert "valid until 2027-09-01T10:00:00+02:00" in r.message
    assert "collected on 2026-09-01T10:00:00+02:00" in r.message
    assert r.legal_basis == R223_1_LIFETIME and "2026-662" in r.legal_basis
    assert r.rule == "consent_lifetime" and r.retry_at is None
    assert d.next_allowed_at is None  # waiting never renews a consent


def test_the_latest_expiry_is_named_when_several_lapsed():
    older = consent(given_at=G - timedelta(days=10))
    d = evaluate(make(G + YEAR + SECOND, consents=(older, ok())))
    assert "valid until 2027-09-01T10:00:00+02:00" in reason(d, "CONSENT_EXPIRED").message


def test_two_consents_lapsing_at_the_same_instant():
    twin = replace(ok(), source="Partner SA")
    d = evaluate(make(G + YEAR + SECOND, consents=(ok(), twin)))
    assert blocking(d) == {"CONSENT_EXPIRED"}


def test_one_valid_consent_among_lapsed_ones_is_enough():
    renewed = ok(given_at=G + timedelta(days=300))
    assert evaluate(make(G + YEAR + SECOND, consents=(ok(), renewed))).allowed


def test_expiry_is_judged_in_utc_whatever_the_offsets():
    given = datetime(2026, 9, 1, 8, tzinfo=UTC)  # 10:00 Paris
    c = consent(given_at=given)
    assert evaluate(make((given + YEAR).astimezone(PARIS), consents=(c,))).allowed
    assert blocking(evaluate(make(given + YEAR + SECOND, consents=(c,)))) == {"CONSENT_EXPIRED"}


def test_rescheduling_does_not_outlive_the_consent():
    # the consent lasts until 22:00 tonight: tomorrow 10:00 it has lapsed, no retry instant
    evening = paris(2026, 11, 23, 21)
    c = ok(given_at=paris(2026, 11, 23, 22) - YEAR)
    d = evaluate(make(evening, consents=(c,)))
    assert blocking(d) == {"OUTSIDE_HOURS"}
    assert d.next_allowed_at is None
    # with a consent valid tomorrow, tomorrow 10:00 is the next instant
    fresh = evaluate(make(evening, consents=(ok(given_at=evening - timedelta(days=10)),)))
    assert fresh.next_allowed_at == paris(2026, 11, 24, 10)


# --- the opt-out era: the ceiling is not in force, expires_at and the policy are -------------

OPT_OUT = paris(2026, 6, 15, 11)
LAST_OPT_OUT = paris(2026, 8, 10, 11)
FIRST_OPT_IN = paris(2026, 8, 11, 11)
ANCIENT = consent(given_at=paris(2024, 1, 8, 11))  # 2.5 years before the calls below

OPT_OUT_CASES = {
    "no-ceiling-before-2026-08-11": (ANCIENT, LAST_OPT_OUT, None, set()),
    "ceiling-from-2026-08-11": (ANCIENT, FIRST_OPT_IN, None, {"CONSENT_EXPIRED"}),
    "expires_at-applies-in-opt-out": (
        replace(ANCIENT, expires_at=OPT_OUT), OPT_OUT, None, {"BLOCTEL_LISTED"}),
    "policy-applies-in-opt-out": (ANCIENT, OPT_OUT, 365, {"BLOCTEL_LISTED"}),
    "policy-within-in-opt-out": (consent(given_at=OPT_OUT - timedelta(days=30)), OPT_OUT, 30,
                                 set()),
    "void-consent-does-not-lift-bloctel": (
        replace(ANCIENT, conditional_on_sale=True), OPT_OUT, None, {"BLOCTEL_LISTED"}),
    "foreign-consent-does-not-lift-bloctel": (
        replace(ANCIENT, covers_principal=False, source="Broker"), OPT_OUT, None,
        {"BLOCTEL_LISTED"}),
}


@pytest.mark.parametrize(("c", "at", "max_age", "expected"), OPT_OUT_CASES.values(),
                         ids=list(OPT_OUT_CASES))
def test_bloctel_exception_uses_the_same_validity(c, at, max_age, expected):
    d = evaluate(make(at, listed=True, consents=(c,),
                      policy=Policy(consent_max_age_days=max_age)))
    assert blocking(d) == expected


# --- the outside-hours consent lapses the same way ------------------------------------------

SATURDAY = paris(2026, 11, 28, 21)  # a Saturday evening


@pytest.mark.parametrize(
    ("hours_consent", "max_age", "expected"),
    [
        (consent("outside_hours", given_at=SATURDAY - YEAR), None, set()),
        (consent("outside_hours", given_at=SATURDAY - YEAR - SECOND), None, {"WEEKEND"}),
        (consent("outside_hours", given_at=SATURDAY - timedelta(days=31)), 30, {"WEEKEND"}),
        (consent("outside_hours", given_at=SATURDAY - timedelta(days=1),
                 expires_at=SATURDAY), None, {"WEEKEND"}),
        (replace(consent("outside_hours", given_at=SATURDAY - timedelta(days=1)),
                 notice_given=False), None, {"WEEKEND"}),
        (replace(consent("outside_hours", given_at=SATURDAY - timedelta(days=1)),
                 covers_principal=False), None, {"WEEKEND"}),
        (replace(consent("outside_hours", given_at=SATURDAY - timedelta(days=1)),
                 conditional_on_sale=True), None, {"WEEKEND"}),
    ],
    ids=["anniversary", "anniversary+1s", "policy", "expires_at", "no-notice", "foreign",
         "tied-sale"],
)
def test_outside_hours_consent_lifetime_and_validity(hours_consent, max_age, expected):
    canvassing = consent(given_at=SATURDAY - timedelta(days=10))
    d = evaluate(make(SATURDAY, consents=(canvassing, hours_consent),
                      policy=Policy(consent_max_age_days=max_age)))
    assert blocking(d) == expected


# --- void consents and consents that do not name the principal --------------------------------

AT = paris(2026, 11, 23, 11)
FRESH = consent(given_at=AT - timedelta(days=10))

VALIDITY = {
    "notice-given": (replace(FRESH, notice_given=True), None),
    "notice-not-recorded": (replace(FRESH, notice_given=None), None),
    "no-notice": (replace(FRESH, notice_given=False), "CONSENT_INVALID"),
    "tied-sale": (replace(FRESH, conditional_on_sale=True), "CONSENT_INVALID"),
    "partner-naming-the-principal": (replace(FRESH, source="Partner SA"), None),
    "partner-not-naming-the-principal": (
        replace(FRESH, source="Partner SA", covers_principal=False), "CONSENT_REQUIRED"),
}


@pytest.mark.parametrize(("c", "code"), VALIDITY.values(), ids=list(VALIDITY))
def test_what_a_valid_consent_names(c, code):
    d = evaluate(make(AT, consents=(c,)))
    assert blocking(d) == ({code} if code else set())


def test_void_consents_say_why():
    tied = evaluate(make(AT, consents=(replace(FRESH, conditional_on_sale=True),)))
    r = reason(tied, "CONSENT_INVALID")
    assert "condition of a sale" in r.message and "2025-594" in r.legal_basis
    assert "SAN-2025-001" in r.legal_basis
    silent = evaluate(make(AT, consents=(replace(FRESH, notice_given=False),)))
    assert "information notice" in reason(silent, "CONSENT_INVALID").message


def test_a_foreign_consent_is_named_in_the_message():
    c = replace(FRESH, source="DataBroker", covers_principal=False)
    facts = make(AT, consents=(c,))
    facts = replace(facts, campaign=replace(facts.campaign, principal="prn_energy"))
    msg = reason(evaluate(facts), "CONSENT_REQUIRED").message
    assert "consent from DataBroker exists but does not name the principal (prn_energy)" in msg


def test_a_revoked_foreign_consent_is_not_this_principals_revocation():
    c = replace(FRESH, covers_principal=False, revoked_at=AT - SECOND)
    assert blocking(evaluate(make(AT, consents=(c,)))) == {"CONSENT_REQUIRED"}


# --- precedence: one reason only ------------------------------------------------------------

EXPIRED = consent(given_at=AT - YEAR - SECOND)
INVALID = replace(FRESH, conditional_on_sale=True)
REVOKED = replace(FRESH, revoked_at=AT - timedelta(days=1))
FOREIGN = replace(FRESH, covers_principal=False, source="Broker")
FUTURE = replace(FRESH, given_at=AT + SECOND, conditional_on_sale=True)
EARLY = consent(given_at=AT - timedelta(days=100))  # before the refusal below

REFUSED = (AT - timedelta(days=70),)  # the cooldown is over; the withdrawal is not

PRECEDENCE = {
    "revoked>invalid>expired": ((EXPIRED, INVALID, REVOKED), (), "CONSENT_REVOKED"),
    "invalid>expired": ((EXPIRED, INVALID), (), "CONSENT_INVALID"),
    "expired>foreign": ((FOREIGN, EXPIRED), (), "CONSENT_EXPIRED"),
    "foreign-only": ((FOREIGN,), (), "CONSENT_REQUIRED"),
    "future-never-counts": ((FUTURE,), (), "CONSENT_REQUIRED"),
    "withdrawn-by-refusal>invalid": ((INVALID, EARLY), REFUSED, "CONSENT_REVOKED"),
}


@pytest.mark.parametrize(("consents", "refusals", "code"), PRECEDENCE.values(),
                         ids=list(PRECEDENCE))
def test_one_consent_reason_by_precedence(consents, refusals, code):
    d = evaluate(make(AT, consents=consents, refusals=refusals))
    assert {c for c in codes(d) if c.startswith("CONSENT_")} == {code}
    assert blocking(d) == {code}


# --- the catalogue ----------------------------------------------------------------------------


def test_the_new_codes_are_catalogued_with_their_dates_and_bases():
    entries = {e.code: e for e in catalog()}
    expired, invalid = entries["CONSENT_EXPIRED"], entries["CONSENT_INVALID"]
    assert expired.since == invalid.since == paris_date(FIRST_OPT_IN)
    assert "R223-1" in expired.legal_basis and "2026-662" in expired.legal_basis
    assert "2025-594" in invalid.legal_basis and "SAN-2024-003" in invalid.legal_basis
    assert expired.severity == invalid.severity == "block"


# --- the rule agrees with consent_valid_until, whatever the age and policy -------------------


@settings(max_examples=200, deadline=None)
@given(
    age_s=st.integers(0, 3 * 365 * 86400),
    max_age=st.one_of(st.none(), st.integers(1, 800)),
    expires_in_s=st.one_of(st.none(), st.integers(1, 3 * 365 * 86400)),
)
def test_valid_iff_within_consent_valid_until(age_s, max_age, expires_in_s):
    at = paris(2027, 5, 19, 11)  # a Wednesday in the opt-in era
    given_at = at - timedelta(seconds=age_s)
    expires_at = None if expires_in_s is None else given_at + timedelta(seconds=expires_in_s)
    c = consent(given_at=given_at, expires_at=expires_at)
    d = evaluate(make(at, consents=(c,), policy=Policy(consent_max_age_days=max_age)))
    until = consent_valid_until(given_at, expires_at, paris_date(at), max_age)
    assert until is not None and until <= given_at + YEAR  # never wider than R223-1
    assert d.allowed is (at <= until)
    if not d.allowed:
        assert blocking(d) == {"CONSENT_EXPIRED"}
