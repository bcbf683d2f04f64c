"""Caller-ID classes through the API (rules-fr.md §2): registration refuses a number that can
never be a caller ID, 09 37-09 39 register as "platform", a free 08 0x number serves an
automated campaign, and a shared-cost one only where the tenant policy admits it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import CALLEE, Tenant, add_campaign, add_consent

S = "CALLER_ID_SPECIAL_SERVICE"
R = "CALLER_ID_NOT_CANVASSING_RANGE"


def register(t: Tenant, number: str) -> Any:
    return t.post("/v1/caller-ids", {"number": number, "assigned_to": None})


def caller_codes(t: Tenant, campaign: str, caller_id: str) -> list[str]:
    r = t.evaluate(campaign=campaign, caller_id=caller_id, callee=CALLEE)
    assert r.status_code == 200, r.text
    return sorted(c["code"] for c in r.json()["reasons"] if c["code"].startswith("CALLER_ID"))


def set_policy(t: Tenant, **fields: Any) -> Any:
    r = t.client.patch("/v1/policy", json=fields, headers={"Authorization": f"Bearer {t.admin}"})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(
    ("number", "what"),
    [
        ("08 99 12 34 56", "premium-rate number (089)"),
        ("+33 8 90 12 34 56", "premium-rate number (089)"),
        ("0033 8 99 00 00 01", "premium-rate number (089)"),
        ("08 36 12 34 56", "premium-rate number"),
        ("118 712", "118 XYZ directory-enquiry number"),
        ("3949", "3BPQ short number"),
        ("1014", "short number"),
        ("112", "short number"),
    ],
)
def test_a_number_that_can_never_be_a_caller_id_is_422(tenant: Tenant, number: str, what: str):
    before = tenant.get("/v1/caller-ids").json()
    r = register(tenant, number)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == S and body["field"] == "number"
    assert body["detail"].startswith("number: ") and what in body["detail"]
    assert "may never be presented as a caller ID" in body["detail"]
    assert tenant.get("/v1/caller-ids").json() == before  # nothing registered


@pytest.mark.parametrize("number", ["3010", "3107"])
def test_a_30pq_31pq_short_number_is_still_not_registrable(tenant: Tenant, number: str):
    """Left out by the arrêté, but a caller ID is registered in E.164 numbering: 422 as before."""
    r = register(tenant, number)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "CALLER_ID_INVALID" and r.json()["field"] == "number"
    assert "short number" in r.json()["detail"]


@pytest.mark.parametrize(
    ("number", "e164", "kind"),
    [
        ("09 37 00 00 09", "+33937000009", "platform"),
        ("09 39 00 00 09", "+33939000009", "platform"),
        ("08 00 00 00 09", "+33800000009", "toll_free"),
        ("08 25 00 00 09", "+33825000009", "shared_cost"),
        ("09 49 00 00 09", "+33949000009", "canvassing"),
    ],
)
def test_lawful_classes_register_with_their_kind(tenant: Tenant, number: str, e164: str,
                                                  kind: str):
    r = register(tenant, number)
    assert r.status_code == 201, r.text
    assert (r.json()["number"], r.json()["kind"]) == (e164, kind)


def test_free_and_shared_cost_numbers_on_automated_and_manual_campaigns(tenant: Tenant):
    free, shared, platform = "+33800000009", "+33810000009", "+33937000009"
    for number in (free, shared, platform):
        assert register(tenant, number).status_code == 201
    add_consent(tenant)
    numbers = [free, shared, platform]
    for purpose in ("commercial", "non_commercial"):
        add_campaign(tenant, f"auto-{purpose}", purpose=purpose, automated=True,
                     caller_ids=numbers)
        add_campaign(tenant, f"manual-{purpose}", purpose=purpose, automated=False,
                     caller_ids=numbers)

    def table() -> dict[tuple[str, str], list[str]]:
        return {(c, n): caller_codes(tenant, c, n)
                for c in ("auto-commercial", "auto-non_commercial",
                          "manual-commercial", "manual-non_commercial")
                for n in numbers}

    off = table()
    expected_off = {}
    for purpose in ("commercial", "non_commercial"):
        expected_off |= {
            (f"auto-{purpose}", free): [], (f"auto-{purpose}", shared): [S],
            (f"auto-{purpose}", platform): [R],
            (f"manual-{purpose}", free): [], (f"manual-{purpose}", shared): [S],
            (f"manual-{purpose}", platform): [],
        }
    assert off == expected_off

    policy = set_policy(tenant, automated_shared_cost_cli=True)
    assert policy["automated_shared_cost_cli"] is True
    on = table()
    for purpose in ("commercial", "non_commercial"):  # automated only: manual keeps the default
        expected_off[(f"auto-{purpose}", shared)] = []
    assert on == expected_off

    assert set_policy(tenant, automated_shared_cost_cli=None)["automated_shared_cost_cli"] is False
    assert table() != on  # back to the default


def test_policy_flag_defaults_off_and_is_a_bool(tenant: Tenant):
    r = tenant.get("/v1/policy", role="admin")
    assert r.status_code == 200 and r.json()["automated_shared_cost_cli"] is False
    bad = tenant.client.patch("/v1/policy", json={"automated_shared_cost_cli": "sometimes"},
                              headers={"Authorization": f"Bearer {tenant.admin}"})
    assert bad.status_code == 422
