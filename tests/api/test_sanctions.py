"""The operator's sanctions are the operator's (rules-fr.md §7): the tariff of penalties and the
monitors' floors, per tenant (``/v1/tenants/{id}/sanctions``) and platform-wide (settings). A
tenant may raise a penalty or tighten a monitor, never lower, weaken or switch one off."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.config import get_settings
from app.db import session_scope
from app.monitors.evaluate import Measure, evaluate
from app.tenancy.models import Tenant as TenantRow
from app.tenancy.monitor_policy import MONITORS, RANK, effective, floors
from app.tenancy.policy import policy_from_json
from tests.api.conftest import codes, outcome
from tests.factories import Tenant, add_consent, auth

INVALID = "+336912"  # too short: CALLEE_INVALID, a denied (penalised) attempt


def patch_policy(t: Tenant, body: dict[str, Any]) -> Any:
    return t.client.patch("/v1/policy", json=body, headers=auth(t.admin))


def put_sanctions(t: Tenant, body: dict[str, Any], role: str = "operator",
                  tenant_id: str | None = None) -> Any:
    return t.client.put(f"/v1/tenants/{tenant_id or t.id}/sanctions", json=body,
                        headers=auth(getattr(t, role)))


def denied_penalty(t: Tenant) -> Decimal:
    d = t.check(callee=INVALID).json()
    assert d["decision"] == "deny" and "CALLEE_INVALID" in codes(d)
    return Decimal(d["penalty_eur"])


@pytest.mark.parametrize(("body", "field", "operator_value"), [
    ({"denied_attempt_penalty_eur": "0"}, "denied_attempt_penalty_eur", "0.02"),
    ({"denied_attempt_penalty_eur": "0.01"}, "denied_attempt_penalty_eur", "0.02"),
    ({"unassigned_penalty_eur": "0.00"}, "unassigned_penalty_eur", "0.02"),
    ({"monitors": {"denied_share": {"action": "notice"}}}, "monitors.denied_share.action",
     "throttle"),
    ({"monitors": {"penalties_per_day": {"action": "throttle"}}},
     "monitors.penalties_per_day.action", "suspend"),
    ({"monitors": {"denied_share": {"threshold": 0.81}}}, "monitors.denied_share.threshold",
     0.8),
    ({"monitors": {"attempts_per_minute": {"threshold": 1e9}}},
     "monitors.attempts_per_minute.threshold", 12_000),
])
def test_a_tenant_cannot_lower_the_tariff_nor_weaken_a_monitor(
    tenant: Tenant, body: dict[str, Any], field: str, operator_value: Any
) -> None:
    before = tenant.get("/v1/policy", role="admin").json()
    r = patch_policy(tenant, body)
    assert r.status_code == 403, r.text
    assert (r.json()["error"], r.json()["field"]) == ("forbidden", field)
    assert r.json()["operator_value"] == operator_value
    assert field.rsplit(".", 1)[-1] in r.json()["detail"]
    assert tenant.get("/v1/policy", role="admin").json() == before  # nothing changed
    assert denied_penalty(tenant) == Decimal("0.02")


def test_a_tenant_may_tighten(tenant: Tenant) -> None:
    r = patch_policy(tenant, {"denied_attempt_penalty_eur": "0.05", "monitors": {
        "denied_share": {"action": "suspend", "threshold": 0.2},
        "unassigned_share": {"action": "throttle"}}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["denied_attempt_penalty_eur"] == "0.05"
    assert body["monitors"]["denied_share"] | {"window_s": 0} == {
        "threshold": 0.2, "action": "suspend", "min_events": 200, "window_s": 0}
    assert body["monitors"]["unassigned_share"]["action"] == "throttle"
    assert denied_penalty(tenant) == Decimal("0.05")
    # back to the operator's amount (null), never below it
    assert patch_policy(tenant, {"denied_attempt_penalty_eur": None}).status_code == 200
    assert denied_penalty(tenant) == Decimal("0.02")


def test_policy_shows_what_the_operator_set(tenant: Tenant) -> None:
    op = tenant.get("/v1/policy", role="admin").json()["operator"]
    assert op["tariff"] == {"denied_attempt_penalty_eur": "0.02",
                            "unassigned_penalty_eur": "0.02"}
    assert op["monitors"]["denied_share"] == {"action": "throttle", "threshold": 0.8,
                                              "min_events": None}
    assert op["monitors"]["penalties_per_day"]["action"] == "suspend"
    snapshot = tenant.get("/v1/monitors").json()
    by_name = {m["monitor"]: m for m in snapshot["monitors"]}
    assert (by_name["denied_share"]["ceiling"], by_name["denied_share"]["floor_action"]) == (
        0.8, "throttle")


def test_the_operator_raises_a_tenants_tariff_for_later_attempts_only(
    tenant: Tenant, other: Tenant
) -> None:
    first = tenant.check(callee=INVALID).json()
    assert first["penalty_eur"] == "0.02"
    r = put_sanctions(tenant, {"tariff": {"denied_attempt_penalty_eur": "0.10",
                                          "unassigned_penalty_eur": "0.50"}})
    assert r.status_code == 200, r.text
    assert r.json()["in_force"]["tariff"] == {"denied_attempt_penalty_eur": "0.10",
                                              "unassigned_penalty_eur": "0.50"}
    assert denied_penalty(tenant) == Decimal("0.10")  # the very next denied check
    assert denied_penalty(other) == Decimal("0.02")  # another tenant: the platform's
    # the earlier attempt keeps its amount: 0.02 + 0.10
    summary = tenant.get("/v1/reports/summary").json()
    assert Decimal(summary["penalty_eur"]) == Decimal("0.12")
    # an unassigned outcome is charged at the tariff in force when it is reported
    add_consent(tenant, callee="+33611223344")
    allowed = tenant.check(callee="+33611223344").json()
    assert allowed["decision"] == "allow"
    done = outcome(tenant, allowed["attempt_id"], "unassigned", sip_code=404)
    assert done.status_code == 200, done.text
    assert done.json()["penalty_eur"] == "0.50"
    # the tenant cannot go below its new tariff, and sees it as the operator's
    low = patch_policy(tenant, {"denied_attempt_penalty_eur": "0.05"})
    assert (low.status_code, low.json()["operator_value"]) == (403, "0.10")
    assert tenant.get("/v1/policy", role="admin").json()["denied_attempt_penalty_eur"] == "0.10"


def test_the_operator_sets_a_tenants_monitor_floor(tenant: Tenant) -> None:
    assert patch_policy(tenant, {"monitors": {"denied_share": {"threshold": 0.6}}}
                        ).status_code == 200
    r = put_sanctions(tenant, {"monitors": {"denied_share": {
        "action": "suspend", "threshold": 0.4, "min_events": 50}}})
    assert r.status_code == 200, r.text
    assert r.json()["monitors"] == {"denied_share": {"action": "suspend", "threshold": 0.4,
                                                     "min_events": 50}}
    # the stricter floor outvotes the tenant's earlier, looser setting
    policy = tenant.get("/v1/policy", role="admin").json()
    assert policy["monitors"]["denied_share"] == {"threshold": 0.4, "action": "suspend",
                                                  "min_events": 50, "window_s": 900}
    for body, field in (({"threshold": 0.5}, "threshold"), ({"action": "throttle"}, "action"),
                        ({"min_events": 100}, "min_events")):
        bad = patch_policy(tenant, {"monitors": {"denied_share": body}})
        assert (bad.status_code, bad.json()["field"]) == (
            403, f"monitors.denied_share.{field}"), bad.text
    assert patch_policy(tenant, {"monitors": {"denied_share": {"threshold": 0.3}}}
                        ).status_code == 200
    # the monitors see the floor too
    with session_scope() as s:
        row = s.get(TenantRow, tenant.id)
        assert row is not None
        monitors = effective(row.policy, row.sanctions)
    (trigger,) = evaluate([Measure("denied_share", "tenant", 0.35, 60)], monitors)
    assert trigger.action == "suspend"
    # the operator clears its floor: the platform's again, the tenant's own setting stands
    cleared = put_sanctions(tenant, {})
    assert cleared.json()["monitors"] == {} and cleared.json()["tariff"] == {
        "denied_attempt_penalty_eur": None, "unassigned_penalty_eur": None}
    assert tenant.get("/v1/policy", role="admin").json()["monitors"]["denied_share"][
        "action"] == "throttle"


def test_sanctions_are_the_operators_only(tenant: Tenant, other: Tenant) -> None:
    for role in ("admin", "compliance", "dialer"):
        assert put_sanctions(tenant, {"tariff": {"denied_attempt_penalty_eur": "0"}},
                             role=role).status_code == 403
        r = tenant.client.get(f"/v1/tenants/{tenant.id}/sanctions",
                              headers=auth(getattr(tenant, role)))
        assert r.status_code == 403
    assert put_sanctions(tenant, {}, tenant_id="ten_nope").status_code == 404
    assert denied_penalty(tenant) == Decimal("0.02")
    # the operator may lower a tenant's tariff (its own terms), under the platform's
    assert put_sanctions(tenant, {"tariff": {"denied_attempt_penalty_eur": "0.01"}}
                         ).status_code == 200
    assert denied_penalty(tenant) == Decimal("0.01")
    assert denied_penalty(other) == Decimal("0.02")


@pytest.mark.parametrize("amount", ["0.005", "0.019", 0.001, "1e-3", "0.0199"])
def test_sub_cent_amounts_are_422_naming_the_field(tenant: Tenant, amount: Any) -> None:
    r = patch_policy(tenant, {"unassigned_penalty_eur": amount})
    assert r.status_code == 422, r.text
    assert "unassigned_penalty_eur" in r.text
    r = put_sanctions(tenant, {"tariff": {"denied_attempt_penalty_eur": amount}})
    assert r.status_code == 422, r.text
    assert "denied_attempt_penalty_eur" in r.text
    assert denied_penalty(tenant) == Decimal("0.02")


@pytest.mark.parametrize("body", [
    {"monitors": {"nope": {"action": "suspend"}}},
    {"monitors": {"denied_share": {"action": "ignore"}}},
    {"monitors": {"denied_share": {"threshold": -1}}},
    {"monitors": {"denied_share": {"min_events": True}}},
    {"monitors": {"denied_share": {"window_s": 5}}},
    {"tariff": {"denied_attempt_penalty_eur": "1000.01"}},
    {"tariff": {"surcharge": "1"}},
])
def test_bad_sanctions_are_422(tenant: Tenant, body: dict[str, Any]) -> None:
    assert put_sanctions(tenant, body).status_code == 422


def test_platform_wide_tariff_and_floors(tenant: Tenant, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    from app.cache import clear_all

    monkeypatch.setenv("GATEWAY_TARIFF", '{"denied_attempt_penalty_eur": "0.03"}')
    monkeypatch.setenv("GATEWAY_MONITOR_FLOORS",
                       '{"unassigned_share": {"action": "suspend", "min_events": 500}}')
    get_settings.cache_clear()
    clear_all()
    try:
        assert denied_penalty(tenant) == Decimal("0.03")
        op = tenant.get("/v1/policy", role="admin").json()["operator"]
        assert op["tariff"]["denied_attempt_penalty_eur"] == "0.03"
        assert op["monitors"]["unassigned_share"] == {"action": "suspend", "threshold": 0.3,
                                                      "min_events": 500}
        assert tenant.get("/v1/policy", role="admin").json()["monitors"]["unassigned_share"][
            "action"] == "suspend"
        bad = patch_policy(tenant, {"monitors": {"unassigned_share": {"min_events": 501}}})
        assert (bad.status_code, bad.json()["operator_value"]) == (403, 500)
        # a tenant's own sanctions replace the platform's field by field
        put_sanctions(tenant, {"tariff": {"denied_attempt_penalty_eur": "0.04"}})
        assert denied_penalty(tenant) == Decimal("0.04")
    finally:
        monkeypatch.delenv("GATEWAY_TARIFF")
        monkeypatch.delenv("GATEWAY_MONITOR_FLOORS")
        get_settings.cache_clear()
        clear_all()


@pytest.mark.parametrize(("name", "value"), [
    ("GATEWAY_TARIFF", '{"denied_attempt_penalty_eur": "0.005"}'),
    ("GATEWAY_TARIFF", '{"fee": "1"}'),
    ("GATEWAY_TARIFF", "not json"),
    ("GATEWAY_MONITOR_FLOORS", '{"denied_share": {"action": "ignore"}}'),
    ("GATEWAY_MONITOR_FLOORS", '{"nope": {}}'),
    ("GATEWAY_MONITOR_FLOORS", "[]"),
])
def test_bad_platform_settings_fail_at_start_up(name: str, value: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from app.config import Settings

    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name):
        Settings()


def test_the_schemas_name_every_monitor() -> None:
    from typing import get_args

    from app.tenancy.monitor_policy import MONITORS
    from app.tenancy.schemas import MonitorName

    assert set(get_args(MonitorName)) == set(MONITORS)


# --------------------------------------------------------------------------- invariant

_actions = st.sampled_from(["notice", "throttle", "suspend"])
_override = st.fixed_dictionaries({}, optional={
    "threshold": st.floats(min_value=1e-6, max_value=1e7), "action": _actions,
    "min_events": st.integers(min_value=1, max_value=1_000_000)})
_floor = st.fixed_dictionaries({}, optional={
    "threshold": st.floats(min_value=1e-6, max_value=1e7), "action": _actions,
    "min_events": st.integers(min_value=1, max_value=1_000_000)})
_cents = st.integers(min_value=0, max_value=100_000).map(lambda c: str(Decimal(c) / 100))
_names = st.sampled_from(sorted(MONITORS))


@settings(max_examples=300, deadline=None)
@given(own=st.dictionaries(_names, _override), bounds=st.dictionaries(_names, _floor),
       tenant_amount=st.none() | _cents, operator_amount=st.none() | _cents)
def test_nothing_a_tenant_stores_is_weaker_than_the_operators_floor(
    own: dict[str, Any], bounds: dict[str, Any], tenant_amount: str | None,
    operator_amount: str | None
) -> None:
    """Whatever a tenant's policy JSON holds (even values stored before the operator tightened
    its floors), what is in force is at least the operator's."""
    sanctions = {"monitors": bounds, "tariff": {"denied_attempt_penalty_eur": operator_amount}}
    stored = {"monitors": own, "denied_attempt_penalty_eur": tenant_amount}
    limit = floors(sanctions)
    for name, m in effective(stored, sanctions).items():
        f = limit[name]
        assert m.threshold <= f.threshold
        assert RANK[m.action] >= RANK[f.action]
        assert f.min_events is None or m.min_events <= f.min_events
        # and the tenant's own stricter values stand
        o = own.get(name, {})
        assert m.threshold <= o.get("threshold", m.threshold)
        assert RANK[m.action] >= RANK[o.get("action", m.action)]
    penalty = policy_from_json(stored, sanctions).denied_attempt_penalty_eur
    operator = Decimal(operator_amount or "0.02")
    assert penalty >= operator
    assert penalty == max(operator, Decimal(tenant_amount or "0"))
