"""Building a tenant through the public API, the way a customer would."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.db import session_scope
from app.tenancy.service import create_key

CANVASSING_CLI = "+33162000001"  # ARCEP canvassing range (01 62)
GEOGRAPHIC_CLI = "+33140000001"  # Paris geographic, outside the canvassing ranges
MOBILE_CLI = "+33612000001"
CALLEE = "+33612345678"


def operator_key() -> str:
    with session_scope(write=True) as s:
        return create_key(s, "operator", None)[1]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class Tenant:
    client: Any
    id: str
    operator: str
    admin: str
    dialer: str
    compliance: str
    campaigns: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the tenant's own numbers (a number is held by one tenant platform-wide): the first
    #: tenant of a database gets the module's constants, later ones numbers of their own
    canvassing_cli: str = CANVASSING_CLI
    geographic_cli: str = GEOGRAPHIC_CLI
    mobile_cli: str = MOBILE_CLI

    def post(self, path: str, json: Any = None, role: str = "admin", **kw: Any) -> Any:
        return self.client.post(path, json=json, headers=auth(getattr(self, role)), **kw)

    def get(self, path: str, role: str = "compliance", **kw: Any) -> Any:
        return self.client.get(path, headers=auth(getattr(self, role)), **kw)

    def check(self, **body: Any) -> Any:
        body.setdefault("campaign", "spring-2026")
        body.setdefault("caller_id", self.canvassing_cli)
        return self.post("/v1/calls/check", body, role="dialer")

    def evaluate(self, **body: Any) -> Any:
        body.setdefault("campaign", "spring-2026")
        body.setdefault("caller_id", self.canvassing_cli)
        return self.post("/v1/calls/evaluate", body, role="dialer")


def make_tenant(client: Any, name: str = "Acme", *, operator: str | None = None) -> Tenant:
    """A tenant with keys for each role, three caller IDs and the campaign ``spring-2026``
    (commercial, consumers, general, automated, presenting the canvassing-range number)."""
    op = operator or operator_key()
    r = client.post("/v1/tenants", json={"name": name, "legal_form": "legal_person"},
                    headers=auth(op))
    assert r.status_code == 201, r.text
    tenant_id = r.json()["id"]
    keys = {}
    for role in ("admin", "dialer", "compliance"):
        k = client.post(f"/v1/tenants/{tenant_id}/keys", json={"role": role}, headers=auth(op))
        assert k.status_code == 201, k.text
        keys[role] = k.json()["key"]
    t = Tenant(client, tenant_id, op, **keys)
    for n in range(100):  # the first set of numbers no other tenant holds yet
        clis = tenant_clis(n)
        r = t.post("/v1/caller-ids", {"number": clis[0], "assigned_to": None})
        if r.status_code != 409:
            break
    assert r.status_code == 201, r.text
    t.canvassing_cli, t.geographic_cli, t.mobile_cli = clis
    for number, agent in ((t.geographic_cli, None), (t.mobile_cli, "agent-1")):
        r = t.post("/v1/caller-ids", {"number": number, "assigned_to": agent})
        assert r.status_code == 201, r.text
    add_campaign(t, "spring-2026")
    return t


def tenant_clis(n: int) -> tuple[str, str, str]:
    """The n-th tenant's canvassing-range, geographic and mobile numbers (n=0: the constants)."""
    return f"+3316200{n:02d}01", f"+3314000{n:02d}01", f"+3361200{n:02d}01"


def add_campaign(t: Tenant, campaign_id: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "id": campaign_id, "purpose": "commercial", "audience": "consumers",
        "sector": "general", "automated": True, "caller_ids": [t.canvassing_cli],
    } | overrides
    r = t.post("/v1/campaigns", body)
    assert r.status_code == 201, r.text
    t.campaigns[campaign_id] = r.json()
    return r.json()


def add_consent(t: Tenant, callee: str = CALLEE, scope: str = "canvassing",
                given_at: str = "2026-09-01T10:00:00+02:00", **kw: Any) -> dict[str, Any]:
    body = {"callee": callee, "scope": scope, "given_at": given_at, "channel": "web_form",
            "evidence": {"form": "optin-v3", "ip": "203.0.113.7"}} | kw
    r = t.post("/v1/consents", body)
    assert r.status_code == 201, r.text
    return r.json()
