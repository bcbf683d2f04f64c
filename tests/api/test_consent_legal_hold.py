"""The consent evidence under legal hold after an erasure (rules-fr.md §5; GDPR art.
17(3)(b)): kept until collection + 3 years, shown and exported nowhere, sealed in the ledger,
then purged by ``gateway audit purge`` in a sealed record that ``GET /v1/audit/verify`` checks;
migration 0011 up and down — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from app.audit import service as audit
from app.audit.models import LedgerSeal
from app.db import session_scope, write_transaction
from app.erasure.service import proof_until
from app.registries.models import ConsentHold, Erasure
from tests.factories import CALLEE, Tenant, add_consent

SECRET = "203.0.113.77"  # in the evidence: must never show once erased


def held() -> dict[str, ConsentHold]:
    with session_scope() as s:
        return {h.consent_id: s.expunge(h) or h for h in s.scalars(select(ConsentHold))}


def verify(t: Tenant) -> dict[str, Any]:
    r = t.get("/v1/audit/verify")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def erased(tenant: Tenant, freeze: Callable[[str], None]) -> dict[str, Any]:
    """Three consents of CALLEE — collected on 2026-09-01, on 2024-02-29 and on 2023-06-01 —
    erased on Monday 2026-11-23; the ledger sealed after it."""
    recent = add_consent(tenant, evidence={"form": "optin-v3", "ip": SECRET})
    leap = add_consent(tenant, scope="outside_hours", given_at="2024-02-29T12:00:00+01:00",
                       evidence={"paper": "scan-77.pdf", "ip": SECRET})
    old = add_consent(tenant, given_at="2023-06-01T10:00:00+02:00",
                      evidence={"form": "v1", "ip": SECRET})
    r = tenant.post(f"/v1/numbers/{CALLEE}/erasure")
    assert r.status_code == 201, r.text
    freeze("2026-11-23T11:00:00+01:00")
    assert audit.seal() is not None
    return {"recent": recent, "leap": leap, "old": old, "erasure": r.json()}


def test_the_hold_and_its_end_are_in_the_erasure_record(tenant: Tenant,
                                                        erased: dict[str, Any]) -> None:
    body = erased["erasure"]
    # collected 2023-06-01: more than three years ago, nothing to hold
    assert body["erased"]["consents"] == 3 and body["consents_held"] == 2
    assert body["legal_hold_until"] == "2029-09-01T08:00:00+00:00"  # 2026-09-01 10:00 Paris
    holds = held()
    assert set(holds) == {erased["recent"]["id"], erased["leap"]["id"]}
    assert holds[erased["recent"]["id"]].evidence == {"form": "optin-v3", "ip": SECRET}
    assert holds[erased["recent"]["id"]].evidence_sha256 == erased["recent"]["evidence_sha256"]
    # 29 February + 3 years: 1 March (the longer reading)
    assert holds[erased["leap"]["id"]].hold_until == datetime(2027, 3, 1, 11, 0, tzinfo=UTC)
    with session_scope() as s:
        row = s.get(Erasure, body["id"])
        assert (row.consents_held, row.legal_hold_until) == (
            2, datetime(2029, 9, 1, 8, 0, tzinfo=UTC))
    assert tenant.get("/v1/erasures").json() == [body]
    history = tenant.get(f"/v1/numbers/{CALLEE}/history").json()
    [entry] = history["erasures"]
    assert entry["consents_held"] == 2
    assert entry["legal_hold_until"] == "2029-09-01T10:00:00+02:00"  # the callee's zone


def test_held_evidence_is_shown_nowhere(tenant: Tenant, erased: dict[str, Any]) -> None:
    ids = [erased[k]["id"] for k in ("recent", "leap", "old")]
    answers = [
        tenant.get("/v1/consents"),
        tenant.get("/v1/consents/expiring", params={"within_days": 365}),
        tenant.get(f"/v1/numbers/{CALLEE}/history"),
        tenant.get("/v1/erasures"),
        tenant.get("/v1/reports/attempts", params={"format": "jsonl"}),
        *(tenant.get(f"/v1/consents/{i}") for i in ids),
        *(tenant.get(f"/v1/consents/{i}/proof") for i in ids),
    ]
    for r in answers:
        assert r.status_code == 200, r.text
        assert SECRET not in r.text and "scan-77" not in r.text, r.request.url
    proof = tenant.get(f"/v1/consents/{ids[0]}/proof").json()
    assert proof["consent"]["evidence"]["erased"] is True and proof["evidence_intact"] is None
    assert proof["consent"]["evidence_sha256"] == erased["recent"]["evidence_sha256"]


def test_the_hold_is_sealed_and_tampering_is_detected(tenant: Tenant,
                                                      erased: dict[str, Any]) -> None:
    got = verify(tenant)
    assert got["ok"], got["first_broken"]
    assert got["unsealed"]["holds"] == 0 and got["rows_checked"] == 2  # the two holds
    with write_transaction() as conn:
        conn.execute(update(ConsentHold.__table__).where(
            ConsentHold.consent_id == erased["recent"]["id"]).values(
            evidence={"form": "optin-v3", "ip": "198.51.100.1"}))
    got = verify(tenant)
    assert not got["ok"] and got["first_broken"]["stream"] == "holds"
    assert "a row was changed" in got["first_broken"]["reason"]


def test_purge_after_three_years_is_sealed(tenant: Tenant, erased: dict[str, Any],
                                           freeze: Callable[[str], None]) -> None:
    leap, recent = erased["leap"]["id"], erased["recent"]["id"]
    freeze("2027-03-01T11:59:59+01:00")  # one second before the leap-day consent's hold ends
    assert audit.purge(tenant.id)[0]["holds"] == 0 and set(held()) == {leap, recent}
    freeze("2027-03-01T12:00:00+01:00")  # its end: purged; the other stays
    assert audit.purge(tenant.id, dry_run=True)[0]["holds"] == 1 and len(held()) == 2
    done = audit.purge(tenant.id)
    assert done[0]["holds"] == 1 and set(held()) == {recent}
    with session_scope() as s:
        [record] = s.scalars(select(LedgerSeal).where(LedgerSeal.kind == "purge")).all()
    assert record.body["stream"] == "holds" and record.body["holds"] == 1
    assert len(record.body["digest"]) == 64 and record.body["tenant_id"] == tenant.id
    # the sealed period held both holds: its part is restated without the purged one
    assert [(o["seq"], o["stream"], o["count"]) for o in record.body["overrides"]] == [
        (1, "holds", 1)]
    got = verify(tenant)
    assert got["ok"], got["first_broken"]
    assert got["seals"] == 2
    # the rest three years after 2026-09-01, through the shell
    freeze("2029-09-01T10:00:00+02:00")
    from app.cli import cli

    result = CliRunner().invoke(cli, ["audit", "purge", "--tenant", tenant.id, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["holds"] == 1 and held() == {}
    assert verify(tenant)["ok"]
    assert audit.purge(tenant.id)[0]["holds"] == 0  # nothing left


def test_proof_until_is_three_calendar_years() -> None:
    cases = {
        datetime(2026, 9, 1, 8, 0, tzinfo=UTC): datetime(2029, 9, 1, 8, 0, tzinfo=UTC),
        datetime(2024, 2, 29, 11, 0, tzinfo=UTC): datetime(2027, 3, 1, 11, 0, tzinfo=UTC),
        datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC): datetime(2028, 12, 31, 23, 59, 59,
                                                                 tzinfo=UTC),
    }
    assert {k: proof_until(k) for k in cases} == cases


def test_migration_0011_refuses_to_drop_held_evidence(fresh_url: str) -> None:
    """Up and down on a database with data: an erasure record keeps its columns' defaults,
    a downgrade refuses while evidence is held and goes through once it is purged."""
    from sqlalchemy import inspect, text

    from app import db as app_db
    from app.migrate import downgrade, upgrade

    upgrade(fresh_url, "0009")
    engine = app_db.make_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO tenants (id, name, legal_form, status, policy, created_at) "
                "VALUES ('t1', 'T', 'legal_person', 'active', '{}', '2026-11-23 09:00:00')"))
            conn.execute(text(
                "INSERT INTO erasures (id, tenant_id, tombstone, requested_at, requested_by, "
                "consents, contracts, refusals, quarantines, oppositions, opposition_added) "
                "VALUES ('era_1', 't1', 'erased:x', '2026-11-23 09:00:00', 'key', 1, 0, 0, 0, "
                "0, false)"))
            conn.execute(text(
                "INSERT INTO consents (id, tenant_id, callee, scope, given_at, channel, "
                "evidence, evidence_sha256, created_at) VALUES ('con_1', 't1', 'erased:x', "
                "'canvassing', '2026-09-01 08:00:00', 'web', '{}', 'ab', "
                "'2026-09-01 08:00:00')"))
        upgrade(fresh_url, "0011")
        with engine.begin() as conn:
            assert conn.execute(text(
                "SELECT consents_held, legal_hold_until FROM erasures")).one() == (0, None)
            conn.execute(text(
                "INSERT INTO consent_holds (consent_id, tenant_id, erasure_id, held_at, "
                "hold_until, evidence, evidence_sha256) VALUES ('con_1', 't1', 'era_1', "
                "'2026-11-23 09:00:00', '2029-09-01 08:00:00', '{\"ip\": \"x\"}', 'ab')"))
        with pytest.raises(RuntimeError, match="legal hold"):
            downgrade(fresh_url, "0009")
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM consent_holds"))
        downgrade(fresh_url, "0009")
        inspector = inspect(engine)
        assert "consent_holds" not in inspector.get_table_names()
        assert "consents_held" not in {c["name"] for c in inspector.get_columns("erasures")}
        upgrade(fresh_url, "0011")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM erasures")).scalar_one() == 1
    finally:
        engine.dispose()


def test_a_hold_outlives_the_attempts_purged_around_it(tenant: Tenant,
                                                       freeze: Callable[[str], None]) -> None:
    """Attempts purged by a short retention leave the held evidence of the same sealed period
    in place, and the ledger still verifies (a purged period's cutoff is the attempts')."""
    add_consent(tenant, evidence={"form": "optin-v3", "ip": SECRET})
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"
    assert tenant.post(f"/v1/numbers/{CALLEE}/erasure").status_code == 201
    freeze("2026-11-23T11:00:00+01:00")
    assert audit.seal() is not None
    r = tenant.client.patch("/v1/policy", json={"ledger_retention_days": 30},
                            headers={"Authorization": f"Bearer {tenant.admin}"})
    assert r.status_code == 200, r.text
    freeze("2027-02-01T10:00:00+01:00")
    done = audit.purge(tenant.id)
    assert (done[0]["attempts"], done[0]["holds"]) == (1, 0)
    assert len(held()) == 1
    got = verify(tenant)
    assert got["ok"], got["first_broken"]
