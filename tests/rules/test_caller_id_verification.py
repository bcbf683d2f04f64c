"""CALLER_ID_NOT_VERIFIED: where the operator requires it, a registered caller ID is usable only
once the operator verified it (ARCEP decision 2025-2215, the operator's terms). The rule reads
two facts: the registration's ``verified`` and ``caller_id_verification_required``."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rules_fr import catalog, evaluate

from .factories import OPT_IN_MONDAY, OPT_OUT_MONDAY, at_day, codes, make, reason

CASES = {
    # name: (verification required, registered, verified, in campaign) -> caller-ID codes
    "off, unverified: usable": ((False, True, False, True), set()),
    "off, verified: usable": ((False, True, True, True), set()),
    "required, unverified: denied": ((True, True, False, True), {"CALLER_ID_NOT_VERIFIED"}),
    "required, verified: usable": ((True, True, True, True), set()),
    "required, unregistered: only NOT_OWNED": ((True, False, False, True),
                                               {"CALLER_ID_NOT_OWNED"}),
    "required, unverified, outside the campaign: both": (
        (True, True, False, False), {"CALLER_ID_NOT_VERIFIED", "CALLER_ID_NOT_IN_CAMPAIGN"}),
    "required, verified, outside the campaign": ((True, True, True, False),
                                                 {"CALLER_ID_NOT_IN_CAMPAIGN"}),
}


@pytest.mark.parametrize("day", [OPT_OUT_MONDAY, OPT_IN_MONDAY], ids=["opt-out", "opt-in"])
@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_verification_table(case, day):
    (required, registered, verified, in_campaign), expected = case
    facts = make(at_day(day), registered=registered, in_campaign=in_campaign,
                 caller_id_verification_required=required)
    if facts.caller_registration is not None:
        facts = replace(facts, caller_registration=replace(facts.caller_registration,
                                                           verified=verified))
    d = evaluate(facts)
    assert codes(d) == expected
    assert d.allowed == (not expected)


def test_the_reason_names_its_legal_basis_and_the_number():
    facts = make(at_day(OPT_IN_MONDAY), caller_id_verification_required=True)
    r = reason(evaluate(facts), "CALLER_ID_NOT_VERIFIED")
    assert r.severity == "block" and r.rule == "caller_id"
    assert "2025-2215" in r.legal_basis and "opérateur" in r.legal_basis
    assert "+33162000001" in r.message


def test_unverified_is_not_time_based_so_no_retry_instant():
    d = evaluate(make(at_day(OPT_IN_MONDAY), caller_id_verification_required=True))
    assert not d.allowed and d.next_allowed_at is None


def test_the_catalogue_declares_the_code():
    entry = {e.code: e for e in catalog()}["CALLER_ID_NOT_VERIFIED"]
    assert entry.severity == "block" and entry.rule == "caller_id"
    assert "2025-2215" in entry.legal_basis
    assert "GATEWAY_CALLER_ID_VERIFICATION" in entry.severity_note


def test_a_registration_is_unverified_unless_said():
    facts = make(at_day(OPT_IN_MONDAY))
    assert facts.caller_registration is not None
    assert facts.caller_registration.verified is False
    assert facts.caller_id_verification_required is False  # default: off
