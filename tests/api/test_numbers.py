"""Per-number views: a callee's history, the proof of a consent, the next calling window."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update

from app.db import session_scope
from app.registries.models import Consent
from tests.api.conftest import MONDAY, aware, outcome
from tests.factories import CALLEE, Tenant, add_consent

STORY = "+33612340001"  # consent → attempts → refusal → new consent; expired consent; contract
OPPOSED = "+33612340002"  # a valid consent overridden by an internal opposition
CONSENTED = "+33612340003"  # a plain valid consent
NO_CONSENT = "+33612340004"


def _story(t: Tenant, freeze: Callable[[str], None]) -> dict[str, Any]:
    """Built on past frozen instants, read on MONDAY (2026-11-23 10:30 Paris)."""
    ids: dict[str, Any] = {}
    ids["expired"] = add_consent(t, STORY, given_at="2026-08-15T10:00:00+02:00",
                                 expires_at="2026-08-31T10:00:00+02:00")["id"]
    ids["c1"] = add_consent(t, "06 12 34 00 01", given_at="2026-09-01T10:00:00+02:00")["id"]
    r = t.post("/v1/contracts", {"callee": "0612340001", "reference": "CTR-1",
                                 "starts_on": "2025-01-01", "ends_on": "2026-11-22"})
    assert r.status_code == 201, r.text
    freeze("2026-11-02T10:30:00+01:00")
    a1 = t.check(callee=STORY).json()
    assert a1["decision"] == "allow", a1
    freeze("2026-11-02T10:35:00+01:00")
    assert outcome(t, a1["attempt_id"], "no_answer").status_code == 200
    freeze("2026-11-03T11:00:00+01:00")
    a2 = t.check(callee=STORY).json()
    assert a2["decision"] == "allow", a2
    freeze("2026-11-03T11:05:00+01:00")
    r = outcome(t, a2["attempt_id"], duration_s=40, consumer_refused=True)
    assert r.status_code == 200, r.text
    freeze("2026-11-04T10:30:00+01:00")
    ids["c2"] = add_consent(t, STORY, given_at="2026-11-04T09:00:00+01:00",
                            evidence={"form": "optin-v4", "ip": "198.51.100.2"})["id"]
    a3 = t.check(callee=STORY).json()
    assert a3["decision"] == "deny" and "REFUSAL_COOLDOWN" in [
        x["code"] for x in a3["reasons"]], a3
    ids["attempts"] = [a1["attempt_id"], a2["attempt_id"], a3["attempt_id"]]
    freeze(MONDAY)
    return ids


# --- history ---------------------------------------------------------------------------------


def test_history_tells_the_whole_story(tenant: Tenant, freeze: Callable[[str], None]) -> None:
    ids = _story(tenant, freeze)
    r = tenant.get("/v1/numbers/06%2012%2034%2000%2001/history")
    assert r.status_code == 200, r.text
    h = r.json()
    assert h["callee"] == STORY and h["callee_time_zone"] == "Europe/Paris"
    assert [c["id"] for c in h["consents"]] == [ids["expired"], ids["c1"], ids["c2"]]
    c1 = h["consents"][1]
    assert c1["revoked_at"] == "2026-11-03T11:05:00+01:00"
    assert c1["revoke_reason"] == f"refused during call {ids['attempts'][1]}"
    assert c1["evidence"] == {"form": "optin-v3", "ip": "203.0.113.7"}
    assert len(c1["evidence_sha256"]) == 64
    assert [(c["reference"], c["ends_on"]) for c in h["contracts"]] == [("CTR-1", "2026-11-22")]
    assert [x["attempt_id"] for x in h["refusals"]] == [ids["attempts"][1]]
    assert h["oppositions"] == [] and h["quarantines"] == []
    att = h["attempts"]["items"]
    assert [a["attempt_id"] for a in att] == ids["attempts"]
    assert [a["decision"] for a in att] == ["allow", "allow", "deny"]
    assert [a["outcome_status"] for a in att] == ["no_answer", "answered", None]
    assert att[1]["consumer_refused"] is True
    assert "REFUSAL_COOLDOWN" in att[2]["reason_codes"]
    assert att[2]["penalty_eur"] == "0.02" and att[0]["penalty_eur"] == "0.00"
    assert {a["regime"] for a in att} == {"opt_in"}
    assert all(a["ruleset_version"].startswith("fr-") for a in att)
    assert h["attempts"]["next_after"] is None
    # the timeline is chronological and tells each event once
    times = [aware(e["at"]) for e in h["timeline"]]
    assert times == sorted(times)
    assert [e["event"] for e in h["timeline"]] == [
        "contract_started", "consent_given", "consent_expired", "consent_given", "attempt",
        "attempt", "refusal", "consent_revoked", "consent_given", "attempt",
        "contract_ended",
    ]
    # the refusal withdraws the consent in force, not the one that had already expired
    assert [e["detail"] for e in h["timeline"] if e["event"] == "consent_revoked"] == [
        f"refused during call {ids['attempts'][1]}"]
    s = h["summary"]
    assert s["at"] == MONDAY
    assert s["has_valid_consent"] is True and s["valid_consents"] == [ids["c2"]]
    assert s["active_contracts"] == []  # ended yesterday (inclusive last day 2026-11-22)
    assert s["opposed"] is False
    # refused on 3 Nov: 60 full days, calls resume on 3 Jan 2027 at 00:00
    assert s["refusal_cooldown_until"] == "2027-01-03T00:00:00+01:00"
    assert s["quarantined_until"] is None
    assert (s["attempts_total"], s["attempts_allowed"], s["attempts_denied"]) == (3, 2, 1)
    assert s["penalty_total_eur"] == "0.02"
    assert s["last_attempt_at"] == "2026-11-04T10:30:00+01:00"


def test_history_opposition_and_quarantine(tenant: Tenant) -> None:
    add_consent(tenant, OPPOSED)
    assert tenant.post("/v1/oppositions", {"callee": OPPOSED, "source": "letter"}).status_code \
        == 201
    a = tenant.check(callee=OPPOSED).json()
    assert "INTERNAL_OPPOSITION" in [x["code"] for x in a["reasons"]]
    add_consent(tenant, CONSENTED)
    b = tenant.check(callee=CONSENTED).json()
    assert outcome(tenant, b["attempt_id"], "unassigned", sip_code=404).status_code == 200

    h = tenant.get(f"/v1/numbers/{OPPOSED}/history").json()
    assert h["summary"]["opposed"] is True and h["summary"]["has_valid_consent"] is True
    assert h["summary"]["opposed_since"] == MONDAY
    assert [o["source"] for o in h["oppositions"]] == ["letter"]
    q = tenant.get(f"/v1/numbers/{CONSENTED}/history").json()
    assert [x["attempt_id"] for x in q["quarantines"]] == [b["attempt_id"]]
    assert q["summary"]["quarantined_until"] == "2026-12-23T10:30:00+01:00"


def test_history_paginates_attempts(tenant: Tenant) -> None:
    add_consent(tenant, CONSENTED)
    made = [tenant.check(callee=CONSENTED).json()["attempt_id"] for _ in range(5)]
    seen, after = [], None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2} | ({"after": after} if after else {})
        page = tenant.get(f"/v1/numbers/{CONSENTED}/history", params=params).json()["attempts"]
        seen += [a["attempt_id"] for a in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 5
    bad = tenant.get(f"/v1/numbers/{CONSENTED}/history", params={"after": "att_nope"})
    assert bad.status_code == 422
    assert tenant.get(f"/v1/numbers/{CONSENTED}/history", params={"limit": 0}).status_code == 422


# --- proof -----------------------------------------------------------------------------------


def test_proof_of_a_consent_withdrawn_by_refusal(
    tenant: Tenant, freeze: Callable[[str], None]
) -> None:
    ids = _story(tenant, freeze)
    r = tenant.get(f"/v1/consents/{ids['c1']}/proof")
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["consent"]["id"] == ids["c1"]
    assert p["evidence_intact"] is True
    assert p["evidence_sha256_recomputed"] == p["consent"]["evidence_sha256"]
    life = p["lifecycle"]
    assert life["status"] == "revoked"
    assert life["valid_until"] == life["revoked_at"] == "2026-11-03T11:05:00+01:00"
    assert life["withdrawn_by_refusal_at"] == "2026-11-03T11:05:00+01:00"
    assert [x["attempt_id"] for x in life["refusals_after"]] == [ids["attempts"][1]]
    assert [a["attempt_id"] for a in p["attempts_under"]["items"]] == ids["attempts"][:2]

    c2 = tenant.get(f"/v1/consents/{ids['c2']}/proof").json()
    # no expires_at: valid through collection + 365 days (R223-1), over one second later
    assert c2["lifecycle"]["status"] == "valid" and c2["consent"]["status"] == "valid"
    assert c2["consent"]["valid_until"] == "2027-11-04T09:00:00+01:00"
    assert c2["lifecycle"]["valid_until"] == "2027-11-04T09:00:01+01:00"
    assert c2["lifecycle"]["refusals_after"] == []
    assert [a["attempt_id"] for a in c2["attempts_under"]["items"]] == ids["attempts"][2:]

    old = tenant.get(f"/v1/consents/{ids['expired']}/proof").json()
    assert old["lifecycle"]["status"] == "expired"
    assert old["lifecycle"]["valid_until"] == "2026-08-31T10:00:00+02:00"
    assert old["attempts_under"]["items"] == []


def test_proof_detects_tampered_evidence(tenant: Tenant) -> None:
    consent = add_consent(tenant, CONSENTED)
    with session_scope(write=True) as s:
        s.execute(update(Consent).where(Consent.id == consent["id"])
                  .values(evidence={"form": "optin-v3", "ip": "203.0.113.8"}))
    p = tenant.get(f"/v1/consents/{consent['id']}/proof").json()
    assert p["evidence_intact"] is False
    assert p["consent"]["evidence_sha256"] == consent["evidence_sha256"]
    assert p["evidence_sha256_recomputed"] != consent["evidence_sha256"]


def test_proof_of_unknown_consent_is_404(tenant: Tenant) -> None:
    assert tenant.get("/v1/consents/con_nope/proof").status_code == 404


# --- next window -----------------------------------------------------------------------------

WINDOW_CASES = [
    # (name, callee, at, callable, next_allowed_at, blocking codes)
    ("callable now", CONSENTED, MONDAY, True, MONDAY, []),
    ("night", CONSENTED, "2026-11-23T22:00:00+01:00", False, "2026-11-24T10:00:00+01:00",
     ["OUTSIDE_HOURS"]),
    ("weekend", CONSENTED, "2026-11-21T11:00:00+01:00", False, "2026-11-23T10:00:00+01:00",
     ["WEEKEND"]),
    ("lunch", CONSENTED, "2026-11-23T13:30:00+01:00", False, "2026-11-23T14:00:00+01:00",
     ["OUTSIDE_HOURS"]),
    ("no consent: never without a change", NO_CONSENT, MONDAY, False, None,
     ["CONSENT_REQUIRED"]),
    ("opposition overrides consent", OPPOSED, MONDAY, False, None, ["INTERNAL_OPPOSITION"]),
]


@pytest.mark.parametrize(
    "name,callee,at,callable_now,next_at,block", WINDOW_CASES, ids=[c[0] for c in WINDOW_CASES]
)
def test_next_window(
    tenant: Tenant, freeze: Callable[[str], None], name: str, callee: str, at: str,
    callable_now: bool, next_at: str | None, block: list[str],
) -> None:
    add_consent(tenant, CONSENTED)
    add_consent(tenant, OPPOSED)
    tenant.post("/v1/oppositions", {"callee": OPPOSED, "source": "letter"})
    freeze(at)
    r = tenant.get(f"/v1/numbers/{callee}/next-window", role="dialer",
                   params={"campaign": "spring-2026"})
    assert r.status_code == 200, r.text
    w = r.json()
    assert w["callee"] == callee and w["checked_at"] == at
    assert w["callable_now"] is callable_now
    assert w["next_allowed_at"] == next_at
    assert [b["code"] for b in w["blocking"]] == block
    assert all(b["legal_basis"] and b["message"] for b in w["blocking"])
    # nothing was logged
    assert tenant.get(f"/v1/numbers/{callee}/history").json()["summary"]["attempts_total"] == 0


def test_next_window_refusal_cooldown(tenant: Tenant, freeze: Callable[[str], None]) -> None:
    _story(tenant, freeze)
    w = tenant.get(f"/v1/numbers/{STORY}/next-window", role="dialer",
                   params={"campaign": "spring-2026"}).json()
    assert w["callable_now"] is False
    assert [b["code"] for b in w["blocking"]] == ["REFUSAL_COOLDOWN"]
    # cooldown ends 3 Jan 2027 00:00 (a Sunday): the next window is Monday 4 Jan at 10:00
    assert w["next_allowed_at"] == "2027-01-04T10:00:00+01:00"


def test_next_window_frequency_limit(tenant: Tenant) -> None:
    add_consent(tenant, CONSENTED)
    for _ in range(4):
        assert tenant.check(callee=CONSENTED).json()["decision"] == "allow"
    w = tenant.get(f"/v1/numbers/{CONSENTED}/next-window", role="admin",
                   params={"campaign": "spring-2026"}).json()
    assert [b["code"] for b in w["blocking"]] == ["FREQUENCY_LIMIT"]
    # four attempts on 23 Nov: the window reopens 30 days later, Wednesday 23 Dec at 10:00
    assert w["next_allowed_at"] == "2026-12-23T10:00:00+01:00"


def test_next_window_unknown_campaign_is_404(tenant: Tenant) -> None:
    r = tenant.get(f"/v1/numbers/{CALLEE}/next-window", role="dialer",
                   params={"campaign": "nope"})
    assert r.status_code == 404


# --- invalid numbers, roles, tenants ---------------------------------------------------------


@pytest.mark.parametrize("number", ["12", "not-a-number", "+33 1", "0012"])
@pytest.mark.parametrize("path,role", [
    ("/v1/numbers/{n}/history", "compliance"),
    ("/v1/numbers/{n}/next-window?campaign=spring-2026", "dialer"),
])
def test_invalid_number_is_422(tenant: Tenant, number: str, path: str, role: str) -> None:
    r = tenant.get(path.format(n=number), role=role)
    assert r.status_code == 422, r.text


ROLE_CASES = [
    ("/v1/numbers/{callee}/history", {"compliance": 200, "admin": 200, "dialer": 403,
                                      "operator": 403}),
    ("/v1/consents/{consent}/proof", {"compliance": 200, "admin": 200, "dialer": 403,
                                      "operator": 403}),
    ("/v1/numbers/{callee}/next-window?campaign=spring-2026",
     {"dialer": 200, "admin": 200, "compliance": 403, "operator": 403}),
]


@pytest.mark.parametrize("path,expected", ROLE_CASES, ids=[c[0] for c in ROLE_CASES])
def test_roles(tenant: Tenant, path: str, expected: dict[str, int]) -> None:
    consent = add_consent(tenant, CONSENTED)
    url = path.format(callee=CONSENTED, consent=consent["id"])
    got = {role: tenant.get(url, role=role).status_code for role in expected}
    assert got == expected
    assert tenant.client.get(url).status_code == 401


def test_tenant_isolation(tenant: Tenant, other: Tenant, freeze: Callable[[str], None]) -> None:
    ids = _story(tenant, freeze)
    tenant.post("/v1/oppositions", {"callee": STORY, "source": "letter"})
    # the other tenant sees nothing of Acme's story, and cannot read Acme's consent proof
    h = other.get(f"/v1/numbers/{STORY}/history").json()
    assert (h["consents"], h["contracts"], h["oppositions"], h["refusals"], h["quarantines"],
            h["attempts"]["items"], h["timeline"]) == ([], [], [], [], [], [], [])
    s = h["summary"]
    assert (s["has_valid_consent"], s["opposed"], s["refusal_cooldown_until"],
            s["attempts_total"]) == (False, False, None, 0)
    for consent_id in (ids["c1"], ids["c2"], ids["expired"]):
        assert other.get(f"/v1/consents/{consent_id}/proof").status_code == 404
    # Acme's attempt ids are no cursor for the other tenant
    r = other.get(f"/v1/numbers/{STORY}/history", params={"after": ids["attempts"][0]})
    assert r.status_code == 422
    # the other tenant's next window is judged on its own facts: no consent (Acme's does not
    # count), no opposition, no refusal cooldown
    w = other.get(f"/v1/numbers/{STORY}/next-window", role="dialer",
                  params={"campaign": "spring-2026"}).json()
    assert [b["code"] for b in w["blocking"]] == ["CONSENT_REQUIRED"]
    # and Acme's own views still tell its story
    mine = tenant.get(f"/v1/numbers/{STORY}/next-window", role="dialer",
                      params={"campaign": "spring-2026"}).json()
    assert {b["code"] for b in mine["blocking"]} == {"INTERNAL_OPPOSITION", "REFUSAL_COOLDOWN"}


def test_erased_number_keeps_its_story_and_its_proof(tenant: Tenant, other: Tenant) -> None:
    consent = add_consent(tenant, CONSENTED)
    attempt = tenant.check(callee=CONSENTED).json()
    assert tenant.post(f"/v1/numbers/{CONSENTED}/erasure").status_code == 201

    h = tenant.get(f"/v1/numbers/{CONSENTED}/history").json()
    assert [(c["id"], c["erased"]) for c in h["consents"]] == [(consent["id"], True)]
    assert h["consents"][0]["evidence"].get("erased") is True
    assert h["consents"][0]["evidence_sha256"] == consent["evidence_sha256"]
    assert [o["erased"] for o in h["oppositions"]] == [True]
    assert len(h["erasures"]) == 1 and h["erasures"][0]["erased"]["consents"] == 1
    assert [a["attempt_id"] for a in h["attempts"]["items"]] == [attempt["attempt_id"]]
    assert "erasure" in [e["event"] for e in h["timeline"]]
    s = h["summary"]
    assert (s["opposed"], s["has_valid_consent"]) == (True, False)

    p = tenant.get(f"/v1/consents/{consent['id']}/proof").json()
    assert (p["evidence_intact"], p["evidence_sha256_recomputed"]) == (None, None)
    assert p["consent"]["evidence_sha256"] == consent["evidence_sha256"]
    assert p["lifecycle"]["status"] == "revoked"
    assert p["lifecycle"]["revoke_reason"] == "erasure request"

    w = tenant.get(f"/v1/numbers/{CONSENTED}/next-window", role="dialer",
                   params={"campaign": "spring-2026"}).json()
    assert w["next_allowed_at"] is None  # blocked for good, and no consent under the number
    assert [b["code"] for b in w["blocking"]] == ["INTERNAL_OPPOSITION", "CONSENT_REQUIRED"]
    # another tenant's view of the same number knows nothing of it
    mine = other.get(f"/v1/numbers/{CONSENTED}/history").json()
    assert (mine["consents"], mine["oppositions"], mine["erasures"]) == ([], [], [])


def test_next_window_at_an_instant_and_with_a_caller_id(tenant: Tenant) -> None:
    add_consent(tenant, CONSENTED)
    url = f"/v1/numbers/{CONSENTED}/next-window"
    night = {"campaign": "spring-2026", "at": "2026-11-24T21:00:00+01:00"}
    w = tenant.get(url, role="dialer", params=night).json()
    assert w["checked_at"] == night["at"]
    assert (w["callable_now"], w["next_allowed_at"]) == (False, "2026-11-25T10:00:00+01:00")
    assert w["caller_id"] == "+33162000001"  # the campaign's only caller ID
    # a caller ID the campaign does not present: no instant will do until the campaign changes
    other_cli = {"campaign": "spring-2026", "caller_id": "01 40 00 00 01"}
    w = tenant.get(url, role="dialer", params=other_cli).json()
    assert w["next_allowed_at"] is None
    assert "CALLER_ID_NOT_IN_CAMPAIGN" in [b["code"] for b in w["blocking"]]
    assert tenant.get(url, role="dialer", params={"campaign": "spring-2026",
                                                  "at": "2026-11-24T21:00:00"}).status_code == 422
    assert tenant.get(url, role="dialer").status_code == 422  # campaign is required
