"""Authentication, roles and tenant isolation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import get_engine
from app.models import ApiKey, Base
from tests.api.conftest import blocking, codes, outcome
from tests.factories import CALLEE, CANVASSING_CLI, Tenant, add_campaign, add_consent, auth

ROLES = ("operator", "admin", "compliance", "dialer")


def call(t: Tenant, method: str, path: str, role: str | None, body: Any = None,
         headers: dict[str, str] | None = None) -> Any:
    h = dict(headers or {})
    if role is not None:
        h |= auth(getattr(t, role))
    if isinstance(body, bytes):
        return t.client.request(method, path, content=body, headers=h)
    return t.client.request(method, path, json=body, headers=h)


# --- 401 ----------------------------------------------------------------------------------


def test_missing_or_invalid_key_is_401(tenant: Tenant) -> None:
    key = tenant.compliance
    bad_headers: list[dict[str, str]] = [
        {}, {"Authorization": ""}, {"Authorization": "Bearer"}, {"Authorization": "Bearer "},
        {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {key}"},
        {"Authorization": key}, {"Authorization": f"Bearer {key}x"},
        {"Authorization": f"Bearer {key[:-1]}"}, {"Authorization": "Bearer gw_" + "A" * 43},
        {"X-Api-Key": key},
    ]
    wrong = {}
    for path in ("/v1/campaigns", "/v1/reports/summary", "/v1/bloctel"):
        for h in bad_headers:
            r = tenant.client.get(path, headers=h)
            if r.status_code != 401 or "error" not in r.json():
                wrong[(path, str(h))] = r.status_code
            elif r.headers.get("www-authenticate", "").lower() != "bearer":
                wrong[(path, str(h))] = "no WWW-Authenticate: Bearer"
    r = tenant.client.post("/v1/calls/check", json={"campaign": "spring-2026", "callee": CALLEE})
    assert r.status_code == 401
    assert wrong == {}
    # the scheme is case-insensitive (RFC 9110): a good key still works
    assert tenant.client.get("/v1/campaigns", headers={"Authorization": f"bearer {key}"}
                             ).status_code == 200


# --- role matrix --------------------------------------------------------------------------

Body = Callable[[str], Any]

# (method, path, body for a role, roles allowed). {tenant} is the tenant's id.
MATRIX: list[tuple[str, str, Body | None, set[str]]] = [
    ("POST", "/v1/tenants", lambda r: {"name": f"new-{r}", "legal_form": "natural_person"},
     {"operator"}),
    ("GET", "/v1/tenants", None, {"operator"}),
    ("POST", "/v1/tenants/{tenant}/keys", lambda r: {"role": "dialer"}, {"operator", "admin"}),
    ("GET", "/v1/tenants/{tenant}/keys", None, {"operator", "admin"}),
    ("GET", "/v1/keys", None, {"operator"}),
    ("GET", "/v1/tenants/{tenant}/sanctions", None, {"operator"}),
    ("PUT", "/v1/tenants/{tenant}/sanctions", lambda r: {}, {"operator"}),
    ("POST", "/v1/tenants/{tenant}/reactivate", lambda r: None, {"operator"}),
    ("POST", "/v1/caller-ids",
     lambda r: {"number": f"+3316200010{ROLES.index(r)}", "assigned_to": None}, {"admin"}),
    ("GET", "/v1/caller-ids", None, {"admin", "compliance"}),
    ("GET", "/v1/caller-ids/all", None, {"operator"}),
    ("POST", "/v1/caller-ids/+33162000001/verify", lambda r: None, {"operator"}),
    ("POST", "/v1/campaigns",
     lambda r: {"id": f"c-{r}", "purpose": "commercial", "audience": "consumers",
                "sector": "general", "automated": True, "caller_ids": [CANVASSING_CLI]},
     {"admin"}),
    ("PUT", "/v1/campaigns/spring-2026",
     lambda r: {"id": "spring-2026", "purpose": "commercial", "audience": "consumers",
                "sector": "general", "automated": True, "caller_ids": [CANVASSING_CLI]},
     {"admin"}),
    ("GET", "/v1/campaigns", None, {"admin", "compliance"}),
    ("GET", "/v1/campaigns/spring-2026", None, {"admin", "compliance"}),
    ("POST", "/v1/consents",
     lambda r: {"callee": CALLEE, "scope": "canvassing", "given_at": "2026-09-01T10:00:00Z",
                "channel": "web_form", "evidence": {"by": r}}, {"admin"}),
    ("GET", "/v1/consents", None, {"admin", "compliance"}),
    ("POST", "/v1/contracts",
     lambda r: {"callee": CALLEE, "reference": f"ref-{r}", "starts_on": "2026-01-01"},
     {"admin"}),
    ("GET", "/v1/contracts", None, {"admin", "compliance"}),
    ("POST", "/v1/oppositions", lambda r: {"callee": "+33699999999", "source": r}, {"admin"}),
    ("GET", "/v1/oppositions", None, {"admin", "compliance"}),
    ("GET", "/v1/policy", None, {"admin"}),
    ("PATCH", "/v1/policy", lambda r: {"local_holidays": False}, {"admin"}),
    ("POST", "/v1/calls/check",
     lambda r: {"campaign": "spring-2026", "callee": CALLEE, "caller_id": CANVASSING_CLI},
     {"dialer"}),
    ("POST", "/v1/calls/evaluate",
     lambda r: {"campaign": "spring-2026", "callee": CALLEE, "caller_id": CANVASSING_CLI},
     {"dialer"}),
    ("GET", "/v1/reports/summary", None, {"admin", "compliance"}),
    ("GET", "/v1/reports/attempts?format=csv", None, {"admin", "compliance"}),
    ("GET", "/v1/reports/attempts?format=jsonl", None, {"admin", "compliance"}),
    ("POST", "/v1/bloctel/imports?mode=replace&as_of=2026-11-20",
     lambda r: b"0611111111\n", {"operator"}),
    ("GET", "/v1/bloctel/imports", None, {"operator"}),
    ("GET", "/v1/bloctel", None, set(ROLES)),
]


def test_role_matrix(tenant: Tenant) -> None:
    """Each role may do what the contract says, and gets 403/404 (never data) otherwise."""
    wrong = {}
    for method, path, body, allowed in MATRIX:
        url = path.format(tenant=tenant.id)
        for role in ROLES:
            r = call(tenant, method, url, role, body(role) if body else None)
            if role in allowed:
                if not 200 <= r.status_code < 300:
                    wrong[(method, path, role)] = (r.status_code, r.text[:120])
            elif r.status_code not in (403, 404) or set(r.json()) != {"error", "detail"}:
                wrong[(method, path, role)] = (r.status_code, r.text[:120])
    assert wrong == {}


def test_attempt_endpoints_are_for_the_dialer_only(tenant: Tenant) -> None:
    add_consent(tenant)
    attempt = tenant.check(callee=CALLEE).json()["attempt_id"]
    for role in ("operator", "admin", "compliance"):
        assert call(tenant, "GET", f"/v1/calls/{attempt}", role).status_code in (403, 404)
        r = call(tenant, "POST", f"/v1/calls/{attempt}/outcome", role, {"status": "no_answer"})
        assert r.status_code in (403, 404), role
    row = tenant.get("/v1/reports/attempts", params={"format": "jsonl"}).json()
    assert row["outcome_status"] is None
    assert outcome(tenant, attempt, "answered", duration_s=1).status_code == 200


def test_forbidden_writes_change_nothing(tenant: Tenant) -> None:
    for role in ("operator", "compliance", "dialer"):
        for path, body in (
            ("/v1/consents", {"callee": CALLEE, "scope": "canvassing", "channel": "web",
                              "given_at": "2026-09-01T10:00:00Z", "evidence": {}}),
            ("/v1/oppositions", {"callee": CALLEE}),
            ("/v1/contracts", {"callee": CALLEE, "reference": "r1", "starts_on": "2026-01-01"}),
        ):
            assert call(tenant, "POST", path, role, body).status_code in (403, 404)
    for path in ("/v1/consents", "/v1/oppositions", "/v1/contracts"):
        assert tenant.get(path).json() == []
    # the dialer's check still finds no consent and no opposition
    assert codes(tenant.check(callee=CALLEE).json()) == ["CONSENT_REQUIRED"]


# --- keys ---------------------------------------------------------------------------------


def _dump_database() -> str:
    with get_engine().connect() as conn:
        return "\n".join(
            repr(tuple(row)) for table in Base.metadata.sorted_tables
            for row in conn.execute(select(table))
        )


def test_keys_are_stored_only_as_hashes(tenant: Tenant) -> None:
    created = tenant.post(f"/v1/tenants/{tenant.id}/keys", {"role": "dialer"})
    assert created.status_code == 201
    keys = [tenant.operator, tenant.admin, tenant.dialer, tenant.compliance,
            created.json()["key"]]
    assert len(set(keys)) == len(keys)
    with get_engine().connect() as conn:
        assert conn.execute(select(func.count()).select_from(ApiKey)).scalar_one() == len(keys)
    dump = _dump_database()  # every row of every table
    leaked = [k[:12] for k in keys if k in dump or k[3:] in dump]
    assert leaked == []
    # the keys still work: they are recognised by their hash alone
    assert tenant.client.get("/v1/campaigns", headers=auth(keys[-1])).status_code == 403
    assert tenant.check(callee=CALLEE).status_code == 200


def test_admin_creates_keys_for_its_own_tenant_only(tenant: Tenant, other: Tenant) -> None:
    r = tenant.post(f"/v1/tenants/{tenant.id}/keys", {"role": "dialer"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"id", "key", "role", "tenant"}
    assert (body["role"], body["tenant"]) == ("dialer", tenant.id)
    add_consent(tenant)
    decision = tenant.client.post(
        "/v1/calls/check", headers=auth(body["key"]),
        json={"campaign": "spring-2026", "callee": CALLEE, "caller_id": CANVASSING_CLI})
    assert decision.json()["decision"] == "allow"

    for role in ("admin", "dialer", "compliance"):
        r = tenant.post(f"/v1/tenants/{other.id}/keys", {"role": role})
        assert r.status_code in (403, 404), r.text
        assert "key" not in r.json()
    # no operator key from an admin, and no keys from the other roles
    assert tenant.post(f"/v1/tenants/{tenant.id}/keys", {"role": "operator"}).status_code in (
        403, 404, 422)
    for role in ("dialer", "compliance"):
        r = tenant.post(f"/v1/tenants/{tenant.id}/keys", {"role": "dialer"}, role=role)
        assert r.status_code in (403, 404), role
    # the operator issues keys for any tenant; an unknown tenant is 404
    r = tenant.post(f"/v1/tenants/{other.id}/keys", {"role": "compliance"}, role="operator")
    assert (r.status_code, r.json()["tenant"]) == (201, other.id)
    assert tenant.post("/v1/tenants/ten_nope/keys", {"role": "admin"},
                       role="operator").status_code == 404


# --- suspension ---------------------------------------------------------------------------


def test_suspension_denies_every_check_and_reactivation_restores(
    tenant: Tenant, other: Tenant
) -> None:
    add_consent(tenant)
    add_consent(other)
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"

    assert tenant.post(f"/v1/tenants/{tenant.id}/suspend", {"reason": "fraud"},
                       role="admin").status_code in (403, 404)
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"

    r = tenant.post(f"/v1/tenants/{tenant.id}/suspend", {"reason": "fraud alert"},
                    role="operator")
    assert (r.status_code, r.json()["status"]) == (200, "suspended")
    wrong = {}
    for path in ("/v1/calls/check", "/v1/calls/evaluate"):
        for callee in (CALLEE, "+33611223344", "not a number", "3949"):
            body = tenant.post(path, {"campaign": "spring-2026", "callee": callee,
                                      "caller_id": CANVASSING_CLI}, role="dialer").json()
            if body["decision"] != "deny" or "TENANT_SUSPENDED" not in blocking(body):
                wrong[(path, callee)] = body
    assert wrong == {}
    # the other tenant is not affected
    assert other.check(callee=CALLEE).json()["decision"] == "allow"

    r = tenant.post(f"/v1/tenants/{tenant.id}/reactivate", None, role="operator")
    assert (r.status_code, r.json()["status"]) == (200, "active")
    body = tenant.check(callee=CALLEE).json()
    assert (body["decision"], codes(body)) == ("allow", [])


def test_suspending_an_unknown_tenant_is_404(tenant: Tenant) -> None:
    for action in ("suspend", "reactivate"):
        assert tenant.post(f"/v1/tenants/ten_nope/{action}", None,
                           role="operator").status_code == 404


# --- tenant isolation ---------------------------------------------------------------------


def _campaigns(a: Tenant, b: Tenant) -> list[str]:
    add_campaign(a, "a-only", sector="press_subscription")
    wrong = []
    if b.get("/v1/campaigns/a-only").status_code != 404:
        wrong.append("B reads A's campaign")
    if "a-only" in [c["id"] for c in b.get("/v1/campaigns").json()]:
        wrong.append("B lists A's campaign")
    r = b.check(callee=CALLEE, campaign="a-only")
    if r.status_code != 404:
        wrong.append(f"B checks on A's campaign: {r.status_code}")
    # B's PUT of the same id is B's own campaign; A's is unchanged
    b.client.put("/v1/campaigns/a-only", headers=auth(b.admin), json={
        "id": "a-only", "purpose": "non_commercial", "audience": "professionals",
        "sector": "general", "automated": False, "caller_ids": []})
    mine = a.get("/v1/campaigns/a-only").json()
    if (mine["sector"], mine["purpose"], mine["caller_ids"]) != (
        "press_subscription", "commercial", [CANVASSING_CLI]
    ):
        wrong.append(f"B's PUT changed A's campaign: {mine}")
    return wrong


def _consents(a: Tenant, b: Tenant) -> list[str]:
    consent = add_consent(a)
    wrong = []
    for method, path, role in (("GET", f"/v1/consents/{consent['id']}", "compliance"),
                               ("POST", f"/v1/consents/{consent['id']}/revoke", "admin")):
        r = call(b, method, path, role, {"reason": "x"} if method == "POST" else None)
        if r.status_code not in (403, 404) or consent["evidence_sha256"] in r.text:
            wrong.append(f"{method} {path}: {r.status_code}")
    if b.get("/v1/consents", params={"callee": CALLEE}).json() != []:
        wrong.append("B lists A's consent")
    if b.get("/v1/consents").json() != []:
        wrong.append("B lists A's consents")
    if codes(b.check(callee=CALLEE).json()) != ["CONSENT_REQUIRED"]:
        wrong.append("A's consent covers B's call")
    if a.get(f"/v1/consents/{consent['id']}").json()["revoked_at"] is not None:
        wrong.append("B revoked A's consent")
    if a.check(callee=CALLEE).json()["decision"] != "allow":
        wrong.append("A's consent no longer works")
    return wrong


def _contracts(a: Tenant, b: Tenant) -> list[str]:
    r = a.post("/v1/contracts", {"callee": CALLEE, "reference": "A-REF-1",
                                 "starts_on": "2026-01-01"})
    assert r.status_code == 201, r.text
    wrong = []
    if b.get("/v1/contracts").json() != [] or b.get(
            "/v1/contracts", params={"callee": CALLEE}).json() != []:
        wrong.append("B lists A's contract")
    if b.check(callee=CALLEE, contract_ref="A-REF-1").json()["decision"] != "deny":
        wrong.append("A's contract covers B's call")
    # references are per tenant: B's own A-REF-1 does not clash
    if b.post("/v1/contracts", {"callee": "+33699999999", "reference": "A-REF-1",
                                "starts_on": "2026-01-01"}).status_code != 201:
        wrong.append("B cannot use a reference A uses")
    if [c["callee"] for c in a.get("/v1/contracts").json()] != [CALLEE]:
        wrong.append("A's contracts changed")
    if a.check(callee=CALLEE).json()["decision"] != "allow":
        wrong.append("A's contract no longer covers A's call")
    return wrong


def _oppositions(a: Tenant, b: Tenant) -> list[str]:
    assert a.post("/v1/oppositions", {"callee": CALLEE, "source": "letter"}).status_code == 201
    add_consent(b)
    wrong = []
    if b.get("/v1/oppositions").json() != []:
        wrong.append("B lists A's opposition")
    if b.check(callee=CALLEE).json()["decision"] != "allow":
        wrong.append("A's opposition blocks B's call")
    # B adding the same number to its list does not touch A's record
    b.post("/v1/oppositions", {"callee": CALLEE, "source": "b"})
    if [o["source"] for o in a.get("/v1/oppositions").json()] != ["letter"]:
        wrong.append("B changed A's opposition")
    return wrong


def _attempts_and_outcomes(a: Tenant, b: Tenant) -> list[str]:
    add_consent(a)
    add_consent(b)
    ids = [a.check(callee=CALLEE).json()["attempt_id"] for _ in range(4)]
    outcome(a, ids[0], "unassigned")
    wrong = []
    for attempt in ids[1:2]:
        if call(b, "GET", f"/v1/calls/{attempt}", "dialer").status_code != 404:
            wrong.append("B reads A's attempt")
        r = outcome(b, attempt, "not_dialed")
        if r.status_code != 404:
            wrong.append(f"B records an outcome on A's attempt: {r.status_code}")
    # A's quarantine and A's four attempts do not limit B
    if b.check(callee=CALLEE).json()["decision"] != "allow":
        wrong.append("A's attempts or quarantine limit B")
    # B's not_dialed did not release A's attempt: A is still at 4 attempts (and quarantined)
    if sorted(codes(a.evaluate(callee=CALLEE).json())) != ["CALLEE_UNASSIGNED",
                                                          "FREQUENCY_LIMIT"]:
        wrong.append("A's attempts changed")
    rows = [json.loads(line) for line in
            a.get("/v1/reports/attempts", params={"format": "jsonl"}).text.splitlines()]
    if [r["outcome_status"] for r in rows if r["attempt_id"] == ids[1]] != [None]:
        wrong.append("B set the outcome of A's attempt")
    return wrong


def _reports(a: Tenant, b: Tenant) -> list[str]:
    add_consent(a)
    mine = {a.check(callee=CALLEE).json()["attempt_id"],
            a.check(callee="nonsense").json()["attempt_id"]}
    theirs = b.check(callee=CALLEE).json()["attempt_id"]
    wrong = []
    for fmt in ("csv", "jsonl"):
        text = b.get("/v1/reports/attempts", params={"format": fmt}).text
        if any(i in text for i in mine) or theirs not in text:
            wrong.append(f"B's {fmt} report")
    s = b.get("/v1/reports/summary").json()
    if (s["total"], s["denied"], s["penalty_eur"]) != (1, 1, "0.02"):
        wrong.append(f"B's summary {s}")
    return wrong


ISOLATION = {
    "campaigns": _campaigns, "consents": _consents, "contracts": _contracts,
    "oppositions": _oppositions, "attempts and outcomes": _attempts_and_outcomes,
    "reports": _reports,
}


@pytest.mark.parametrize("scenario", list(ISOLATION))
def test_a_tenant_never_reads_nor_changes_another_tenants_objects(
    tenant: Tenant, other: Tenant, scenario: str
) -> None:
    assert ISOLATION[scenario](tenant, other) == []
