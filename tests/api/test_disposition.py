"""Issue 15: the agent's disposition after the SIP proxy recorded the outcome.

The enforcing proxy reports ``answered`` with its duration from the BYE; what only the agent
knows — the consumer refused, the consumer opposed — comes afterwards through
``POST /v1/calls/{attempt_id}/disposition``, and must still take effect (else the next call is
wrongly allowed). Each flag goes false → true once, its effects run once; on SQLite and
PostgreSQL (the ``client`` fixture). The concurrent half, on a real server with two workers,
is ``tests/integration/test_disposition_live.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import get_engine
from app.registries.models import Opposition, Refusal
from tests.api.conftest import OPT_OUT_MONDAY, blocking, codes, outcome
from tests.factories import CALLEE, Tenant, add_campaign, add_consent


def disposition(t: Tenant, attempt_id: str, body: Any, role: str = "dialer") -> Any:
    return t.post(f"/v1/calls/{attempt_id}/disposition", body, role=role)


def answered(t: Tenant, callee: str = CALLEE, duration_s: int = 12) -> str:
    """An allowed attempt whose outcome the proxy recorded: answered, ``duration_s``."""
    attempt = t.check(callee=callee).json()
    assert attempt["decision"] == "allow", attempt["reasons"]
    r = outcome(t, attempt["attempt_id"], "answered", duration_s=duration_s)
    assert r.status_code == 200, r.text
    return attempt["attempt_id"]


def rows(model: Any, **where: Any) -> int:
    table = model.__table__
    with get_engine().connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(
            *(table.c[k] == v for k, v in where.items()))).scalar_one()


def test_a_refusal_after_the_proxys_outcome_denies_the_next_call_and_withdraws_consent(
    tenant: Tenant,
) -> None:
    add_consent(tenant)
    attempt = answered(tenant)
    r = disposition(tenant, attempt, {"consumer_refused": True})
    assert r.status_code == 200, r.text
    body = r.json()
    # the proxy's outcome stays as it was, with the agent's flag added
    assert (body["attempt_id"], body["status"], body["duration_s"], body["consumer_refused"],
            body["consumer_opposed"]) == (attempt, "answered", 12, True, False)
    nxt = tenant.check(callee=CALLEE).json()
    assert nxt["decision"] == "deny"
    assert sorted(blocking(nxt)) == ["CONSENT_REVOKED", "REFUSAL_COOLDOWN"]
    consent = tenant.get("/v1/consents", params={"callee": CALLEE}).json()[0]
    assert consent["revoked_at"] is not None
    assert rows(Refusal, attempt_id=attempt) == 1


def test_a_refusal_in_the_opt_out_era_starts_the_60_day_cooldown(
    tenant: Tenant, freeze: Any
) -> None:
    freeze(OPT_OUT_MONDAY)
    imported = tenant.client.post(  # a fresh list that does not hold the callee
        "/v1/bloctel/imports", params={"mode": "replace", "as_of": "2026-06-10"},
        content=b"0611111111\n", headers={"Authorization": f"Bearer {tenant.operator}"},
    )
    assert imported.status_code == 201, imported.text
    attempt = answered(tenant)
    assert disposition(tenant, attempt, {"consumer_refused": True}).status_code == 200
    nxt = tenant.check(callee=CALLEE).json()
    assert (nxt["decision"], codes(nxt)) == ("deny", ["REFUSAL_COOLDOWN"])
    # 15 June + 60 full days: still blocked on 14 August, free on 15 August
    day_60 = tenant.evaluate(callee=CALLEE, at="2026-08-14T11:00:00+02:00").json()
    day_61 = tenant.evaluate(callee=CALLEE, at="2026-08-15T11:00:00+02:00").json()
    assert "REFUSAL_COOLDOWN" in codes(day_60)
    assert "REFUSAL_COOLDOWN" not in codes(day_61)


def test_an_opposition_puts_the_callee_on_the_internal_list_for_every_campaign(
    tenant: Tenant,
) -> None:
    add_consent(tenant)
    add_campaign(tenant, "survey", purpose="non_commercial", audience="professionals")
    attempt = answered(tenant)
    r = disposition(tenant, attempt, {"consumer_opposed": True})
    assert r.status_code == 200, r.text
    assert (r.json()["consumer_opposed"], r.json()["consumer_refused"]) == (True, False)
    for campaign in ("spring-2026", "survey"):
        body = tenant.check(callee="06 12 34 56 78", campaign=campaign).json()
        assert body["decision"] == "deny"
        assert "INTERNAL_OPPOSITION" in blocking(body), campaign
        assert "REFUSAL_COOLDOWN" not in codes(body)  # an opposition is not a refusal
    listed = tenant.get("/v1/oppositions", params={"callee": CALLEE}).json()
    assert [(o["callee"], o["source"]) for o in listed] == [(CALLEE, f"call:{attempt}")]


def test_a_replay_answers_the_same_and_records_the_refusal_once(tenant: Tenant) -> None:
    add_consent(tenant)
    attempt = answered(tenant)
    first = disposition(tenant, attempt, {"consumer_refused": True, "consumer_opposed": True})
    again = [disposition(tenant, attempt, b) for b in (
        {"consumer_refused": True, "consumer_opposed": True}, {"consumer_refused": True},
        {"consumer_opposed": True})]
    assert first.status_code == 200, first.text
    assert [r.status_code for r in again] == [200] * 3
    assert all(r.json() == first.json() for r in again)
    assert (first.json()["consumer_refused"], first.json()["consumer_opposed"]) == (True, True)
    assert rows(Refusal, attempt_id=attempt) == 1
    assert rows(Opposition, callee=CALLEE) == 1


@pytest.mark.parametrize("later", [{"consumer_refused": False}, {}, {
    "consumer_refused": False, "consumer_opposed": False}])
def test_false_never_clears_a_flag(tenant: Tenant, later: dict[str, bool]) -> None:
    add_consent(tenant)
    attempt = answered(tenant)
    set_ = disposition(tenant, attempt, {"consumer_refused": True}).json()
    r = disposition(tenant, attempt, later)
    assert r.status_code == 200, r.text
    assert r.json() == set_ and r.json()["consumer_refused"] is True
    assert tenant.check(callee=CALLEE).json()["decision"] == "deny"


def test_the_flags_may_come_one_at_a_time_each_with_its_effect_once(tenant: Tenant) -> None:
    add_consent(tenant)
    attempt = answered(tenant)
    refused = disposition(tenant, attempt, {"consumer_refused": True}).json()
    assert (refused["consumer_refused"], refused["consumer_opposed"]) == (True, False)
    assert tenant.get("/v1/oppositions").json() == []
    both = disposition(tenant, attempt, {"consumer_refused": True, "consumer_opposed": True})
    assert both.status_code == 200, both.text
    assert (both.json()["consumer_refused"], both.json()["consumer_opposed"]) == (True, True)
    assert rows(Refusal, attempt_id=attempt) == 1  # not refused a second time
    assert rows(Opposition, callee=CALLEE) == 1


def test_a_refusal_the_outcome_already_carried_is_not_recorded_again(tenant: Tenant) -> None:
    add_consent(tenant)
    attempt = tenant.check(callee=CALLEE).json()["attempt_id"]
    stored = outcome(tenant, attempt, "answered", duration_s=30, consumer_refused=True).json()
    r = disposition(tenant, attempt, {"consumer_refused": True})
    assert (r.status_code, r.json()) == (200, stored)
    assert rows(Refusal, attempt_id=attempt) == 1


def test_without_an_answered_outcome_it_is_409_and_changes_nothing(tenant: Tenant) -> None:
    add_consent(tenant)
    pending = tenant.check(callee=CALLEE).json()["attempt_id"]
    r = disposition(tenant, pending, {"consumer_refused": True})
    assert r.status_code == 409, r.text
    assert (r.json()["error"], r.json()["recorded_status"]) == ("conflict", None)
    assert "no outcome yet" in r.json()["detail"]
    # the outcome arrives late: the disposition then goes through
    assert outcome(tenant, pending, "answered", duration_s=12).status_code == 200
    assert disposition(tenant, pending, {"consumer_refused": True}).status_code == 200
    assert rows(Refusal, attempt_id=pending) == 1

    other = "+33612345679"
    add_consent(tenant, callee=other)
    for status in ("busy", "no_answer", "not_dialed"):
        attempt = tenant.check(callee=other).json()["attempt_id"]
        assert outcome(tenant, attempt, status).status_code == 200
        for body in ({"consumer_refused": True}, {"consumer_opposed": True}, {}):
            r = disposition(tenant, attempt, body)
            assert r.status_code == 409, (status, body, r.text)
            assert (r.json()["error"], r.json()["recorded_status"]) == ("conflict", status)
            assert "answered" in r.json()["detail"]
        assert rows(Refusal, attempt_id=attempt) == 0
    assert tenant.check(callee=other).json()["decision"] == "allow"
    assert tenant.get("/v1/oppositions").json() == []


def test_an_unknown_or_another_tenants_attempt_is_404(tenant: Tenant, other: Tenant) -> None:
    add_consent(tenant)
    attempt = answered(tenant)
    assert disposition(tenant, "att_does_not_exist", {"consumer_refused": True}).status_code \
        == 404
    r = disposition(other, attempt, {"consumer_refused": True})
    assert (r.status_code, r.json()["error"]) == (404, "not_found")
    assert rows(Refusal, attempt_id=attempt) == 0


def test_only_the_dialer_may_report_it(tenant: Tenant) -> None:
    add_consent(tenant)
    attempt = answered(tenant)
    for role in ("admin", "compliance", "operator"):
        r = disposition(tenant, attempt, {"consumer_refused": True}, role=role)
        assert r.status_code == 403, (role, r.text)
    r = tenant.client.post(f"/v1/calls/{attempt}/disposition", json={"consumer_refused": True})
    assert r.status_code == 401
    assert rows(Refusal, attempt_id=attempt) == 0


MALFORMED = [
    {"consumer_refused": None}, {"consumer_refused": "perhaps"}, {"consumer_opposed": 2},
    {"consumer_refused": True, "status": "answered"}, {"mood": "happy"}, [], None,
]


def test_a_malformed_body_is_422_and_changes_nothing(tenant: Tenant) -> None:
    add_consent(tenant)
    attempt = answered(tenant)
    statuses = [disposition(tenant, attempt, body).status_code for body in MALFORMED]
    assert statuses == [422] * len(MALFORMED)
    assert rows(Refusal, attempt_id=attempt) == 0
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"


def test_a_disposition_after_the_outcome_was_sealed_keeps_the_ledger_verifiable(
    tenant: Tenant, freeze: Any
) -> None:
    from app.audit import service as audit

    add_consent(tenant)
    attempt = answered(tenant)
    freeze("2026-11-23T10:40:00+01:00")  # the agent's wrap-up took 10 minutes
    assert audit.seal() is not None
    assert disposition(tenant, attempt, {"consumer_refused": True}).status_code == 200
    got = tenant.get("/v1/audit/verify").json()
    assert got["ok"], got["first_broken"]
