"""BLOCTEL: imports (operator), the list's status, and what it does to decisions."""

from __future__ import annotations

import gzip
import hashlib
from typing import Any

import pytest

from tests.api.conftest import OPT_OUT_MONDAY, aware, blocking, codes
from tests.factories import CALLEE, Tenant, add_campaign, add_consent

LISTED = "+33611111111"

FILE = (
    b"06 11 11 11 11\n"        # 1 accepted
    b"+33622222222\n"          # 2 accepted
    b"\n"                      # 3 blank: not counted
    b"not-a-number\n"          # 4 rejected
    b"0611111111\n"            # 5 duplicate of line 1
    b"0033 6 33 33 33 33;x\n"  # 6 accepted (CSV, first column)
    b"123\n"                   # 7 rejected
)


def upload(t: Tenant, content: bytes, *, mode: str = "replace", as_of: str = "2026-06-10",
           role: str = "operator", **headers: str) -> Any:
    return t.client.post(
        "/v1/bloctel/imports", params={"mode": mode, "as_of": as_of}, content=content,
        headers={"Authorization": f"Bearer {getattr(t, role)}",
                 "Content-Type": "text/plain"} | headers,
    )


@pytest.fixture
def opt_out(tenant: Tenant, freeze) -> Tenant:
    freeze(OPT_OUT_MONDAY)
    return tenant


def test_import_reports_every_line(opt_out: Tenant) -> None:
    r = upload(opt_out, FILE)
    assert r.status_code == 201, r.text
    body = r.json()
    expected = {
        "version": 1, "mode": "replace", "as_of": "2026-06-10", "lines": 7, "accepted": 3,
        "duplicates": 1, "rejected": 2, "sha256": hashlib.sha256(FILE).hexdigest(),
        "total_numbers": 3,
    }
    assert {k: body[k] for k in expected} == expected
    assert {"import_id", "rejected_samples", "activated_at"} <= set(body)
    assert body["import_id"]
    assert [(s["line"], s["value"]) for s in body["rejected_samples"]] == [
        (4, "not-a-number"), (7, "123")]
    assert all(s["error"] for s in body["rejected_samples"])
    assert aware(body["activated_at"]) == aware(OPT_OUT_MONDAY)

    status = opt_out.get("/v1/bloctel", role="dialer").json()
    assert status == {"version": 1, "total_numbers": 3, "as_of": "2026-06-10",
                      "activated_at": status["activated_at"], "age_days": 5, "stale": False}
    assert aware(status["activated_at"]) == aware(OPT_OUT_MONDAY)
    history = opt_out.get("/v1/bloctel/imports", role="operator").json()
    assert [(h["version"], h["import_id"]) for h in history] == [(1, body["import_id"])]


def test_gzip_and_crlf_files_are_accepted(opt_out: Tenant) -> None:
    raw = b"0611111111\r\n0622222222\r\n"
    r = upload(opt_out, gzip.compress(raw))
    assert r.status_code == 201, r.text
    assert (r.json()["accepted"], r.json()["rejected"], r.json()["total_numbers"]) == (2, 0, 2)
    assert codes(opt_out.check(callee=LISTED).json()) == ["BLOCTEL_LISTED"]


def test_modes_add_and_remove_build_on_the_active_version(opt_out: Tenant) -> None:
    assert upload(opt_out, b"0611111111\n0622222222\n").json()["total_numbers"] == 2
    added = upload(opt_out, b"0633333333\n0611111111\n", mode="add").json()
    assert (added["version"], added["mode"], added["total_numbers"]) == (2, "add", 3)
    removed = upload(opt_out, b"0611111111\n", mode="remove").json()
    assert (removed["version"], removed["total_numbers"]) == (3, 2)
    assert opt_out.get("/v1/bloctel").json()["version"] == 3
    assert opt_out.evaluate(callee=LISTED).json()["decision"] == "allow"
    assert codes(opt_out.evaluate(callee="+33633333333").json()) == ["BLOCTEL_LISTED"]
    replaced = upload(opt_out, b"0644444444\n").json()
    assert replaced["total_numbers"] == 1
    history = opt_out.get("/v1/bloctel/imports", role="operator").json()
    assert [h["version"] for h in history] == [4, 3, 2, 1]


def test_bad_imports_are_refused_and_keep_the_active_list(opt_out: Tenant) -> None:
    assert upload(opt_out, b"0611111111\n").status_code == 201
    cases = {
        "no as_of": opt_out.client.post(
            "/v1/bloctel/imports", params={"mode": "replace"}, content=b"0622222222\n",
            headers={"Authorization": f"Bearer {opt_out.operator}"}),
        "bad as_of": upload(opt_out, b"0622222222\n", as_of="10/06/2026"),
        "future as_of": upload(opt_out, b"0622222222\n", as_of="2026-07-01"),
        "bad mode": upload(opt_out, b"0622222222\n", mode="merge"),
        "empty body": upload(opt_out, b""),
    }
    assert {k: r.status_code for k, r in cases.items()} == {k: 422 for k in cases}
    for role in ("admin", "compliance", "dialer"):
        assert upload(opt_out, b"0622222222\n", role=role).status_code in (403, 404)
    status = opt_out.get("/v1/bloctel").json()
    assert (status["version"], status["total_numbers"]) == (1, 1)
    assert opt_out.evaluate(callee="+33622222222").json()["decision"] == "allow"


def test_as_of_is_compared_with_the_paris_date(tenant: Tenant, freeze) -> None:
    # 00:30 on 15 June in Paris is still 14 June in UTC: today's list is not in the future
    freeze("2026-06-15T00:30:00+02:00")
    r = upload(tenant, b"0611111111\n", as_of="2026-06-15")
    assert r.status_code == 201, r.text
    assert tenant.get("/v1/bloctel").json()["age_days"] == 0


def test_opt_out_listed_number_is_denied(opt_out: Tenant) -> None:
    upload(opt_out, FILE)
    body = opt_out.check(callee="06 11 11 11 11").json()
    assert (body["regime"], body["decision"], codes(body)) == (
        "opt_out", "deny", ["BLOCTEL_LISTED"])
    assert body["reasons"][0]["severity"] == "block"
    assert "L223-1" in body["reasons"][0]["legal_basis"]
    assert body["penalty_eur"] == "0.02"
    assert opt_out.check(callee=CALLEE).json()["decision"] == "allow"
    # a recorded consent exempts the call from the list (until 2026-08-10)
    add_consent(opt_out, callee=LISTED, given_at="2026-06-01T10:00:00+02:00")
    assert opt_out.check(callee=LISTED).json()["decision"] == "allow"
    # press subscriptions are exempt from the list
    add_campaign(opt_out, "press", sector="press_subscription")
    assert opt_out.check(callee="+33622222222", campaign="press").json()["decision"] == "allow"


@pytest.mark.parametrize(
    "as_of, age, expected",
    [
        (None, None, ["BLOCTEL_LIST_MISSING"]),
        ("2026-05-16", 30, []),
        ("2026-05-15", 31, ["BLOCTEL_LIST_STALE"]),
        ("2026-03-01", 106, ["BLOCTEL_LIST_STALE"]),
    ],
)
def test_opt_out_list_freshness(
    opt_out: Tenant, as_of: str | None, age: int | None, expected: list[str]
) -> None:
    if as_of is not None:
        assert upload(opt_out, b"0699999999\n", as_of=as_of).status_code == 201
    status = opt_out.get("/v1/bloctel").json()
    assert (status["age_days"], status["stale"]) == (age, bool(expected))
    body = opt_out.check(callee=CALLEE).json()
    assert blocking(body) == expected
    assert body["decision"] == ("deny" if expected else "allow")
    # freshness is about the file, not the consumer: a consent does not lift it
    add_consent(opt_out, given_at="2026-06-01T10:00:00+02:00")
    assert blocking(opt_out.check(callee=CALLEE).json()) == expected
    # press subscriptions do not need the list
    add_campaign(opt_out, "press", sector="press_subscription")
    assert opt_out.check(callee=CALLEE, campaign="press").json()["decision"] == "allow"


def test_opt_in_listed_number_is_a_notice_unless_the_policy_blocks(
    tenant: Tenant, freeze
) -> None:
    upload(tenant, b"0612345678\n", as_of="2026-08-01")
    add_consent(tenant)
    notice = tenant.check(callee=CALLEE).json()
    assert (notice["regime"], notice["decision"]) == ("opt_in", "allow")
    assert [(r["code"], r["severity"]) for r in notice["reasons"]] == [
        ("BLOCTEL_LISTED", "notice")]
    assert notice["penalty_eur"] == "0.00"
    # an old list is no reason to deny any more (the list's era ended on 2026-08-10)
    assert "BLOCTEL_LIST_STALE" not in codes(notice)

    r = tenant.client.patch("/v1/policy", json={"bloctel_after_opt_in": "block"},
                            headers={"Authorization": f"Bearer {tenant.admin}"})
    assert r.status_code == 200, r.text
    assert r.json()["bloctel_after_opt_in"] == "block"
    blocked = tenant.check(callee=CALLEE).json()
    assert (blocked["decision"], blocking(blocked)) == ("deny", ["BLOCTEL_LISTED"])

    r = tenant.client.patch("/v1/policy", json={"bloctel_after_opt_in": None},
                            headers={"Authorization": f"Bearer {tenant.admin}"})
    assert r.json()["bloctel_after_opt_in"] == "notice"
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"


def test_policy_rejects_unknown_values(tenant: Tenant) -> None:
    before = tenant.get("/v1/policy", role="admin").json()
    assert before["bloctel_after_opt_in"] == "notice"
    for body in ({"bloctel_after_opt_in": "sometimes"}, {"mobile_daily_cap": 0},
                 {"denied_attempt_penalty_eur": -1}, {"colour": "red"}, [], "block"):
        r = tenant.client.patch("/v1/policy", json=body,
                                headers={"Authorization": f"Bearer {tenant.admin}"})
        assert r.status_code == 422, body
    assert tenant.get("/v1/policy", role="admin").json() == before
