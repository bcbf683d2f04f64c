"""Input hygiene (issue 11, items 8 and 12): dates and instants bounded to 2000-01-01 …
2100-12-31 everywhere they come in, open-ended as ``null``; rows stored with extreme dates
never cause a 500; booleans are not numbers; control characters in names are refused.

Each case names the field the 422 must name (a client fixes what it is told)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from app import db as app_db
from app.db import session_scope
from app.ids import new_id
from app.registries.models import Consent, Contract, Opposition, Quarantine, Refusal
from tests.api.conftest import MONDAY, OPT_OUT_MONDAY, codes, outcome
from tests.factories import CALLEE, Tenant, add_consent, auth

GIVEN = "2026-09-01T10:00:00+02:00"


def consent(**kw: Any) -> dict[str, Any]:
    return {"callee": CALLEE, "scope": "canvassing", "given_at": GIVEN, "channel": "web_form",
            "evidence": {"form": "v1"}} | kw


def contract(**kw: Any) -> dict[str, Any]:
    return {"callee": CALLEE, "reference": new_id("ref"), "sector": "general",
            "starts_on": "2026-01-01"} | kw


def assert_422_naming(r: Any, field: str, *words: str) -> None:
    assert r.status_code == 422, (field, r.status_code, r.text)
    assert field in r.text, (field, r.text)
    for w in words:
        assert w in r.text, (w, r.text)


# --- 1. dates and instants in bodies ---------------------------------------------------------

BODY_CASES = [  # (path, body, field named, words of the message)
    ("/v1/contracts", contract(ends_on="9999-12-31"), "ends_on", ("2100-12-31", "null")),
    ("/v1/contracts", contract(ends_on="2101-01-01"), "ends_on", ("2100-12-31",)),
    ("/v1/contracts", contract(starts_on="0001-01-01"), "starts_on", ("2000-01-01",)),
    ("/v1/contracts", contract(starts_on="1999-12-31"), "starts_on", ("2000-01-01",)),
    ("/v1/consents", consent(expires_at="9999-12-31T23:59:59Z"), "expires_at", ("null",)),
    ("/v1/consents", consent(expires_at="9999-12-31T23:59:59-23:59"), "expires_at", ()),
    ("/v1/consents", consent(given_at="0001-01-01T00:00:00+23:59"), "given_at", ()),
    ("/v1/consents", consent(given_at="0001-01-01T00:00:00Z"), "given_at", ("2000-01-01",)),
    # the offset is applied: 00:30 in Paris on 1 January 2000 is still 1999 in UTC
    ("/v1/consents", consent(given_at="2000-01-01T00:30:00+01:00"), "given_at", ()),
]


def test_dates_out_of_range_are_422_naming_the_field(tenant: Tenant) -> None:
    for path, body, field, words in BODY_CASES:
        assert_422_naming(tenant.post(path, body), field, *words)
    r = tenant.post("/v1/calls/evaluate", {"campaign": "spring-2026", "callee": CALLEE,
                                          "at": "9999-12-31T23:59:59Z"}, role="dialer")
    assert_422_naming(r, "at", "2100-12-31")
    assert tenant.get("/v1/contracts").json() == []
    assert tenant.get("/v1/consents").json() == []


def test_the_edges_of_the_range_and_null_are_accepted(tenant: Tenant) -> None:
    r = tenant.post("/v1/contracts", contract(starts_on="2000-01-01", ends_on="2100-12-31"))
    assert r.status_code == 201, r.text
    assert (r.json()["starts_on"], r.json()["ends_on"]) == ("2000-01-01", "2100-12-31")
    r = tenant.post("/v1/contracts", contract(ends_on=None))  # open-ended
    assert r.status_code == 201 and r.json()["ends_on"] is None, r.text
    c = add_consent(tenant, given_at="2000-01-01T00:00:00Z",
                    expires_at="2100-12-31T23:59:59.999999+00:00")
    assert c["expires_at"].startswith("2100-12-31T23:59:59")
    r = tenant.post("/v1/calls/evaluate", {"campaign": "spring-2026", "callee": CALLEE,
                                          "at": "2101-01-01T00:59:00+01:00"}, role="dialer")
    assert r.status_code == 200, r.text  # 2100-12-31T23:59Z: inside, once the offset applies


def test_dates_in_query_parameters(tenant: Tenant) -> None:
    cases = [  # (path, params, role, parameter named)
        ("/v1/reports/summary", {"from": "0001-01-01"}, "compliance", "from"),
        ("/v1/reports/summary", {"to": "9999-12-31"}, "compliance", "to"),
        ("/v1/reports/attempts", {"from": "9999-12-31T23:59:59-23:59"}, "compliance", "from"),
        ("/v1/reports/audit.pdf", {"from": "2026-01-01", "to": "9999-12-31"}, "compliance",
         "to"),
        ("/v1/alerts", {"since": "1970-01-01T00:00:00Z"}, "compliance", "since"),
        ("/v1/numbers/0612345678/next-window",
         {"campaign": "spring-2026", "at": "0001-01-01T00:00:00+23:59"}, "dialer", "at"),
        ("/v1/numbers/0612345678/next-window",
         {"campaign": "spring-2026", "at": "2101-01-01T00:00:00Z"}, "dialer", "at"),
    ]
    for path, params, role, name in cases:
        assert_422_naming(tenant.get(path, role=role, params=params), name)
    r = tenant.get("/v1/reports/summary", params={"to": "9999-12-31"})
    assert "leave to out" in r.text  # no bound: the parameter left out
    ok = tenant.get("/v1/reports/summary", params={"from": "2000-01-01", "to": "2100-12-31"})
    assert ok.status_code == 200, ok.text
    r = tenant.client.post("/v1/bloctel/imports", params={"mode": "replace",
                                                          "as_of": "9999-12-31"},
                           content=b"0611111111\n", headers=auth(tenant.operator))
    assert_422_naming(r, "as_of", "2100-12-31")


def test_an_imported_row_out_of_range_is_rejected_with_its_line_and_field(
        tenant: Tenant) -> None:
    text = ("numero;reference;debut;fin\n"
            "0611111111;C-1;2026-01-01;\n"
            "0611111112;C-2;2026-01-01;9999-12-31\n"
            "0611111113;C-3;01/01/0001;\n"
            "0611111114;C-4;2026-01-01;31/12/2100\n")
    r = tenant.client.post("/v1/contracts/import", content=text.encode(),
                           headers=auth(tenant.admin) | {"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["rejected"]) == (2, 2)
    errors = {s["line"]: s["error"] for s in body["rejected_samples"]}
    assert set(errors) == {3, 4}
    assert errors[3].startswith("ends_on is outside 2000-01-01") and "empty" in errors[3]
    assert errors[4].startswith("starts_on is outside 2000-01-01")
    consents = ("numero;date_consentement;expire\n"
                "0611111115;2026-09-01T10:00:00+02:00;9999-12-31T23:59:59-05:00\n")
    r = tenant.client.post("/v1/consents/import", content=consents.encode(),
                           headers=auth(tenant.admin) | {"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert [(s["line"], s["error"].split()[0]) for s in r.json()["rejected_samples"]] == [
        (2, "expires_at")]


# --- 2. rows stored before the bounds (or written straight into the database) ----------------

NEVER = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
NEVER_SHOWN = NEVER.replace(microsecond=0)  # answers show whole seconds (app.clock.iso)
DAWN = datetime(1, 1, 1, tzinfo=UTC)

#: Paris, Guadeloupe (UTC-4: the year 1 underflows there) and Réunion (UTC+4: 9999 overflows)
NUMBERS = ("+336123456", "+5906901234", "+2626921234")


def _store_extremes(t: Tenant) -> dict[str, str]:
    """Per zone: a contract 0001-01-01 … 9999-12-31 and a consent expiring 9999 (``open``),
    a quarantine until 9999 and a revoked consent (``quarantined``), refusals at both ends
    (``refused``), an opposition, quarantine and contract at the far ends (``odd``)."""
    made = datetime(2026, 11, 1, tzinfo=UTC)
    out: dict[str, str] = {}
    with session_scope(write=True) as s:
        for prefix in NUMBERS:
            a, b, c, d = (prefix + str(i) + "0" for i in range(4))
            out |= {a: "open", b: "quarantined", c: "refused", d: "odd"}
            s.add_all([
                Contract(id=new_id("ctr"), tenant_id=t.id, callee=a, reference="A" + a,
                         sector="general", starts_on=date.min, ends_on=date.max, created_at=made),
                Consent(id=new_id("con"), tenant_id=t.id, callee=a, scope="canvassing",
                        given_at=DAWN, channel="w", evidence={}, evidence_sha256="0" * 64,
                        expires_at=NEVER, created_at=made),
                Quarantine(id=new_id("qua"), tenant_id=t.id, callee=b, until=NEVER,
                           created_at=made),
                Consent(id=new_id("con"), tenant_id=t.id, callee=b, scope="outside_hours",
                        given_at=DAWN, channel="w", evidence={}, evidence_sha256="0" * 64,
                        expires_at=NEVER, revoked_at=NEVER, created_at=made),
                Refusal(id=new_id("ref"), tenant_id=t.id, callee=c, refused_at=NEVER),
                Refusal(id=new_id("ref"), tenant_id=t.id, callee=c, refused_at=DAWN),
                Consent(id=new_id("con"), tenant_id=t.id, callee=c, scope="canvassing",
                        given_at=NEVER, channel="w", evidence={}, evidence_sha256="0" * 64,
                        created_at=NEVER),
                Opposition(id=new_id("opp"), tenant_id=t.id, callee=d, source="x",
                           created_at=DAWN),
                Quarantine(id=new_id("qua"), tenant_id=t.id, callee=d, until=DAWN,
                           created_at=DAWN),
                Contract(id=new_id("ctr"), tenant_id=t.id, callee=d, reference="D" + d,
                         sector="general", starts_on=date.max, ends_on=None, created_at=NEVER),
                Contract(id=new_id("ctr"), tenant_id=t.id, callee=d, reference="E" + d,
                         sector="general", starts_on=date.min, ends_on=date.min,
                         created_at=DAWN),
            ])
    return out


INSTANTS = (MONDAY, OPT_OUT_MONDAY, "2026-11-23T22:30:00+01:00", "2026-06-14T10:30:00+02:00",
            "2100-12-31T23:59:59Z", "2000-01-01T00:00:00Z")


def test_rows_stored_with_extreme_dates_never_cause_a_500(tenant: Tenant) -> None:
    t = tenant
    kinds = _store_extremes(t)
    for number, kind in kinds.items():
        r = t.check(callee=number)
        assert r.status_code == 200, (number, r.text)
        if kind == "open":  # consent in force (overseas: 05:30 is outside the hours)
            assert not [c for c in codes(r.json()) if c.startswith("CONSENT")], r.text
            assert (r.json()["decision"] == "allow") == number.startswith("+33"), r.text
            assert outcome(t, r.json()["attempt_id"], "answered", duration_s=30
                           ).status_code == 200
        if kind == "quarantined":  # "never" lifts: no next instant to offer
            assert "CALLEE_UNASSIGNED" in codes(r.json())
            assert r.json()["next_allowed_at"] is None
        for at in INSTANTS:
            r = t.evaluate(callee=number, at=at)
            assert r.status_code == 200, (number, at, r.text)
            r = t.get(f"/v1/numbers/{number}/next-window", role="dialer",
                      params={"campaign": "spring-2026", "at": at})
            assert r.status_code == 200, (number, at, r.text)
        r = t.get(f"/v1/numbers/{number}/history")
        assert r.status_code == 200, (number, r.text)
        if kind == "open":
            h = r.json()
            assert [c["ends_on"] for c in h["contracts"]] == ["9999-12-31"]
            assert h["summary"]["active_contracts"] == ["A" + number]
            assert datetime.fromisoformat(h["consents"][0]["expires_at"]) == NEVER_SHOWN
    with session_scope() as s:
        consent_ids = list(s.scalars(select(Consent.id)))
    for consent_id in consent_ids:
        r = t.get(f"/v1/consents/{consent_id}/proof")
        assert r.status_code == 200, r.text
    for path in ("/v1/consents", "/v1/contracts", "/v1/oppositions", "/v1/reports/summary",
                 "/v1/reports/attempts", "/v1/reports/attempts?format=jsonl"):
        r = t.get(path)
        assert r.status_code == 200, (path, r.text)
    r = t.get("/v1/reports/audit.pdf", params={"from": "2026-11-01", "to": "2026-11-30"})
    assert r.status_code == 200 and r.content.startswith(b"%PDF"), r.text
    r = t.client.post("/v1/scrub", params={"campaign": "spring-2026"},
                      content="\n".join(kinds).encode() + b"\n", headers=auth(t.dialer))
    assert r.status_code == 200, r.text
    scrubbed = {row.split(",")[0]: row for row in r.text.strip().splitlines()}
    assert set(scrubbed) == set(kinds)  # every row annotated
    for number, kind in kinds.items():
        if kind == "quarantined":  # blocked, with no next instant
            assert "CALLEE_UNASSIGNED" in scrubbed[number] and scrubbed[number].endswith(",")
    for number in kinds:
        r = t.client.post(f"/v1/numbers/{number}/erasure", headers=auth(t.admin))
        assert r.status_code == 201, r.text


def test_a_database_session_in_another_time_zone_still_reads_extreme_instants(
        tenant: Tenant, db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL hands a timestamptz over in the session's zone: 9999-12-31T23:59:59Z read in
    UTC+14 would be year 10000 (unreadable). The gateway's sessions are in UTC, whatever
    the server, the database or the client (PGTZ) say. (SQLite stores instants as UTC text
    and ignores PGTZ: there the same reads must simply hold.)"""
    monkeypatch.setenv("PGTZ", "Pacific/Kiritimati")
    app_db.reset_engine()
    with session_scope(write=True) as s:
        s.add(Quarantine(id=new_id("qua"), tenant_id=tenant.id, callee=CALLEE, until=NEVER,
                         created_at=DAWN))
    r = tenant.check(callee=CALLEE)
    assert r.status_code == 200 and "CALLEE_UNASSIGNED" in codes(r.json()), r.text
    r = tenant.get(f"/v1/numbers/{CALLEE}/history")
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["quarantines"][0]["until"]) == NEVER_SHOWN


# --- 3. booleans are not numbers; control characters ----------------------------------------


def test_booleans_are_not_numbers(tenant: Tenant) -> None:
    attempt = tenant.check(callee=CALLEE).json()["attempt_id"]
    for body, field in [({"status": "answered", "duration_s": True}, "duration_s"),
                        ({"status": "answered", "duration_s": False}, "duration_s"),
                        ({"status": "unassigned", "sip_code": True}, "sip_code")]:
        r = outcome(tenant, attempt, **body)
        assert_422_naming(r, field, "boolean")
    for body, field in [({"mobile_daily_cap": True}, "mobile_daily_cap"),
                        ({"unassigned_quarantine_days": False}, "unassigned_quarantine_days"),
                        ({"denied_attempt_penalty_eur": True}, "denied_attempt_penalty_eur")]:
        r = tenant.client.patch("/v1/policy", json=body, headers=auth(tenant.admin))
        assert_422_naming(r, field)
    assert outcome(tenant, attempt, "answered", duration_s=1).status_code == 200
    r = tenant.client.patch("/v1/policy", json={"local_holidays": True},
                            headers=auth(tenant.admin))  # a real boolean stays one
    assert r.status_code == 200, r.text


CONTROL = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f", "\n"]


def test_control_characters_in_names_and_identifiers_are_422(tenant: Tenant) -> None:
    t = tenant
    cases = [  # (method, path, role, body for one bad value, field)
        ("post", "/v1/tenants", "operator", lambda v: {"name": f"Ac{v}me"}, "name"),
        ("post", "/v1/contracts", "admin", lambda v: contract(reference=f"C{v}1"), "reference"),
        ("post", "/v1/contracts", "admin", lambda v: contract(sector=f"gen{v}"), "sector"),
        ("post", "/v1/consents", "admin", lambda v: consent(channel=f"web{v}"), "channel"),
        ("post", "/v1/oppositions", "admin", lambda v: {"callee": CALLEE, "source": f"x{v}"},
         "source"),
        ("post", "/v1/caller-ids", "admin",
         lambda v: {"number": "+33612000002", "assigned_to": f"agent{v}"}, "assigned_to"),
        ("post", "/v1/calls/check", "dialer",
         lambda v: {"campaign": "spring-2026", "callee": CALLEE, "agent_id": f"a{v}"},
         "agent_id"),
        ("post", "/v1/calls/check", "dialer",
         lambda v: {"campaign": "spring-2026", "callee": CALLEE, "external_id": f"e{v}"},
         "external_id"),
    ]
    for method, path, role, body, field in cases:
        for ch in CONTROL:
            r = getattr(t.client, method)(path, json=body(ch), headers=auth(getattr(t, role)))
            assert_422_naming(r, field)
    assert t.get("/v1/contracts").json() == [] and t.get("/v1/consents").json() == []
    # evidence is the client's own JSON record: kept as given, except what no database stores
    r = t.post("/v1/consents", consent(evidence={"note": "ligne 1\nligne 2\x07", "k\x00": 1}))
    assert_422_naming(r, "evidence", "NUL")
    r = t.post("/v1/consents", consent(evidence={"note": "ligne 1\nligne 2\x07"}))
    assert r.status_code == 201 and r.json()["evidence"]["note"].endswith("\x07"), r.text


def test_free_text_keeps_line_breaks_and_numbers_are_still_judged(tenant: Tenant) -> None:
    c = add_consent(tenant)
    r = tenant.post(f"/v1/consents/{c['id']}/revoke", {"reason": "Courriel :\r\n\tplus d'appel"})
    assert r.status_code == 200 and r.json()["revoke_reason"].endswith("\tplus d'appel"), r.text
    c = add_consent(tenant, callee="+33698765432")
    r = tenant.post(f"/v1/consents/{c['id']}/revoke", {"reason": "bell\x07"})
    assert_422_naming(r, "reason")
    for bad in ("06\x0712 34 56 78", "06 12 34 56 78\x00", "\x85" + CALLEE, "0612\x7f345678"):
        r = tenant.check(callee=bad)  # judged, not refused (the contract): a decision
        assert r.status_code == 200, r.text
        assert r.json()["decision"] in ("allow", "deny") and r.json()["attempt_id"]
    r = tenant.check(callee="06 12 34 56 78\x00")
    assert "CALLEE_INVALID" in codes(r.json()), r.text


def test_the_command_line_bounds_its_dates_too() -> None:
    from typer.testing import CliRunner

    from app.cli import cli

    for args in (["report", "audit", "--from", "2026-01-01", "--to", "9999-12-31",
                  "--tenant", "t", "-o", "/dev/null"],
                 ["bloctel", "import", "/dev/null", "--as-of", "9999-12-31"],
                 ["audit", "purge", "--before", "0001-01-01", "--dry-run"],
                 ["audit", "purge", "--before", "9999-12-31T23:59:59-23:59", "--dry-run"]):
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 2, (args, r.output)  # a usage error, before anything is done
        assert "2000-01-01" in r.output and "2100-12-31" in r.output, r.output
