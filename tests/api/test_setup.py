"""Caller IDs (presented numbers) and campaigns."""

from __future__ import annotations

from tests.api.conftest import blocking, codes
from tests.factories import (
    CALLEE,
    CANVASSING_CLI,
    GEOGRAPHIC_CLI,
    MOBILE_CLI,
    Tenant,
    add_campaign,
    add_consent,
)

# (as typed, assigned_to, E.164, kind)
CALLER_IDS = [
    ("01 62 00 00 02", None, "+33162000002", "canvassing"),
    ("+33 9 48 00 00 01", None, "+33948000001", "canvassing"),
    ("0947 80 00 00", None, "+262947800000", "canvassing"),  # Mayotte canvassing range
    ("01.40.00.00.02", None, "+33140000002", "geographic"),
    ("04 72 00 00 01", None, "+33472000001", "geographic"),
    ("09 37 00 00 01", None, "+33937000001", "platform"),  # technical platform, not NPV
    ("0033 9 50 00 00 01", None, "+33950000001", "non_geographic"),
    ("06 12 00 00 02", "agent-2", "+33612000002", "mobile"),
    ("07 55 00 00 01", "agent-3", "+33755000001", "mobile"),
    ("0692 12 34 56", "agent-4", "+262692123456", "mobile"),  # Réunion mobile
    ("08 10 00 00 01", None, "+33810000001", "shared_cost"),
    ("08 00 00 00 01", None, "+33800000001", "toll_free"),
]


def test_caller_ids_are_normalised_to_e164_and_classified(tenant: Tenant) -> None:
    wrong = {}
    for raw, agent, e164, kind in CALLER_IDS:
        r = tenant.post("/v1/caller-ids", {"number": raw, "assigned_to": agent})
        expected = (201, {"number": e164, "kind": kind, "assigned_to": agent})
        got = (r.status_code, {k: r.json().get(k) for k in ("number", "kind", "assigned_to")})
        if got != expected:
            wrong[raw] = got
    assert wrong == {}
    listed = {c["number"]: c["kind"] for c in tenant.get("/v1/caller-ids").json()}
    assert {e164: kind for _, _, e164, kind in CALLER_IDS}.items() <= listed.items()


def test_invalid_or_unassigned_mobile_caller_ids_are_422(tenant: Tenant) -> None:
    cases = [
        ("06 12 00 00 09", None), ("06 12 00 00 09", ""), ("06 12 00 00 09", "   "),
        ("07 55 00 00 09", None), ("+262 692 12 34 99", None),
        ("123", None), ("not a number", None), ("+33 1", None), ("33612000009", None),
        ("01 62 00 00 0", None), ("", None), ("0" * 100, None),
    ]
    statuses = {f"{n!r}/{a!r}": tenant.post("/v1/caller-ids", {"number": n, "assigned_to": a}
                                            ).status_code for n, a in cases}
    assert statuses == {k: 422 for k in statuses}
    for body in ({"assigned_to": None}, {"number": 162000009}, {"number": "0162000009", "x": 1}):
        assert tenant.post("/v1/caller-ids", body).status_code == 422
    registered = {c["number"] for c in tenant.get("/v1/caller-ids").json()}
    assert registered == {CANVASSING_CLI, GEOGRAPHIC_CLI, MOBILE_CLI}


def test_registering_the_same_caller_id_twice_is_409(tenant: Tenant) -> None:
    assert tenant.post("/v1/caller-ids", {"number": "01 62 00 00 01"}).status_code == 409


def _campaign(cid: str = "autumn", **kw) -> dict:
    return {"id": cid, "purpose": "commercial", "audience": "consumers", "sector": "general",
            "automated": True, "caller_ids": [CANVASSING_CLI]} | kw


def test_campaign_validation(tenant: Tenant) -> None:
    cases = {
        "unregistered caller ID": (_campaign(caller_ids=["+33162999999"]), 422),
        "another tenant's number in national form": (_campaign(caller_ids=["0163000001"]), 422),
        "invalid caller ID": (_campaign(caller_ids=["nope"]), 422),
        "unknown sector": (_campaign(sector="astrology"), 422),
        "bad purpose": (_campaign(purpose="marketing"), 422),
        "bad audience": (_campaign(audience="everyone"), 422),
        "automated not a bool": (_campaign(automated="sometimes"), 422),
        "id with spaces": (_campaign(cid="my campaign"), 422),
        "empty id": (_campaign(cid=""), 422),
        "extra field": (_campaign() | {"budget": 10}, 422),
        "missing purpose": ({k: v for k, v in _campaign().items() if k != "purpose"}, 422),
        "duplicate": (_campaign(cid="spring-2026"), 409),
    }
    got = {name: tenant.post("/v1/campaigns", body).status_code
           for name, (body, _) in cases.items()}
    assert got == {name: status for name, (_, status) in cases.items()}
    assert [c["id"] for c in tenant.get("/v1/campaigns").json()] == ["spring-2026"]


def test_campaign_accepts_caller_ids_in_national_form(tenant: Tenant) -> None:
    created = add_campaign(tenant, "autumn", caller_ids=["01 62 00 00 01", "+33162000001"],
                           sector="energy_renovation")
    assert created["caller_ids"] == [CANVASSING_CLI]
    assert tenant.get("/v1/campaigns/autumn").json() == created


def test_put_replaces_the_campaign(tenant: Tenant) -> None:
    add_consent(tenant)
    r = tenant.post("/v1/caller-ids", {"number": "01 63 00 00 01"})
    assert r.status_code == 201
    replacement = {"id": "spring-2026", "purpose": "commercial", "audience": "consumers",
                   "sector": "energy_renovation", "automated": True,
                   "caller_ids": ["01 63 00 00 01"]}
    r = tenant.client.put("/v1/campaigns/spring-2026", json=replacement,
                          headers={"Authorization": f"Bearer {tenant.admin}"})
    assert r.status_code == 200, r.text
    expected = replacement | {"caller_ids": ["+33163000001"]}
    assert {k: r.json()[k] for k in expected} == expected
    assert tenant.get("/v1/campaigns/spring-2026").json() == r.json()
    # the old number is no longer attached; the new sector rule applies
    old = tenant.check(callee=CALLEE, caller_id=CANVASSING_CLI).json()
    assert "CALLER_ID_NOT_IN_CAMPAIGN" in blocking(old)
    new = tenant.check(callee=CALLEE, caller_id="+33163000001").json()
    assert blocking(new) == ["SECTOR_BANNED"]
    # an invalid replacement is refused and leaves the campaign as it was
    bad = tenant.client.put("/v1/campaigns/spring-2026",
                            json=replacement | {"sector": "astrology"},
                            headers={"Authorization": f"Bearer {tenant.admin}"})
    assert bad.status_code == 422
    assert tenant.get("/v1/campaigns/spring-2026").json() == r.json()


def test_caller_id_rules_seen_through_the_check(tenant: Tenant) -> None:
    add_consent(tenant)
    add_campaign(tenant, "agents", automated=False, caller_ids=[MOBILE_CLI, GEOGRAPHIC_CLI])
    cases = [
        ({"caller_id": None}, ["CALLER_ID_MISSING"]),
        ({"caller_id": "not a number"}, ["CALLER_ID_INVALID"]),
        ({"caller_id": "+33163999999"}, ["CALLER_ID_NOT_OWNED"]),
        ({"caller_id": GEOGRAPHIC_CLI},
         ["CALLER_ID_NOT_CANVASSING_RANGE", "CALLER_ID_NOT_IN_CAMPAIGN"]),
        ({"campaign": "agents", "caller_id": MOBILE_CLI, "agent_id": "agent-1"}, []),
        ({"campaign": "agents", "caller_id": "06 12 00 00 01", "agent_id": "agent-7"},
         ["CALLER_ID_MOBILE_SHARED"]),
        ({"campaign": "agents", "caller_id": GEOGRAPHIC_CLI}, []),
    ]
    got = [sorted(blocking(tenant.evaluate(callee=CALLEE, **body).json())) for body, _ in cases]
    assert got == [expected for _, expected in cases]
    mobile_on_automated = add_campaign(tenant, "robot", caller_ids=[MOBILE_CLI])
    assert mobile_on_automated["caller_ids"] == [MOBILE_CLI]
    assert codes(tenant.evaluate(callee=CALLEE, campaign="robot", caller_id=MOBILE_CLI,
                                 agent_id="agent-1").json()) == ["CALLER_ID_MOBILE_AUTOMATED"]
