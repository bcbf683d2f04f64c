"""Caller-ID classes (rules-fr.md §2): every class of presented number × manual / automated ×
commercial / non-commercial × tenant policy ``automated_shared_cost_cli`` off / on, on dates
around 2023-01-01 (ARCEP 2022-1583) and 2024-06-06 (Conseil d'État, n° 489787)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest

from rules_fr import Policy, classify, evaluate
from rules_fr.data import CODES
from rules_fr.rules import never_caller_id

from .factories import PARIS, make

S = "CALLER_ID_SPECIAL_SERVICE"
R = "CALLER_ID_NOT_CANVASSING_RANGE"
O = "CALLER_ID_NOT_OWNED"  # noqa: E741
M = "CALLER_ID_MOBILE_AUTOMATED"
AGENT = "agent-1"

#: (label, presented number, manual, automated, automated with the shared-cost policy): the
#: caller-ID codes from 2023-01-01, whatever the campaign's purpose
CLASSES = [
    ("npv-01-62", "01 62 00 00 01", set(), set(), set()),
    ("npv-09-48", "09 48 12 34 56", set(), set(), set()),
    ("npv-overseas-09-478", "0947 80 00 00", set(), set(), set()),
    ("npv-overseas-+590", "+590 947 51 23 45", set(), set(), set()),
    ("free-08-00", "08 00 12 34 56", set(), set(), set()),
    ("free-08-05", "08 05 12 34 56", set(), set(), set()),
    ("shared-cost-08-10", "08 10 12 34 56", {S}, {S}, set()),
    ("shared-cost-08-25", "08 25 12 34 56", {S}, {S}, set()),
    ("shared-cost-08-84-not-081-082", "08 84 12 34 56", {S}, {S}, {S}),
    ("premium-089", "08 99 12 34 56", {S}, {S}, {S}),
    ("premium-0890", "08 90 12 34 56", {S}, {S}, {S}),
    ("premium-other-0836", "08 36 12 34 56", {S}, {S}, {S}),
    ("directory-118", "118 712", {S}, {S}, {S}),
    ("short-3BPQ", "3949", {S}, {S}, {S}),
    ("short-3BPQ-36", "3651", {S}, {S}, {S}),
    ("short-10XY", "1014", {S}, {S}, {S}),
    ("short-emergency-112", "112", {S}, {S}, {S}),
    ("short-emergency-15", "15", {S}, {S}, {S}),
    ("short-116XXX", "116000", {S}, {S}, {S}),
    # left out by the arrêté, but a short number is not registrable (E.164 only)
    ("short-30PQ", "3010", {O}, {O, R}, {O, R}),
    ("short-31PQ", "3107", {O}, {O, R}, {O, R}),
    ("geographic", "01 40 00 00 00", set(), {R}, {R}),
    ("geographic-overseas", "0590 99 12 34", set(), {R}, {R}),
    ("platform-09-37", "09 37 12 34 56", set(), {R}, {R}),
    ("platform-09-39", "09 39 12 34 56", set(), {R}, {R}),
    ("non-geographic-09", "09 12 34 56 78", set(), {R}, {R}),
    ("mobile", "06 12 34 56 78", set(), {M}, {M}),
    ("mobile-overseas", "0692 12 34 56", set(), {M}, {M}),
    ("foreign", "+44 20 7946 0958", set(), {R}, {R}),
    ("satellite", "+881 6 123 45678", set(), {R}, {R}),
    ("international-freephone-+800", "+800 1234 5678", set(), {R}, {R}),
]

BEFORE_ARCEP = datetime(2022, 12, 30, 11, tzinfo=PARIS)  # Friday
AFTER_ARCEP = datetime(2023, 1, 2, 11, tzinfo=PARIS)  # Monday
BEFORE_CE = datetime(2024, 6, 5, 11, tzinfo=PARIS)  # Wednesday
AFTER_CE = datetime(2024, 6, 6, 11, tzinfo=PARIS)  # Thursday
TODAY = datetime(2026, 11, 23, 11, tzinfo=PARIS)  # Monday, opt-in era
SINCE_2023 = [AFTER_ARCEP, BEFORE_CE, AFTER_CE, TODAY]
MODES = ["manual", "automated", "automated+policy"]


def caller_codes(cli: str, at: datetime, purpose: str, mode: str) -> set[str]:
    registrable = (classify(cli).e164 or "").startswith("+")  # what POST /v1/caller-ids takes
    facts = make(at, caller=cli, purpose=purpose, automated=mode != "manual",
                 registered=registrable, assigned_to=AGENT, agent_id=AGENT)
    facts = replace(facts, policy=Policy(automated_shared_cost_cli=mode.endswith("policy")))
    return {r.code for r in evaluate(facts).reasons if r.code.startswith("CALLER_ID")}


@pytest.mark.parametrize("purpose", ["commercial", "non_commercial"])
@pytest.mark.parametrize("at", SINCE_2023, ids=lambda t: t.date().isoformat())
@pytest.mark.parametrize(("label", "cli", "manual", "auto", "auto_policy"), CLASSES,
                         ids=[c[0] for c in CLASSES])
def test_caller_id_classes_since_2023(label, cli, manual, auto, auto_policy, at, purpose):
    got = {mode: caller_codes(cli, at, purpose, mode) for mode in MODES}
    assert got == dict(zip(MODES, (manual, auto, auto_policy), strict=True))


@pytest.mark.parametrize("purpose", ["commercial", "non_commercial"])
@pytest.mark.parametrize(("label", "cli", "manual", "auto", "auto_policy"), CLASSES,
                         ids=[c[0] for c in CLASSES])
def test_before_2023_automated_campaigns_are_judged_like_manual_ones(
    label, cli, manual, auto, auto_policy, purpose
):
    """No verified-number requirement yet: the never-classes and ownership only (the policy
    admits shared-cost numbers only under the requirement it is an exception to)."""
    got = {mode: caller_codes(cli, BEFORE_ARCEP, purpose, mode) for mode in MODES}
    assert got == dict.fromkeys(MODES, manual)


def _reason(cli: str, at: datetime, code: str, **kw: object):
    facts = make(at, caller=cli, registered=(classify(cli).e164 or "").startswith("+"), **kw)
    (r,) = [r for r in evaluate(facts).reasons if r.code == code]
    return r


@pytest.mark.parametrize(
    ("cli", "basis"),
    [
        ("08 99 12 34 56", "5 juillet 2016"),
        ("118 712", "5 juillet 2016"),
        ("3949", "5 juillet 2016"),
        ("1014", "numéros courts"),
        ("08 36 12 34 56", "opérateur"),
        ("08 10 12 34 56", "opérateur"),
    ],
)
def test_special_service_names_its_legal_basis(cli, basis):
    r = _reason(cli, TODAY, S)
    assert basis in r.legal_basis
    assert r.severity == "block" and r.rule == "caller_id"
    if basis == "5 juillet 2016":
        assert "L221-17" in r.legal_basis
        assert "may never be presented as a caller ID" in r.message


def test_the_arrete_of_5_july_2016_is_dated():
    before = _reason("08 99 12 34 56", datetime(2016, 7, 29, 11, tzinfo=PARIS), S)
    after = _reason("08 99 12 34 56", datetime(2016, 8, 1, 11, tzinfo=PARIS), S)
    assert "5 juillet 2016" not in before.legal_basis  # the operator's terms already refused it
    assert "5 juillet 2016" in after.legal_basis


@pytest.mark.parametrize(
    ("at", "purpose", "ce"),
    [(AFTER_ARCEP, "commercial", False), (BEFORE_CE, "non_commercial", False),
     (AFTER_CE, "non_commercial", True), (AFTER_CE, "commercial", True)],
)
def test_not_a_verified_number_message_and_basis(at, purpose, ce):
    r = _reason("09 37 12 34 56", at, R, automated=True, purpose=purpose)
    assert "not a verified number (NPV) for automated calls" in r.message
    assert "technical-platform" in r.message and "polyvalent vérifié" not in r.message
    assert "2022-1583" in r.legal_basis
    assert ("Conseil d'État" in r.legal_basis) is ce


def test_catalog_descriptions_say_what_the_codes_mean():
    assert "not a verified number (NPV) for automated" in CODES[R].description
    assert "08 0x" in CODES[R].description and "platform" in CODES[R].description
    assert "5 juillet 2016" in (CODES[S].legal_basis or "")
    assert "free 08 0x number is a lawful caller ID" in CODES[S].description


@pytest.mark.parametrize(
    ("cli", "never"),
    [("08 99 12 34 56", True), ("118 218", True), ("3949", True), ("1014", True),
     ("112", True), ("08 36 12 34 56", True), ("3010", False), ("3199", False),
     ("08 10 12 34 56", False), ("08 00 12 34 56", False), ("01 62 00 00 01", False),
     ("09 37 12 34 56", False), ("06 12 34 56 78", False)],
)
def test_never_caller_id_ignores_campaign_and_policy(cli, never):
    assert (never_caller_id(classify(cli), TODAY.date()) is not None) is never
