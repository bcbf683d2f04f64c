"""One instant format in every answer (issue 11, item 12): ISO 8601, whole seconds, a numeric
offset — the contract's ``2026-11-23T10:30:00+01:00`` — whatever produced the value (a service
building a dict, a response model, the CSV/JSONL export), on SQLite and PostgreSQL. The clock
is frozen at an instant with microseconds, so a value printed with its fraction, or with
pydantic's ``Z``, fails."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.factories import CALLEE, Tenant, add_consent, make_tenant

INSTANT_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?")
ONE_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}")


def instants(text: str) -> list[str]:
    return INSTANT_LIKE.findall(text)


def test_every_instant_in_every_answer_has_one_format(
        client: Any, freeze: Callable[[str], None]) -> None:
    freeze("2026-11-23T10:30:00.123456+01:00")  # a Monday, in business hours, with a fraction
    t: Tenant = make_tenant(client, "Acme")
    add_consent(t)
    checked = t.check(callee=CALLEE, external_id="x-1")
    attempt = checked.json()["attempt_id"]
    outcome = t.post(f"/v1/calls/{attempt}/outcome", {"status": "answered", "duration_s": 30},
                     role="dialer")
    t.post("/v1/contracts", {"callee": CALLEE, "reference": "C1", "sector": "general",
                             "starts_on": "2026-01-01", "ends_on": None})
    t.post("/v1/oppositions", {"callee": "+33612345679", "source": "letter"})
    answers = {
        "check": checked, "outcome": outcome,
        "replay": t.check(callee=CALLEE, external_id="x-1"),
        "evaluate": t.evaluate(callee=CALLEE, at="2026-11-21T10:00:00.5+01:00"),
        "attempt": t.get(f"/v1/calls/{attempt}", role="dialer"),
        "history": t.get(f"/v1/numbers/{CALLEE}/history"),
        "next-window": t.get(f"/v1/numbers/{CALLEE}/next-window?campaign=spring-2026",
                             role="dialer"),
        "consents": t.get("/v1/consents", params={"callee": CALLEE}),
        "summary": t.get("/v1/reports/summary"),
        "export csv": t.get("/v1/reports/attempts?format=csv"),
        "export jsonl": t.get("/v1/reports/attempts?format=jsonl"),
        "verify": t.get("/v1/audit/verify"),
        "monitors": t.get("/v1/monitors"),
        "keys": t.get(f"/v1/tenants/{t.id}/keys", role="admin"),
        "caller-ids (operator)": t.get("/v1/caller-ids/all", role="operator"),
        "bloctel": t.get("/v1/bloctel", role="operator"),
    }
    seen = 0
    for name, r in answers.items():
        assert r.status_code in (200, 201), (name, r.text)
        for value in instants(r.text):
            seen += 1
            assert ONE_FORMAT.fullmatch(value), f"{name}: {value!r}"
    assert seen >= 15  # the survey looked at real instants, not at empty answers
    # a call's own instants are in the callee's zone, the others in UTC
    assert checked.json()["checked_at"] == "2026-11-23T10:30:00+01:00"
    assert outcome.json()["recorded_at"] == "2026-11-23T09:30:00+00:00"
