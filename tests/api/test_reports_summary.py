"""The summary's extension: by caller ID, by Paris hour, penalties by week and campaign, short
calls, unassigned numbers, consent coverage, BLOCTEL freshness and rule-set versions."""

from __future__ import annotations

from typing import Any

import pytest

from rules_fr.data import L223_1_OPT_IN, ruleset_for
from tests.api.conftest import aware
from tests.api.test_reports_export import week  # noqa: F401  (the shared ledger fixture)
from tests.factories import CALLEE, Tenant

HOURS = [f"{h:02d}" for h in range(24)]


def summary(t: Tenant, **params: Any) -> dict[str, Any]:
    r = t.get("/v1/reports/summary", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def split(total: int, allowed: int) -> dict[str, int]:
    return {"total": total, "allowed": allowed, "denied": total - allowed}


def test_summary_of_the_week(tenant: Tenant, week) -> None:  # noqa: F811
    s = summary(tenant)
    assert (s["total"], s["allowed"], s["denied"]) == (7, 3, 4)
    # four denials at 0.02 and one unassigned report at 0.02, all in ISO week 48
    assert s["penalty_eur"] == "0.10"
    assert s["penalties_by_code"] == {"CALLEE_UNASSIGNED": "0.02", "ILLEGITIMATE_ATTEMPT": "0.08"}
    assert s["penalties_by_week"] == {"2026-W48": "0.10"}
    assert s["by_campaign"] == {
        "autumn": split(2, 1) | {"penalty_eur": "0.04", "dialled_despite_deny": 0},
        "spring-2026": split(5, 2) | {"penalty_eur": "0.06", "dialled_despite_deny": 0},
    }
    assert s["dialled_despite_deny"] == 0
    assert s["by_caller_id"] == {"(none)": split(1, 0), "+33162000001": split(6, 3)}
    assert list(s["by_hour"]) == HOURS
    assert {h: v for h, v in s["by_hour"].items() if v["total"]} == {
        "10": split(5, 2), "11": split(1, 1), "21": split(1, 0)}
    assert s["by_day"] == {"2026-11-23": split(6, 2), "2026-11-24": split(1, 1)}
    assert s["short_calls"] == {"answered": 2, "short": 1, "share": 0.5, "under_s": 60}
    # dialled: the two answered calls and the unassigned one
    assert s["unassigned"] == {"attempts": 1, "dialled": 3, "share": 0.3333}
    assert s["consent_coverage"] == {
        "consumer_allowed": 3, "consent": 2, "contract": 1, "neither": 0,
        "share_consent": 0.6667, "share_contract": 0.3333,
    }
    (rs,) = s["ruleset_versions"]
    assert (rs["version"], rs["attempts"], rs["effective"]) == ("fr-2026-08-11", 7, "2026-08-11")
    assert aware(rs["first_seen"]) == aware("2026-11-23T10:30:00+01:00")
    assert aware(rs["last_seen"]) == aware("2026-11-24T11:00:00+01:00")
    assert rs["legal_bases"]["opposition"] == L223_1_OPT_IN
    in_force = ruleset_for(aware(rs["first_seen"]).date()).rules
    assert rs["legal_bases"] == {k: v.legal_basis for k, v in in_force.items() if v}
    assert "opposition" in rs["changed_rules"]
    # the opt-in era needs no BLOCTEL list: nothing in force, nothing stale
    assert (s["bloctel"]["versions"], s["bloctel"]["stale"], s["bloctel"]["missing"]) == (
        [], False, False)


FILTERED: list[tuple[dict[str, str], int, str, dict[str, Any]]] = [
    ({"campaign": "autumn"}, 2, "0.04", {"+33162000001": split(2, 1)}),
    ({"caller_id": "01 62 00 00 01"}, 6, "0.08", {"+33162000001": split(6, 3)}),
    ({"campaign": "spring-2026", "caller_id": "+33162000001"}, 4, "0.04",
     {"+33162000001": split(4, 2)}),
    ({"from": "2026-11-24"}, 1, "0.02", {"+33162000001": split(1, 1)}),
    ({"to": "2026-11-23T10:33:00+01:00"}, 3, "0.02", {"+33162000001": split(3, 2)}),
    ({"caller_id": "+33140000001"}, 0, "0.00", {}),
]


@pytest.mark.parametrize(("params", "total", "penalty", "callers"), FILTERED,
                         ids=[str(f[0]) for f in FILTERED])
def test_summary_filters(tenant: Tenant, week, params, total, penalty, callers  # noqa: F811
                         ) -> None:
    s = summary(tenant, **params)
    assert (s["total"], s["penalty_eur"], s["by_caller_id"]) == (total, penalty, callers)
    assert sum(v["total"] for v in s["by_hour"].values()) == total
    assert sum(v["total"] for v in s["by_campaign"].values()) == total
    assert sum(int(v.replace(".", "")) for v in s["penalties_by_week"].values()) == int(
        penalty.replace(".", ""))


def test_empty_period_has_every_key_and_null_shares(tenant: Tenant) -> None:
    s = summary(tenant, **{"from": "2026-01-05", "to": "2026-01-06"})
    assert (s["total"], s["penalty_eur"], s["by_caller_id"], s["penalties_by_week"]) == (
        0, "0.00", {}, {})
    assert s["short_calls"]["share"] is None and s["unassigned"]["share"] is None
    assert s["consent_coverage"]["share_consent"] is None
    assert s["ruleset_versions"] == []
    # January 2026 is the opt-out era: no list at all is stale
    assert (s["bloctel"]["stale"], s["bloctel"]["missing"]) == (True, True)


def test_another_tenants_ledger_never_shows(tenant: Tenant, other: Tenant, week) -> None:  # noqa: F811
    for params in ({}, {"campaign": "spring-2026"}, {"caller_id": other.canvassing_cli}):
        theirs = summary(other, **params)
        assert (theirs["total"], theirs["penalty_eur"]) == (2, "0.02"), params
        assert theirs["consent_coverage"]["consumer_allowed"] == 1
        assert theirs["short_calls"]["answered"] == theirs["unassigned"]["dialled"] == 0
        assert set(theirs["by_campaign"]) == {"spring-2026"}
        assert theirs["ruleset_versions"][0]["attempts"] == 2
    for role in ("dialer", "operator"):
        assert tenant.get("/v1/reports/summary", role=role).status_code in (403, 404)


@pytest.mark.parametrize("params", [
    {"campaign": ""}, {"caller_id": " +33162000001"}, {"from": "2026-11-24", "to": "2026-11-23"},
    {"to": "2026-11-23T10:00:00"},
])
def test_bad_summary_filters_are_422(tenant: Tenant, params: dict[str, str]) -> None:
    assert tenant.get("/v1/reports/summary", params=params).status_code == 422


def upload(t: Tenant, as_of: str) -> None:
    r = t.client.post("/v1/bloctel/imports", params={"mode": "replace", "as_of": as_of},
                      content=b"0612345678\n0611223344\n",
                      headers={"Authorization": f"Bearer {t.operator}",
                               "Content-Type": "text/plain"})
    assert r.status_code == 201, r.text


def test_bloctel_freshness_over_the_period(tenant: Tenant, freeze) -> None:
    # opt-out era: list 1 (as of 20 May) activated 1 June, list 2 (as of 1 July) on 2 July
    freeze("2026-06-01T09:00:00+02:00")
    upload(tenant, "2026-05-20")
    freeze("2026-07-02T09:00:00+02:00")
    upload(tenant, "2026-07-01")
    freeze("2026-07-06T10:30:00+02:00")
    assert tenant.check(callee=CALLEE).status_code == 200
    freeze("2026-07-06T11:00:00+02:00")

    fresh = summary(tenant, **{"from": "2026-06-01T12:00:00+02:00", "to": "2026-06-15"})
    b = fresh["bloctel"]
    assert [v["as_of"] for v in b["versions"]] == ["2026-05-20"]
    assert (b["max_age_days"], b["stale"], b["missing"], b["stale_after_days"]) == (
        26, False, False, 30)

    # by 2 July the first list was 43 days old: stale, though the second one is fresh
    june = summary(tenant, **{"from": "2026-06-10", "to": "2026-07-05"})["bloctel"]
    assert [v["as_of"] for v in june["versions"]] == ["2026-05-20", "2026-07-01"]
    assert (june["max_age_days"], june["stale"]) == (43, True)
    assert june["versions"][0]["superseded_at"] == june["versions"][1]["activated_at"]

    # before the first import: no list while one was required
    may = summary(tenant, **{"from": "2026-05-25", "to": "2026-06-05"})["bloctel"]
    assert (may["missing"], may["stale"], may["max_age_days"]) == (True, True, 16)

    # without from: the period starts at the first attempt (6 July), ends now (frozen)
    since_first = summary(tenant)["bloctel"]
    assert ([v["as_of"] for v in since_first["versions"]], since_first["max_age_days"],
            since_first["stale"]) == (["2026-07-01"], 5, False)


def test_consent_coverage_reads_consents_as_the_rules_do(tenant: Tenant, freeze) -> None:
    """An expired consent (collection + 365 days, R223-1), a void one (a tied sale) or one
    that does not name the principal did not let the call through: the contract did."""
    from tests.factories import add_consent

    freeze("2026-11-23T10:30:00+01:00")
    callees = ["+33612345601", "+33612345602", "+33612345603", "+33612345604"]
    add_consent(tenant, callees[0], given_at="2025-11-01T10:00:00+01:00")  # expired 2026-11-01
    add_consent(tenant, callees[1], given_at="2026-09-01T10:00:00+02:00",
                conditional_on_sale=True)
    add_consent(tenant, callees[2], given_at="2026-09-01T10:00:00+02:00", source="Broker SA")
    add_consent(tenant, callees[3], given_at="2026-09-01T10:00:00+02:00")  # valid
    for n, callee in enumerate(callees):
        r = tenant.post("/v1/contracts", {"callee": callee, "reference": f"C-{n}",
                                          "sector": "general", "starts_on": "2025-01-01"})
        assert r.status_code == 201, r.text
        d = tenant.check(callee=callee).json()
        assert d["decision"] == "allow", d
    coverage = summary(tenant)["consent_coverage"]
    assert (coverage["consumer_allowed"], coverage["consent"], coverage["contract"]) == (4, 1, 3)
