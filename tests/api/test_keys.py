"""API keys: list (never a secret), revoke, rotate, labels, last use; who may do what."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

from app.cache import clear_all
from tests.factories import CALLEE, Tenant, auth

KEY_FIELDS = {"id", "role", "tenant", "label", "prefix", "created_at", "last_used_at",
              "revoked_at"}


def keys_of(t: Tenant, tenant_id: str, role: str = "admin", **params: Any) -> Any:
    return t.client.get(f"/v1/tenants/{tenant_id}/keys", headers=auth(getattr(t, role)),
                        params=params)


def key_id(t: Tenant, role: str) -> str:
    secret = getattr(t, role)
    (row,) = [k for k in keys_of(t, t.id).json() if secret.startswith(k["prefix"])
              and k["role"] == role]
    return row["id"]


def works(t: Tenant, key: str) -> int:
    return t.client.get("/v1/bloctel", headers=auth(key)).status_code


def test_listing_shows_every_key_of_the_tenant_and_never_a_secret(tenant: Tenant,
                                                                  other: Tenant) -> None:
    made = tenant.post(f"/v1/tenants/{tenant.id}/keys", {"role": "dialer", "label": "crm"})
    assert made.status_code == 201, made.text
    assert made.json()["label"] == "crm"
    for role in ("admin", "operator"):
        r = keys_of(tenant, tenant.id, role)
        assert r.status_code == 200, r.text
        rows = r.json()
        assert {k["role"] for k in rows} == {"admin", "dialer", "compliance"}
        assert len(rows) == 4 and all(set(k) == KEY_FIELDS for k in rows)
        assert all(k["tenant"] == tenant.id and k["revoked_at"] is None for k in rows)
        assert [k["label"] for k in rows if k["id"] == made.json()["id"]] == ["crm"]
        secrets = (tenant.admin, tenant.dialer, tenant.compliance, tenant.operator,
                   made.json()["key"])
        assert not any(s in r.text or s[3:] in r.text for s in secrets)
        assert all(any(s.startswith(k["prefix"]) for s in secrets) for k in rows)
    # another tenant's admin, the tenant's other roles: as if it did not exist
    assert keys_of(other, tenant.id).status_code == 404
    for role in ("dialer", "compliance"):
        assert keys_of(tenant, tenant.id, role).status_code in (403, 404)
    assert keys_of(tenant, "ten_nope", "operator").status_code == 404


def test_a_revoked_key_is_401_at_once_and_listed_as_revoked(tenant: Tenant) -> None:
    made = tenant.post(f"/v1/tenants/{tenant.id}/keys", {"role": "dialer"}).json()
    assert works(tenant, made["key"]) == 200
    r = tenant.client.delete(f"/v1/tenants/{tenant.id}/keys/{made['id']}",
                             headers=auth(tenant.admin))
    assert r.status_code == 200, r.text
    assert r.json()["revoked_at"] is not None and "key" not in r.json()
    refused = tenant.client.get("/v1/bloctel", headers=auth(made["key"]))
    assert (refused.status_code, refused.json()["error"]) == (401, "unauthorized")
    check = tenant.client.post("/v1/calls/check", headers=auth(made["key"]), json={
        "campaign": "spring-2026", "callee": CALLEE, "caller_id": "+33162000001"})
    assert check.status_code == 401
    # revoking again changes nothing; the other keys still work
    again = tenant.client.delete(f"/v1/tenants/{tenant.id}/keys/{made['id']}",
                                 headers=auth(tenant.operator))
    assert again.json()["revoked_at"] == r.json()["revoked_at"]
    assert works(tenant, tenant.dialer) == 200
    active = keys_of(tenant, tenant.id, active="true").json()
    assert made["id"] not in {k["id"] for k in active} and len(active) == 3
    assert made["id"] in {k["id"] for k in keys_of(tenant, tenant.id).json()}


def test_rotation_gives_a_new_key_with_the_same_role_and_label(tenant: Tenant) -> None:
    made = tenant.post(f"/v1/tenants/{tenant.id}/keys",
                       {"role": "compliance", "label": "auditor"}).json()
    r = tenant.post(f"/v1/tenants/{tenant.id}/keys/{made['id']}/rotate")
    assert r.status_code == 201, r.text
    new = r.json()
    assert (new["role"], new["label"], new["tenant"]) == ("compliance", "auditor", tenant.id)
    assert new["id"] != made["id"] and new["key"] != made["key"]
    assert works(tenant, made["key"]) == 401
    assert works(tenant, new["key"]) == 200
    # a revoked key cannot be rotated (it would resurrect it)
    again = tenant.post(f"/v1/tenants/{tenant.id}/keys/{made['id']}/rotate")
    assert again.status_code == 409
    # the admin rotates its own key: the old one stops, the new one is an admin key
    mine = key_id(tenant, "admin")
    rotated = tenant.post(f"/v1/tenants/{tenant.id}/keys/{mine}/rotate").json()
    assert works(tenant, tenant.admin) == 401
    assert tenant.client.get("/v1/policy", headers=auth(rotated["key"])).status_code == 200


def test_an_admin_cannot_touch_the_operators_keys_nor_another_tenants(
    tenant: Tenant, other: Tenant
) -> None:
    ops = tenant.client.get("/v1/keys", headers=auth(tenant.operator))
    assert ops.status_code == 200, ops.text
    (op,) = ops.json()
    assert (op["role"], op["tenant"]) == ("operator", None)
    theirs = key_id(other, "dialer")
    for tenant_id, kid in ((tenant.id, op["id"]), (other.id, theirs), (tenant.id, theirs)):
        for method, path in (("DELETE", f"/v1/tenants/{tenant_id}/keys/{kid}"),
                             ("POST", f"/v1/tenants/{tenant_id}/keys/{kid}/rotate")):
            r = tenant.client.request(method, path, headers=auth(tenant.admin))
            assert r.status_code == 404, (method, path, r.text)
    for method, path in (("GET", "/v1/keys"), ("DELETE", f"/v1/keys/{op['id']}"),
                         ("POST", f"/v1/keys/{op['id']}/rotate")):
        for role in ("admin", "compliance", "dialer"):
            r = tenant.client.request(method, path, headers=auth(getattr(tenant, role)))
            assert r.status_code == 403, (method, path, role)
    assert works(tenant, tenant.operator) == 200 and works(other, other.dialer) == 200
    # no escalation: an admin creates no operator key, and rotation keeps the role
    assert tenant.post(f"/v1/tenants/{tenant.id}/keys", {"role": "operator"}).status_code == 422


def test_the_operator_revokes_and_rotates_any_key(tenant: Tenant) -> None:
    dialer = key_id(tenant, "dialer")
    r = tenant.client.delete(f"/v1/keys/{dialer}", headers=auth(tenant.operator))
    assert (r.status_code, r.json()["tenant"]) == (200, tenant.id)
    assert works(tenant, tenant.dialer) == 401
    op = tenant.client.get("/v1/keys", headers=auth(tenant.operator)).json()[0]["id"]
    new = tenant.client.post(f"/v1/keys/{op}/rotate", headers=auth(tenant.operator)).json()
    assert (new["role"], new["tenant"]) == ("operator", None)
    assert works(tenant, tenant.operator) == 401 and works(tenant, new["key"]) == 200
    assert tenant.client.delete("/v1/keys/key_nope", headers=auth(new["key"])).status_code == 404


@pytest.mark.parametrize("label", ["", "x" * 101, "line\nbreak", "tab\there", "nul\x00"])
def test_a_bad_label_is_422(tenant: Tenant, label: str) -> None:
    r = tenant.post(f"/v1/tenants/{tenant.id}/keys", {"role": "dialer", "label": label})
    assert r.status_code == 422, r.text


def test_last_used_is_recorded_when_a_worker_loads_the_key(tenant: Tenant) -> None:
    made = tenant.post(f"/v1/tenants/{tenant.id}/keys", {"role": "compliance"}).json()

    def last_used() -> str | None:
        (row,) = [k for k in keys_of(tenant, tenant.id).json() if k["id"] == made["id"]]
        return row["last_used_at"]

    assert last_used() is None
    clear_all()
    assert works(tenant, made["key"]) == 200
    deadline = time.monotonic() + 5  # written by a background thread, off the request path
    while last_used() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert datetime.fromisoformat(last_used()) == datetime.fromisoformat(  # type: ignore[arg-type]
        "2026-11-23T10:30:00+01:00")  # the (frozen) service clock
