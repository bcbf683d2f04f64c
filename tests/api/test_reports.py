"""Reports: the attempt export (CSV, JSON lines) and the summary."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from tests.api.conftest import aware, outcome
from tests.factories import CALLEE, Tenant, add_campaign, add_consent

CONTRACT_COLUMNS = [
    "attempt_id", "checked_at", "campaign", "callee", "caller_id", "agent_id", "decision",
    "reason_codes", "penalty_eur", "regime", "outcome_status", "duration_s",
]
# the contract's columns first, in its order; then the extension's
COLUMNS = CONTRACT_COLUMNS + [
    "reasons", "external_id", "contract_ref", "ruleset_version", "next_allowed_at",
    "outcome_at", "sip_code", "principal",
]
OTHER_CALLEE = "+33611223344"


def csv_rows(t: Tenant, **params: Any) -> tuple[list[str], list[dict[str, str]]]:
    r = t.get("/v1/reports/attempts", params={"format": "csv"} | params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(r.text))
    return list(reader.fieldnames or []), list(reader)


def jsonl_rows(t: Tenant, **params: Any) -> list[dict[str, Any]]:
    r = t.get("/v1/reports/attempts", params={"format": "jsonl"} | params)
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


@pytest.fixture
def ledger(tenant: Tenant, other: Tenant, freeze) -> dict[str, Any]:
    """Two days of attempts on two campaigns, and the other tenant's attempts."""
    add_consent(tenant)
    add_campaign(tenant, "autumn")
    ids: dict[str, str] = {}
    # Monday 23 Nov, a minute apart (the export is in time order)
    ids["allowed"] = tenant.check(callee="06 12 34 56 78", external_id="x1").json()["attempt_id"]
    freeze("2026-11-23T10:31:00+01:00")
    ids["no_consent"] = tenant.check(callee=OTHER_CALLEE, campaign="autumn").json()["attempt_id"]
    freeze("2026-11-23T10:32:00+01:00")
    ids["invalid"] = tenant.check(callee="=1+1").json()["attempt_id"]
    outcome(tenant, ids["allowed"], "answered", duration_s=42)
    # Tuesday 24 Nov, 19:30
    freeze("2026-11-24T19:30:00+01:00")
    ids["tuesday"] = tenant.check(callee=CALLEE, campaign="autumn", agent_id="agent-9"
                                  ).json()["attempt_id"]
    outcome(tenant, ids["tuesday"], "unassigned")
    # evaluations are not attempts
    tenant.evaluate(callee=CALLEE)
    add_consent(other)
    foreign = {other.check(callee=CALLEE).json()["attempt_id"],
               other.check(callee="garbage").json()["attempt_id"]}
    return {"ids": ids, "foreign": foreign}


def test_csv_export_has_the_contract_columns_first(tenant: Tenant, ledger) -> None:
    header, rows = csv_rows(tenant)
    assert header == COLUMNS
    ids = ledger["ids"]
    assert [r["attempt_id"] for r in rows] == [
        ids["allowed"], ids["no_consent"], ids["invalid"], ids["tuesday"]]
    first = rows[0]
    assert {k: first[k] for k in CONTRACT_COLUMNS if k not in ("attempt_id", "checked_at")} == {
        "campaign": "spring-2026", "callee": CALLEE, "caller_id": "+33162000001",
        "agent_id": "", "decision": "allow", "reason_codes": "", "penalty_eur": "0.00",
        "regime": "opt_in", "outcome_status": "answered", "duration_s": "42",
    }
    assert aware(first["checked_at"]) == aware("2026-11-23T10:30:00+01:00")
    second = rows[1]
    assert (second["decision"], second["reason_codes"], second["penalty_eur"]) == (
        "deny", "CONSENT_REQUIRED", "0.02")
    assert (second["outcome_status"], second["duration_s"]) == ("", "")
    # a hostile value is not exported as a spreadsheet formula
    assert not rows[2]["callee"].startswith("=")
    assert "CALLEE_INVALID" in rows[2]["reason_codes"].split()
    assert (rows[3]["agent_id"], rows[3]["outcome_status"]) == ("agent-9", "unassigned")


def test_jsonl_export_matches_the_csv(tenant: Tenant, ledger) -> None:
    rows = jsonl_rows(tenant)
    assert [list(r) for r in rows] == [COLUMNS] * 4
    _, csv_export = csv_rows(tenant)
    assert [r["attempt_id"] for r in rows] == [r["attempt_id"] for r in csv_export]
    first = rows[0]
    assert (first["decision"], first["penalty_eur"], first["duration_s"]) == ("allow", "0.00", 42)
    assert first["agent_id"] is None
    assert all(aware(r["checked_at"]) for r in rows)


FILTERS: list[tuple[dict[str, str], list[str]]] = [
    ({"campaign": "autumn"}, ["no_consent", "tuesday"]),
    ({"campaign": "nope"}, []),
    ({"decision": "deny"}, ["no_consent", "invalid"]),
    ({"decision": "allow", "campaign": "autumn"}, ["tuesday"]),
    ({"from": "2026-11-24"}, ["tuesday"]),
    ({"to": "2026-11-23"}, ["allowed", "no_consent", "invalid"]),
    ({"from": "2026-11-23", "to": "2026-11-23"}, ["allowed", "no_consent", "invalid"]),
    ({"from": "2026-11-24T19:30:00+01:00"}, ["tuesday"]),  # from: inclusive instant
    ({"to": "2026-11-24T19:30:00+01:00"}, ["allowed", "no_consent", "invalid"]),  # exclusive
    ({"from": "2026-11-23T09:31:00Z", "to": "2026-11-23T10:32:00+01:00"}, ["no_consent"]),
    ({"from": "2026-11-25"}, []),
]


def test_export_filters(tenant: Tenant, ledger) -> None:
    ids = ledger["ids"]
    wrong = {}
    for params, expected in FILTERS:
        want = [ids[name] for name in expected]
        as_jsonl = [r["attempt_id"] for r in jsonl_rows(tenant, **params)]
        as_csv = [r["attempt_id"] for r in csv_rows(tenant, **params)[1]]
        if as_jsonl != want or as_csv != want:
            names = {v: k for k, v in ids.items()}
            wrong[str(params)] = [names.get(i, i) for i in as_jsonl]
    assert wrong == {}


def test_bad_report_parameters_are_422(tenant: Tenant) -> None:
    for params in ({"from": "yesterday"}, {"to": "2026-11-23T10:00:00"}, {"format": "xlsx"},
                   {"decision": "maybe"}, {"from": "2026-02-30"}):
        assert tenant.get("/v1/reports/attempts", params=params).status_code == 422, params
    assert tenant.get("/v1/reports/summary", params={"from": "nope"}).status_code == 422


def test_reports_are_for_compliance_and_admin_of_the_tenant(tenant: Tenant, other: Tenant,
                                                            ledger) -> None:
    for role in ("dialer", "operator"):
        for path in ("/v1/reports/attempts", "/v1/reports/summary"):
            r = tenant.get(path, role=role)
            assert r.status_code in (403, 404), (role, path)
            assert not any(i in r.text for i in ledger["ids"].values())
    assert len(jsonl_rows(tenant)) == len(jsonl_rows(tenant, role="admin")) == 4
    # neither tenant sees the other's rows
    theirs = {r["attempt_id"] for r in jsonl_rows(other)}
    assert theirs == ledger["foreign"]
    _, rows = csv_rows(tenant)
    assert not {r["attempt_id"] for r in rows} & ledger["foreign"]


def test_summary_is_consistent_with_the_checks(tenant: Tenant, other: Tenant, ledger) -> None:
    s = tenant.get("/v1/reports/summary").json()
    assert (s["total"], s["allowed"], s["denied"]) == (4, 2, 2)
    # two denied checks and one unassigned report, at 0.02 each
    assert s["penalty_eur"] == "0.06"
    assert s["penalties_by_code"] == {"CALLEE_UNASSIGNED": "0.02",
                                      "ILLEGITIMATE_ATTEMPT": "0.04"}
    assert s["by_reason"] == {"CONSENT_REQUIRED": 1, "CALLEE_INVALID": 1}
    assert s["by_campaign"] == {
        "autumn": {"total": 2, "allowed": 1, "denied": 1, "penalty_eur": "0.04",
                   "dialled_despite_deny": 0},
        "spring-2026": {"total": 2, "allowed": 1, "denied": 1, "penalty_eur": "0.02",
                        "dialled_despite_deny": 0},
    }
    assert s["dialled_despite_deny"] == 0  # no denied attempt was reported dialled
    assert s["by_day"] == {
        "2026-11-23": {"total": 3, "allowed": 1, "denied": 2},
        "2026-11-24": {"total": 1, "allowed": 1, "denied": 0},
    }
    tuesday = tenant.get("/v1/reports/summary", params={"from": "2026-11-24"}).json()
    assert (tuesday["total"], tuesday["allowed"], tuesday["penalty_eur"]) == (1, 1, "0.02")
    monday = tenant.get("/v1/reports/summary",
                        params={"from": "2026-11-23", "to": "2026-11-23"}).json()
    assert (monday["total"], monday["denied"], monday["penalty_eur"]) == (3, 2, "0.04")
    theirs = other.get("/v1/reports/summary").json()
    assert (theirs["total"], theirs["allowed"], theirs["denied"], theirs["penalty_eur"]) == (
        2, 1, 1, "0.02")
