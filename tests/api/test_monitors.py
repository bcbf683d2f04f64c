"""Abuse and fraud monitors (issue 6): each monitor crossing its threshold on a frozen clock,
each action (notice, throttle → RATE_THROTTLED until the window clears, suspend →
TENANT_SUSPENDED until the operator reactivates), thresholds as tenant policy under the
operator's ceilings, cooldown, tenant isolation, ``GET /v1/monitors`` — SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from app.monitors import service
from app.monitors.evaluate import Measure, evaluate, jump
from app.tenancy.monitor_policy import (
    MONITORS,
    PolicyError,
    Weakened,
    check_floors,
    effective,
    platform_floors,
    validate,
)
from tests.api.conftest import codes, outcome
from tests.factories import CALLEE, Tenant, add_consent, auth

T0 = "2026-11-23T10:30:00+01:00"


def at(instant: str, seconds: float = 0) -> datetime:
    return datetime.fromisoformat(instant) + timedelta(seconds=seconds)


def set_monitors(t: Tenant, monitors: dict[str, Any]) -> Any:
    return t.client.patch("/v1/policy", json={"monitors": monitors}, headers=auth(t.admin))


def tick(seconds: float = 1) -> list[dict[str, Any]]:
    return service.tick(now=at(T0, seconds))


def numbers(n: int, prefix: str = "0612") -> list[str]:
    return [f"{prefix}{i:06d}" for i in range(n)]


# --------------------------------------------------------------------------- pure


@pytest.mark.parametrize(("monitor", "value", "events", "fires"), [
    ("attempts_per_minute", 3_001, 3_001, True),
    ("attempts_per_minute", 3_000, 3_000, False),  # at the threshold: not above it
    ("denied_share", 0.9, 199, False),  # under min_events: no verdict
    ("denied_share", 0.9, 200, True),
    ("denied_share", 0.5, 10_000, False),
    ("penalties_per_day", 100.01, 5_001, True),
    ("short_call_share", 0.51, 100, True),
    ("unassigned_share", 0.11, 99, False),
    ("volume_jump", 3.5, 999, False),
    ("volume_jump", 3.5, 1_000, True),
])
def test_evaluate_against_the_defaults(monitor: str, value: float, events: int,
                                       fires: bool) -> None:
    got = evaluate([Measure(monitor, "tenant", value, events)], MONITORS)
    assert bool(got) is fires
    if fires:
        assert got[0].action == MONITORS[monitor].action
        assert got[0].window_s == MONITORS[monitor].window_s


def test_jump_is_against_the_median_of_the_same_hour() -> None:
    assert jump(300, [100, 90, 110, 100, 5_000, 0, 100]) == 3.0
    assert jump(40, [0] * 7) == 40  # never called at that hour: against one attempt


def test_policy_validation_and_ceilings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert validate({"denied_share": {"threshold": 0.3, "action": "suspend"}}) == {
        "denied_share": {"threshold": 0.3, "action": "suspend"}}
    for bad, why in [
        ({"nope": {}}, "unknown monitor"),
        ({"denied_share": {"action": "ignore"}}, "action must be"),
        ({"denied_share": {"enabled": False}}, "cannot be switched off"),
        ({"denied_share": {"threshold": -1}}, "positive"),
        ({"denied_share": {"window": 5}}, "only threshold"),
    ]:
        with pytest.raises(PolicyError, match=why):
            validate(bad)
    with pytest.raises(Weakened, match="above the operator's 0.8"):
        check_floors(validate({"denied_share": {"threshold": 0.95}}), platform_floors())
    with pytest.raises(Weakened, match="weaker than the operator's throttle"):
        check_floors(validate({"denied_share": {"action": "notice"}}), platform_floors())
    from app.config import get_settings

    monkeypatch.setenv("GATEWAY_MONITOR_CEILINGS", '{"attempts_per_minute": 100}')
    get_settings.cache_clear()
    try:  # the operator lowers a ceiling: a tenant's looser threshold is capped
        assert effective({"monitors": {"attempts_per_minute": {"threshold": 500}}}
                         )["attempts_per_minute"].threshold == 100
        with pytest.raises(Weakened):
            check_floors({"attempts_per_minute": {"threshold": 500.0}}, platform_floors())
    finally:
        monkeypatch.delenv("GATEWAY_MONITOR_CEILINGS")
        get_settings.cache_clear()


# --------------------------------------------------------------------------- through the API


def test_thresholds_are_tenant_policy(tenant: Tenant) -> None:
    assert tenant.get("/v1/policy", role="admin").json()["monitors"]["denied_share"] == {
        "threshold": 0.5, "action": "throttle", "min_events": 200, "window_s": 900}
    r = set_monitors(tenant, {"denied_share": {"threshold": 0.3}})
    assert r.status_code == 200, r.text
    r = set_monitors(tenant, {"denied_share": {"min_events": 10}})  # merged, not replaced
    assert r.json()["monitors"]["denied_share"]["threshold"] == 0.3
    assert r.json()["monitors"]["denied_share"]["min_events"] == 10
    bad = set_monitors(tenant, {"denied_share": {"threshold": 0.99}})
    assert bad.status_code == 403 and bad.json()["field"] == "monitors.denied_share.threshold"
    assert bad.json()["operator_value"] == 0.8
    r = set_monitors(tenant, {"denied_share": None})  # back to the defaults
    assert r.json()["monitors"]["denied_share"]["threshold"] == 0.5


def test_attempts_per_minute_throttles_until_the_window_clears(
    tenant: Tenant, other: Tenant, freeze: Callable[[str], None]
) -> None:
    add_consent(tenant)
    add_consent(other)
    assert set_monitors(tenant, {"attempts_per_minute": {"threshold": 5}}).status_code == 200
    freeze(T0)
    for _ in range(6):
        assert tenant.check(callee=CALLEE).json()["decision"] in ("allow", "deny")
    raised = tick()
    scopes = {(a["monitor"], a["scope"], a["action"]) for a in raised}
    assert ("attempts_per_minute", "tenant", "throttle") in scopes
    assert ("attempts_per_minute", "caller_id:+33162000001", "throttle") in scopes
    fresh = "+33699887766"  # consented, never called: only the throttle stands in the way
    add_consent(tenant, callee=fresh)
    throttled = tenant.check(callee=fresh).json()
    assert throttled["decision"] == "deny" and codes(throttled) == ["RATE_THROTTLED"]
    assert datetime.fromisoformat(throttled["next_allowed_at"]) == at(T0, 61)
    # another tenant is not throttled
    assert "RATE_THROTTLED" not in codes(other.check(callee=CALLEE).json())
    # no second alert while the first is fresh
    assert tick(5) == []
    # the window has passed: calls go through again
    freeze(at(T0, 62).isoformat())
    assert tenant.check(callee=fresh).json()["decision"] == "allow"


def test_denied_share_throttles_one_campaign(tenant: Tenant, freeze: Callable[[str], None]
                                            ) -> None:
    from tests.factories import add_campaign

    add_consent(tenant)
    add_campaign(tenant, "autumn")
    assert set_monitors(tenant, {"denied_share": {"min_events": 5}}).status_code == 200
    freeze(T0)
    for n in numbers(6, "0800"):  # special services: denied
        tenant.check(callee=n, campaign="autumn")
    for n in numbers(7, "+33611"):  # spring-2026: consented, allowed
        add_consent(tenant, callee=n)
        assert tenant.check(callee=n).json()["decision"] == "allow"
    raised = tick()  # tenant-wide 6 / 13 denied: under 0.5
    assert {(a["scope"], a["action"]) for a in raised} == {("campaign:autumn", "throttle")}
    assert raised[0]["value"] == 1.0 and raised[0]["threshold"] == 0.5
    assert "RATE_THROTTLED" in codes(tenant.check(callee=CALLEE, campaign="autumn").json())
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"


def test_penalties_per_day_suspend_until_the_operator_reactivates(
    tenant: Tenant, freeze: Callable[[str], None]
) -> None:
    add_consent(tenant)
    assert set_monitors(tenant, {"penalties_per_day": {"threshold": 0.05}}).status_code == 200
    freeze(T0)
    for n in numbers(3, "0800"):
        assert tenant.check(callee=n).json()["penalty_eur"] == "0.02"
    raised = tick()
    assert [(a["monitor"], a["action"], a["value"]) for a in raised] == [
        ("penalties_per_day", "suspend", 0.06)]
    denied = tenant.check(callee=CALLEE).json()
    assert codes(denied)[0] == "TENANT_SUSPENDED"
    r = tenant.client.post(f"/v1/tenants/{tenant.id}/reactivate",
                           headers=auth(tenant.operator))
    assert r.status_code == 200, r.text
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"
    assert tick(10) == []  # the same day's penalties do not suspend it again at once


def test_notices_for_volume_outcomes_and_a_jump(
    tenant: Tenant, freeze: Callable[[str], None]
) -> None:
    add_consent(tenant)
    set_monitors(tenant, {
        "attempts_per_hour": {"threshold": 3}, "attempts_per_day": {"threshold": 3},
        "unassigned_share": {"threshold": 0.2, "min_events": 2},
        "short_call_share": {"threshold": 0.5, "min_events": 2},
        "volume_jump": {"threshold": 2, "min_events": 3},
    })
    for day in range(1, 8):  # one attempt a day at this hour, the week before
        freeze(at(T0, -day * 86_400).isoformat())
        tenant.check(callee=CALLEE)
    freeze(T0)
    ids = [tenant.check(callee=CALLEE).json()["attempt_id"] for _ in range(4)]
    assert outcome(tenant, ids[0], "answered", duration_s=20).status_code == 200
    assert outcome(tenant, ids[1], "answered", duration_s=30).status_code == 200
    assert outcome(tenant, ids[2], "unassigned").status_code == 200
    raised = {a["monitor"]: a for a in tick()}
    assert set(raised) == {"attempts_per_hour", "attempts_per_day", "unassigned_share",
                           "short_call_share", "volume_jump"}
    assert all(a["action"] == "notice" for a in raised.values())
    assert raised["volume_jump"]["value"] == 4.0  # 4 this hour ÷ median 1
    assert raised["short_call_share"]["value"] == 1.0
    assert raised["unassigned_share"]["value"] == pytest.approx(1 / 3)
    add_consent(tenant, callee="+33699887766")
    assert tenant.check(callee="+33699887766").json()["decision"] == "allow"  # notices only


def test_monitors_snapshot_and_isolation(
    tenant: Tenant, other: Tenant, freeze: Callable[[str], None]
) -> None:
    add_consent(tenant)
    set_monitors(tenant, {"attempts_per_minute": {"threshold": 2}})
    freeze(T0)
    for _ in range(3):
        tenant.check(callee=CALLEE)
    tick()
    freeze(at(T0, 1).isoformat())
    snap = tenant.get("/v1/monitors").json()
    per = {m["monitor"]: m for m in snap["monitors"]}
    assert per["attempts_per_minute"]["threshold"] == 2
    assert per["attempts_per_minute"]["ceiling"] == 12_000
    tenant_value = [v for v in per["attempts_per_minute"]["values"] if v["scope"] == "tenant"]
    assert tenant_value == [{"scope": "tenant", "value": 3, "events": 3, "above": True}]
    assert {t["scope"] for t in snap["throttles"]} == {"tenant", "caller_id:+33162000001"}
    theirs = other.get("/v1/monitors").json()
    assert theirs["throttles"] == [] and theirs["tenant_id"] == other.id
    assert [v for m in theirs["monitors"] for v in m["values"] if v["value"]] == []
    assert tenant.get("/v1/monitors", role="dialer").status_code == 403
