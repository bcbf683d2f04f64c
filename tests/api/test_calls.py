"""/v1/calls/check, /evaluate and /outcome, as the contract describes them (clock frozen).

Big tables run in one test (one tenant) and collect every mismatching row, so that a failure
lists all the offending cases at once; scenarios with their own state are parametrised.
"""

from __future__ import annotations

from typing import Any

from tests.api.conftest import (
    CONTRACT_DECISION_FIELDS,
    MONDAY,
    aware,
    blocking,
    codes,
    outcome,
)
from tests.factories import CALLEE, CANVASSING_CLI, Tenant, add_campaign, add_consent

CHECK, EVALUATE = "/v1/calls/check", "/v1/calls/evaluate"


def summary_total(t: Tenant) -> int:
    return t.get("/v1/reports/summary").json()["total"]


# --- the answer's shape -------------------------------------------------------------------


def test_check_answers_with_the_contract_shape(tenant: Tenant, freeze) -> None:
    add_consent(tenant)
    freeze("2026-11-23T09:59:00+01:00")
    r = tenant.check(callee="06 12 34 56 78", agent_id=None, contract_ref=None,
                     external_id="dialer-call-7f3a")
    assert r.status_code == 200, r.text
    body = r.json()
    for name, kind in CONTRACT_DECISION_FIELDS.items():
        assert isinstance(body[name], kind), (name, body[name])
    assert body["attempt_id"]
    assert body["decision"] == "deny"
    assert body["callee"] == "+33612345678"
    assert body["callee_time_zone"] == "Europe/Paris"
    assert body["regime"] == "opt_in"
    assert body["checked_at"] == "2026-11-23T09:59:00+01:00"
    assert [(r["code"], r["severity"]) for r in body["reasons"]] == [("OUTSIDE_HOURS", "block")]
    reason = body["reasons"][0]
    assert set(reason) >= {"code", "severity", "legal_basis", "message"}
    assert all(isinstance(reason[k], str) and reason[k] for k in reason)
    assert "D223-9" in reason["legal_basis"]
    assert body["penalty_eur"] == "0.02"
    assert body["next_allowed_at"] == "2026-11-23T10:00:00+01:00"


def test_allowed_call_with_consent_on_a_monday_morning(tenant: Tenant) -> None:
    add_consent(tenant)
    body = tenant.check(callee="06 12 34 56 78").json()
    assert body["decision"] == "allow"
    assert blocking(body) == []
    assert body["penalty_eur"] == "0.00"
    assert body["next_allowed_at"] is None
    assert body["checked_at"] == "2026-11-23T10:30:00+01:00"
    assert body["attempt_id"]


def test_overseas_callee_is_judged_in_its_own_time_zone(tenant: Tenant) -> None:
    add_consent(tenant, callee="0692 12 34 56")
    # 10:30 in Paris is 13:30 in Réunion (UTC+4): the lunch break there
    body = tenant.check(callee="0692 12 34 56").json()
    assert (body["callee"], body["callee_time_zone"]) == ("+262692123456", "Indian/Reunion")
    assert body["checked_at"] == "2026-11-23T13:30:00+04:00"
    assert (body["decision"], codes(body)) == ("deny", ["OUTSIDE_HOURS"])
    assert body["next_allowed_at"] == "2026-11-23T14:00:00+04:00"


def test_no_consent_in_the_opt_in_regime_is_denied(tenant: Tenant) -> None:
    body = tenant.check(callee=CALLEE).json()
    assert (body["decision"], codes(body)) == ("deny", ["CONSENT_REQUIRED"])
    assert body["penalty_eur"] == "0.02"
    assert body["next_allowed_at"] is None  # no waiting makes a consent appear


TIME_DENIALS = [
    ("2026-11-23T09:59:00+01:00", "OUTSIDE_HOURS", "2026-11-23T10:00:00+01:00"),
    ("2026-11-23T13:00:00+01:00", "OUTSIDE_HOURS", "2026-11-23T14:00:00+01:00"),
    ("2026-11-23T20:00:00+01:00", "OUTSIDE_HOURS", "2026-11-24T10:00:00+01:00"),
    ("2026-11-28T11:00:00+01:00", "WEEKEND", "2026-11-30T10:00:00+01:00"),
    ("2026-12-25T11:00:00+01:00", "PUBLIC_HOLIDAY", "2026-12-28T10:00:00+01:00"),
]


def test_time_based_denials_say_when_to_call_back(tenant: Tenant, freeze) -> None:
    add_consent(tenant)
    wrong = {}
    for now, code, next_allowed_at in TIME_DENIALS:
        freeze(now)
        body = tenant.check(callee=CALLEE).json()
        got = (body["decision"], codes(body), body["checked_at"], body["next_allowed_at"])
        if got != ("deny", [code], now, next_allowed_at):
            wrong[now] = got
    assert wrong == {}


CALLEE_FORMS = [
    "06 12 34 56 78", "0612345678", "06.12.34.56.78", "06-12-34-56-78", "+33612345678",
    "+33 6 12 34 56 78", "0033 6 12 34 56 78", "+33 (0)6 12 34 56 78",
]


def test_callee_in_national_or_e164_form_is_the_same_consumer(tenant: Tenant) -> None:
    add_consent(tenant, callee="+33612345678")
    got = {raw: tenant.evaluate(callee=raw).json() for raw in CALLEE_FORMS}
    wrong = {raw: (b["callee"], b["decision"]) for raw, b in got.items()
             if (b["callee"], b["decision"]) != ("+33612345678", "allow")}
    assert wrong == {}


INVALID_CALLEES = [
    "", "   ", "not a number", "33612345678", "12345678901", "+33 6 12", "0612345678901",
    "06 12 34 56 7x", "☎ 06 12 34 56 78", '=HYPERLINK("http://x")', "+" + "9" * 60,
]


def test_invalid_callee_is_a_logged_and_penalised_denial_not_a_422(tenant: Tenant) -> None:
    wrong = {}
    for raw in INVALID_CALLEES:
        r = tenant.check(callee=raw)
        if r.status_code != 200:
            wrong[raw] = r.status_code
            continue
        body = r.json()
        if (body["decision"], blocking(body), body["penalty_eur"]) != (
            "deny", ["CALLEE_INVALID"], "0.02"
        ) or not body["attempt_id"]:
            wrong[raw] = body
            continue
        # logged: the attempt can be read back by its id
        again = tenant.get(f"/v1/calls/{body['attempt_id']}", role="dialer")
        if again.status_code != 200 or again.json()["decision"] != "deny":
            wrong[raw] = again.text
    assert wrong == {}
    summary = tenant.get("/v1/reports/summary").json()
    n = len(INVALID_CALLEES)
    assert (summary["total"], summary["denied"]) == (n, n)
    assert summary["by_reason"]["CALLEE_INVALID"] == n
    assert summary["penalty_eur"] == f"{0.02 * n:.2f}"


def test_unknown_campaign_is_404(tenant: Tenant) -> None:
    for path in (CHECK, EVALUATE):
        r = tenant.post(path, {"campaign": "no-such-campaign", "callee": CALLEE,
                               "caller_id": CANVASSING_CLI}, role="dialer")
        assert r.status_code == 404, (path, r.text)
    assert summary_total(tenant) == 0


VALID = {"campaign": "spring-2026", "callee": CALLEE, "caller_id": CANVASSING_CLI}

MALFORMED: dict[str, Any] = {
    "empty object": {},
    "no campaign": {"callee": CALLEE, "caller_id": CANVASSING_CLI},
    "no callee": {"campaign": "spring-2026", "caller_id": CANVASSING_CLI},
    "callee int": VALID | {"callee": 612345678},
    "callee null": VALID | {"callee": None},
    "callee list": VALID | {"callee": ["06 12 34 56 78"]},
    "campaign object": VALID | {"campaign": {"id": "spring-2026"}},
    "caller_id int": VALID | {"caller_id": 33162000001},
    "external_id bool": VALID | {"external_id": True},
    "agent_id object": VALID | {"agent_id": {}},
    "extra field": VALID | {"colour": "blue"},
    "huge callee": VALID | {"callee": "0" * 10_000},
    "huge caller_id": VALID | {"caller_id": "1" * 10_000},
    "huge campaign": VALID | {"campaign": "x" * 10_000},
    "huge external_id": VALID | {"external_id": "e" * 10_000},
    "huge agent_id": VALID | {"agent_id": "a" * 10_000},
    "huge contract_ref": VALID | {"contract_ref": "c" * 10_000},
    "json array": [VALID],
    "json string": "spring-2026",
    "json number": 42,
    "json null": None,
}


def test_malformed_body_is_422_never_a_decision_nor_a_500(tenant: Tenant) -> None:
    wrong = {}
    for path in (CHECK, EVALUATE):
        for name, body in MALFORMED.items():
            r = tenant.post(path, body, role="dialer")
            if r.status_code != 422 or r.json().get("error") != "invalid":
                wrong[f"{path} {name}"] = (r.status_code, r.text[:200])
    r = tenant.check(**VALID, at=MONDAY)  # "at" belongs to evaluate only
    if r.status_code != 422:
        wrong["check with at"] = r.status_code
    assert wrong == {}
    assert summary_total(tenant) == 0


HOSTILE = {
    "empty": b"",
    "not json": b"not json",
    "truncated": b'{"campaign": "spring-2026",',
    "binary": b"\xff\xfe\x00garbage",
    "deep nesting": b"[" * 50_000 + b"]" * 50_000,
    "lone surrogate callee": b'{"campaign": "spring-2026", "callee": "\\ud800", '
                             b'"caller_id": "+33162000001"}',
    "NUL in callee": b'{"campaign": "spring-2026", "callee": "06\\u0000", '
                     b'"caller_id": "+33162000001"}',
    "NUL caller_id": b'{"campaign": "spring-2026", "callee": "0612345678", '
                     b'"caller_id": "\\u0000"}',
    "NUL in campaign": b'{"campaign": "spring\\u0000", "callee": "0612345678", '
                       b'"caller_id": "+33162000001"}',
    "NUL in external_id": b'{"campaign": "spring-2026", "callee": "0612345678", '
                          b'"external_id": "\\u0000"}',
    "NUL in agent_id": b'{"campaign": "spring-2026", "callee": "0612345678", '
                       b'"caller_id": "+33162000001", "agent_id": "a\\u0000"}',
}


def test_hostile_bytes_never_cause_a_500(tenant: Tenant) -> None:
    wrong = {}
    for path in (CHECK, EVALUATE):
        for name, content in HOSTILE.items():
            r = tenant.client.post(path, content=content, headers={
                "Authorization": f"Bearer {tenant.dialer}", "Content-Type": "application/json",
            })
            # FastAPI answers 400 when the JSON parser itself gives up (recursion limit)
            parser_gave_up = name == "deep nesting" and r.status_code == 400
            ok = r.status_code in (404, 422) or parser_gave_up or (
                r.status_code == 200 and r.json()["decision"] == "deny"
            )
            if not ok:
                wrong[f"{path} {name}"] = (r.status_code, r.text[:200])
    assert wrong == {}


# --- idempotency, evaluate, frequency ------------------------------------------------------


def test_external_id_makes_the_check_idempotent(tenant: Tenant, other: Tenant) -> None:
    add_consent(tenant)
    first = tenant.check(callee=CALLEE, external_id="dialer-call-7f3a").json()
    again = [tenant.check(callee=CALLEE, external_id="dialer-call-7f3a").json()
             for _ in range(3)]
    assert first["replayed"] is False
    assert {a["attempt_id"] for a in again} == {first["attempt_id"]}
    assert [a["replayed"] for a in again] == [True, True, True]
    assert [a["decision"] for a in again] == ["allow"] * 3
    assert summary_total(tenant) == 1
    stored = tenant.get(f"/v1/calls/{first['attempt_id']}", role="dialer").json()
    assert stored == first | {"outcome_status": None, "dialled_despite_deny": False}
    # counted once: three more distinct attempts are allowed, the next one is the 5th
    for n in range(3):
        assert tenant.check(callee=CALLEE, external_id=f"call-{n}").json()["decision"] == "allow"
    assert codes(tenant.check(callee=CALLEE, external_id="call-5").json()) == ["FREQUENCY_LIMIT"]
    # replaying the first id still answers the first decision, not a new one
    replay = tenant.check(callee=CALLEE, external_id="dialer-call-7f3a").json()
    assert (replay["attempt_id"], replay["decision"]) == (first["attempt_id"], "allow")
    assert summary_total(tenant) == 5
    # external ids belong to a tenant: another tenant's same id is another attempt
    theirs = other.check(callee=CALLEE, external_id="dialer-call-7f3a").json()
    assert theirs["attempt_id"] != first["attempt_id"]
    assert theirs["replayed"] is False


def test_fifth_attempt_in_30_days_is_frequency_limit(tenant: Tenant) -> None:
    add_consent(tenant)
    for _ in range(4):
        assert tenant.check(callee=CALLEE).json()["decision"] == "allow"
    fifth = tenant.check(callee="06 12 34 56 78").json()
    assert (fifth["decision"], codes(fifth)) == ("deny", ["FREQUENCY_LIMIT"])
    assert fifth["penalty_eur"] == "0.02"
    # the 4 attempts of 23 Nov leave the window after 22 Dec: back at the next opening
    assert fifth["next_allowed_at"] == "2026-12-23T10:00:00+01:00"
    # denied attempts do not count: a sixth is still only FREQUENCY_LIMIT
    assert codes(tenant.check(callee=CALLEE).json()) == ["FREQUENCY_LIMIT"]
    # frequency is per consumer: another consented number is still allowed
    add_consent(tenant, callee="+33611223344")
    assert tenant.check(callee="+33611223344").json()["decision"] == "allow"


def test_frequency_counts_across_campaigns(tenant: Tenant) -> None:
    add_consent(tenant)
    add_campaign(tenant, "autumn")
    for campaign in ("spring-2026", "autumn", "spring-2026", "autumn"):
        assert tenant.check(callee=CALLEE, campaign=campaign).json()["decision"] == "allow"
    assert codes(tenant.check(callee=CALLEE, campaign="autumn").json()) == ["FREQUENCY_LIMIT"]


def test_evaluate_has_no_side_effects(tenant: Tenant) -> None:
    add_consent(tenant)
    for n in range(6):
        body = tenant.evaluate(callee=CALLEE, external_id=f"plan-{n}").json()
        assert (body["attempt_id"], body["decision"], body["penalty_eur"]) == (
            None, "allow", "0.00")
    denied = tenant.evaluate(callee="not a number").json()
    assert (denied["attempt_id"], denied["decision"], denied["penalty_eur"]) == (
        None, "deny", "0.02")
    summary = tenant.get("/v1/reports/summary").json()
    assert (summary["total"], summary["penalty_eur"]) == (0, "0.00")
    assert tenant.get("/v1/reports/attempts", params={"format": "jsonl"}).text.strip() == ""
    # evaluations did not count: four real attempts are still allowed
    for _ in range(4):
        assert tenant.check(callee=CALLEE).json()["decision"] == "allow"
    # an evaluation does see the real ones
    planned = tenant.evaluate(callee=CALLEE).json()
    assert (planned["attempt_id"], codes(planned)) == (None, ["FREQUENCY_LIMIT"])
    # an evaluation naming a real attempt's external_id does not replay nor create it
    real = tenant.check(callee="+33699999999", external_id="real-1").json()
    ev = tenant.evaluate(callee=CALLEE, external_id="real-1").json()
    assert (ev["attempt_id"], ev["callee"]) == (None, CALLEE)
    assert real["attempt_id"]
    assert summary_total(tenant) == 5


EVALUATE_AT = [
    ("2026-11-23T09:59:00+01:00", "deny", ["OUTSIDE_HOURS"], "opt_in"),
    ("2026-11-23T08:59:00Z", "deny", ["OUTSIDE_HOURS"], "opt_in"),
    ("2026-11-24T19:59:59+01:00", "allow", [], "opt_in"),
    ("2026-11-29T15:00:00+01:00", "deny", ["WEEKEND"], "opt_in"),
    ("2026-11-11T15:00:00+01:00", "deny", ["PUBLIC_HOLIDAY"], "opt_in"),
    # before the consent was given (2026-09-01): not covered
    ("2026-08-31T15:00:00+02:00", "deny", ["CONSENT_REQUIRED"], "opt_in"),
    # before 2026-08-11 the BLOCTEL regime applies (and no list was ever imported)
    ("2026-06-15T15:00:00+02:00", "deny", ["BLOCTEL_LIST_MISSING"], "opt_out"),
]


def test_evaluate_judges_the_given_instant(tenant: Tenant) -> None:
    add_consent(tenant)
    wrong = {}
    for at, decision, expected, regime in EVALUATE_AT:
        body = tenant.evaluate(callee=CALLEE, at=at).json()
        got = (body["decision"], blocking(body), body["regime"], body["attempt_id"])
        if got != (decision, expected, regime, None) or aware(body["checked_at"]) != aware(at):
            wrong[at] = (got, body["checked_at"])
    assert wrong == {}
    assert summary_total(tenant) == 0


def test_evaluate_rejects_an_instant_without_offset_or_unparsable(tenant: Tenant) -> None:
    bad = ["2026-11-23T10:30:00", "2026-11-23", "tomorrow", "2026-13-01T10:00:00Z", [2026], {}]
    statuses = {str(at): tenant.evaluate(callee=CALLEE, at=at).status_code for at in bad}
    assert statuses == {str(at): 422 for at in bad}


# --- outcomes -----------------------------------------------------------------------------


def test_not_dialed_releases_the_attempt_from_the_count(tenant: Tenant) -> None:
    add_consent(tenant)
    ids = [tenant.check(callee=CALLEE).json()["attempt_id"] for _ in range(4)]
    r = outcome(tenant, ids[2], "not_dialed")
    assert r.status_code == 200, r.text
    assert r.json()["counted_for_frequency"] is False
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"
    assert codes(tenant.check(callee=CALLEE).json()) == ["FREQUENCY_LIMIT"]


def test_dialled_outcomes_keep_the_attempt_counted(tenant: Tenant) -> None:
    add_consent(tenant)
    statuses = ("answered", "no_answer", "busy", "failed")
    for status in statuses:
        attempt = tenant.check(callee=CALLEE).json()["attempt_id"]
        r = outcome(tenant, attempt, status)
        assert (r.status_code, r.json()["counted_for_frequency"]) == (200, True), status
    assert codes(tenant.check(callee=CALLEE).json()) == ["FREQUENCY_LIMIT"]


def test_outcome_is_idempotent_and_a_conflicting_one_is_409(tenant: Tenant) -> None:
    add_consent(tenant)
    attempt = tenant.check(callee=CALLEE).json()["attempt_id"]
    first = outcome(tenant, attempt, "answered", duration_s=42)
    again = outcome(tenant, attempt, "answered", duration_s=42)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json()
    assert (first.json()["status"], first.json()["duration_s"]) == ("answered", 42)
    conflicting = [
        {"status": "answered", "duration_s": 43},
        {"status": "no_answer"},
        {"status": "not_dialed"},
        {"status": "answered", "duration_s": 42, "consumer_refused": True},
        {"status": "answered", "duration_s": 42, "consumer_opposed": True},
    ]
    statuses = [tenant.post(f"/v1/calls/{attempt}/outcome", body, role="dialer").status_code
                for body in conflicting]
    assert statuses == [409] * len(conflicting)
    # nothing changed: same outcome, still counted, consent intact, no opposition
    row = tenant.get("/v1/reports/attempts", params={"format": "jsonl"}).json()
    assert (row["outcome_status"], row["duration_s"]) == ("answered", 42)
    assert tenant.get("/v1/consents", params={"callee": CALLEE}).json()[0]["revoked_at"] is None
    assert tenant.get("/v1/oppositions").json() == []
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"


MALFORMED_OUTCOMES = [
    {"status": "teleported"}, {"status": "no_answer", "consumer_refused": True},
    {"status": "busy", "consumer_opposed": True}, {"status": "busy", "duration_s": 12},
    {"status": "answered", "duration_s": -1}, {"status": "answered", "duration_s": "long"},
    {"status": "failed", "sip_code": 99}, {"status": "failed", "sip_code": 700},
    {"status": "answered", "mood": "happy"}, {}, [], None,
]


def test_malformed_outcome_is_422_and_changes_nothing(tenant: Tenant) -> None:
    add_consent(tenant)
    attempt = tenant.check(callee=CALLEE).json()["attempt_id"]
    statuses = [tenant.post(f"/v1/calls/{attempt}/outcome", body, role="dialer").status_code
                for body in MALFORMED_OUTCOMES]
    assert statuses == [422] * len(MALFORMED_OUTCOMES)
    # the attempt can still receive its real outcome
    assert outcome(tenant, attempt, "answered", duration_s=3).status_code == 200


def test_outcome_of_an_unknown_attempt_is_404(tenant: Tenant) -> None:
    assert outcome(tenant, "att_does_not_exist", "answered").status_code == 404


UNASSIGNED = [("unassigned", None), ("failed", 404), ("failed", 410), ("failed", 484),
              ("failed", 604), ("rejected", 404)]


def test_unassigned_number_is_penalised_and_quarantined_for_30_days(tenant: Tenant) -> None:
    wrong = {}
    for n, (status, sip_code) in enumerate(UNASSIGNED):
        callee = f"+336123456{n:02d}"
        add_consent(tenant, callee=callee)
        attempt = tenant.check(callee=callee).json()["attempt_id"]
        r = outcome(tenant, attempt, status, sip_code=sip_code)
        if r.status_code != 200 or r.json()["penalties"] != [
            {"code": "CALLEE_UNASSIGNED", "amount_eur": "0.02"}
        ] or r.json()["penalty_eur"] != "0.02":
            wrong[(status, sip_code)] = r.text
            continue
        nxt = tenant.check(callee=callee).json()
        late = tenant.evaluate(callee=callee, at="2026-12-22T10:30:00+01:00").json()
        after = tenant.evaluate(callee=callee, at="2026-12-24T10:30:00+01:00").json()
        got = (nxt["decision"], codes(nxt), nxt["next_allowed_at"],
               "CALLEE_UNASSIGNED" in blocking(late), "CALLEE_UNASSIGNED" in codes(after))
        # quarantined 30 days from the report (23 Nov 10:30): free again on 23 Dec 10:30
        if got != ("deny", ["CALLEE_UNASSIGNED"], "2026-12-23T10:30:00+01:00", True, False):
            wrong[(status, sip_code)] = got
    assert wrong == {}
    summary = tenant.get("/v1/reports/summary").json()
    n = len(UNASSIGNED)
    assert summary["penalties_by_code"]["CALLEE_UNASSIGNED"] == f"{0.02 * n:.2f}"
    assert summary["by_reason"]["CALLEE_UNASSIGNED"] == n


def test_other_failures_do_not_quarantine(tenant: Tenant) -> None:
    add_consent(tenant)
    for status, sip_code in (("failed", 486), ("busy", 486), ("failed", 503)):
        attempt = tenant.check(callee=CALLEE).json()["attempt_id"]
        r = outcome(tenant, attempt, status, sip_code=sip_code)
        assert (r.status_code, r.json()["penalties"]) == (200, []), (status, sip_code)
    assert tenant.check(callee=CALLEE).json()["decision"] == "allow"


def test_consumer_refusal_in_opt_in_withdraws_consent(tenant: Tenant) -> None:
    add_consent(tenant)
    attempt = tenant.check(callee=CALLEE).json()["attempt_id"]
    r = outcome(tenant, attempt, "answered", duration_s=30, consumer_refused=True)
    assert r.status_code == 200, r.text
    nxt = tenant.check(callee=CALLEE).json()
    assert nxt["decision"] == "deny"
    assert sorted(blocking(nxt)) == ["CONSENT_REVOKED", "REFUSAL_COOLDOWN"]
    consent = tenant.get("/v1/consents", params={"callee": CALLEE}).json()[0]
    assert consent["revoked_at"] is not None
    # past the 60 days the consent is still withdrawn: a new consent is needed
    later = tenant.evaluate(callee=CALLEE, at="2027-02-02T10:30:00+01:00").json()
    assert blocking(later) == ["CONSENT_REVOKED"]


def test_consumer_refusal_in_opt_out_is_a_60_day_cooldown(tenant: Tenant, freeze) -> None:
    freeze("2026-06-15T10:30:00+02:00")
    imported = tenant.client.post(
        "/v1/bloctel/imports", params={"mode": "replace", "as_of": "2026-06-10"},
        content=b"0611111111\n", headers={"Authorization": f"Bearer {tenant.operator}"},
    )
    assert imported.status_code == 201, imported.text
    first = tenant.check(callee=CALLEE).json()
    assert (first["regime"], first["decision"]) == ("opt_out", "allow"), first["reasons"]
    outcome(tenant, first["attempt_id"], "answered", duration_s=10, consumer_refused=True)
    nxt = tenant.check(callee=CALLEE).json()
    assert (nxt["decision"], codes(nxt)) == ("deny", ["REFUSAL_COOLDOWN"])
    # the refusal day (15 June) plus 60 full days: blocked on 14 August, free on 15 August
    day_60 = tenant.evaluate(callee=CALLEE, at="2026-08-14T11:00:00+02:00").json()
    assert "REFUSAL_COOLDOWN" in codes(day_60)
    day_61 = tenant.evaluate(callee=CALLEE, at="2026-08-15T11:00:00+02:00").json()
    assert "REFUSAL_COOLDOWN" not in codes(day_61)


def test_consumer_opposed_blocks_every_campaign(tenant: Tenant) -> None:
    add_consent(tenant)
    add_campaign(tenant, "survey", purpose="non_commercial", audience="professionals")
    attempt = tenant.check(callee=CALLEE).json()["attempt_id"]
    r = outcome(tenant, attempt, "answered", duration_s=5, consumer_opposed=True)
    assert r.status_code == 200, r.text
    for campaign in ("spring-2026", "survey"):
        body = tenant.check(callee="06 12 34 56 78", campaign=campaign).json()
        assert body["decision"] == "deny"
        assert "INTERNAL_OPPOSITION" in blocking(body), campaign
    listed = tenant.get("/v1/oppositions", params={"callee": CALLEE}).json()
    assert [o["callee"] for o in listed] == [CALLEE]
