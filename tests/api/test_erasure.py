"""Erasure of one number (GDPR art. 17): the registries lose the number and the consent evidence,
keep the hashes, and the number stays blocked (``INTERNAL_OPPOSITION``), per tenant."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from app import db as app_db
from app.calls.models import Attempt
from app.db import session_scope
from app.ids import new_id
from app.migrate import downgrade, upgrade
from app.registries.models import (
    Consent,
    Contract,
    Erasure,
    Opposition,
    Quarantine,
    Refusal,
)
from app.registries.tombstones import tombstone
from app.tenancy.models import ApiKey
from tests.api.conftest import blocking
from tests.factories import CALLEE, Tenant, add_consent

REGISTRIES = (Consent, Contract, Opposition, Refusal, Quarantine)
NATIONAL = "06 12 34 56 78"  # CALLEE as people write it


def erase(t: Tenant, number: str = NATIONAL, role: str = "admin") -> Any:
    return t.post(f"/v1/numbers/{number}/erasure", role=role)


def rows(model: Any, tenant_id: str, callee: str) -> list[Any]:
    with session_scope() as s:
        found = s.scalars(select(model).where(model.tenant_id == tenant_id,
                                              model.callee == callee))
        return [s.expunge(r) or r for r in found]


def add_refusal_and_quarantine(tenant_id: str, callee: str = CALLEE) -> None:
    at = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    with session_scope(write=True) as s:
        s.add(Refusal(id=new_id("ref"), tenant_id=tenant_id, callee=callee, refused_at=at))
        s.add(Quarantine(id=new_id("qua"), tenant_id=tenant_id, callee=callee, until=at,
                         created_at=at))


def populate(t: Tenant) -> list[dict[str, Any]]:
    """Two consents (one revoked), a contract, a refusal and a quarantine for CALLEE."""
    consents = [add_consent(t), add_consent(t, scope="outside_hours",
                                            evidence={"paper": "scan-1234.pdf", "name": "J. D."})]
    assert t.post(f"/v1/consents/{consents[1]['id']}/revoke", {"reason": "asked"}).status_code \
        == 200
    r = t.post("/v1/contracts", {"callee": CALLEE, "reference": "C-1", "sector": "general",
                                 "starts_on": "2026-01-01", "ends_on": None})
    assert r.status_code == 201, r.text
    add_refusal_and_quarantine(t.id)
    return consents


def test_erasure_removes_the_number_and_the_evidence_but_keeps_the_hashes(tenant: Tenant) -> None:
    consents = populate(tenant)
    r = erase(tenant)
    assert r.status_code == 201, r.text
    body = r.json()
    key = tombstone(tenant.id, CALLEE)
    assert body["tombstone"] == key
    assert body["erased"] == {"consents": 2, "contracts": 1, "refusals": 1, "quarantines": 1,
                              "oppositions": 0}
    assert body["opposition_added"] is True and body["nothing_to_erase"] is False

    for model in REGISTRIES:  # the number is nowhere in the registries any more
        assert rows(model, tenant.id, CALLEE) == [], model.__tablename__
    erased = {c.id: c for c in rows(Consent, tenant.id, key)}
    assert set(erased) == {c["id"] for c in consents}
    for c in consents:
        row = erased[c["id"]]
        assert row.evidence_sha256 == c["evidence_sha256"]  # the hash still proves what was held
        assert row.evidence["erased"] is True and set(row.evidence) == {
            "erased", "erased_at", "erasure_id"}
        assert datetime.fromisoformat(row.evidence["erased_at"]) == datetime.fromisoformat(
            "2026-11-23T10:30:00+01:00")
        assert row.revoked_at is not None
    assert erased[consents[0]["id"]].revoke_reason == "erasure request"
    assert erased[consents[1]["id"]].revoke_reason == "asked"  # the first revocation stays
    assert [c.reference for c in rows(Contract, tenant.id, key)] == ["C-1"]
    assert len(rows(Refusal, tenant.id, key)) == len(rows(Quarantine, tenant.id, key)) == 1
    [opposition] = rows(Opposition, tenant.id, key)
    assert opposition.source == "erasure request"

    # through the API too: nothing under the number, the evidence gone, the hash kept
    assert tenant.get("/v1/consents", params={"callee": NATIONAL}).json() == []
    got = tenant.get(f"/v1/consents/{consents[1]['id']}").json()
    assert "scan-1234" not in str(got) and got["evidence_sha256"] == consents[1]["evidence_sha256"]

    # the record proves what was done, without the number
    with session_scope() as s:
        [record] = s.scalars(select(Erasure).where(Erasure.tenant_id == tenant.id))
        admin_key = s.scalar(select(ApiKey.id).where(ApiKey.tenant_id == tenant.id,
                                                     ApiKey.role == "admin"))
        assert record.id == body["id"] and record.requested_by == admin_key
        assert (record.consents, record.contracts, record.refusals, record.quarantines,
                record.oppositions, record.opposition_added) == (2, 1, 1, 1, 0, True)
        assert "612345678" not in repr([getattr(record, c.key) for c in Erasure.__table__.c])
    assert tenant.get("/v1/erasures").json() == [body]


def test_the_erased_number_stays_blocked(tenant: Tenant) -> None:
    add_consent(tenant)
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"
    assert erase(tenant).status_code == 201
    for form in (CALLEE, NATIONAL, "0033612345678"):
        d = tenant.check(callee=form).json()
        assert d["decision"] == "deny" and "INTERNAL_OPPOSITION" in blocking(d), d
        assert d["next_allowed_at"] is None
    d = tenant.evaluate(callee=CALLEE, at="2027-06-01T11:00:00+02:00").json()
    assert "INTERNAL_OPPOSITION" in blocking(d)
    # a new consent after the erasure does not unblock the number either
    add_consent(tenant, given_at="2026-11-23T10:00:00+01:00")
    assert "INTERNAL_OPPOSITION" in blocking(tenant.check(callee=CALLEE).json())


def test_the_attempts_ledger_is_not_erased(tenant: Tenant) -> None:
    """Compliance evidence and penalties: kept in clear (retention is issue 5's)."""
    add_consent(tenant)
    attempt = tenant.check(callee=CALLEE).json()["attempt_id"]
    assert erase(tenant).status_code == 201
    with session_scope() as s:
        assert s.get(Attempt, attempt).callee == CALLEE


def test_erasure_is_idempotent(tenant: Tenant, freeze: Callable[[str], None]) -> None:
    populate(tenant)
    first = erase(tenant)
    assert first.status_code == 201
    freeze("2026-11-23T10:31:00+01:00")
    again = erase(tenant, CALLEE)
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["erased"] == dict.fromkeys(body["erased"], 0)
    assert body["nothing_to_erase"] is True and body["opposition_added"] is False
    assert body["tombstone"] == first.json()["tombstone"] and body["id"] != first.json()["id"]
    key = tombstone(tenant.id, CALLEE)
    assert len(rows(Opposition, tenant.id, key)) == 1
    assert len(rows(Consent, tenant.id, key)) == 2
    assert [e["nothing_to_erase"] for e in tenant.get("/v1/erasures").json()] == [False, True]


def test_an_existing_opposition_is_rekeyed_and_a_later_one_erased(tenant: Tenant) -> None:
    r = tenant.post("/v1/oppositions", {"callee": NATIONAL, "source": "letter of 2026-10-02"})
    assert r.status_code == 201
    body = erase(tenant).json()
    assert body["erased"]["oppositions"] == 1 and body["opposition_added"] is False
    key = tombstone(tenant.id, CALLEE)
    [opposition] = rows(Opposition, tenant.id, key)
    assert opposition.id == r.json()["id"] and opposition.source == "letter of 2026-10-02"
    assert "INTERNAL_OPPOSITION" in blocking(tenant.check(callee=CALLEE).json())

    # the number comes back (a new opposition is new data); a second erasure takes it out
    assert tenant.post("/v1/oppositions", {"callee": CALLEE, "source": "call"}).status_code == 201
    again = erase(tenant)
    assert again.status_code == 201
    assert again.json()["erased"]["oppositions"] == 1
    assert rows(Opposition, tenant.id, CALLEE) == []
    assert [o.id for o in rows(Opposition, tenant.id, key)] == [r.json()["id"]]
    assert "INTERNAL_OPPOSITION" in blocking(tenant.check(callee=CALLEE).json())


def test_erasure_is_per_tenant(tenant: Tenant, other: Tenant) -> None:
    mine, theirs = add_consent(tenant), add_consent(other)
    assert erase(tenant).status_code == 201
    listed = other.get("/v1/consents", params={"callee": CALLEE}).json()
    assert [c["id"] for c in listed] == [theirs["id"]]
    assert listed[0]["evidence"] == theirs["evidence"] and listed[0]["revoked_at"] is None
    assert other.check(callee=CALLEE).json()["decision"] == "allow"
    assert "INTERNAL_OPPOSITION" in blocking(tenant.check(callee=CALLEE).json())
    assert tombstone(tenant.id, CALLEE) != tombstone(other.id, CALLEE)
    assert other.get("/v1/erasures").json() == []
    assert other.get(f"/v1/consents/{mine['id']}").status_code == 404


@pytest.mark.parametrize("role", ["dialer", "compliance", "operator"])
def test_only_a_tenant_admin_erases(tenant: Tenant, role: str) -> None:
    add_consent(tenant)
    assert erase(tenant, role=role).status_code == 403
    assert tenant.client.post(f"/v1/numbers/{CALLEE}/erasure").status_code == 401
    assert rows(Consent, tenant.id, CALLEE) != []
    assert tenant.get("/v1/erasures", role="dialer").status_code == 403


@pytest.mark.parametrize("number", ["12345", "not a number", "0899123456789"])
def test_an_invalid_number_is_a_422(tenant: Tenant, number: str) -> None:
    r = erase(tenant, number)
    assert r.status_code == 422, r.text
    assert tenant.get("/v1/erasures").json() == []


def test_migration_0003_keeps_the_registries_and_refuses_to_drop_tombstones(
    fresh_url: str,
) -> None:
    """0002 → 0003 keeps every registry row; going back below 0003 while a tombstone is stored
    is refused (an erasure cannot be undone, and dropping the row would unblock the number)."""
    upgrade(fresh_url, "0002")
    engine = app_db.make_engine(fresh_url)
    at = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO tenants (id, name, legal_form, status, policy, "
                              "created_at) VALUES ('ten_1', 'Acme', 'legal_person', 'active', "
                              "'{}', :at)"), {"at": at})
            conn.execute(text("INSERT INTO oppositions (id, tenant_id, callee, source, "
                              "created_at) VALUES ('opp_1', 'ten_1', :c, 'letter', :at)"),
                         {"c": CALLEE, "at": at})
        upgrade(fresh_url)
        key = tombstone("ten_1", CALLEE)
        with engine.begin() as conn:
            assert conn.execute(text("SELECT callee FROM oppositions")).scalars().all() == [CALLEE]
            conn.execute(text("UPDATE oppositions SET callee = :k"), {"k": key})
        with pytest.raises(RuntimeError, match="erased number"):
            downgrade(fresh_url, "0002")
        with engine.begin() as conn:  # nothing was changed by the refused downgrade
            assert conn.execute(text("SELECT callee FROM oppositions")).scalars().all() == [key]
            assert conn.execute(text("SELECT count(*) FROM erasures")).scalar_one() == 0
            conn.execute(text("UPDATE oppositions SET callee = :c"), {"c": CALLEE})
        downgrade(fresh_url, "0002")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT callee FROM oppositions")).scalars().all() == [CALLEE]
    finally:
        engine.dispose()


def test_erasing_a_number_never_recorded_still_blocks_it(tenant: Tenant) -> None:
    """The consumer asked for erasure: whatever the registries held, they are not to be called."""
    r = erase(tenant, "07 98 76 54 32")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["erased"] == dict.fromkeys(body["erased"], 0) and body["opposition_added"]
    assert body["nothing_to_erase"] is False
    d = tenant.check(callee="+33798765432").json()
    assert set(blocking(d)) == {"INTERNAL_OPPOSITION", "CONSENT_REQUIRED"}
    assert erase(tenant, "+33798765432").status_code == 200
