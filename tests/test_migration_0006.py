"""Revision 0006 on a database that lived through the concurrent-outcome bug (SQLite and
PostgreSQL): duplicate penalty lines, quarantines and refusals are reduced to the first one
before the unique indexes are built, dialled denied attempts are flagged, and a downgrade
gives the schema of the revision before back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import MetaData, Table, insert, inspect, select

from app import db as app_db
from app.migrate import downgrade, upgrade

T0 = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def _attempt(attempt_id: str, decision: str, status: str | None) -> dict[str, Any]:
    return dict(
        id=attempt_id, tenant_id="ten_1", campaign_id="spring", external_id=None,
        callee="+33612345678", caller_id="+33162000001", agent_id=None, contract_ref=None,
        checked_at=T0, decision=decision, reason_codes="", reasons=[], regime="opt_in",
        ruleset_version="2026.1", callee_time_zone="Europe/Paris", next_allowed_at=None,
        penalty_micros=0, counted=decision == "allow" and status != "not_dialed",
        outcome_status=status, sip_code=None, duration_s=None, consumer_refused=None,
        consumer_opposed=None, outcome_at=T0 if status else None,
    )


def _seed(url: str) -> None:
    engine = app_db.make_engine(url)
    try:
        meta = MetaData()
        t = {name: Table(name, meta, autoload_with=engine)
             for name in ("tenants", "attempts", "penalty_lines", "quarantines", "refusals")}
        with engine.begin() as conn:
            conn.execute(insert(t["tenants"]).values(
                id="ten_1", name="Acme", legal_form="legal_person", status="active", policy={},
                created_at=T0))
            conn.execute(insert(t["attempts"]), [
                _attempt("att_race", "deny", "unassigned"),  # the bug: four lines, three q.
                _attempt("att_skip", "deny", "not_dialed"),
                _attempt("att_fine", "allow", "answered"),
                _attempt("att_open", "deny", None),
            ])
            conn.execute(insert(t["penalty_lines"]), [
                dict(tenant_id="ten_1", attempt_id="att_race", code=code, amount_micros=20_000,
                     created_at=T0 + timedelta(seconds=i))
                for i, code in enumerate(["ILLEGITIMATE_ATTEMPT"] + ["CALLEE_UNASSIGNED"] * 4)
            ])
            conn.execute(insert(t["quarantines"]), [
                dict(id=f"qua_{i}", tenant_id="ten_1", callee="+33612345678",
                     until=T0 + timedelta(days=30), attempt_id="att_race",
                     created_at=T0 + timedelta(seconds=3 - i))
                for i in range(3)
            ] + [dict(id=f"qua_manual_{i}", tenant_id="ten_1", callee="+33612345678",
                      until=T0, attempt_id=None, created_at=T0) for i in range(2)])
            conn.execute(insert(t["refusals"]), [
                dict(id=f"ref_{i}", tenant_id="ten_1", callee="+33612345678",
                     refused_at=T0 + timedelta(seconds=i), attempt_id="att_fine")
                for i in range(2)
            ])
    finally:
        engine.dispose()


def _read(url: str) -> dict[str, Any]:
    engine = app_db.make_engine(url)
    try:
        meta = MetaData()
        t = {name: Table(name, meta, autoload_with=engine)
             for name in ("attempts", "penalty_lines", "quarantines", "refusals")}
        with engine.connect() as conn:
            return {
                "lines": sorted((r.code, r.created_at.replace(tzinfo=None).second) for r in
                                conn.execute(select(t["penalty_lines"]))),
                "quarantines": sorted(r.id for r in conn.execute(select(t["quarantines"]))),
                "refusals": sorted(r.id for r in conn.execute(select(t["refusals"]))),
                "flagged": sorted(r.id for r in conn.execute(
                    select(t["attempts"]).where(t["attempts"].c.dialled_despite_deny))),
            }
    finally:
        engine.dispose()


def test_0006_removes_the_duplicates_flags_breaches_and_goes_back(fresh_url: str) -> None:
    upgrade(fresh_url, "0006")
    downgrade(fresh_url, "-1")  # the revision before 0006, whatever the chain
    _seed(fresh_url)

    upgrade(fresh_url, "0006")

    assert _read(fresh_url) == {
        "lines": [("CALLEE_UNASSIGNED", 1), ("ILLEGITIMATE_ATTEMPT", 0)],  # the first kept
        "quarantines": ["qua_2", "qua_manual_0", "qua_manual_1"],  # earliest; NULLs untouched
        "refusals": ["ref_0"],
        "flagged": ["att_race"],  # denied and dialled; not_dialed and open ones are not
    }
    engine = app_db.make_engine(fresh_url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("attempts")}
        assert {"dialled_despite_deny", "request_fingerprint", "callee_department"} <= columns
    finally:
        engine.dispose()

    downgrade(fresh_url, "-1")
    engine = app_db.make_engine(fresh_url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("attempts")}
        indexes = {i["name"] for i in inspect(engine).get_indexes("penalty_lines")}
    finally:
        engine.dispose()
    assert not {"dialled_despite_deny", "request_fingerprint", "callee_department"} & columns
    assert "uq_penalty_lines_attempt_code" not in indexes
