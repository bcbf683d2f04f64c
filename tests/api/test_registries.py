"""Consents, contracts and the internal opposition list."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tests.api.conftest import aware, blocking, codes
from tests.factories import CALLEE, Tenant, add_consent


def canonical_sha256(evidence: Any) -> str:
    text = json.dumps(evidence, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


EVIDENCE = [
    {"form": "optin-v3", "ip": "203.0.113.7"},
    {"z": 1, "a": {"é": "Zoë «oui»", "b": [1, 2, {"y": None, "x": True}]}, "m": "東京"},
    {},
    {"nested": {"deep": {"deeper": ["🙂", -3, 10 ** 15]}}, "text": "line\nbreak\t\"quoted\""},
]


def test_consent_evidence_is_hashed_as_canonical_json(tenant: Tenant) -> None:
    wrong = {}
    for n, evidence in enumerate(EVIDENCE):
        consent = add_consent(tenant, callee=f"+3361234560{n}", evidence=evidence)
        if consent["evidence_sha256"] != canonical_sha256(evidence):
            wrong[n] = consent["evidence_sha256"]
        stored = tenant.get(f"/v1/consents/{consent['id']}").json()
        if stored["evidence"] != evidence or stored["evidence_sha256"] != canonical_sha256(
                evidence):
            wrong[f"{n} read back"] = stored
    assert wrong == {}
    # key order and whitespace as sent do not change the hash
    reordered = tenant.client.post(
        "/v1/consents", headers={"Authorization": f"Bearer {tenant.admin}",
                                 "Content-Type": "application/json"},
        content=json.dumps({"evidence": dict(reversed(list(EVIDENCE[1].items()))),
                            "callee": CALLEE, "scope": "canvassing", "channel": "web_form",
                            "given_at": "2026-09-01T10:00:00+02:00"}, indent=4).encode())
    assert reordered.status_code == 201
    assert reordered.json()["evidence_sha256"] == canonical_sha256(EVIDENCE[1])


def test_consent_record_as_created(tenant: Tenant) -> None:
    consent = add_consent(tenant, callee="06 12 34 56 78", scope="outside_hours",
                          given_at="2026-09-01T10:00:00+02:00",
                          expires_at="2027-09-01T10:00:00+02:00")
    assert consent["callee"] == CALLEE
    assert consent["scope"] == "outside_hours"
    assert aware(consent["given_at"]) == aware("2026-09-01T08:00:00+00:00")
    assert aware(consent["expires_at"]) == aware("2027-09-01T08:00:00+00:00")
    assert consent["revoked_at"] is None
    assert consent["id"]


def test_consent_validation(tenant: Tenant) -> None:
    base = {"callee": CALLEE, "scope": "canvassing", "given_at": "2026-09-01T10:00:00+02:00",
            "channel": "web_form", "evidence": {"form": "x"}}
    cases = {
        "naive given_at": base | {"given_at": "2026-09-01T10:00:00"},
        "naive expires_at": base | {"expires_at": "2027-09-01T10:00:00"},
        "date only": base | {"given_at": "2026-09-01"},
        "not a date": base | {"given_at": "last tuesday"},
        "expires before given": base | {"expires_at": "2026-08-01T10:00:00+02:00"},
        "unknown scope": base | {"scope": "everything"},
        "invalid callee": base | {"callee": "not a number"},
        "callee too short": base | {"callee": "06 12"},
        "evidence not an object": base | {"evidence": "trust me"},
        "no evidence": {k: v for k, v in base.items() if k != "evidence"},
        "empty channel": base | {"channel": ""},
        "extra field": base | {"signed": True},
    }
    got = {name: tenant.post("/v1/consents", body).status_code for name, body in cases.items()}
    assert got == {name: 422 for name in cases}
    assert tenant.get("/v1/consents").json() == []


def test_revoking_a_consent(tenant: Tenant) -> None:
    consent = add_consent(tenant)
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"
    r = tenant.post(f"/v1/consents/{consent['id']}/revoke", {"reason": "asked by email"})
    assert r.status_code == 200, r.text
    revoked = r.json()
    assert aware(revoked["revoked_at"]) == aware("2026-11-23T10:30:00+01:00")
    assert revoked["revoke_reason"] == "asked by email"
    body = tenant.check(callee=CALLEE).json()
    assert (body["decision"], codes(body)) == ("deny", ["CONSENT_REVOKED"])
    # revoking again keeps the first revocation
    again = tenant.post(f"/v1/consents/{consent['id']}/revoke", {"reason": "twice"})
    assert again.status_code == 200
    assert (again.json()["revoked_at"], again.json()["revoke_reason"]) == (
        revoked["revoked_at"], "asked by email")
    assert tenant.post("/v1/consents/con_nope/revoke", {"reason": "x"}).status_code == 404
    # a new consent covers the consumer again
    add_consent(tenant, given_at="2026-11-23T10:00:00+01:00")
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"


def test_consent_scope_and_expiry_are_honoured(tenant: Tenant) -> None:
    add_consent(tenant, given_at="2026-09-01T10:00:00+02:00",
                expires_at="2026-11-20T00:00:00+01:00")
    assert codes(tenant.check(callee=CALLEE).json()) == ["CONSENT_EXPIRED"]
    add_consent(tenant, scope="outside_hours")
    early = tenant.evaluate(callee=CALLEE, at="2026-11-23T08:00:00+01:00").json()
    assert codes(early) == ["CONSENT_EXPIRED"]  # hours lifted, canvassing consent expired
    add_consent(tenant, scope="canvassing", given_at="2026-11-21T10:00:00+01:00")
    assert tenant.evaluate(callee=CALLEE, at="2026-11-23T08:00:00+01:00").json()[
        "decision"] == "allow"
    assert tenant.evaluate(callee=CALLEE, at="2026-11-29T08:00:00+01:00").json()[
        "decision"] == "allow"  # a Sunday: the outside-hours consent covers days too


def test_consents_are_listed_by_callee_in_any_form(tenant: Tenant) -> None:
    mine = add_consent(tenant)
    add_consent(tenant, callee="+33611223344")
    wrong = {}
    for form in ("+33612345678", "06 12 34 56 78", "0612345678", "+33 6 12 34 56 78"):
        listed = tenant.get("/v1/consents", params={"callee": form}).json()
        if [c["id"] for c in listed] != [mine["id"]]:
            wrong[form] = listed
    assert wrong == {}
    assert len(tenant.get("/v1/consents").json()) == 2
    assert tenant.get("/v1/consents", params={"callee": "+33699999999"}).json() == []
    assert tenant.get("/v1/consents", params={"callee": "garbage"}).status_code == 422


def test_contracts(tenant: Tenant) -> None:
    body = {"callee": "06 12 34 56 78", "reference": "C-2026-001", "sector": "general",
            "starts_on": "2026-01-01", "ends_on": None}
    r = tenant.post("/v1/contracts", body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["callee"], created["reference"], created["starts_on"]) == (
        CALLEE, "C-2026-001", "2026-01-01")
    cases = {
        "ends before it starts": body | {"reference": "C2", "ends_on": "2025-12-31"},
        "unknown sector": body | {"reference": "C3", "sector": "astrology"},
        "invalid callee": body | {"reference": "C4", "callee": "12"},
        "not a date": body | {"reference": "C5", "starts_on": "soon"},
        "empty reference": body | {"reference": ""},
        "extra field": body | {"reference": "C6", "amount": 12},
    }
    got = {name: tenant.post("/v1/contracts", b).status_code for name, b in cases.items()}
    assert got == {name: 422 for name in cases}
    assert tenant.post("/v1/contracts", body | {"callee": "+33611223344"}).status_code == 409
    listed = tenant.get("/v1/contracts", params={"callee": "0612345678"}).json()
    assert [c["reference"] for c in listed] == ["C-2026-001"]
    assert len(tenant.get("/v1/contracts").json()) == 1
    # a one-day contract is valid (ends_on inclusive)
    assert tenant.post("/v1/contracts", body | {"reference": "C7", "starts_on": "2026-02-01",
                                                "ends_on": "2026-02-01"}).status_code == 201


def test_an_ongoing_related_contract_covers_the_call(tenant: Tenant) -> None:
    """Opt-in regime: no consent, but an ongoing contract of the campaign's sector."""
    assert codes(tenant.check(callee=CALLEE).json()) == ["CONSENT_REQUIRED"]
    ended = {"callee": CALLEE, "reference": "OLD", "sector": "general",
             "starts_on": "2025-01-01", "ends_on": "2026-11-22"}
    assert tenant.post("/v1/contracts", ended).status_code == 201
    assert codes(tenant.check(callee=CALLEE).json()) == ["CONSENT_REQUIRED"]
    ongoing = ended | {"reference": "NEW", "ends_on": "2026-11-23"}
    assert tenant.post("/v1/contracts", ongoing).status_code == 201
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"
    # naming another contract does not borrow this one
    named = tenant.check(callee=CALLEE, contract_ref="OLD").json()
    assert blocking(named) == ["CONSENT_REQUIRED"]


def test_oppositions_are_idempotent(tenant: Tenant) -> None:
    add_consent(tenant)
    first = tenant.post("/v1/oppositions", {"callee": "06 12 34 56 78", "source": "letter"})
    assert first.status_code == 201, first.text
    assert first.json()["callee"] == CALLEE
    again = tenant.post("/v1/oppositions", {"callee": "+33612345678", "source": "phone"})
    assert again.status_code in (200, 201)
    assert again.json()["id"] == first.json()["id"]
    listed = tenant.get("/v1/oppositions").json()
    assert [(o["id"], o["source"]) for o in listed] == [(first.json()["id"], "letter")]
    body = tenant.check(callee=CALLEE).json()
    assert (body["decision"], codes(body)) == ("deny", ["INTERNAL_OPPOSITION"])
    assert body["next_allowed_at"] is None
    for bad in ({"callee": "nope"}, {}, {"callee": CALLEE, "source": ""},
                {"callee": CALLEE, "extra": 1}):
        assert tenant.post("/v1/oppositions", bad).status_code == 422, bad
