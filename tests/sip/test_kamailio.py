"""Acceptance (issue 15): every INVITE through the enforcing proxy (Kamailio with
``integrations/kamailio``) is decided by the gateway, with real processes on both databases:
``gateway serve``, Kamailio, a sipp UAC as the dialer and a sipp UAS as the carrier.

* allowed: relayed to the carrier with ``X-Attempt-Id`` (the attempt the gateway logged), the
  call centre's own headers removed;
* denied (no consent, weekend, BLOCTEL in the opt-out era, the 5th call in 30 days): ``403``
  with ``Reason: Q.850;cause=21;text="<first code>"`` and ``X-Gateway-Reasons``, and nothing
  reaches the carrier;
* the gateway stopped, or slower than the timeout: ``503``, nothing reaches the carrier;
* retransmitted INVITEs and a CANCEL: one attempt;
* outcomes from the signalling: an answered call of 12 s (BYE) and a carrier's 404
  (``unassigned``, with its penalty line and the number's quarantine).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.calls.models import PenaltyLine
from app.db import get_engine
from app.registries.models import Quarantine
from tests.factories import add_consent, auth, make_tenant
from tests.integration.conftest import serve
from tests.sip.conftest import SipPath, attempts, delaying_relay, proxy_to, silent_gateway

CALLEE = "+33612345678"
CALLEE_NATIONAL = "0612345678"


def rows(table: Any, **where: Any) -> list[Any]:
    with get_engine().connect() as conn:
        return list(conn.execute(
            select(table).where(*(table.c[k] == v for k, v in where.items()))).all())


def wait_for(predicate: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def final(dialer: Any) -> Any:
    """The dialer's final response to its INVITE (a 200 may come again until the ACK)."""
    finals = [m for m in dialer.received() if m.cseq_method == "INVITE"
              and m.status is not None and m.status >= 200]
    assert finals and len({m.status for m in finals}) == 1, [m.first_line for m in finals]
    return finals[0]


# -- allowed -------------------------------------------------------------------------------


def test_an_allowed_invite_reaches_the_carrier_with_its_attempt_id(sip: SipPath) -> None:
    add_consent(sip.tenant, CALLEE)
    with sip.carrier("uas_answer.xml") as carrier:
        dialer = sip.call(CALLEE_NATIONAL, agent="agent-7")
    assert dialer.proc.returncode == 0, dialer.log_text()
    (invite,) = carrier.received("INVITE")
    (attempt,) = attempts()
    assert invite.header("X-Attempt-Id") == attempt.id
    assert attempt.decision == "allow"
    # the contract's mapping: Request-URI user, P-Asserted-Identity, X-Campaign, X-Agent,
    # Call-ID as external_id
    assert (attempt.callee, attempt.caller_id, attempt.campaign_id, attempt.agent_id) == (
        CALLEE, sip.tenant.canvassing_cli, "spring-2026", "agent-7")
    assert attempt.external_id == invite.header("Call-ID")
    # the call centre's headers stay inside: the carrier sees none of them
    assert invite.header("X-Campaign") is None and invite.header("X-Agent") is None
    # the dialer learns the attempt id from the answers it gets (ringing, answered)
    answers = [m for m in dialer.received() if m.cseq_method == "INVITE" and m.status != 100]
    assert {m.status for m in answers} == {180, 200}
    assert {m.header("X-Attempt-Id") for m in answers} == {attempt.id}


@pytest.mark.slow
def test_an_answered_call_of_12_s_is_reported_with_its_duration(sip: SipPath) -> None:
    add_consent(sip.tenant, CALLEE)
    with sip.carrier("uas_answer.xml") as carrier:
        dialer = sip.call(CALLEE, hold_ms=12_000, timeout=40)
    assert dialer.proc.returncode == 0, dialer.log_text()
    assert carrier.received("BYE"), "the BYE went through the proxy"
    sip.wait_spool_empty()
    (attempt,) = attempts()
    assert (attempt.outcome_status, attempt.duration_s) == ("answered", 12)


def test_a_404_from_the_carrier_is_unassigned_with_penalty_and_quarantine(sip: SipPath) -> None:
    add_consent(sip.tenant, CALLEE)
    with sip.carrier("uas_reply.xml", code="404", reason="Not Found") as carrier:
        dialer = sip.call(CALLEE)
    assert final(dialer).status == 404
    assert carrier.received("INVITE")
    sip.wait_spool_empty()
    (attempt,) = attempts()
    assert final(dialer).header("X-Attempt-Id") == attempt.id
    assert (attempt.outcome_status, attempt.sip_code) == ("unassigned", 404)
    lines = rows(PenaltyLine.__table__, attempt_id=attempt.id)
    assert "CALLEE_UNASSIGNED" in {line.code for line in lines}, lines
    assert rows(Quarantine.__table__, callee=CALLEE), "the number is quarantined"
    # the next INVITE to that number is refused by the gateway, not by the carrier
    with sip.carrier("uas_reply.xml", code="404", reason="Not Found") as carrier:
        again = sip.call(CALLEE)
    assert final(again).status == 403
    assert not carrier.received("INVITE")


# -- denied --------------------------------------------------------------------------------


def assert_denied(dialer: Any, carrier: Any, first_code: str) -> Any:
    response = final(dialer)
    assert response.status == 403, response.text
    assert response.header("Reason") == f'Q.850;cause=21;text="{first_code}"'
    assert first_code in response.header("X-Gateway-Reasons").split(",")
    assert not carrier.received("INVITE"), "a denied call reached the carrier"
    return response


def test_no_consent_is_403_with_the_first_reason_and_nothing_reaches_the_carrier(
        sip: SipPath) -> None:
    with sip.carrier("uas_answer.xml") as carrier:
        dialer = sip.call(CALLEE)
    response = assert_denied(dialer, carrier, "CONSENT_REQUIRED")
    (attempt,) = attempts()
    assert attempt.decision == "deny"
    assert response.header("X-Attempt-Id") == attempt.id  # logged, with its penalty


def test_the_fifth_invite_to_one_number_is_denied(sip: SipPath) -> None:
    add_consent(sip.tenant, CALLEE)
    with sip.carrier("uas_reply.xml", code="486", reason="Busy Here") as carrier:
        for _ in range(4):
            assert final(sip.call(CALLEE)).status == 486
        fifth = sip.call(CALLEE)
    assert len(carrier.received("INVITE")) == 4
    response = final(fifth)
    assert response.status == 403
    assert response.header("Reason") == 'Q.850;cause=21;text="FREQUENCY_LIMIT"'
    sip.wait_spool_empty()
    # (the frozen clock gives every attempt the same checked_at: compare without order)
    assert sorted((a.decision, a.outcome_status or "") for a in attempts()) == [
        ("allow", "busy")] * 4 + [("deny", "")]


@contextlib.contextmanager
def other_gateway(sip: SipPath, tmp_path: Path, frozen_now: str) -> Iterator[SipPath]:
    """A second gateway server on the same database with the clock frozen at ``frozen_now``,
    and a Kamailio in front of it using the same tenant's key."""
    (tmp_path / "gateway").mkdir()
    with serve(sip.server.database, tmp_path / "gateway", GATEWAY_FROZEN_NOW=frozen_now) as srv, \
            proxy_to(sip, tmp_path, srv.base_url, srv) as path:
        yield path


def test_on_a_saturday_the_invite_is_denied_weekend(sip: SipPath, tmp_path: Path) -> None:
    add_consent(sip.tenant, CALLEE)
    with other_gateway(sip, tmp_path, "2026-11-28T11:00:00+01:00") as saturday, \
            saturday.carrier("uas_answer.xml") as carrier:
        dialer = saturday.call(CALLEE)
    assert_denied(dialer, carrier, "WEEKEND")


def test_bloctel_in_the_opt_out_era_denies_the_invite(sip: SipPath, tmp_path: Path) -> None:
    r = sip.http.post("/v1/bloctel/imports", params={"mode": "replace", "as_of": "2026-05-04"},
                      content=f"{CALLEE_NATIONAL}\n0699999999\n".encode(),
                      headers=auth(sip.tenant.operator) | {"Content-Type": "text/plain"})
    assert r.status_code == 201, r.text
    with other_gateway(sip, tmp_path, "2026-05-05T11:00:00+02:00") as may, \
            may.carrier("uas_answer.xml") as carrier:
        dialer = may.call(CALLEE)
    assert_denied(dialer, carrier, "BLOCTEL_LISTED")


# -- the gateway unavailable ---------------------------------------------------------------


def test_the_gateway_stopped_is_503_and_nothing_reaches_the_carrier(
        sip: SipPath, tmp_path: Path) -> None:
    add_consent(sip.tenant, CALLEE)
    (tmp_path / "gateway").mkdir()
    with serve(sip.server.database, tmp_path / "gateway") as srv, \
            proxy_to(sip, tmp_path, srv.base_url, srv) as own, \
            own.carrier("uas_reply.xml", code="486", reason="Busy Here") as carrier:
        assert final(own.call(CALLEE)).status == 486  # the path works
        srv.proc.terminate()
        srv.proc.wait(timeout=20)
        dialer = own.call(CALLEE)
    assert len(carrier.received("INVITE")) == 1
    response = final(dialer)
    assert response.status == 503
    assert response.header("Reason") == 'Q.850;cause=41;text="GATEWAY_UNREACHABLE"'
    assert len(attempts()) == 1


def test_a_gateway_slower_than_the_timeout_is_503_within_the_timeout(
        sip: SipPath, tmp_path: Path) -> None:
    with silent_gateway() as url, proxy_to(sip, tmp_path, url, timeout_ms=300) as slow, \
            slow.carrier("uas_answer.xml") as carrier:
        started = time.monotonic()
        dialer = slow.call(CALLEE)
        elapsed = time.monotonic() - started
    response = final(dialer)
    assert response.status == 503
    assert response.header("Reason") == 'Q.850;cause=41;text="GATEWAY_TIMEOUT"'
    assert not carrier.received("INVITE")
    assert 0.3 <= elapsed < 2.0, elapsed  # the 300 ms budget, plus sipp's own start and stop


def test_the_gateway_answering_an_error_is_503(sip: SipPath) -> None:
    """An unknown campaign is the gateway's 404, not a decision: the call is not placed."""
    with sip.carrier("uas_answer.xml") as carrier:
        dialer = sip.call(CALLEE, campaign="no-such-campaign")
    response = final(dialer)
    assert response.status == 503
    assert response.header("Reason") == 'Q.850;cause=41;text="GATEWAY_404"'
    assert not carrier.received("INVITE")


# -- one attempt per call ------------------------------------------------------------------


def test_retransmitted_invites_create_one_attempt(sip: SipPath) -> None:
    add_consent(sip.tenant, CALLEE)
    with sip.carrier("uas_answer.xml") as carrier:
        dialer = sip.call(CALLEE, scenario="uac_retransmit.xml")
    assert dialer.proc.returncode == 0, dialer.log_text()
    sent = [m for m in dialer.messages() if m.direction == "sent" and m.method == "INVITE"]
    assert len(sent) == 2 and sent[0].header("Via") == sent[1].header("Via")
    assert len(carrier.received("INVITE")) == 1
    assert len(attempts()) == 1


def test_a_cancelled_call_is_one_attempt_reported_no_answer(sip: SipPath) -> None:
    add_consent(sip.tenant, CALLEE)
    with sip.carrier("uas_ring.xml") as carrier:
        dialer = sip.call(CALLEE, scenario="uac_cancel.xml", hold_ms=200)
    assert dialer.proc.returncode == 0, dialer.log_text()
    assert carrier.received("CANCEL"), "the CANCEL reached the carrier"
    sip.wait_spool_empty()
    (attempt,) = attempts()
    assert (attempt.outcome_status, attempt.sip_code) == ("no_answer", 487)


def test_a_second_tenant_on_its_own_trunk_uses_its_own_key(sip: SipPath) -> None:
    """Keys by trunk: the INVITE's source address picks the tenant whose key checks it."""
    other = make_tenant(sip.http, "Autre centre")
    add_consent(other, CALLEE)
    sip.kamailio.write_trunks({"127.0.0.1": {"name": "autre", "key": other.dialer,
                                             "campaign": "spring-2026"}})
    with sip.carrier("uas_answer.xml") as carrier:
        dialer = sip.call(CALLEE, caller=other.canvassing_cli)
    assert final(dialer).status == 200
    (attempt,) = attempts()
    assert attempt.tenant_id == other.id
    assert carrier.received("INVITE")[0].header("X-Attempt-Id") == attempt.id


def test_a_cancel_during_the_check_never_lets_the_call_ring(sip: SipPath,
                                                             tmp_path: Path) -> None:
    """The dialer cancels while the proxy still waits for the gateway: the gateway's allow
    comes after the CANCEL, the INVITE is not relayed (no phone rings for nobody), and the
    attempt is reported ``not_dialed`` (released from the frequency count)."""
    add_consent(sip.tenant, CALLEE)
    with delaying_relay(sip.server.port, 0.6) as url, \
            proxy_to(sip, tmp_path, url, timeout_ms=3000) as slow:
        with slow.carrier("uas_answer.xml") as carrier:
            dialer = slow.call(CALLEE, scenario="uac_cancel_early.xml", hold_ms=50)
            time.sleep(1.0)  # the gateway's late allow arrives meanwhile
            assert not carrier.received(), "a cancelled call reached the carrier"
        assert dialer.proc.returncode == 0, dialer.log_text()
        slow.wait_spool_empty()
    (attempt,) = attempts()
    assert (attempt.decision, attempt.outcome_status, attempt.counted) == (
        "allow", "not_dialed", False)
