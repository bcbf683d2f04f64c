"""The attempt export's extension: extra columns, the excel-fr dialect, every filter, formula
injection, tenant isolation, streaming in batches, and 422s for bad filters."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import cells
from app.reports import export
from rules_fr.data import CODES, catalog
from tests.api.conftest import aware, outcome
from tests.factories import CALLEE, Tenant, add_campaign, add_consent

OTHER_CALLEE = "+33611223344"
CONTRACT_CALLEE = "+33611223355"
BASIS = {e.code: e.legal_basis for e in catalog()}


def export_text(t: Tenant, role: str = "compliance", **params: Any) -> Any:
    return t.get("/v1/reports/attempts", role=role, params=params)


def csv_rows(t: Tenant, **params: Any) -> list[dict[str, str]]:
    r = export_text(t, format="csv", **params)
    assert r.status_code == 200, r.text
    reader = csv.DictReader(io.StringIO(r.text, newline=""))
    assert reader.fieldnames == list(export.COLUMNS)
    return list(reader)


def jsonl_rows(t: Tenant, **params: Any) -> list[dict[str, Any]]:
    r = export_text(t, format="jsonl", **params)
    assert r.status_code == 200, r.text
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def excel_rows(t: Tenant, **params: Any) -> tuple[bytes, list[list[str]]]:
    r = export_text(t, format="csv", dialect="excel-fr", **params)
    assert r.status_code == 200, r.text
    text = r.content.decode("utf-8-sig")
    return r.content, list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


@pytest.fixture
def week(tenant: Tenant, other: Tenant, freeze) -> dict[str, Any]:
    """Seven attempts on Monday 23 and Tuesday 24 November 2026 (Paris), and the other tenant's
    attempts under the same campaign name and caller ID."""
    add_consent(tenant)
    add_campaign(tenant, "autumn")
    r = tenant.post("/v1/contracts", {"callee": CONTRACT_CALLEE, "reference": "CTR-1",
                                      "sector": "general", "starts_on": "2026-01-01"})
    assert r.status_code == 201, r.text
    ids: dict[str, str] = {}

    def check(name: str, at: str, **body: Any) -> dict[str, Any]:
        freeze(at)
        r = tenant.check(**body)
        assert r.status_code == 200, r.text
        ids[name] = r.json()["attempt_id"]
        return r.json()

    check("consent", "2026-11-23T10:30:00+01:00", callee=CALLEE, external_id="x1",
          agent_id="agent-7")
    check("contract", "2026-11-23T10:31:00+01:00", callee=CONTRACT_CALLEE, contract_ref="CTR-1")
    check("no_consent", "2026-11-23T10:32:00+01:00", callee=OTHER_CALLEE)
    check("invalid", "2026-11-23T10:33:00+01:00", callee="=1+1", campaign="autumn")
    check("no_cli", "2026-11-23T10:34:00+01:00", callee=CALLEE, caller_id=None)
    late = check("late", "2026-11-23T21:15:00+01:00", callee=CALLEE)
    assert late["decision"] == "deny" and late["next_allowed_at"]
    freeze("2026-11-23T10:40:00+01:00")
    assert outcome(tenant, ids["consent"], "answered", duration_s=42).status_code == 200
    assert outcome(tenant, ids["contract"], "answered", duration_s=95).status_code == 200
    check("tuesday", "2026-11-24T11:00:00+01:00", callee=CALLEE, campaign="autumn",
          agent_id="agent-9")
    freeze("2026-11-24T11:05:00+01:00")
    r = outcome(tenant, ids["tuesday"], "unassigned", sip_code=404)
    assert r.status_code == 200, r.text
    add_consent(other)
    freeze("2026-11-23T10:35:00+01:00")
    foreign = {other.check(callee=CALLEE, agent_id="agent-7").json()["attempt_id"],
               other.check(callee=OTHER_CALLEE).json()["attempt_id"]}
    return {"ids": ids, "foreign": foreign, "names": {v: k for k, v in ids.items()}}


def test_extra_columns_carry_reasons_with_legal_bases_and_the_attempt_record(
        tenant: Tenant, week) -> None:
    rows = {r["attempt_id"]: r for r in csv_rows(tenant)}
    ids = week["ids"]
    assert list(rows) == [ids[n] for n in ("consent", "contract", "no_consent", "invalid",
                                           "no_cli", "late", "tuesday")]
    refused = rows[ids["no_consent"]]
    assert refused["reasons"] == f"CONSENT_REQUIRED: {BASIS['CONSENT_REQUIRED']}"
    assert refused["ruleset_version"] == "fr-2026-08-11"
    first = rows[ids["consent"]]
    assert (first["external_id"], first["reasons"], first["outcome_status"]) == (
        "x1", "", "answered")
    assert aware(first["outcome_at"]) == aware("2026-11-23T10:40:00+01:00")
    assert rows[ids["contract"]]["contract_ref"] == "CTR-1"
    late = rows[ids["late"]]
    assert late["reasons"].startswith("OUTSIDE_HOURS: Code de la consommation, art. D223-9")
    assert aware(late["next_allowed_at"]) == aware("2026-11-24T10:00:00+01:00")
    assert (late["outcome_at"], late["sip_code"], late["duration_s"]) == ("", "", "")
    tuesday = rows[ids["tuesday"]]
    assert (tuesday["outcome_status"], tuesday["sip_code"], tuesday["duration_s"]) == (
        "unassigned", "404", "0")
    # every reason of a row, with its legal basis, in the stored order
    for r in rows.values():
        parts = [p for p in r["reasons"].split(" | ") if p]
        assert [p.split(":")[0].split(" (")[0] for p in parts] == r["reason_codes"].split()
        for p in parts:
            code, basis = p.split(": ", 1)
            assert code.split(" (")[0] in CODES and basis


def test_jsonl_has_the_same_rows_typed_and_not_neutralised(tenant: Tenant, week) -> None:
    as_csv, as_json = csv_rows(tenant), jsonl_rows(tenant)
    assert [list(r) for r in as_json] == [list(export.COLUMNS)] * 7
    for c, j in zip(as_csv, as_json, strict=True):
        for k in export.COLUMNS:
            if k == "callee" and j[k] == "=1+1":
                assert c[k] == "'=1+1"
            elif k == "reason_codes":  # an array of codes in JSON, space-separated in CSV
                assert isinstance(j[k], list) and all(isinstance(x, str) for x in j[k])
                assert c[k] == " ".join(j[k]), k
            elif j[k] is None:
                assert c[k] == "", k
            else:
                assert c[k] == str(j[k]), k
    tuesday = as_json[-1]
    assert (tuesday["sip_code"], tuesday["duration_s"], tuesday["next_allowed_at"]) == (
        404, 0, None)


def test_jsonl_reason_codes_are_an_array_of_codes(tenant: Tenant, week) -> None:
    r = tenant.check(callee=OTHER_CALLEE, caller_id=None)  # no consent and no caller ID
    assert r.status_code == 200, r.text
    several = r.json()["attempt_id"]
    rows = {j["attempt_id"]: j for j in jsonl_rows(tenant)}
    assert rows[week["ids"]["consent"]]["reason_codes"] == []
    assert rows[week["ids"]["no_consent"]]["reason_codes"] == ["CONSENT_REQUIRED"]
    assert len(rows[several]["reason_codes"]) >= 2
    assert {"CONSENT_REQUIRED", "CALLER_ID_MISSING"} <= set(rows[several]["reason_codes"])
    as_csv = {c["attempt_id"]: c for c in csv_rows(tenant)}
    for attempt_id, j in rows.items():  # the same codes, in order, as the reasons and the CSV
        assert j["reason_codes"] == [p.split(":")[0].split(" (")[0]
                                     for p in j["reasons"].split(" | ") if p]
        assert as_csv[attempt_id]["reason_codes"] == " ".join(j["reason_codes"])


def test_rfc4180_csv_is_comma_crlf_without_bom(tenant: Tenant, week) -> None:
    r = export_text(tenant)
    assert r.headers["content-type"].startswith("text/csv")
    body = r.content
    assert body.startswith(b"attempt_id,checked_at,campaign,")
    assert body.count(b"\r\n") == 8 and b"\n" not in body.replace(b"\r\n", b"")


def test_excel_fr_round_trip(tenant: Tenant, week) -> None:
    # a penalty of 1,000 euros: a decimal comma and no thousands separator
    r = tenant.client.patch("/v1/policy", json={"denied_attempt_penalty_eur": "1000"},
                            headers={"Authorization": f"Bearer {tenant.admin}"})
    assert r.status_code == 200, r.text
    tenant.check(callee="+33699887766", agent_id="agent;with;semicolons", external_id='q"uote')
    raw, rows = excel_rows(tenant)
    assert raw.startswith(b"\xef\xbb\xbf" + b"attempt_id;checked_at;campaign;")
    assert raw.count(b"\r\n") == len(rows) == 9 and b"\n" not in raw.replace(b"\r\n", b"")
    header, body = rows[0], rows[1:]
    assert header == list(export.COLUMNS)
    assert all(len(r) == len(header) for r in body)
    by_id = {r[0]: dict(zip(header, r, strict=True)) for r in body}
    as_json = {r["attempt_id"]: r for r in jsonl_rows(tenant)}
    assert set(by_id) == set(as_json)
    for attempt_id, row in by_id.items():
        j = as_json[attempt_id]
        assert "," in row["penalty_eur"] and "." not in row["penalty_eur"]
        assert Decimal(row["penalty_eur"].replace(",", ".")) == Decimal(j["penalty_eur"])
        assert row["reasons"] == j["reasons"]  # legal bases hold ';' and ',': quoted, intact
    (last,) = [r for r in by_id.values() if r["external_id"] == 'q"uote']
    assert (last["penalty_eur"], last["agent_id"], last["external_id"]) == (
        "1000,00", "agent;with;semicolons", 'q"uote')
    assert by_id[week["ids"]["consent"]]["penalty_eur"] == "0,00"


NEUTRALISED = [
    ("=1+1", "'=1+1"),
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("+1+1", "'+1+1"),
    ("-2+3", "'-2+3"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("+", "'+"),
    ("-", "'-"),
    ("+33 6 12 34 56 78", "+33 6 12 34 56 78"),  # a phone number stays a phone number
    ("+33612345678", "+33612345678"),
    ("-42", "-42"),
    ("agent=7", "agent=7"),  # only the first character matters
    (" =1", " =1"),  # a leading space makes it text already
    ("", ""),
]


@pytest.mark.parametrize(("value", "cell"), NEUTRALISED)
def test_neutralise(value: str, cell: str) -> None:
    assert cells.neutralise(value) == cell


def test_formula_injection_is_neutralised_in_every_client_column(tenant: Tenant,
                                                                 freeze) -> None:
    hostile = {"callee": "=1+1", "agent_id": "@SUM(A1)", "external_id": "=cmd|' /C calc'!A0",
               "contract_ref": "-2+3", "caller_id": "+1+1"}
    r = tenant.check(**hostile)
    assert r.status_code == 200, r.text
    freeze("2026-11-23T10:31:00+01:00")  # the export is in time order
    tenant.check(callee="+33612345678", agent_id="-5", external_id="+33 1 62 00 00 01")
    hostile_row, plain_row = csv_rows(tenant)
    for key, value in hostile.items():
        assert hostile_row[key] == "'" + value, key
    assert (plain_row["callee"], plain_row["agent_id"], plain_row["external_id"]) == (
        "+33612345678", "-5", "+33 1 62 00 00 01")
    _, excel = excel_rows(tenant)
    header = excel[0]
    assert dict(zip(header, excel[1], strict=True))["external_id"] == "'=cmd|' /C calc'!A0"
    raw = jsonl_rows(tenant)[0]
    assert {k: raw[k] for k in hostile} == hostile


@given(st.text(alphabet=st.characters(blacklist_characters="\x00",
                                      blacklist_categories=("Cs",))),
       st.sampled_from([",", ";"]))
def test_any_text_survives_the_csv_round_trip(value: str, delimiter: str) -> None:
    line = f"a{delimiter}{cells.csv_cell(value, delimiter)}{delimiter}z\r\n"
    (row,) = list(csv.reader(io.StringIO(line, newline=""), delimiter=delimiter))
    assert row[0] == "a" and row[2] == "z" and len(row) == 3
    assert row[1] == cells.neutralise(value)
    assert row[1] in (value, "'" + value)


FILTERS: list[tuple[dict[str, str], list[str]]] = [
    ({"reason": "CONSENT_REQUIRED"}, ["no_consent"]),
    ({"reason": "OUTSIDE_HOURS"}, ["late"]),
    ({"reason": "CALLER_ID_MISSING"}, ["no_cli"]),
    ({"reason": "CALLEE_INVALID", "campaign": "autumn"}, ["invalid"]),
    ({"reason": "WEEKEND"}, []),
    ({"reason": "CONSENT_REQUIRED", "decision": "allow"}, []),
    ({"caller_id": "+33162000001"},
     ["consent", "contract", "no_consent", "invalid", "late", "tuesday"]),
    ({"caller_id": "01 62 00 00 01", "campaign": "autumn"}, ["invalid", "tuesday"]),
    ({"caller_id": "+33140000001"}, []),
    ({"agent_id": "agent-7"}, ["consent"]),
    ({"agent_id": "agent-9", "decision": "allow"}, ["tuesday"]),
    ({"agent_id": "nobody"}, []),
    ({"campaign": "autumn", "decision": "allow"}, ["tuesday"]),
    ({"decision": "deny", "from": "2026-11-23T10:32:00+01:00", "to": "2026-11-23T21:00:00+01:00"},
     ["no_consent", "invalid", "no_cli"]),
    ({"from": "2026-11-24", "reason": "OUTSIDE_HOURS"}, []),
]


def test_every_filter_in_every_format(tenant: Tenant, week) -> None:
    names, wrong = week["names"], {}
    for params, expected in FILTERS:
        want = [week["ids"][n] for n in expected]
        got = {
            "csv": [r["attempt_id"] for r in csv_rows(tenant, **params)],
            "jsonl": [r["attempt_id"] for r in jsonl_rows(tenant, **params)],
            "excel-fr": [r[0] for r in excel_rows(tenant, **params)[1][1:]],
        }
        for fmt, ids in got.items():
            if ids != want:
                wrong[f"{fmt} {params}"] = [names.get(i, i) for i in ids]
    assert wrong == {}


def test_another_tenants_rows_are_never_exported(tenant: Tenant, other: Tenant, week) -> None:
    foreign = week["foreign"]
    for params in ({}, {"campaign": "spring-2026"}, {"agent_id": "agent-7"},
                   {"reason": "CONSENT_REQUIRED"}, {"caller_id": "+33162000001"},
                   {"decision": "allow"}, {"from": "2026-11-23", "to": "2026-11-23"}):
        for fmt in ("csv", "jsonl"):
            r = export_text(tenant, format=fmt, **params)
            assert r.status_code == 200
            assert not any(i in r.text for i in foreign), (fmt, params)
        theirs = export_text(other, format="jsonl", **params).text
        assert not any(i in theirs for i in week["ids"].values()), params
    assert {r["attempt_id"] for r in jsonl_rows(other)} == foreign
    assert [r["attempt_id"] for r in jsonl_rows(other, agent_id="agent-7")] != [
        week["ids"]["consent"]]


def test_the_export_streams_in_batches_in_order(tenant: Tenant, week, monkeypatch) -> None:
    whole = [r["attempt_id"] for r in jsonl_rows(tenant)]
    monkeypatch.setattr(export, "BATCH", 2)
    chunks = list(export.csv_chunks(tenant.id, export.Filters()))
    assert len(chunks) == 1 + 4  # the header, then 7 rows two at a time
    assert [line.split(",")[0] for c in chunks[1:] for line in c.splitlines()] == whole
    assert [r["attempt_id"] for r in jsonl_rows(tenant)] == whole
    assert [r["attempt_id"] for r in csv_rows(tenant, **{"from": "2026-11-23"})] == whole


BAD: list[dict[str, str]] = [
    {"reason": "NOT_A_CODE"},
    {"reason": "consent_required"},
    {"reason": "CONSENT_REQUIRED%"},
    {"decision": "maybe"},
    {"format": "xlsx"},
    {"dialect": "excel"},
    {"format": "jsonl", "dialect": "excel-fr"},
    {"from": "2026-11-24", "to": "2026-11-23"},
    {"from": "2026-11-23T12:00:00+01:00", "to": "2026-11-23T12:00:00+01:00"},
    {"from": "2026-13-01"},
    {"to": "tomorrow"},
    {"caller_id": ""},
    {"agent_id": " agent-7"},
    {"campaign": "x" * 101},
    {"agent_id": "a\x00b"},
    {"caller_id": "+33\x0162000001"},
]


@pytest.mark.parametrize("params", BAD, ids=[str(p)[:40] for p in BAD])
def test_bad_filters_are_a_clear_422(tenant: Tenant, params: dict[str, str]) -> None:
    r = export_text(tenant, **params)
    assert r.status_code == 422, (params, r.status_code, r.text)
    named = {k for k in params if k != "format"} or {"format"}
    assert any(repr(k) in r.text or f"{k}:" in r.text or f'"{k}"' in r.text for k in named), (
        r.text)
