"""Principals and mandates (rules-fr.md §1: the professional is the principal): the operator's
API, what campaigns, contracts and oppositions may name, and the cross-tenant decisions —
frequency, refusals, consents and oppositions are the principal's, across its call centres."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from app.calls.facts import callee_facts
from app.db import get_engine
from tests.api.conftest import blocking, outcome
from tests.factories import Tenant, add_campaign, add_consent, auth, make_tenant

CALLEE = "+33611223344"
#: SIRENs with a valid key (Luhn)
SIRENS = ["732829320", "552100554", "542065479", "552032534", "380129866", "404833048"]


def create_principal(t: Tenant, name: str = "Énergie Verte SA", siren: str = SIRENS[0]) -> Any:
    return t.client.post("/v1/principals", json={"name": name, "siren": siren},
                         headers=auth(t.operator))


def principal(t: Tenant, siren: str = SIRENS[0], *mandated: Tenant) -> str:
    r = create_principal(t, f"Principal {siren}", siren)
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    for m in mandated:
        g = mandate(t, pid, m.id)
        assert g.status_code == 201, g.text
    return pid


def mandate(t: Tenant, pid: str, tenant_id: str) -> Any:
    return t.client.post(f"/v1/principals/{pid}/mandates", json={"tenant": tenant_id},
                         headers=auth(t.operator))


def unmandate(t: Tenant, pid: str, tenant_id: str) -> Any:
    return t.client.delete(f"/v1/principals/{pid}/mandates/{tenant_id}",
                           headers=auth(t.operator))


def contract(t: Tenant, pid: str | None, callee: str = CALLEE, ref: str | None = None) -> Any:
    body: dict[str, Any] = {"callee": callee, "reference": ref or f"C-{pid}-{callee}",
                            "sector": "general", "starts_on": "2026-01-01"}
    if pid is not None:
        body["principal"] = pid
    return t.post("/v1/contracts", body)


def for_principal(t: Tenant, campaign: str, pid: str) -> None:
    add_campaign(t, campaign, principal=pid)


def check(t: Tenant, campaign: str, callee: str = CALLEE) -> dict[str, Any]:
    r = t.check(campaign=campaign, callee=callee)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def third(tenant: Tenant, other: Tenant) -> Tenant:
    return make_tenant(tenant.client, "Initech", operator=tenant.operator)


# --- the operator's API --------------------------------------------------------------------


def test_the_operator_creates_a_principal(tenant: Tenant) -> None:
    r = create_principal(tenant)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"].startswith("prn_") and body["name"] == "Énergie Verte SA"
    assert body["siren"] == SIRENS[0] and body["own_tenant"] is None
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    again = create_principal(tenant, "Another name", SIRENS[0])
    assert again.status_code == 409 and again.json()["error"] == "conflict", again.text


@pytest.mark.parametrize("siren", ["732829321", "12345678", "1234567890", "73282932A",
                                   " 732829320", ""])
def test_a_siren_is_nine_digits_with_a_valid_key(tenant: Tenant, siren: str) -> None:
    r = create_principal(tenant, siren=siren)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid" and "siren" in json.dumps(r.json())


@pytest.mark.parametrize("role", ["admin", "compliance", "dialer"])
def test_only_the_operator_manages_principals_and_mandates(tenant: Tenant, role: str) -> None:
    pid = principal(tenant)
    key = getattr(tenant, role)
    for method, path, body in (
        ("post", "/v1/principals", {"name": "X", "siren": SIRENS[1]}),
        ("post", f"/v1/principals/{pid}/mandates", {"tenant": tenant.id}),
        ("get", f"/v1/principals/{pid}/mandates", None),
        ("delete", f"/v1/principals/{pid}/mandates/{tenant.id}", None),
    ):
        kw = {"json": body} if body is not None else {}
        r = tenant.client.request(method, path, headers=auth(key), **kw)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"] == "forbidden"


def test_a_tenant_lists_the_principals_it_calls_for(tenant: Tenant, other: Tenant) -> None:
    mine = principal(tenant, SIRENS[0], tenant)
    theirs = principal(tenant, SIRENS[1], other)
    for role in ("admin", "compliance", "dialer"):
        listed = {p["id"] for p in tenant.get("/v1/principals", role=role).json()}
        assert listed == {tenant.id, mine}, role
    own = tenant.get(f"/v1/principals/{tenant.id}").json()
    assert own["own_tenant"] == tenant.id and own["siren"] is None
    assert tenant.get(f"/v1/principals/{mine}").status_code == 200
    r = tenant.get(f"/v1/principals/{theirs}")  # not its business: as if it did not exist
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    assert tenant.get("/v1/principals/prn_nope").status_code == 404
    everything = tenant.client.get("/v1/principals", headers=auth(tenant.operator)).json()
    assert {tenant.id, other.id, mine, theirs} <= {p["id"] for p in everything}
    r = tenant.client.get(f"/v1/principals/{theirs}", headers=auth(tenant.operator))
    assert r.status_code == 200 and r.json()["id"] == theirs


def test_mandates_are_granted_listed_and_ended(tenant: Tenant, other: Tenant) -> None:
    pid = principal(tenant)
    r = mandate(tenant, pid, tenant.id)
    assert r.status_code == 201, r.text
    assert r.json()["principal"] == pid and r.json()["tenant"] == tenant.id
    assert r.json()["tenant_name"] == "Acme"
    assert mandate(tenant, pid, tenant.id).status_code == 409
    assert mandate(tenant, pid, "ten_nope").status_code == 404
    assert mandate(tenant, "prn_nope", tenant.id).status_code == 404
    r = mandate(tenant, pid, "")
    assert r.status_code == 422 and "tenant" in json.dumps(r.json())
    assert mandate(tenant, pid, other.id).status_code == 201
    listed = tenant.client.get(f"/v1/principals/{pid}/mandates", headers=auth(tenant.operator))
    assert listed.status_code == 200
    assert sorted(m["tenant"] for m in listed.json()) == sorted([tenant.id, other.id])
    r = tenant.client.get("/v1/principals/prn_nope/mandates", headers=auth(tenant.operator))
    assert r.status_code == 404

    for_principal(tenant, "for-p", pid)
    r = unmandate(tenant, pid, tenant.id)  # a campaign still calls for it
    assert r.status_code == 409 and r.json()["campaigns"] == ["for-p"], r.text
    r = tenant.client.put("/v1/campaigns/for-p", headers=auth(tenant.admin), json={
        "purpose": "commercial", "audience": "consumers", "automated": True,
        "caller_ids": [tenant.canvassing_cli], "principal": tenant.id})
    assert r.status_code == 200 and r.json()["principal"] == tenant.id, r.text
    assert unmandate(tenant, pid, tenant.id).status_code == 204
    assert unmandate(tenant, pid, tenant.id).status_code == 404
    # the tenant can no longer name it
    r = contract(tenant, pid)
    assert r.status_code == 403 and pid in r.json()["detail"]
    # a tenant's own principal keeps its own mandate
    r = unmandate(tenant, tenant.id, tenant.id)
    assert r.status_code == 409 and r.json()["error"] == "conflict"


def test_a_tenant_s_own_principal_may_be_given_to_a_call_centre(
    tenant: Tenant, other: Tenant
) -> None:
    assert mandate(tenant, tenant.id, other.id).status_code == 201
    for_principal(other, "for-acme", tenant.id)
    assert contract(other, tenant.id).status_code == 201
    check(other, "for-acme")
    # the attempt counts for Acme's own campaigns: one principal, one count
    assert contract(tenant, None, ref="acme-own").status_code == 201
    for _ in range(3):
        assert check(tenant, "spring-2026")["decision"] == "allow"
    assert "FREQUENCY_LIMIT" in blocking(check(tenant, "spring-2026"))


# --- what campaigns, contracts and oppositions may name -------------------------------------


def test_a_campaign_names_its_principal_and_whether_it_is_prerecorded(
    tenant: Tenant, other: Tenant
) -> None:
    plain = tenant.get("/v1/campaigns/spring-2026").json()
    assert plain["principal"] == tenant.id and plain["prerecorded"] is False
    pid = principal(tenant, SIRENS[0], tenant)
    body = add_campaign(tenant, "bpo", principal=pid, prerecorded=True)
    assert body["principal"] == pid and body["prerecorded"] is True
    assert tenant.get("/v1/campaigns/bpo").json()["principal"] == pid
    # replaced without naming one: it keeps its principal
    r = tenant.client.put("/v1/campaigns/bpo", headers=auth(tenant.admin), json={
        "purpose": "commercial", "audience": "consumers", "automated": True,
        "caller_ids": [tenant.canvassing_cli]})
    assert r.status_code == 200 and r.json()["principal"] == pid, r.text
    assert r.json()["prerecorded"] is False

    unmandated = principal(tenant, SIRENS[1], other)
    for name in (unmandated, other.id, "prn_unknown"):
        r = tenant.post("/v1/campaigns", {
            "id": "nope", "purpose": "commercial", "audience": "consumers", "automated": True,
            "caller_ids": [tenant.canvassing_cli], "principal": name})
        assert r.status_code == 403, r.text
        assert r.json()["error"] == "forbidden" and name in r.json()["detail"]
    assert tenant.get("/v1/campaigns/nope").status_code == 404
    r = tenant.post("/v1/campaigns", {
        "id": "nope", "purpose": "commercial", "audience": "consumers", "automated": True,
        "caller_ids": [], "principal": ""})
    assert r.status_code == 422 and "principal" in json.dumps(r.json())


def test_contracts_and_oppositions_name_a_principal_with_a_mandate(
    tenant: Tenant, other: Tenant
) -> None:
    pid = principal(tenant, SIRENS[0], tenant)
    unmandated = principal(tenant, SIRENS[1], other)
    r = contract(tenant, unmandated)
    assert r.status_code == 403 and unmandated in r.json()["detail"], r.text
    r = tenant.post("/v1/oppositions", {"callee": CALLEE, "principal": unmandated})
    assert r.status_code == 403 and unmandated in r.json()["detail"], r.text

    assert contract(tenant, None, ref="own").json()["principal"] == tenant.id
    assert contract(tenant, pid, ref="theirs").json()["principal"] == pid
    own = tenant.post("/v1/oppositions", {"callee": CALLEE})
    assert own.status_code == 201 and own.json()["principal"] == tenant.id
    for_p = tenant.post("/v1/oppositions", {"callee": CALLEE, "principal": pid})
    assert for_p.status_code == 201 and for_p.json()["principal"] == pid
    again = tenant.post("/v1/oppositions", {"callee": "06 11 22 33 44", "principal": pid})
    assert again.status_code == 200 and again.json()["id"] == for_p.json()["id"]

    def listed(path: str, **params: str) -> list[str]:
        r = tenant.get(path, params=params)
        assert r.status_code == 200, r.text
        return sorted(x["principal"] for x in r.json())

    assert listed("/v1/contracts") == sorted([tenant.id, pid])
    assert listed("/v1/contracts", principal=pid) == [pid]
    assert listed("/v1/oppositions", principal=tenant.id) == [tenant.id]
    assert listed("/v1/oppositions", principal=unmandated) == []
    # another call centre of the principal does not see them (they are the tenant's records)
    assert mandate(tenant, pid, other.id).status_code == 201
    assert other.get("/v1/oppositions").json() == []
    assert other.get("/v1/contracts", params={"principal": pid}).json() == []


# --- deciding across call centres ------------------------------------------------------------


def test_a_bpo_calling_for_five_principals_gets_five_counts(tenant: Tenant) -> None:
    pids = [principal(tenant, siren, tenant) for siren in SIRENS[:5]]
    for i, pid in enumerate(pids):
        for_principal(tenant, f"p{i}", pid)
        assert contract(tenant, pid).status_code == 201
    for _ in range(4):
        for i in range(5):
            assert check(tenant, f"p{i}")["decision"] == "allow"
    for i in range(5):
        assert "FREQUENCY_LIMIT" in blocking(check(tenant, f"p{i}"))


def test_cross_tenant_cases(tenant: Tenant, other: Tenant, third: Tenant) -> None:
    """One principal P with two call centres (Acme, Globex); Initech holds no mandate. Each row:
    what happens through Acme, then what Globex, Initech (own campaign) and Acme's own
    campaign are told for the same callee."""
    pid = principal(tenant, SIRENS[0], tenant, other)
    for t in (tenant, other):
        for_principal(t, "for-p", pid)
    n = iter(range(10, 99))

    def fresh() -> str:
        callee = f"+336112233{next(n)}"
        assert contract(tenant, pid, callee).status_code == 201  # P may call it: a contract
        for t in (tenant, third):  # so may Acme and Initech for themselves
            assert contract(t, None, callee, ref=f"own-{callee}").status_code == 201
        return callee

    # two call centres for one principal share one count
    callee = fresh()
    for t in (tenant, other, tenant, other):
        assert check(t, "for-p", callee)["decision"] == "allow"
    for t in (tenant, other):
        assert "FREQUENCY_LIMIT" in blocking(check(t, "for-p", callee))
    assert check(third, "spring-2026", callee)["decision"] == "allow"
    assert check(tenant, "spring-2026", callee)["decision"] == "allow"

    # a refusal during a call through Acme: Globex may not call for P either
    callee = fresh()
    d = check(tenant, "for-p", callee)
    assert outcome(tenant, d["attempt_id"], consumer_refused=True).status_code in (200, 201)
    assert "REFUSAL_COOLDOWN" in blocking(check(other, "for-p", callee))
    assert check(third, "spring-2026", callee)["decision"] == "allow"
    assert check(tenant, "spring-2026", callee)["decision"] == "allow"

    # an opposition reported in an outcome through Acme
    callee = fresh()
    d = check(tenant, "for-p", callee)
    assert outcome(tenant, d["attempt_id"], consumer_opposed=True).status_code in (200, 201)
    assert "INTERNAL_OPPOSITION" in blocking(check(other, "for-p", callee))
    assert check(third, "spring-2026", callee)["decision"] == "allow"
    assert check(tenant, "spring-2026", callee)["decision"] == "allow"
    opp = tenant.get("/v1/oppositions", params={"callee": callee}).json()
    assert [o["principal"] for o in opp] == [pid]

    # an opposition registered through Acme's API
    callee = fresh()
    r = tenant.post("/v1/oppositions", {"callee": callee, "principal": pid, "source": "letter"})
    assert r.status_code == 201, r.text
    assert "INTERNAL_OPPOSITION" in blocking(check(other, "for-p", callee))
    assert "INTERNAL_OPPOSITION" in blocking(check(tenant, "for-p", callee))
    assert check(third, "spring-2026", callee)["decision"] == "allow"

    # a contract with P recorded by Acme lets Globex call for P; without it, consent required
    callee = "+33611224400"
    assert "CONSENT_REQUIRED" in blocking(check(other, "for-p", callee))
    assert contract(tenant, pid, callee).status_code == 201
    assert check(other, "for-p", callee)["decision"] == "allow"
    assert "CONSENT_REQUIRED" in blocking(check(third, "spring-2026", callee))

    # a consent naming P, given through Acme, counts for Globex
    callee = "+33611224411"
    add_consent(tenant, callee, principals=[pid])
    assert check(other, "for-p", callee)["decision"] == "allow"
    assert "CONSENT_REQUIRED" in blocking(check(third, "spring-2026", callee))

    # Initech never sees P, and cannot name it
    r = third.post("/v1/campaigns", {
        "id": "steal", "purpose": "commercial", "audience": "consumers", "automated": True,
        "caller_ids": [third.canvassing_cli], "principal": pid})
    assert r.status_code == 403 and pid in r.json()["detail"]
    assert pid not in {p["id"] for p in third.get("/v1/principals").json()}


def test_a_refusal_withdraws_the_consents_naming_the_principal_alone(
    tenant: Tenant, other: Tenant
) -> None:
    pid = principal(tenant, SIRENS[0], tenant, other)
    for_principal(other, "for-p", pid)
    alone = add_consent(tenant, CALLEE, principals=[pid])
    shared = add_consent(tenant, CALLEE, given_at="2026-09-02T10:00:00+02:00",
                         principals=[pid, tenant.id])
    own = add_consent(tenant, CALLEE, given_at="2026-09-03T10:00:00+02:00")  # the tenant's own
    d = check(other, "for-p")
    assert d["decision"] == "allow", d
    assert outcome(other, d["attempt_id"], consumer_refused=True).status_code in (200, 201)
    consents = {c["id"]: c for c in tenant.get("/v1/consents", params={"callee": CALLEE}).json()}
    assert consents[alone["id"]]["revoked_at"] is not None
    assert pid in consents[alone["id"]]["revoke_reason"]  # not Globex's attempt id
    assert consents[shared["id"]]["revoked_at"] is None
    assert consents[own["id"]]["revoked_at"] is None
    assert check(tenant, "spring-2026")["decision"] == "allow"  # Acme's own: not refused


def test_the_facts_show_a_consent_that_does_not_name_the_principal(
    tenant: Tenant, other: Tenant
) -> None:
    """Globex's own consent does not cover P; Acme's does not reach Globex unless it names P."""
    pid = principal(tenant, SIRENS[0], tenant, other)
    add_consent(other, CALLEE)  # Globex's own principal
    unnamed = add_consent(other, CALLEE, given_at="2026-09-02T10:00:00+02:00")
    # a broker's consent that names no principal covers no one, not even Globex's own
    add_consent(other, CALLEE, given_at="2026-09-04T10:00:00+02:00", source="Broker SA")
    add_consent(tenant, CALLEE, given_at="2026-09-03T10:00:00+02:00")  # Acme's, not naming P
    at = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    with get_engine().connect() as conn:
        for_p = callee_facts(conn, other.id, CALLEE, at, at, None, pid)
        for_own = callee_facts(conn, other.id, CALLEE, at, at, None, other.id)
    assert sorted(c.covers_principal for c in for_p.consents) == [False, False, False]
    assert {c.given_at.day for c in for_p.consents} == {1, 2, 4}  # Globex's, never Acme's
    assert sorted((c.given_at.day, c.covers_principal, c.source) for c in for_own.consents) == [
        (1, True, "own"), (2, True, "own"), (4, False, "Broker SA")]
    assert unnamed["id"]


def test_an_erasure_blocks_the_number_for_every_principal_of_the_tenant(
    tenant: Tenant, other: Tenant
) -> None:
    pid = principal(tenant, SIRENS[0], tenant, other)
    for t in (tenant, other):
        for_principal(t, "for-p", pid)
    assert contract(tenant, pid).status_code == 201
    assert contract(tenant, None, ref="own").status_code == 201
    assert check(other, "for-p")["decision"] == "allow"
    r = tenant.post(f"/v1/numbers/{CALLEE}/erasure", {})
    assert r.status_code in (200, 201), r.text
    for t, campaign in ((tenant, "for-p"), (other, "for-p"), (tenant, "spring-2026")):
        assert "INTERNAL_OPPOSITION" in blocking(check(t, campaign)), (t.id, campaign)
    # a second erasure finds the blocks in place
    r = tenant.post(f"/v1/numbers/{CALLEE}/erasure", {})
    assert r.status_code in (200, 201), r.text
    assert r.json()["opposition_added"] is False
    assert tenant.get("/v1/contracts", params={"callee": CALLEE}).json() == []


# --- scrub, reports: the principal's facts, the tenant's own attempts -----------------------


def test_scrub_and_next_window_judge_with_the_principal_s_facts(
    tenant: Tenant, other: Tenant
) -> None:
    pid = principal(tenant, SIRENS[0], tenant, other)
    for t in (tenant, other):
        for_principal(t, "for-p", pid)
    assert contract(tenant, pid).status_code == 201
    assert tenant.post("/v1/oppositions", {"callee": CALLEE, "principal": pid}).status_code == 201
    r = other.client.post("/v1/scrub", params={"campaign": "for-p"}, content=b"0611223344\n",
                          headers=auth(other.admin) | {"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert "INTERNAL_OPPOSITION" in r.text
    r = other.get(f"/v1/numbers/{CALLEE}/next-window", params={"campaign": "for-p"},
                  role="dialer")
    assert r.status_code == 200, r.text
    assert "INTERNAL_OPPOSITION" in [b["code"] for b in r.json()["blocking"]]


def test_reports_cut_by_principal_and_show_only_the_tenant_s_attempts(
    tenant: Tenant, other: Tenant
) -> None:
    pid = principal(tenant, SIRENS[0], tenant, other)
    for t in (tenant, other):
        for_principal(t, "for-p", pid)
    assert contract(tenant, pid).status_code == 201
    mine = {check(tenant, "for-p")["attempt_id"], check(tenant, "spring-2026")["attempt_id"]}
    theirs = check(other, "for-p")["attempt_id"]

    r = tenant.get("/v1/reports/attempts")
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0])[-1] == "principal"
    assert {x["attempt_id"] for x in rows} == mine and theirs not in r.text
    assert {x["attempt_id"]: x["principal"] for x in rows}.keys() == mine
    assert sorted(x["principal"] for x in rows) == sorted([pid, tenant.id])
    r = tenant.get("/v1/reports/attempts", params={"principal": pid, "format": "jsonl"})
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert [x["principal"] for x in lines] == [pid] and list(lines[0])[-1] == "principal"

    s = tenant.get("/v1/reports/summary").json()
    assert s["total"] == 2
    assert {k: v["total"] for k, v in s["by_principal"].items()} == {pid: 1, tenant.id: 1}
    s = tenant.get("/v1/reports/summary", params={"principal": pid}).json()
    assert s["total"] == 1 and s["filters"]["principal"] == pid
    r = tenant.get("/v1/reports/summary", params={"principal": " x"})
    assert r.status_code == 422 and "principal" in r.json()["detail"]
