"""The sealed ledger: sealing, ``GET /v1/audit/verify``, tampering detected (a row's decision
changed, a row deleted, a row inserted, an outcome changed, a seal edited or removed), tenant
isolation, retention with ``purge`` keeping the chain verifiable — on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from typer.testing import CliRunner

from app.audit import service
from app.audit.models import LedgerPart, LedgerSeal
from app.calls.models import Attempt, PenaltyLine
from app.db import get_engine, session_scope, write_transaction
from tests.api.conftest import outcome
from tests.factories import CALLEE, Tenant, add_consent, auth

_a = Attempt.__table__
NO_CONSENT = "+33611223344"


def at(instant: str) -> datetime:
    return datetime.fromisoformat(instant).astimezone(UTC)


def seal_as_of(freeze: Callable[[str], None], instant: str) -> dict[str, Any] | None:
    """Seal with the clock at ``instant`` (rows up to the grace before it)."""
    freeze(instant)
    return service.seal()


@pytest.fixture
def ledger(tenant: Tenant, other: Tenant, freeze: Callable[[str], None]) -> dict[str, Any]:
    """Two sealed periods of attempts and outcomes for two tenants, then unsealed ones."""
    add_consent(tenant)
    add_consent(other)
    ids: list[str] = []
    freeze("2026-11-23T10:30:00+01:00")
    ids.append(tenant.check(callee=CALLEE).json()["attempt_id"])
    ids.append(tenant.check(callee=NO_CONSENT).json()["attempt_id"])  # denied, penalty
    other_id = other.check(callee=CALLEE).json()["attempt_id"]
    first = seal_as_of(freeze, "2026-11-23T10:40:00+01:00")
    ids.append(tenant.check(callee=CALLEE).json()["attempt_id"])
    assert outcome(tenant, ids[0], "answered", duration_s=42).status_code == 200
    second = seal_as_of(freeze, "2026-11-23T10:50:00+01:00")
    unsealed = tenant.check(callee=CALLEE).json()["attempt_id"]
    assert first and second
    return {"ids": ids, "other": other_id, "first": first, "second": second,
            "unsealed": unsealed}


def verify(t: Tenant) -> dict[str, Any]:
    r = t.get("/v1/audit/verify")
    assert r.status_code == 200, r.text
    return r.json()


def test_a_sealed_ledger_verifies(tenant: Tenant, ledger: dict[str, Any]) -> None:
    got = verify(tenant)
    assert got["ok"] and got["first_broken"] is None and got["problems"] == 0
    assert got["seals"] == 2 and len(got["head"]) == 64
    assert got["rows_checked"] == 4  # 3 attempts, 1 outcome
    assert got["unsealed"] == {"attempts": 1, "outcomes": 0, "holds": 0}
    assert got["sealed_until"] == "2026-11-23T09:48:00+00:00"  # 10:50 Paris less the grace
    # the first seal covers both tenants' first attempts; the second this tenant's
    assert (ledger["first"]["seq"], ledger["first"]["rows"]) == (1, 3)
    assert (ledger["second"]["seq"], ledger["second"]["rows"]) == (2, 2)
    assert service.verify()["ok"]


def test_nothing_new_makes_no_seal(tenant: Tenant, ledger: dict[str, Any], freeze: Any) -> None:
    assert seal_as_of(freeze, "2026-11-23T10:50:30+01:00") is None
    assert verify(tenant)["seals"] == 2


def tamper_decision(ids: list[str], **_: Any) -> None:
    with write_transaction() as conn:
        conn.execute(update(_a).where(_a.c.id == ids[1]).values(decision="allow"))


def tamper_delete(ids: list[str], **_: Any) -> None:
    with write_transaction() as conn:
        conn.execute(delete(PenaltyLine.__table__).where(
            PenaltyLine.__table__.c.attempt_id == ids[2]))
        conn.execute(delete(_a).where(_a.c.id == ids[2]))


def tamper_insert(ids: list[str], **_: Any) -> None:
    with write_transaction() as conn:
        row = conn.execute(select(_a).where(_a.c.id == ids[0])).mappings().one()
        conn.execute(insert(_a).values(dict(row) | {
            "id": "att_forged", "external_id": None,
            "checked_at": row["checked_at"] + timedelta(seconds=1)}))


def tamper_outcome(ids: list[str], **_: Any) -> None:
    with write_transaction() as conn:
        conn.execute(update(_a).where(_a.c.id == ids[0]).values(duration_s=65))


def tamper_seal(ids: list[str], **_: Any) -> None:
    t = LedgerPart.__table__
    with write_transaction() as conn:
        conn.execute(update(t).where(t.c.seq == 2).values(count=7))


def tamper_chain(ids: list[str], **_: Any) -> None:
    with write_transaction() as conn:
        conn.execute(delete(LedgerPart.__table__).where(LedgerPart.__table__.c.seq == 1))
        conn.execute(delete(LedgerSeal.__table__).where(LedgerSeal.__table__.c.seq == 1))


@pytest.mark.parametrize(("tamper", "seq", "stream", "reason"), [
    (tamper_decision, 1, "attempts", "a row was changed"),
    (tamper_delete, 2, "attempts", "1 row(s) sealed, 0 found"),
    (tamper_insert, 1, "attempts", "2 row(s) sealed, 3 found"),
    (tamper_outcome, 2, "outcomes", "a row was changed"),
    (tamper_seal, 2, None, "the seal itself was changed"),
    (tamper_chain, 2, None, "seal 1 is missing"),
], ids=["decision-changed", "row-deleted", "row-inserted", "outcome-changed", "seal-edited",
        "seal-removed"])
def test_tampering_is_detected_and_the_first_broken_seal_named(
    tenant: Tenant, ledger: dict[str, Any], tamper: Any, seq: int, stream: str | None,
    reason: str,
) -> None:
    assert verify(tenant)["ok"]
    tamper(ledger["ids"])
    got = verify(tenant)
    assert not got["ok"]
    broken = got["first_broken"]
    assert broken["seq"] == seq and reason in broken["reason"], broken
    assert broken.get("stream") == stream
    if stream:
        assert broken["tenant_id"] == tenant.id
    assert not service.verify()["ok"]  # the operator's whole-ledger verification too


def test_a_row_written_after_the_seal_is_exposed_until_sealed(
    tenant: Tenant, ledger: dict[str, Any], freeze: Any
) -> None:
    with write_transaction() as conn:
        conn.execute(update(_a).where(_a.c.id == ledger["unsealed"]).values(decision="deny"))
    got = verify(tenant)
    assert got["ok"] and got["unsealed"]["attempts"] == 1  # not sealed: not provable yet
    assert seal_as_of(freeze, "2026-11-23T11:00:00+01:00")
    assert verify(tenant)["unsealed"]["attempts"] == 0


def test_another_tenants_tampering_is_not_this_tenants(
    tenant: Tenant, other: Tenant, ledger: dict[str, Any]
) -> None:
    with write_transaction() as conn:
        conn.execute(update(_a).where(_a.c.id == ledger["other"]).values(decision="deny"))
    mine = verify(tenant)
    assert mine["ok"]
    theirs = verify(other)
    assert not theirs["ok"] and theirs["first_broken"]["tenant_id"] == other.id
    assert theirs["rows_checked"] == 1 and mine["rows_checked"] == 4


def test_roles(tenant: Tenant, ledger: dict[str, Any]) -> None:
    assert tenant.get("/v1/audit/verify", role="dialer").status_code == 403
    assert tenant.get("/v1/audit/verify", role="admin").status_code == 200
    assert tenant.client.get("/v1/audit/verify").status_code == 401


def test_the_chain_is_keyed_when_a_key_is_set(
    tenant: Tenant, ledger: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config import get_settings

    monkeypatch.setenv("GATEWAY_LEDGER_KEY", "s3cret")
    get_settings.cache_clear()
    try:  # sealed without a key: the keyed recomputation does not match
        got = verify(tenant)
        assert not got["ok"] and got["keyed"]
        assert got["first_broken"]["seq"] == 1
    finally:
        monkeypatch.delenv("GATEWAY_LEDGER_KEY")
        get_settings.cache_clear()


# --------------------------------------------------------------------------- retention


@pytest.fixture
def years(tenant: Tenant, freeze: Callable[[str], None]) -> dict[str, Any]:
    """Attempts in 2022 (beyond 3 years), 2024 and 2026; an outcome of a 2022 attempt recorded
    in 2024; each year sealed."""
    add_consent(tenant)
    ids: dict[str, Any] = {}
    freeze("2022-06-01T10:30:00+02:00")
    ids["old"] = [tenant.check(callee=CALLEE).json()["attempt_id"],
                  tenant.check(callee=NO_CONSENT).json()["attempt_id"]]
    seal_as_of(freeze, "2022-06-02T10:30:00+02:00")
    freeze("2024-06-03T10:30:00+02:00")
    ids["mid"] = [tenant.check(callee=CALLEE).json()["attempt_id"]]
    assert outcome(tenant, ids["old"][0], "answered", duration_s=30).status_code == 200
    seal_as_of(freeze, "2024-06-04T10:30:00+02:00")
    freeze("2026-11-23T10:30:00+01:00")
    ids["new"] = [tenant.check(callee=CALLEE).json()["attempt_id"]]
    seal_as_of(freeze, "2026-11-23T10:40:00+01:00")
    return ids


def attempt_ids(tenant: Tenant) -> set[str]:
    with session_scope() as s:
        return set(s.scalars(select(Attempt.id).where(Attempt.tenant_id == tenant.id)))


def test_purge_keeps_the_chain_verifiable(tenant: Tenant, years: dict[str, Any]) -> None:
    assert verify(tenant)["ok"]
    dry = service.purge(tenant.id, dry_run=True)
    assert dry[0]["attempts"] == 2 and attempt_ids(tenant) >= set(years["old"])
    with session_scope() as s:
        penalties = s.scalar(select(PenaltyLine.id).where(
            PenaltyLine.attempt_id.in_(years["old"])))
    assert penalties is not None
    done = service.purge(tenant.id)
    assert done[0]["attempts"] == 2 and done[0]["penalty_lines"] >= 1 and done[0]["steps"] == 1
    assert done[0]["cutoff"] == "2022-06-02T08:28:00+00:00"  # the 2022 seal's end
    assert attempt_ids(tenant) == set(years["mid"]) | set(years["new"])
    got = verify(tenant)
    assert got["ok"], got["first_broken"]
    assert got["seals"] == 4  # three seals and the purge, chained
    # the 2024 period's outcome part held the 2022 attempt's outcome: restated by the purge
    with session_scope() as s:
        record = s.scalars(select(LedgerSeal).where(LedgerSeal.kind == "purge")).one()
    assert record.body["overrides"] == [
        {"seq": 2, "stream": "outcomes", "count": 0, "digest": service.EMPTY}]
    # nothing left that old: a second purge does nothing
    assert service.purge(tenant.id)[0]["attempts"] == 0
    # a row put back into the purged period is detected
    with write_transaction() as conn:
        row = conn.execute(select(_a).where(_a.c.id == years["mid"][0])).mappings().one()
        conn.execute(insert(_a).values(dict(row) | {
            "id": "att_back", "external_id": None, "checked_at": at("2022-06-01T09:00:00Z")}))
    got = verify(tenant)
    assert not got["ok"] and "purged period" in got["first_broken"]["reason"]


def test_retention_is_a_tenant_policy(tenant: Tenant, years: dict[str, Any]) -> None:
    assert tenant.get("/v1/policy", role="admin").json()["ledger_retention_days"] == 1096
    r = tenant.client.patch("/v1/policy", json={"ledger_retention_days": 365},
                            headers=auth(tenant.admin))
    assert r.status_code == 200 and r.json()["ledger_retention_days"] == 365
    assert tenant.client.patch("/v1/policy", json={"ledger_retention_days": 7},
                               headers=auth(tenant.admin)).status_code == 422
    done = service.purge(tenant.id)
    assert done[0]["attempts"] == 3  # 2022 and 2024: older than a year
    assert attempt_ids(tenant) == set(years["new"])
    assert verify(tenant)["ok"]


def test_purge_refuses_to_wait_for_another(tenant: Tenant, years: dict[str, Any]) -> None:
    from app.db import try_lock

    with try_lock(get_engine(), *service._LOCK), pytest.raises(service.LedgerBusy):
        service.purge(tenant.id)  # a sealer or another purge holds the ledger: refused now
    assert service.purge(tenant.id)[0]["attempts"] == 2  # free again


# --------------------------------------------------------------------------- shell, thread


def test_cli_seal_verify_purge(tenant: Tenant, years: dict[str, Any], freeze: Any) -> None:
    from app.cli import cli

    runner = CliRunner()
    verified = runner.invoke(cli, ["audit", "verify", "--tenant", tenant.id])
    assert verified.exit_code == 0, verified.output
    assert "Ledger intact" in verified.output
    row = next(line for line in verified.output.splitlines() if "first broken seal" in line)
    assert row.strip(" │|").split()[-1] == "none", verified.output  # not "{}" nor "None"
    dry = runner.invoke(cli, ["audit", "purge", "--tenant", tenant.id, "--dry-run", "--json"])
    assert dry.exit_code == 0 and '"attempts": 2' in dry.stdout
    assert runner.invoke(cli, ["audit", "purge", "--before", "not a date"]).exit_code == 2
    purged = runner.invoke(cli, ["audit", "purge", "--tenant", tenant.id])
    assert purged.exit_code == 0 and "Purge" in purged.stdout
    freeze("2026-11-23T11:00:00+01:00")
    tenant.check(callee=CALLEE)
    freeze("2026-11-23T11:30:00+01:00")
    sealed = runner.invoke(cli, ["audit", "seal", "--json"])
    assert sealed.exit_code == 0 and '"seq": 5' in sealed.stdout
    with write_transaction() as conn:
        conn.execute(update(_a).where(_a.c.tenant_id == tenant.id).values(agent_id="x"))
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code == 1 and "BROKEN" in broken.output
    row = next(line for line in broken.output.splitlines() if "first broken seal" in line)
    assert "none" not in row and "a row was changed" in broken.output, broken.output


def test_the_server_seals_by_itself_in_one_process(tenant: Tenant, freeze: Any) -> None:
    """Every worker runs a Sealer; one of them runs the sealing process, and another takes
    over when that process dies."""
    add_consent(tenant)
    freeze("2026-11-23T10:30:00+01:00")
    tenant.check(callee=CALLEE)
    freeze("2026-11-23T10:40:00+01:00")
    workers = [service.Sealer(0.1).start(), service.Sealer(0.1).start()]

    def wait_for(what: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not what():
            time.sleep(0.05)
        assert what()

    try:
        wait_for(lambda: verify(tenant)["seals"] == 1)
        running = [w for w in workers if w.child is not None]
        assert len(running) == 1
        freeze("2026-11-23T10:50:00+01:00")
        tenant.check(callee=CALLEE)
        freeze("2026-11-23T11:00:00+01:00")  # (the running process keeps its frozen clock)
        running[0].child.kill()  # the sealing process dies: a new one is started, and seals
        first = running[0].child.pid
        wait_for(lambda: any(w.child is not None and w.child.pid != first
                             and w.child.poll() is None for w in workers))
        wait_for(lambda: verify(tenant)["seals"] == 2)
    finally:
        for w in workers:
            w.stop()
    assert all(w.child is None for w in workers)
    got = verify(tenant)
    assert got["ok"] and got["rows_checked"] == 2


def test_a_shifted_clock_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import clock
    from app.config import get_settings

    monkeypatch.delenv("GATEWAY_FROZEN_NOW", raising=False)
    monkeypatch.setenv("GATEWAY_CLOCK_OFFSET_S", str(-86_400 * 365))
    get_settings.cache_clear()
    try:
        first = clock.now()
        assert abs((datetime.now(UTC) - first).total_seconds() - 86_400 * 365) < 5
        time.sleep(0.01)
        assert clock.now() > first  # it runs
    finally:
        monkeypatch.delenv("GATEWAY_CLOCK_OFFSET_S")
        get_settings.cache_clear()
