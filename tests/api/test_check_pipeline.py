"""The check's two database paths give the same answers, and a lost database is a 503.

On PostgreSQL the check runs in two pipelined round trips (``app.calls.pipeline``); with
``PIPELINE = False`` each statement is sent and awaited through SQLAlchemy, as before. Every
other test of the suite runs the pipelined path; these run one scenario through both and
compare, on both databases (on SQLite the flag changes nothing: the scenario's expected
answers still hold).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from app.calls import service
from app.calls.models import Attempt
from app.config import get_settings
from app.db import get_engine
from tests.api.conftest import codes
from tests.factories import CALLEE, Tenant, add_campaign, add_consent


def _scenario(t: Tenant, prefix: str) -> list[tuple[str, list[str]]]:
    """Answers (decision, codes) of a scenario touching every part of the facts statement and
    the mobile caller-ID count; callees are ``prefix`` + 2 digits (fresh per run)."""
    consented, opposed, contracted, refused = (f"{prefix}{n:02d}" for n in (1, 2, 3, 4))
    for callee in (consented, opposed, refused):
        add_consent(t, callee=callee)
    assert t.post("/v1/oppositions", {"callee": opposed}).status_code == 201
    r = t.post("/v1/contracts", {"callee": contracted, "reference": f"C-{prefix}",
                                 "sector": "general", "starts_on": "2026-01-01"})
    assert r.status_code == 201, r.text
    answers = []

    def check(callee: str, **kw: Any) -> dict[str, Any]:
        r = t.check(callee=callee, **kw)
        assert r.status_code == 200, r.text
        answers.append((r.json()["decision"], codes(r.json())))
        return r.json()

    for _ in range(5):  # 4 allowed, then the frequency limit
        check(consented)
    check(opposed)
    check(contracted)
    first = check(refused)
    assert t.post(f"/v1/calls/{first['attempt_id']}/outcome",
                  {"status": "answered", "duration_s": 30,
                   "consumer_refused": True}, role="dialer").status_code == 200
    check(refused)
    check(f"{prefix}99")  # no consent at all
    check("06 12 34")  # invalid: no lock, no facts statement
    # the mobile caller ID's daily count (its own statement, pipelined with the facts)
    for i in range(3):
        add_consent(t, callee=f"{prefix}{10 + i}")
        check(f"{prefix}{10 + i}", campaign="agents", caller_id=t.mobile_cli,
              agent_id="agent-1")
    # a replay and a conflict on one external_id
    check(consented, external_id=f"ext-{prefix}")
    replay = t.check(callee=consented, external_id=f"ext-{prefix}")
    assert replay.status_code == 200 and replay.json()["replayed"] is True
    conflict = t.check(callee=refused, external_id=f"ext-{prefix}")
    assert conflict.status_code == 409 and conflict.json()["error"] == "idempotency_conflict"
    return answers


@pytest.mark.parametrize("pipelined_first", [True, False])
def test_both_paths_give_the_same_answers(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch, freeze: Any, pipelined_first: bool
) -> None:
    add_campaign(tenant, "agents", automated=False, caller_ids=[tenant.mobile_cli])
    assert tenant.client.patch("/v1/policy", json={"mobile_daily_cap": 2}, headers={
        "Authorization": f"Bearer {tenant.admin}"}).status_code == 200
    runs = []
    # a day each: the mobile caller ID's count is per day (callees are fresh per run)
    for flag, prefix, day in ((pipelined_first, "+336123450", "2026-11-23"),
                              (not pipelined_first, "+336123460", "2026-11-24")):
        freeze(f"{day}T10:30:00+01:00")
        monkeypatch.setattr(service, "PIPELINE", flag)
        runs.append(_scenario(tenant, prefix))
    assert runs[0] == runs[1]
    answers = runs[0]
    assert [d for d, _ in answers[:5]] == ["allow"] * 4 + ["deny"]
    assert "FREQUENCY_LIMIT" in answers[4][1]
    assert "INTERNAL_OPPOSITION" in answers[5][1] or "OPPOSITION" in " ".join(answers[5][1])
    assert answers[6][0] == "allow"  # a contract: the L223-1 exception
    assert answers[7][0] == "allow" and answers[8][0] == "deny"  # refused during the call
    assert answers[9][1] == ["CONSENT_REQUIRED"] or "CONSENT_REQUIRED" in answers[9][1]
    assert "CALLEE_INVALID" in answers[10][1]
    mobile = answers[11:14]
    assert [("CALLER_ID_MOBILE_VOLUME" in c) for _, c in mobile] == [False, False, True]


def _terminate_backends(url: str) -> int:
    """Cut every connection of the gateway's database, as a PostgreSQL restart would."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        killed = c.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
    admin.dispose()
    return int(killed)


@pytest.fixture(autouse=True)
def no_deliverer_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """No webhook deliverer in the app (set before ``client`` starts it): its thread would
    otherwise meet the cut connection first, the pool would be refreshed before the check,
    and the check under test would not see the loss."""
    monkeypatch.setenv("GATEWAY_WEBHOOK_POLL_S", "0")
    get_settings.cache_clear()


def test_the_pooled_connection_is_back_in_its_ordinary_mode_after_a_check_and_a_replay(
    tenant: Tenant, db: Any
) -> None:
    """The pipelined read opens its transaction with an explicit BEGIN, the driver in
    autocommit mode (one round trip fewer); whatever the path — decided, replayed, refused as
    a conflict — the connection goes back to the pool in its ordinary mode, so that the next
    borrower's statements are in a transaction again."""
    add_consent(tenant)
    assert tenant.check(callee=CALLEE, external_id="e-1").status_code == 200
    assert tenant.check(callee=CALLEE, external_id="e-1").json()["replayed"] is True
    assert tenant.check(callee="+33612345679", external_id="e-1").status_code == 409
    if db.backend != "postgresql":
        return
    engine = get_engine()
    held = [engine.raw_connection() for _ in range(3)]  # the pool's connections, then new ones
    try:
        assert [c.driver_connection.autocommit for c in held] == [False, False, False]
    finally:
        for c in held:
            c.close()


def test_a_lost_database_connection_is_a_503_and_the_next_check_recovers(
    tenant: Tenant, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the pooled connections are cut under the gateway (the pipelined read finds
    its connection broken). SQLite has no connection to lose: the read raises the driver's
    error instead. Either way: 503 with Retry-After, never a 500 and never an allow, nothing
    logged; the next check is answered on a fresh connection, no restart."""
    add_consent(tenant)
    assert tenant.check(callee=CALLEE).status_code == 200  # the pool holds a connection now
    with get_engine().connect() as c:
        before = c.execute(select(func.count()).select_from(Attempt)).scalar_one()
    original = service.facts_of_rows
    if db.backend == "postgresql":
        assert _terminate_backends(db.url) >= 1
    else:
        def down(*_: Any, **__: Any) -> Any:
            raise OperationalError("SELECT", {}, Exception("disk I/O error"))

        monkeypatch.setattr(service, "facts_of_rows", down)
    r = tenant.check(callee=CALLEE)
    assert r.status_code == 503, r.text
    assert r.json()["error"] == "unavailable" and r.headers["retry-after"] == "1"
    monkeypatch.setattr(service, "facts_of_rows", original)
    answers = [tenant.check(callee=CALLEE) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    with get_engine().connect() as c:
        after = c.execute(select(func.count()).select_from(Attempt)).scalar_one()
    assert after == before + 3  # the 503 logged nothing
