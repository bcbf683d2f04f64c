"""Caller IDs across tenants: one holder per number platform-wide, the operator's list of every
tenant's numbers, the operator's verification, and a campaign that cannot be renamed by PUT."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
from sqlalchemy import text

from app.config import get_settings
from app.db import get_engine
from tests.api.conftest import codes
from tests.factories import CALLEE, Tenant, add_campaign, add_consent, auth, make_tenant

FREE = "+33162990001"  # a canvassing-range number no test tenant starts with
FREE_NATIONAL = "01 62 99 00 01"


def register(t: Tenant, number: str, agent: str | None = None) -> Any:
    return t.post("/v1/caller-ids", {"number": number, "assigned_to": agent})


def operator_get(t: Tenant, path: str, **kw: Any) -> Any:
    return t.client.get(path, headers=auth(t.operator), **kw)


def verification(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("GATEWAY_CALLER_ID_VERIFICATION", value)
    get_settings.cache_clear()


# --- one tenant per number --------------------------------------------------------------------


def test_another_tenants_number_is_409_whatever_its_written_form(
    tenant: Tenant, other: Tenant
) -> None:
    assert register(other, FREE).status_code == 201
    for written in (FREE, FREE_NATIONAL, "0033162990001", "+33 1 62 99 00 01"):
        r = register(tenant, written)
        assert r.status_code == 409, (written, r.text)
        assert r.json()["error"] == "conflict"
    mine = {c["number"] for c in tenant.get("/v1/caller-ids").json()}
    assert FREE not in mine
    # presenting it anyway: not the tenant's number
    add_campaign(tenant, "autumn", automated=False)
    d = tenant.check(callee=CALLEE, caller_id=FREE, campaign="autumn").json()
    assert "CALLER_ID_NOT_OWNED" in codes(d) and d["decision"] == "deny"


def test_the_409_never_tells_who_holds_the_number(tenant: Tenant, other: Tenant) -> None:
    third = make_tenant(tenant.client, "Initech", operator=tenant.operator)
    first, second = "+33162990001", "+33162990002"
    assert register(other, first).status_code == 201
    assert register(third, second).status_code == 201
    a, b = register(tenant, first), register(tenant, second)
    assert (a.status_code, b.status_code) == (409, 409)
    # the same answer whoever holds it: only the number differs
    assert a.json() == {k: v.replace(second, first) if isinstance(v, str) else v
                        for k, v in b.json().items()}
    for r in (a, b):
        body = r.text
        for leak in (other.id, third.id, "Globex", "Initech"):
            assert leak not in body


def test_own_duplicate_is_409_and_a_released_number_can_be_taken(
    tenant: Tenant, other: Tenant
) -> None:
    assert register(tenant, FREE).status_code == 201
    r = register(tenant, FREE_NATIONAL)
    assert r.status_code == 409 and "this tenant" in r.json()["detail"]
    assert register(other, FREE).status_code == 409
    delete = tenant.client.delete(f"/v1/caller-ids/{FREE}", headers=auth(tenant.admin))
    assert delete.status_code == 204
    assert register(other, FREE).status_code == 201
    # another tenant cannot delete it (not theirs: 404, the registration stays)
    gone = tenant.client.delete(f"/v1/caller-ids/{FREE}", headers=auth(tenant.admin))
    assert gone.status_code == 404
    assert FREE in {c["number"] for c in other.get("/v1/caller-ids").json()}


# --- the operator's list ----------------------------------------------------------------------


def test_operator_lists_every_tenants_caller_ids(tenant: Tenant, other: Tenant) -> None:
    r = operator_get(tenant, "/v1/caller-ids/all")
    assert r.status_code == 200, r.text
    rows = r.json()
    by_number = {row["number"]: row for row in rows}
    assert len(by_number) == len(rows) == 6  # three each, no number twice
    for t, name in ((tenant, "Acme"), (other, "Globex")):
        for number, kind in ((t.canvassing_cli, "canvassing"), (t.geographic_cli, "geographic"),
                             (t.mobile_cli, "mobile")):
            row = by_number[number]
            assert (row["tenant_id"], row["tenant_name"], row["kind"]) == (t.id, name, kind)
            assert row["verified_at"] is None
            assert row["created_at"].endswith("+00:00")
        assert by_number[t.mobile_cli]["assigned_to"] == "agent-1"
    assert [row["number"] for row in rows] == sorted(by_number)
    only = operator_get(tenant, "/v1/caller-ids/all", params={"tenant": other.id}).json()
    assert {row["tenant_id"] for row in only} == {other.id} and len(only) == 3


def test_tenants_see_only_their_own(tenant: Tenant, other: Tenant) -> None:
    for t, them in ((tenant, other), (other, tenant)):
        for role in ("admin", "compliance"):
            mine = {c["number"] for c in t.get("/v1/caller-ids", role=role).json()}
            assert mine == {t.canvassing_cli, t.geographic_cli, t.mobile_cli}
            assert not mine & {them.canvassing_cli, them.geographic_cli, them.mobile_cli}
        for role in ("admin", "compliance", "dialer"):
            r = t.get("/v1/caller-ids/all", role=role)
            assert r.status_code == 403, (role, r.text)
            assert them.id not in r.text


def test_operator_list_as_csv(tenant: Tenant, other: Tenant) -> None:
    tricky = make_tenant(tenant.client, '=HYPERLINK("http://x","a, b")', operator=tenant.operator)
    r = operator_get(tenant, "/v1/caller-ids/all", params={"format": "csv"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.count(b"\r\n") == 1 + 9  # RFC 4180 line ends: header and nine rows
    rows = list(csv.DictReader(io.StringIO(r.text, newline="")))
    assert list(rows[0]) == ["number", "kind", "tenant_id", "tenant_name", "assigned_to",
                             "created_at", "verified_at"]
    json_rows = operator_get(tenant, "/v1/caller-ids/all").json()
    assert [row["number"] for row in rows] == [row["number"] for row in json_rows]
    names = {row["tenant_id"]: row["tenant_name"] for row in rows}
    assert names[other.id] == "Globex"
    assert names[tricky.id] == "'" + '=HYPERLINK("http://x","a, b")'  # never a formula
    assert {row["verified_at"] for row in rows} == {""}


# --- the operator's verification --------------------------------------------------------------


def test_verification_off_by_default_unverified_numbers_are_usable(tenant: Tenant) -> None:
    add_consent(tenant)
    d = tenant.check(callee=CALLEE).json()
    assert d["decision"] == "allow", d


def test_verification_required_denies_until_the_operator_verifies(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_consent(tenant)
    verification(monkeypatch, "required")
    for call in (tenant.check, tenant.evaluate):
        d = call(callee=CALLEE).json()
        assert d["decision"] == "deny" and codes(d) == ["CALLER_ID_NOT_VERIFIED"], d
        reason = d["reasons"][0]
        assert "2025-2215" in reason["legal_basis"] and reason["severity"] == "block"

    r = tenant.client.post("/v1/caller-ids/01 62 00 00 01/verify", headers=auth(tenant.operator))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["number"], body["tenant_id"]) == (tenant.canvassing_cli, tenant.id)
    assert body["verified_at"] is not None
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"
    listed = {row["number"]: row for row in operator_get(tenant, "/v1/caller-ids/all").json()}
    assert listed[tenant.canvassing_cli]["verified_at"] == body["verified_at"]
    own = {row["number"]: row for row in tenant.get("/v1/caller-ids").json()}
    assert own[tenant.canvassing_cli]["verified_at"] == body["verified_at"]  # the tenant sees it
    assert own[tenant.geographic_cli]["verified_at"] is None
    # verifying again keeps the first instant
    again = tenant.client.post(f"/v1/caller-ids/{tenant.canvassing_cli}/verify",
                               headers=auth(tenant.operator))
    assert again.json()["verified_at"] == body["verified_at"]

    # withdrawn: denied again
    w = tenant.client.delete(f"/v1/caller-ids/{tenant.canvassing_cli}/verify",
                             headers=auth(tenant.operator))
    assert w.status_code == 200 and w.json()["verified_at"] is None
    assert codes(tenant.check(callee=CALLEE).json()) == ["CALLER_ID_NOT_VERIFIED"]


def test_verify_answers(tenant: Tenant) -> None:
    post = tenant.client.post
    op = auth(tenant.operator)
    assert post(f"/v1/caller-ids/{FREE}/verify", headers=op).status_code == 404  # nobody's
    bad = post("/v1/caller-ids/not-a-number/verify", headers=op)
    assert bad.status_code == 422 and bad.json()["error"] == "CALLER_ID_INVALID"
    for role in ("admin", "compliance", "dialer"):  # the tenant cannot verify itself
        r = post(f"/v1/caller-ids/{tenant.canvassing_cli}/verify",
                 headers=auth(getattr(tenant, role)))
        assert r.status_code == 403
    row = {r["number"]: r for r in operator_get(tenant, "/v1/caller-ids/all").json()}
    assert row[tenant.canvassing_cli]["verified_at"] is None


@pytest.mark.serial  # asserts on elapsed time: alone on the CPU
def test_a_verification_made_elsewhere_reaches_this_worker_within_the_ttl(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another worker (here: a direct database write, which this process's cache never hears
    of) verifies the number: this worker's cached registration expires within the TTL."""
    ttl = 0.4
    monkeypatch.setenv("GATEWAY_CACHE_TTL_S", str(ttl))
    verification(monkeypatch, "required")
    add_consent(tenant)
    assert codes(tenant.check(callee=CALLEE).json()) == ["CALLER_ID_NOT_VERIFIED"]  # cached
    with get_engine().begin() as conn:
        conn.execute(text("UPDATE caller_ids SET verified_at = created_at WHERE number = :n"),
                     {"n": tenant.canvassing_cli})
    deadline = time.monotonic() + ttl + 0.5
    decision = "deny"
    while decision != "allow" and time.monotonic() < deadline:
        decision = tenant.check(callee=CALLEE).json()["decision"]
    assert decision == "allow"


# --- PUT /v1/campaigns/{id} -------------------------------------------------------------------


def _put(t: Tenant, path_id: str, **body: Any) -> Any:
    base = {"purpose": "commercial", "audience": "consumers", "sector": "general",
            "automated": False, "caller_ids": [t.geographic_cli]}
    return t.client.put(f"/v1/campaigns/{path_id}", json=base | body, headers=auth(t.admin))


def test_put_with_another_id_in_the_body_is_422_naming_it(tenant: Tenant) -> None:
    before = tenant.get("/v1/campaigns/spring-2026").json()
    r = _put(tenant, "spring-2026", id="summer-2026")
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "id" and "summer-2026" in r.json()["detail"]
    assert tenant.get("/v1/campaigns/spring-2026").json() == before  # unchanged
    assert tenant.get("/v1/campaigns/summer-2026").status_code == 404  # nothing created


@pytest.mark.parametrize("body_id", ["same", "absent"])
def test_put_with_the_same_id_or_none_replaces(tenant: Tenant, body_id: str) -> None:
    extra = {"id": "spring-2026"} if body_id == "same" else {}
    r = _put(tenant, "spring-2026", **extra)
    assert r.status_code == 200, r.text
    assert r.json() == {"id": "spring-2026", "purpose": "commercial", "audience": "consumers",
                        "sector": "general", "automated": False,
                        "caller_ids": [tenant.geographic_cli],
                        "principal": tenant.id, "prerecorded": False}  # the tenant's own


def test_post_still_requires_the_id(tenant: Tenant) -> None:
    body = {"purpose": "commercial", "audience": "consumers", "automated": False}
    r = tenant.post("/v1/campaigns", body)
    assert r.status_code == 422 and "id" in r.text
