"""Issue 11: outcomes exactly once, ``external_id`` idempotency by request, and the
``dialled_despite_deny`` breach — through the API, on SQLite and PostgreSQL (clock frozen).

The concurrent halves (20 different outcomes at once, replays racing) run against real server
processes in ``tests/integration/test_outcomes_live.py`` and ``test_concurrency.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.alerts.models import Alert, Webhook, WebhookDelivery
from app.calls import service as calls_service
from app.calls.facts import CalleeFacts
from app.calls.models import Attempt, PenaltyLine
from app.db import get_engine
from app.registries.models import Quarantine, Refusal
from rules_fr.numbering import classify
from tests.api.conftest import outcome
from tests.api.test_reports_pdf import PDF_PATH, WEEK, pdf_text
from tests.factories import (
    CALLEE,
    CANVASSING_CLI,
    GEOGRAPHIC_CLI,
    Tenant,
    add_campaign,
    add_consent,
)

_a = Attempt.__table__


def summary(t: Tenant) -> dict[str, Any]:
    r = t.get("/v1/reports/summary")
    assert r.status_code == 200, r.text
    return r.json()


def count(table: Any, **where: Any) -> int:
    with get_engine().connect() as conn:
        return conn.execute(
            select(func.count()).select_from(table)
            .where(*(table.c[k] == v for k, v in where.items()))
        ).scalar_one()


# --- idempotency: external_id + the normalised request ----------------------------------------


BASE = {"campaign": "spring-2026", "callee": CALLEE, "caller_id": CANVASSING_CLI,
        "agent_id": "agent-7", "contract_ref": None, "callee_department": "75"}

#: the same request written otherwise: each replays the stored attempt
SAME = {
    "callee national, spaced": {"callee": "06 12 34 56 78"},
    "callee 0033": {"callee": "0033612345678"},
    "callee dotted": {"callee": "06.12.34.56.78"},
    "caller_id national": {"caller_id": "01 62 00 00 01"},
    "caller_id padded": {"caller_id": "  +33162000001 "},
}

#: another request under the same external_id: 409 naming exactly these fields
DIFFERENT = {
    "another callee": ({"callee": "06 98 76 54 32"}, ["callee"]),
    "another caller_id": ({"caller_id": GEOGRAPHIC_CLI}, ["caller_id"]),
    "no caller_id": ({"caller_id": None}, ["caller_id"]),
    "blank caller_id": ({"caller_id": "   "}, ["caller_id"]),
    "another agent": ({"agent_id": "agent-8"}, ["agent_id"]),
    "no agent": ({"agent_id": None}, ["agent_id"]),
    "a contract_ref": ({"contract_ref": "CTR-1"}, ["contract_ref"]),
    "another department": ({"callee_department": "974"}, ["callee_department"]),
    "no department": ({"callee_department": None}, ["callee_department"]),
    "another campaign": ({"campaign": "autumn"}, ["campaign"]),
    "unparsable callee": ({"callee": "not a number"}, ["callee"]),
    "callee and agent": ({"callee": "+33698765432", "agent_id": None}, ["callee", "agent_id"]),
}


def check(t: Tenant, external_id: str, **changes: Any) -> Any:
    return t.post("/v1/calls/check", BASE | changes | {"external_id": external_id},
                  role="dialer")


def test_the_same_request_in_other_forms_replays_the_stored_attempt(tenant: Tenant) -> None:
    add_consent(tenant)
    first = check(tenant, "dialer-1").json()
    assert (first["decision"], first["replayed"]) == ("allow", False)
    wrong = {}
    for name, changes in SAME.items():
        r = check(tenant, "dialer-1", **changes)
        if r.status_code != 200 or r.json() != first | {"replayed": True}:
            wrong[name] = (r.status_code, r.text[:300])
    assert wrong == {}
    assert summary(tenant)["total"] == 1  # counted once


def test_another_request_under_the_same_external_id_is_409_naming_what_differs(
    tenant: Tenant,
) -> None:
    add_campaign(tenant, "autumn")
    add_consent(tenant)
    first = check(tenant, "dialer-2").json()
    wrong = {}
    for name, (changes, differs) in DIFFERENT.items():
        r = check(tenant, "dialer-2", **changes)
        body = r.json()
        expected = {"error": "idempotency_conflict", "differs": differs,
                    "attempt_id": first["attempt_id"]}
        if r.status_code != 409 or {k: body.get(k) for k in expected} != expected \
                or not body.get("detail") or "decision" in body:
            wrong[name] = (r.status_code, body)
    assert wrong == {}
    # nothing was logged, and the stored attempt still replays
    assert summary(tenant)["total"] == 1
    assert check(tenant, "dialer-2").json() == first | {"replayed": True}


def test_an_unparsable_callee_is_compared_as_sent(tenant: Tenant) -> None:
    first = check(tenant, "dialer-3", callee=" 12-AB ").json()
    assert first["decision"] == "deny"
    assert check(tenant, "dialer-3", callee="12-AB").json()["replayed"] is True
    r = check(tenant, "dialer-3", callee="12-AC")
    assert (r.status_code, r.json()["differs"]) == (409, ["callee"])


def test_an_attempt_stored_before_fingerprints_is_compared_column_by_column(
    tenant: Tenant,
) -> None:
    """Rows from before revision 0006: no fingerprint, no département."""
    add_consent(tenant)
    first = check(tenant, "legacy-1").json()
    with get_engine().begin() as conn:
        conn.execute(update(_a).where(_a.c.id == first["attempt_id"])
                     .values(request_fingerprint=None, callee_department=None))
    assert check(tenant, "legacy-1", callee="06 12 34 56 78").json()["replayed"] is True
    # the département was not stored then: not compared
    assert check(tenant, "legacy-1", callee_department="13").json()["replayed"] is True
    r = check(tenant, "legacy-1", callee="+33698765432", caller_id=GEOGRAPHIC_CLI)
    assert (r.status_code, r.json()["differs"]) == (409, ["callee", "caller_id"])


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, 200), ({"callee": "06 12 34 56 78"}, 200), ({"callee": "+33698765432"}, 409),
], ids=["same", "same-other-form", "other-callee"])
def test_the_race_path_compares_the_request_too(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any], expected: int,
) -> None:
    """A concurrent check with the same external_id that the facts query did not see yet:
    the insert hits the unique (tenant, external_id) and the IntegrityError branch answers —
    a replay only for the same request."""
    add_consent(tenant)
    add_consent(tenant, callee="+33698765432")
    first = check(tenant, "race-1").json()
    real = calls_service.facts_of_rows

    def unseen(rows: Any) -> CalleeFacts:  # as if the winner had not committed
        found = real(rows)
        return CalleeFacts(**{f: getattr(found, f) for f in found.__slots__}
                           | {"existing_attempt_id": None})

    # both paths read the facts through this one function (PostgreSQL's pipelined one too)
    monkeypatch.setattr(calls_service, "facts_of_rows", unseen)
    r = check(tenant, "race-1", **changes)
    assert r.status_code == expected, r.text
    if expected == 200:
        assert r.json() == first | {"replayed": True}
    else:
        assert r.json()["error"] == "idempotency_conflict"
        assert r.json()["differs"] == ["callee"]
    assert summary(tenant)["total"] == 1


# --- outcomes exactly once --------------------------------------------------------------------


def test_a_replayed_outcome_answers_the_stored_one_and_a_different_one_is_409(
    tenant: Tenant,
) -> None:
    add_consent(tenant)
    attempt = tenant.check(callee=CALLEE).json()["attempt_id"]
    first = outcome(tenant, attempt, "failed", sip_code=404)
    assert first.status_code == 200, first.text
    assert first.json()["penalties"] == [{"code": "CALLEE_UNASSIGNED", "amount_eur": "0.02"}]
    again = outcome(tenant, attempt, "failed", sip_code=404)
    assert (again.status_code, again.json()) == (200, first.json())
    for body in ({"status": "unassigned"}, {"status": "failed", "sip_code": 410},
                 {"status": "answered", "duration_s": 3}):
        r = tenant.post(f"/v1/calls/{attempt}/outcome", body, role="dialer")
        assert r.status_code == 409, (body, r.text)
        assert r.json()["error"] == "conflict" and r.json()["detail"]
        assert r.json()["recorded_status"] == "failed"
    # charged once, quarantined once
    assert count(PenaltyLine.__table__, attempt_id=attempt, code="CALLEE_UNASSIGNED") == 1
    assert count(Quarantine.__table__, attempt_id=attempt) == 1
    assert tenant.get(f"/v1/calls/{attempt}", role="dialer").json()["outcome_status"] == "failed"


def test_the_database_refuses_a_second_penalty_quarantine_or_refusal(tenant: Tenant) -> None:
    """Enforced by the schema, not only by the service."""
    add_consent(tenant)
    attempt = tenant.check(callee=CALLEE).json()["attempt_id"]
    assert outcome(tenant, attempt, "unassigned").status_code == 200
    at = datetime.now(UTC)
    seconds = {
        "penalty line of the same code": insert(PenaltyLine.__table__).values(
            tenant_id=tenant.id, attempt_id=attempt, code="CALLEE_UNASSIGNED",
            amount_micros=20_000, created_at=at),
        "quarantine": insert(Quarantine.__table__).values(
            id="qua_second", tenant_id=tenant.id, callee=CALLEE, until=at, attempt_id=attempt,
            created_at=at),
    }
    refused = tenant.check(callee="+33698765432").json()["attempt_id"]
    add_consent(tenant, callee="+33698765432")
    assert outcome(tenant, refused, "answered", duration_s=5,
                   consumer_refused=True).status_code == 200
    seconds["refusal"] = insert(Refusal.__table__).values(
        id="ref_second", tenant_id=tenant.id, callee="+33698765432", refused_at=at,
        attempt_id=refused)
    accepted = []
    for name, statement in seconds.items():
        try:
            with get_engine().begin() as conn:
                conn.execute(statement)
        except IntegrityError:
            continue
        accepted.append(name)
    assert accepted == []
    # another code on the same attempt is a different line: allowed
    with get_engine().begin() as conn:
        conn.execute(insert(PenaltyLine.__table__).values(
            tenant_id=tenant.id, attempt_id=attempt, code="OTHER", amount_micros=1,
            created_at=at))


# --- dialled despite deny ---------------------------------------------------------------------


def add_webhook_row(t: Tenant) -> str:
    """A webhook stored as is (its URL never called here: only the queued delivery is read)."""
    with get_engine().begin() as conn:
        conn.execute(insert(Webhook.__table__).values(
            id="whk_breach", tenant_id=t.id, url="https://hooks.example.test/gateway",
            secret="whsec_test", active=True,
            created_at=datetime.now(UTC),
            description=None))
    return "whk_breach"


def breach_alerts(t: Tenant) -> list[dict[str, Any]]:
    r = t.get("/v1/alerts", role="admin", params={"monitor": "dialled_despite_deny"})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_an_outcome_on_a_denied_attempt_is_flagged_counted_and_alerted(tenant: Tenant) -> None:
    hook = add_webhook_row(tenant)
    denied = tenant.check(callee=CALLEE).json()  # opt-in regime, no consent: denied
    assert denied["decision"] == "deny"
    r = outcome(tenant, denied["attempt_id"], "answered", duration_s=20)
    assert r.status_code == 200, r.text
    assert r.json()["dialled_despite_deny"] is True
    stored = tenant.get(f"/v1/calls/{denied['attempt_id']}", role="dialer").json()
    assert (stored["outcome_status"], stored["dialled_despite_deny"]) == ("answered", True)
    # a replay of the same outcome: the same answer, no second alert
    assert outcome(tenant, denied["attempt_id"], "answered", duration_s=20).json() == r.json()

    s = summary(tenant)
    assert s["dialled_despite_deny"] == 1
    assert s["by_campaign"]["spring-2026"]["dialled_despite_deny"] == 1
    alerts = breach_alerts(tenant)
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert["action"], alert["scope"]) == ("notice", "campaign:spring-2026")
    assert alert["details"]["attempt_id"] == denied["attempt_id"]
    assert alert["details"]["outcome_status"] == "answered"
    assert alert["details"]["reason_codes"] == [c["code"] for c in denied["reasons"]]
    # queued for the tenant's webhook, in the outcome's transaction
    assert count(WebhookDelivery.__table__, alert_id=alert["id"], webhook_id=hook) == 1


@pytest.mark.parametrize(("consent", "status", "flagged"), [
    (False, "not_dialed", False),  # denied and not dialled: what the dialer should do
    (False, "no_answer", True),
    (False, "unassigned", True),
    (True, "answered", False),  # allowed: no breach
], ids=["denied-not-dialed", "denied-no-answer", "denied-unassigned", "allowed-answered"])
def test_only_a_dialled_denied_attempt_is_a_breach(
    tenant: Tenant, consent: bool, status: str, flagged: bool,
) -> None:
    if consent:
        add_consent(tenant)
    attempt = tenant.check(callee=CALLEE).json()
    assert attempt["decision"] == ("allow" if consent else "deny")
    r = outcome(tenant, attempt["attempt_id"], status)
    assert r.status_code == 200, r.text
    assert r.json()["dialled_despite_deny"] is flagged
    assert summary(tenant)["dialled_despite_deny"] == int(flagged)
    assert len(breach_alerts(tenant)) == int(flagged)


def test_a_conflicting_outcome_raises_no_alert(tenant: Tenant) -> None:
    attempt = tenant.check(callee=CALLEE).json()["attempt_id"]
    assert outcome(tenant, attempt, "not_dialed").status_code == 200
    assert outcome(tenant, attempt, "answered", duration_s=9).status_code == 409
    assert tenant.get(f"/v1/calls/{attempt}", role="dialer").json()["dialled_despite_deny"] \
        is False
    assert breach_alerts(tenant) == []
    assert count(Alert.__table__, tenant_id=tenant.id) == 0


def test_the_pdf_report_counts_the_breaches_in_its_totals(tenant: Tenant) -> None:
    for n, status in enumerate(("answered", "no_answer", "not_dialed")):
        attempt = tenant.check(callee=f"+3361234560{n}").json()  # no consent: denied
        body = {"status": status} | ({"duration_s": 30} if status == "answered" else {})
        assert tenant.post(f"/v1/calls/{attempt['attempt_id']}/outcome", body,
                           role="dialer").status_code == 200
    r = tenant.get(PDF_PATH, params=WEEK)
    assert r.status_code == 200, r.text[:300]
    text = pdf_text(r.content)
    label = ("Appels composés malgré un refus de la passerelle (manquement ; sur 3 tentatives "
             "refusées)")
    assert label in text, text[:3000]
    after = text[text.index(label) + len(label):].split()
    assert after[:3] == ["2", "66,7", "%"], after[:5]  # two of the three denied were dialled


# --- the invariant, over many forms ----------------------------------------------------------

#: forms of two callees and two caller IDs, and values of the other fields
CALLEE_FORMS = ["06 12 34 56 78", "+33612345678", "0033612345678", "06-12-34-56-78",
                "06 98 76 54 32", "+33698765432", "garbage", " garbage "]
CALLER_FORMS = [None, "", "  ", CANVASSING_CLI, "01 62 00 00 01", GEOGRAPHIC_CLI]
requests = st.fixed_dictionaries({
    "callee": st.sampled_from(CALLEE_FORMS), "caller_id": st.sampled_from(CALLER_FORMS),
    "agent_id": st.sampled_from([None, "agent-1", "agent-2"]),
    "contract_ref": st.sampled_from([None, "CTR-1"]),
    "callee_department": st.sampled_from([None, "75", "974"]),
})


def _norm(body: dict[str, Any]) -> dict[str, Any]:
    """The normalisation the README documents, written out independently of the service."""
    def number(raw: str | None) -> str | None:
        if raw is None or not raw.strip():
            return None
        return classify(raw).e164 or raw.strip()
    return body | {"callee": number(body["callee"]) or body["callee"].strip(),
                   "caller_id": number(body["caller_id"])}


_seq = iter(range(10**9))


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(first=requests, second=requests)
def test_a_replay_is_answered_iff_the_normalised_requests_are_equal(
    tenant: Tenant, first: dict[str, Any], second: dict[str, Any],
) -> None:
    key = f"prop-{next(_seq)}"
    one = tenant.post("/v1/calls/check", first | {"campaign": "spring-2026", "external_id": key},
                      role="dialer")
    assert one.status_code == 200, one.text
    two = tenant.post("/v1/calls/check", second | {"campaign": "spring-2026",
                                                    "external_id": key}, role="dialer")
    a, b = _norm(first), _norm(second)
    differs = [f for f in ("callee", "caller_id", "agent_id", "contract_ref",
                           "callee_department") if a[f] != b[f]]
    if not differs:
        assert two.status_code == 200, two.text
        assert two.json() == one.json() | {"replayed": True}
    else:
        assert two.status_code == 409, (first, second, two.text)
        assert two.json()["differs"] == differs


def test_fingerprints_stay_what_they_were() -> None:
    """Stored fingerprints must keep matching: the fingerprint is sha256 of
    ``[version, *fields in FIELDS order]`` as compact JSON, every field of ``Request`` in it
    (it is built field by field for speed: a field added to ``Request`` must be added there)."""
    import hashlib
    import json
    from dataclasses import astuple, fields

    from app.calls.idempotency import _VERSION, FIELDS, Request

    assert tuple(f.name for f in fields(Request)) == FIELDS
    for values in (("c", "+33612345678", "+33162000001", None, None, None),
                   ("camp é", "06 12 34", None, "agent", "C-1", "2A")):
        request = Request(*values)
        payload = json.dumps([_VERSION, *astuple(request)], ensure_ascii=False,
                             separators=(",", ":"))
        assert request.fingerprint() == hashlib.sha256(payload.encode()).hexdigest()
    # the value stored for this request since revision 0006 (any change breaks every replay)
    assert Request("c", "+33612345678", None, None, None, None).fingerprint() == (
        hashlib.sha256(b'[1,"c","+33612345678",null,null,null,null]').hexdigest())
