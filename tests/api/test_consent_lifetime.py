"""Consents that name their principals and expire (rules-fr.md §5; issue 12 items 1 and 5):
the new fields and their errors, a ``given_at`` in the future, ``valid_until`` and ``status`` in
every answer that shows a consent, the tenant policy ``consent_max_age_days``, ``GET
/v1/consents/expiring`` at its boundaries, and the same fields in bulk imports — on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.db import session_scope
from app.principals.models import ConsentPrincipal, Mandate, Professional
from tests.api.conftest import MONDAY
from tests.api.test_bulk_import import ok, upload
from tests.factories import CALLEE, Tenant, add_consent, auth

NOW = datetime.fromisoformat(MONDAY)  # the tenant fixture's frozen clock
YEAR = timedelta(days=365)
SECOND = timedelta(seconds=1)


def utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def base(**kw: Any) -> dict[str, Any]:
    return {"callee": CALLEE, "scope": "canvassing", "given_at": "2026-09-01T10:00:00+02:00",
            "channel": "web_form", "evidence": {"form": "optin-v3"}} | kw


def advertiser(t: Tenant, pid: str = "prn_advertiser", mandate: bool = True) -> str:
    """A principal (an advertiser), with or without a mandate to ``t``."""
    with session_scope(write=True) as s:
        if s.get(Professional, pid) is None:
            s.add(Professional(id=pid, name=pid, created_at=NOW))
            s.flush()
        if mandate:
            s.add(Mandate(principal_id=pid, tenant_id=t.id, created_at=NOW))
    return pid


def stored_principals(consent_id: str) -> list[tuple[str, str]]:
    with session_scope() as s:
        return sorted((r.principal_id, r.callee) for r in s.scalars(
            select(ConsentPrincipal).where(ConsentPrincipal.consent_id == consent_id)))


# --- the new fields ----------------------------------------------------------------------------


def test_what_a_consent_names(tenant: Tenant, other: Tenant) -> None:
    held = advertiser(tenant)
    unheld = advertiser(tenant, "prn_stranger", mandate=False)
    T = tenant.id
    cases: dict[str, tuple[dict[str, Any], int, dict[str, Any] | None, list[str]]] = {
        # name: (body changes, status, expected fields, warning codes)
        "defaults: own form, the tenant's own principal": (
            {}, 201, {"principals": [T], "source": "own", "notice_given": None,
                      "conditional_on_sale": False}, []),
        "own form naming an advertiser held by mandate": (
            {"principals": [held, T, held]}, 201, {"principals": sorted([held, T])}, []),
        "a partner's consent naming the principal": (
            {"source": "Leads & Co", "principals": [held]}, 201,
            {"principals": [held], "source": "Leads & Co"}, []),
        "a partner's consent naming no principal: stored, names none, warned": (
            {"source": "Leads & Co"}, 201, {"principals": [], "source": "Leads & Co"},
            ["names_no_principal"]),
        "an explicit empty list names none": ({"principals": []}, 201, {"principals": []},
                                              ["names_no_principal"]),
        "a condition of a sale: stored, warned (void)": (
            {"conditional_on_sale": True, "notice_given": True}, 201,
            {"conditional_on_sale": True, "notice_given": True}, ["conditional_on_sale"]),
        "notice not given": ({"notice_given": False}, 201, {"notice_given": False},
                             ["notice_not_given"]),
        "a principal without mandate: 403": ({"principals": [unheld]}, 403, None, []),
        "an unknown principal: 403": ({"principals": ["prn_nobody"]}, 403, None, []),
        "another tenant's own principal: 403": ({"principals": [other.id]}, 403, None, []),
        "empty source: 422": ({"source": ""}, 422, None, []),
        "source of 201 characters: 422": ({"source": "x" * 201}, 422, None, []),
        "source of 200 characters": ({"source": "x" * 200}, 201, {"source": "x" * 200},
                                     ["names_no_principal"]),
        "principal id of 41 characters: 422": ({"principals": ["p" * 41]}, 422, None, []),
        "principals not a list: 422": ({"principals": held}, 422, None, []),
        "notice_given not a boolean: 422": ({"notice_given": "maybe"}, 422, None, []),
    }
    wrong = {}
    for name, (changes, status, fields, warned) in cases.items():
        r = tenant.post("/v1/consents", base(**changes))
        if r.status_code != status:
            wrong[name] = (r.status_code, r.text)
            continue
        if status != 201:
            continue
        body = r.json()
        got = {k: body[k] for k in fields or {}}
        if got != fields or [w["code"] for w in body["warnings"]] != warned:
            wrong[name] = body
        # one consent_principals row per named principal, keyed by the consent's number
        if stored_principals(body["id"]) != [(p, CALLEE) for p in body["principals"]]:
            wrong[f"{name} (rows)"] = stored_principals(body["id"])
    assert wrong == {}
    r = tenant.post("/v1/consents", base(principals=[unheld]))
    assert r.json()["error"] == "forbidden" and unheld in r.json()["detail"]
    # read back the same everywhere
    listed = {c["id"]: c for c in tenant.get("/v1/consents").json()}
    for c in listed.values():
        assert tenant.get(f"/v1/consents/{c['id']}").json() == c


@pytest.mark.parametrize(("ahead", "status"), [
    (timedelta(minutes=5), 201),
    (timedelta(minutes=5, seconds=1), 422),
    (timedelta(days=400), 422),
    (timedelta(0), 201),
])
def test_given_at_in_the_future(tenant: Tenant, ahead: timedelta, status: int) -> None:
    r = tenant.post("/v1/consents", base(given_at=(NOW + ahead).isoformat()))
    assert r.status_code == status, r.text
    if status == 422:
        [error] = r.json()["detail"]
        assert error["loc"][-1] == "given_at" and "future" in error["msg"]
    else:  # stored; counted from its given_at on
        assert r.json()["status"] == ("not_yet_valid" if ahead else "valid")


# --- valid_until and status ----------------------------------------------------------------


def test_valid_until_and_status_in_every_answer(tenant: Tenant) -> None:
    cases = {
        # name: (given_at, expires_at, valid_until, status)
        "collected exactly 365 days ago: valid through now": (
            NOW - YEAR, None, NOW, "valid"),
        "365 days and one second ago: expired": (
            NOW - YEAR - SECOND, None, NOW - SECOND, "expired"),
        "before 2026-08-11: judged by the same ceiling": (
            datetime(2025, 1, 15, 9, 0, tzinfo=UTC), None,
            datetime(2026, 1, 15, 9, 0, tzinfo=UTC), "expired"),
        "a shorter expires_at wins (minus one second)": (
            NOW - timedelta(days=10), NOW + timedelta(days=3), NOW + timedelta(days=3) - SECOND,
            "valid"),
        "expires_at now: expired": (NOW - timedelta(days=10), NOW, NOW - SECOND, "expired"),
        "a later expires_at does not widen": (
            NOW - timedelta(days=10), NOW + 2 * YEAR, NOW - timedelta(days=10) + YEAR, "valid"),
        "given in 5 minutes: not yet valid": (
            NOW + timedelta(minutes=5), None, NOW + timedelta(minutes=5) + YEAR,
            "not_yet_valid"),
    }
    wrong = {}
    for name, (given, expires, until, status) in cases.items():
        body = add_consent(tenant, given_at=given.isoformat(),
                           expires_at=expires.isoformat() if expires else None)
        if (body["valid_until"], body["status"]) != (utc(until), status):
            wrong[name] = (body["valid_until"], body["status"])
        got = tenant.get(f"/v1/consents/{body['id']}").json()
        if (got["valid_until"], got["status"]) != (body["valid_until"], body["status"]):
            wrong[f"{name} (GET)"] = got
    assert wrong == {}
    listed = tenant.get("/v1/consents").json()
    assert len(listed) == len(cases) and all(c["valid_until"] for c in listed)
    revoked = tenant.post(f"/v1/consents/{listed[-1]['id']}/revoke", {"reason": "asked"}).json()
    assert revoked["status"] == "revoked" and revoked["valid_until"] == listed[-1]["valid_until"]


def test_the_policy_shortens_a_consent_never_lengthens_it(tenant: Tenant) -> None:
    def patch(value: Any) -> Any:
        return tenant.client.patch("/v1/policy", json={"consent_max_age_days": value},
                                   headers=auth(tenant.admin))

    assert tenant.get("/v1/policy", role="admin").json()["consent_max_age_days"] is None
    got = [(value, patch(value).status_code) for value in (0, 366, -1, 1, 365, True)]
    assert got == [(0, 422), (366, 422), (-1, 422), (1, 200), (365, 200), (True, 422)]
    assert patch(30).json()["consent_max_age_days"] == 30
    given = NOW - timedelta(days=10)
    body = add_consent(tenant, given_at=given.isoformat())
    assert body["valid_until"] == utc(given + timedelta(days=30))
    old = add_consent(tenant, given_at=(NOW - timedelta(days=31)).isoformat())
    assert old["status"] == "expired"
    # an expires_at shorter than the policy still wins
    short = add_consent(tenant, given_at=given.isoformat(),
                        expires_at=(given + timedelta(days=2)).isoformat())
    assert short["valid_until"] == utc(given + timedelta(days=2) - SECOND)
    assert patch(None).json()["consent_max_age_days"] is None  # the law's 365 again
    assert tenant.get(f"/v1/consents/{body['id']}").json()["valid_until"] == utc(given + YEAR)


def test_the_history_shows_expired_consents_as_expired(tenant: Tenant) -> None:
    expired = add_consent(tenant, given_at=(NOW - YEAR - SECOND).isoformat())
    valid = add_consent(tenant, given_at=(NOW - YEAR).isoformat())
    h = tenant.get(f"/v1/numbers/{CALLEE}/history").json()
    status = {c["id"]: (c["status"], c["valid_until"]) for c in h["consents"]}
    assert status[expired["id"]][0] == "expired" and status[valid["id"]][0] == "valid"
    assert status[valid["id"]][1] == NOW.isoformat()  # in the callee's zone (Paris)
    assert h["summary"]["valid_consents"] == [valid["id"]]
    events = [(e["event"], e["ref"], e["at"]) for e in h["timeline"]
              if e["event"] == "consent_expired"]
    assert events == [("consent_expired", expired["id"], NOW.isoformat())]
    proof = tenant.get(f"/v1/consents/{expired['id']}/proof").json()
    assert proof["lifecycle"]["status"] == "expired"
    assert proof["consent"]["status"] == "expired"
    assert proof["lifecycle"]["valid_until"] == NOW.isoformat()  # first instant it no longer counts


# --- GET /v1/consents/expiring -------------------------------------------------------------


def test_expiring_consents_at_their_boundaries(tenant: Tenant, other: Tenant) -> None:
    def add(given: datetime, expires: datetime | None = None, t: Tenant = tenant,
            callee: str = CALLEE) -> str:
        return add_consent(t, callee, given_at=given.isoformat(),
                           expires_at=expires.isoformat() if expires else None)["id"]

    ids = {
        "ends now": add(NOW - YEAR),
        "ends in 30 days": add(NOW - YEAR + timedelta(days=30)),
        "ends in 30 days and 1 s": add(NOW - YEAR + timedelta(days=30, seconds=1)),
        "expires_at in 10 days": add(NOW - timedelta(days=1), NOW + timedelta(days=10)),
        "expires_at in 30 days and 2 s": add(NOW - timedelta(days=1),
                                             NOW + timedelta(days=30, seconds=2)),
        "expired": add(NOW - YEAR - SECOND),
        "far": add(NOW - timedelta(days=1)),
        "not yet given": add(NOW + timedelta(minutes=4)),
    }
    revoked = add(NOW - YEAR + timedelta(days=5), callee="+33611223344")
    assert tenant.post(f"/v1/consents/{revoked}/revoke", {}).status_code == 200
    add(NOW - YEAR + timedelta(days=1), t=other)  # another tenant's

    def expiring(**params: Any) -> Any:
        return tenant.get("/v1/consents/expiring", params=params)

    r = expiring()
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["within_days"] == 30 and page["at"] == utc(NOW)
    assert page["until"] == utc(NOW + timedelta(days=30))
    names = {v: k for k, v in ids.items()}
    assert [names.get(c["id"], c["id"]) for c in page["consents"]] == [
        "ends now", "expires_at in 10 days", "ends in 30 days"]
    assert [c["valid_until"] for c in page["consents"]] == [
        utc(NOW), utc(NOW + timedelta(days=10) - SECOND), utc(NOW + timedelta(days=30))]
    assert all(c["status"] == "valid" for c in page["consents"])
    assert page["next_after"] is None
    # expires_at is the first instant no longer valid: one second later than the same end
    assert [c["id"] for c in expiring(within_days=30).json()["consents"]] == [
        c["id"] for c in page["consents"]]
    wider = [c["id"] for c in expiring(within_days=31).json()["consents"]]
    ties = sorted([ids["ends in 30 days and 1 s"], ids["expires_at in 30 days and 2 s"]])
    assert wider == [ids["ends now"], ids["expires_at in 10 days"], ids["ends in 30 days"],
                     *ties]  # the same valid_until: by id
    # pages follow the same order
    seen, after = [], None
    for _ in range(10):
        params: dict[str, Any] = {"within_days": 31, "limit": 2}
        if after:
            params["after"] = after
        got = expiring(**params).json()
        seen += [c["id"] for c in got["consents"]]
        after = got["next_after"]
        if after is None:
            break
    assert seen == wider
    assert [c["id"] for c in expiring(within_days=365).json()["consents"]][-1] == ids["far"]
    bad = {v: expiring(within_days=v).status_code for v in (0, 366, -5, "x")}
    assert bad == {0: 422, 366: 422, -5: 422, "x": 422}
    assert expiring(after="con_nope").status_code == 422
    assert expiring(limit=0).status_code == 422
    assert tenant.get("/v1/consents/expiring", role="admin").status_code == 200
    assert tenant.get("/v1/consents/expiring", role="dialer").status_code == 403
    # a shorter policy brings consents into the window
    tenant.client.patch("/v1/policy", json={"consent_max_age_days": 20},
                        headers=auth(tenant.admin))
    short = [c["id"] for c in expiring(within_days=20).json()["consents"]]
    assert ids["far"] in short and ids["expires_at in 10 days"] in short


# --- bulk imports ------------------------------------------------------------------------------


def test_bulk_rows_name_principals_and_refuse_future_dates(tenant: Tenant) -> None:
    held = advertiser(tenant)
    advertiser(tenant, "prn_stranger", mandate=False)
    soon = (NOW + timedelta(minutes=5)).isoformat()
    late = (NOW + timedelta(minutes=5, seconds=1)).isoformat()
    text = "\n".join([
        "numero;date_consentement;mandants;source;information_donnee;vente_liee",
        "06 12 34 56 01;2026-09-01T10:00:00+02:00;;;oui;non",  # own: the tenant's
        f"06 12 34 56 02;2026-09-01T10:00:00+02:00;{held} {tenant.id};own;;",
        "06 12 34 56 03;2026-09-01T10:00:00+02:00;;Leads & Co;non;",  # partner: none
        f"06 12 34 56 04;2026-09-01T10:00:00+02:00;{held};Leads & Co;;oui",
        f"06 12 34 56 05;{soon};;;;",  # 5 minutes ahead: accepted
        f"06 12 34 56 06;{late};;;;",  # 5 minutes and 1 s: rejected
        "06 12 34 56 07;2026-09-01T10:00:00+02:00;prn_stranger;;;",  # no mandate
        "06 12 34 56 08;2026-09-01T10:00:00+02:00;;;peut-être;",
        "06 12 34 56 09;2026-09-01T10:00:00+02:00;;;;si",
        f"06 12 34 56 10;2026-09-01T10:00:00+02:00;;{'x' * 201};;",
    ]) + "\n"
    first = ok(tenant, "consents", text)
    assert (first["created"], first["rejected"]) == (5, 5), first
    errors = {s["line"]: s["error"] for s in first["rejected_samples"]}
    assert "future" in errors[7] and "given_at" in errors[7]
    assert errors[8] == "principals: no mandate from principal prn_stranger"
    assert "notice_given" in errors[9] and "conditional_on_sale" in errors[10]
    assert "source" in errors[11]
    got = {c["callee"]: c for c in tenant.get("/v1/consents").json()}
    expect = {
        "+33612345601": ([tenant.id], "own", True, False, []),
        "+33612345602": (sorted([held, tenant.id]), "own", None, False, []),
        "+33612345603": ([], "Leads & Co", False, False,
                         ["names_no_principal", "notice_not_given"]),
        "+33612345604": ([held], "Leads & Co", None, True, ["conditional_on_sale"]),
        "+33612345605": ([tenant.id], "own", None, False, []),
    }
    assert {n: (c["principals"], c["source"], c["notice_given"], c["conditional_on_sale"],
                [w["code"] for w in c["warnings"]]) for n, c in got.items()} == expect
    for n, c in got.items():
        assert stored_principals(c["id"]) == [(p, n) for p in c["principals"]]
    assert got["+33612345605"]["status"] == "not_yet_valid"
    # the same file again: unchanged; other principals: updated, the rows rewritten
    again = ok(tenant, "consents", text)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 5)
    changed = ok(tenant, "consents", "numero;date_consentement;mandants\n"
                 f"06 12 34 56 01;2026-09-01T10:00:00+02:00;{held}\n")
    assert (changed["created"], changed["updated"]) == (0, 1)
    assert stored_principals(got["+33612345601"]["id"]) == [(held, "+33612345601")]
    # a file without the new columns leaves what they say alone
    older = ok(tenant, "consents", "numero;date_consentement\n"
               "06 12 34 56 03;2026-09-01T10:00:00+02:00\n")
    assert (older["created"], older["updated"], older["unchanged"]) == (0, 0, 1)
    assert tenant.get(f"/v1/consents/{got['+33612345603']['id']}").json()["source"] == \
        "Leads & Co"


def test_bulk_future_rows_count_toward_the_rejected_share(tenant: Tenant) -> None:
    late = (NOW + timedelta(days=1)).isoformat()
    rows = [f"06{i:08d};{late}" for i in range(1100)]
    r = upload(tenant, "consents", "numero;date_consentement\n" + "\n".join(rows) + "\n")
    assert r.status_code == 422 and r.json()["error"] == "import_refused", r.text
    assert "future" in r.json()["import"]["rejected_samples"][0]["error"]
