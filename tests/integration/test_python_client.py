"""The Python client for dialers (clients/python, ``gateway_client``) against the real server:
every method, an error class for each status of the contract, retries that never count a call
twice, and ``decide`` failing closed when the gateway is down, slow or answers nonsense."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_client import (
    AsyncGatewayClient,
    CheckResult,
    Conflict,
    Decision,
    Forbidden,
    GatewayClient,
    GatewayError,
    GatewayTimeout,
    GatewayUnreachable,
    IdempotencyConflict,
    ImportReport,
    MalformedResponse,
    NotFound,
    OutcomeResult,
    PayloadTooLarge,
    RateLimited,
    ServerError,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    ValidationFailed,
)

from tests.factories import CALLEE, Tenant, add_consent, make_tenant
from tests.integration.conftest import (
    FROZEN_NOW,
    Server,
    _free_port,
    _gateway_executable,
    _stop,
)

pytestmark = pytest.mark.integration

NO_CONSENT = "+33698765432"  # opt-in regime, no consent: denied
SATURDAY = "2026-11-28T11:00:00+01:00"
#: generous bounds against the real server (a loaded CI machine), short ones where they matter
LIVE = {"timeout": 10.0, "total_timeout": 30.0}


@pytest.fixture
def tenant(live: Server) -> Iterator[Tenant]:
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        t = make_tenant(http, "Client")
        add_consent(t, CALLEE)
        yield t


def client(live: Server, key: str, **kw: Any) -> GatewayClient:
    return GatewayClient(live.base_url, key, **(LIVE | kw))


# ----------------------------------------------------------------------------- the check path


def test_dialer_decides_dials_and_reports_with_typed_answers(live: Server,
                                                             tenant: Tenant) -> None:
    with client(live, tenant.dialer) as gw:
        d = gw.decide("spring-2026", "06 12 34 56 78", caller_id=tenant.canvassing_cli)
        assert isinstance(d, Decision) and d.dial and d.error is None, d
        assert d.attempt_id and d.external_id and d.external_id.startswith("gwc-")
        assert d.result is not None and d.result.callee == CALLEE

        c = gw.check("spring-2026", CALLEE, caller_id=tenant.canvassing_cli,
                     external_id="dialer-call-1")
        assert isinstance(c, CheckResult) and c.decision == "allow" and c.allowed
        assert c.penalty_eur == Decimal("0") and isinstance(c.penalty_eur, Decimal)
        assert isinstance(c.checked_at, datetime) and c.checked_at.utcoffset() is not None
        assert c.raw["attempt_id"] == c.attempt_id and not c.replayed
        again = gw.check("spring-2026", CALLEE, caller_id=tenant.canvassing_cli,
                         external_id="dialer-call-1")
        assert (again.attempt_id, again.replayed) == (c.attempt_id, True)

        denied = gw.check("spring-2026", NO_CONSENT, caller_id=tenant.canvassing_cli)
        assert denied.decision == "deny" and denied.penalty_eur == Decimal("0.02")
        block = [r for r in denied.reasons if r.severity == "block"]
        assert block and block[0].legal_basis and block[0].message, denied.reasons
        no = gw.decide("spring-2026", NO_CONSENT, caller_id=tenant.canvassing_cli)
        assert not no.dial and no.error is None and no.attempt_id
        assert no.reason_codes == denied.reason_codes

        ev = gw.evaluate("spring-2026", CALLEE, caller_id=tenant.canvassing_cli,
                         at=datetime.fromisoformat(SATURDAY))
        assert ev.attempt_id is None and ev.decision == "deny"
        assert ev.next_allowed_at is not None and ev.next_allowed_at > ev.checked_at

        out = gw.outcome(c.attempt_id or "", "answered", sip_code=200, duration_s=12)
        assert isinstance(out, OutcomeResult)
        assert (out.status, out.duration_s, out.penalty_eur) == ("answered", 12, Decimal("0"))
        assert gw.outcome(c.attempt_id or "", "answered", sip_code=200,
                          duration_s=12) == out  # idempotent
        with pytest.raises(Conflict) as conflict:
            gw.outcome(c.attempt_id or "", "busy")
        assert conflict.value.status == 409 and conflict.value.recorded_status == "answered"
        assert gw.outcome(no.attempt_id or "", "not_dialed").counted_for_frequency is False
        attempt = gw.get_attempt(c.attempt_id or "")
        assert (attempt.outcome_status, attempt.decision) == ("answered", "allow")
        # the agent's disposition after the answered outcome (as the SIP proxy reports it)
        refused = gw.disposition(c.attempt_id or "", consumer_refused=True)
        assert (refused.status, refused.duration_s, refused.consumer_refused) == (
            "answered", 12, True)
        assert gw.disposition(c.attempt_id or "", consumer_refused=True) == refused
        with pytest.raises(Conflict) as not_answered:
            gw.disposition(no.attempt_id or "", consumer_opposed=True)
        assert not_answered.value.recorded_status == "not_dialed"
        assert gw.check("spring-2026", CALLEE, caller_id=tenant.canvassing_cli).decision == "deny"


def test_admin_and_compliance_methods(live: Server, tenant: Tenant, tmp_path: Path) -> None:
    admin, compliance = client(live, tenant.admin), client(live, tenant.compliance)
    dialer = client(live, tenant.dialer)
    with admin, compliance, dialer:
        assert admin.health() == {"status": "ok"}
        assert admin.ready()["status"] == "ready"
        cli = admin.create_caller_id("01 62 00 99 01")
        assert cli["number"] == "+33162009901"
        assert cli["number"] in {c["number"] for c in compliance.list_caller_ids()}
        admin.create_campaign("autumn", caller_ids=[cli["number"]], automated=True)
        assert compliance.get_campaign("autumn")["id"] == "autumn"
        assert {c["id"] for c in compliance.list_campaigns()} == {"spring-2026", "autumn"}

        consent = admin.create_consent("+33611000001", given_at="2026-09-01T10:00:00+02:00",
                                       evidence={"form": "optin-v3"})
        assert [c["id"] for c in compliance.list_consents("+33611000001")] == [consent["id"]]
        assert dialer.decide("autumn", "+33611000001", caller_id=cli["number"]).dial
        admin.revoke_consent(consent["id"], "asked by phone")
        assert not dialer.decide("autumn", "+33611000001", caller_id=cli["number"]).dial
        admin.create_contract("+33611000002", "C-42", starts_on="2026-01-01")
        assert compliance.list_contracts("+33611000002")[0]["reference"] == "C-42"
        admin.create_opposition("+33611000003", source="crm")
        assert compliance.list_oppositions("+33611000003")[0]["source"] == "crm"

        key = admin.create_key(tenant.id, "dialer")
        assert key["role"] == "dialer" and key["key"]
        assert key["id"] in {k["id"] for k in admin.list_keys(tenant.id)}
        assert admin.revoke_key(tenant.id, key["id"])["id"] == key["id"]

        # bulk imports: bytes, a path, a binary file object
        consents = (b"numero;date_consentement;canal;preuve\n"
                    b"0611000010;2026-09-01T10:00:00+02:00;web;form\nnot a number;;;\n")
        report = admin.import_consents(consents)
        assert isinstance(report, ImportReport)
        assert (report.kind, report.created, report.rejected) == ("consents", 1, 1)
        assert report.rejected_samples[0].line == 3
        path = tmp_path / "contracts.csv"
        path.write_bytes(b"numero,reference,debut\n0611000011,K-1,2026-01-01\n")
        assert admin.import_contracts(path).created == 1
        opp = admin.import_oppositions(io.BytesIO(b"numero,source\n0611000010,crm\n"))
        assert (opp.kind, opp.created) == ("oppositions", 1)
        chunks = admin.import_oppositions(iter([b"numero\n06110", b"00012\n"]))  # streamed
        assert (chunks.created, chunks.lines) == (1, 1)
        assert not dialer.decide("spring-2026", "0611000010",
                                 caller_id=tenant.canvassing_cli).dial  # opposed since

        prospects = f"phone\n{CALLEE}\n{NO_CONSENT}\n".encode()
        scrubbed = dialer.scrub(prospects, "spring-2026")
        assert (scrubbed.rows, scrubbed.callable) == (2, 1) and scrubbed.at is not None
        lines = scrubbed.text.splitlines()
        assert lines[0].startswith("phone,e164,callable_now") and ",true," in lines[1]
        sink = io.BytesIO()
        assert dialer.scrub(prospects, "spring-2026", into=sink).content is None
        assert sink.getvalue().decode() == scrubbed.text

        # three decides above: the consented callee, then after the revocation and the
        # opposition (scrub logs no attempt)
        rows = list(compliance.attempts_report(from_="2026-11-23", to="2026-11-23"))
        assert sorted(r["decision"] for r in rows) == ["allow", "deny", "deny"]
        csv_rows = list(compliance.attempts_report(format="csv", decision="deny"))
        assert len(csv_rows) == 2 and all(r["decision"] == "deny" for r in csv_rows)
        assert {r["attempt_id"] for r in csv_rows} < {r["attempt_id"] for r in rows}
        summary = compliance.summary(from_="2026-11-23", to="2026-11-23")
        assert (summary["total"], summary["allowed"], summary["denied"]) == (3, 1, 2)
        pdf = compliance.audit_pdf("2026-11-01", "2026-11-30")
        assert pdf.startswith(b"%PDF")
        raw = compliance.request("GET", "/v1/reports/summary")
        assert raw.status_code == 200 and raw.json() == compliance.summary()


def test_async_client_covers_the_same_contract(live: Server, tenant: Tenant) -> None:
    cli = tenant.canvassing_cli

    async def main() -> None:
        kw = LIVE
        async with AsyncGatewayClient(live.base_url, tenant.dialer, **kw) as gw, \
                AsyncGatewayClient(live.base_url, tenant.admin, **kw) as admin, \
                AsyncGatewayClient(live.base_url, tenant.compliance, **kw) as compliance:
            d = await gw.decide("spring-2026", CALLEE, caller_id=cli)
            assert d.dial and d.attempt_id
            c = await gw.check("spring-2026", CALLEE, caller_id=cli, external_id="async-1")
            again = await gw.check("spring-2026", CALLEE, caller_id=cli, external_id="async-1")
            assert (again.attempt_id, again.replayed) == (c.attempt_id, True)
            ev = await gw.evaluate("spring-2026", CALLEE, caller_id=cli, at=SATURDAY)
            assert (ev.decision, ev.attempt_id) == ("deny", None)
            out = await gw.outcome(c.attempt_id or "", "no_answer")
            assert out.status == "no_answer"
            with pytest.raises(Conflict):  # no conversation: nothing to refuse
                await gw.disposition(c.attempt_id or "", consumer_refused=True)
            assert (await gw.get_attempt(c.attempt_id or "")).outcome_status == "no_answer"
            with pytest.raises(NotFound):
                await gw.check("no-such-campaign", CALLEE)
            assert not (await gw.decide("no-such-campaign", CALLEE)).dial

            report = await admin.import_consents(
                b"numero,date_consentement,canal,preuve\n0611000020,2026-09-01,web,x\n")
            assert report.created == 1
            assert (await admin.import_contracts(
                b"numero,reference,debut\n0611000021,K-2,2026-01-01\n")).created == 1
            async def chunks() -> AsyncIterator[bytes]:
                yield b"numero\n"
                yield b"0611000022\n"

            assert (await admin.import_oppositions(chunks())).created == 1
            assert (await gw.decide("spring-2026", "0611000020", caller_id=cli)).dial
            assert (await gw.scrub(b"0611000022\n", "spring-2026")).callable == 0
            consent = await admin.create_consent(
                "+33611000023", given_at="2026-09-01T10:00:00+02:00",
                evidence={"paper": "signed"})
            assert len(await compliance.list_consents()) == 3
            assert (await admin.revoke_consent(consent["id"]))["id"] == consent["id"]
            await admin.create_contract("+33611000024", "K-3", starts_on="2026-01-01")
            assert len(await compliance.list_contracts()) == 2
            await admin.create_opposition("+33611000025")
            assert len(await compliance.list_oppositions()) == 2
            number = (await admin.create_caller_id("+33162009902"))["number"]
            assert len(await compliance.list_caller_ids()) == 4
            await admin.create_campaign("winter", caller_ids=[number])
            assert (await compliance.get_campaign("winter"))["caller_ids"] == [number]
            assert len(await compliance.list_campaigns()) == 2
            key = await admin.create_key(tenant.id, "compliance")
            assert key["id"] in {k["id"] for k in await admin.list_keys(tenant.id)}
            assert (await admin.revoke_key(tenant.id, key["id"]))["id"] == key["id"]
            assert (await gw.health())["status"] == "ok"
            assert (await gw.ready())["status"] == "ready"
            raw = await gw.request("POST", "/v1/calls/evaluate", json={
                "campaign": "spring-2026", "callee": CALLEE, "caller_id": cli})
            assert raw.json()["attempt_id"] is None
            sink = io.BytesIO()
            assert (await gw.scrub(b"0611000020\n", "spring-2026", into=sink)).callable == 1
            assert b"true" in sink.getvalue()

            # decide, check (its replay counted once), decide after the import; a 404 logs none
            rows = [r async for r in await compliance.attempts_report()]
            assert len(rows) == 3
            csv_rows = [r async for r in await compliance.attempts_report(format="csv")]
            assert sorted(r["attempt_id"] for r in csv_rows) == sorted(
                r["attempt_id"] for r in rows)
            assert (await compliance.summary())
            assert (await compliance.audit_pdf("2026-11-01", "2026-11-30")).startswith(b"%PDF")
            with pytest.raises(Forbidden):
                await gw.summary()

    asyncio.run(main())


# ----------------------------------------------------------------------------- errors


def test_each_error_status_has_its_class(live: Server, tenant: Tenant) -> None:
    with client(live, tenant.dialer) as gw, client(live, tenant.admin) as admin:
        with pytest.raises(Unauthorized) as e401, client(live, "gw_not_a_key") as stranger:
            stranger.check("spring-2026", CALLEE)
        assert (e401.value.status, e401.value.code) == (401, "unauthorized")

        with pytest.raises(Forbidden) as e403:
            gw.summary()
        assert e403.value.status == 403 and e403.value.detail

        with pytest.raises(NotFound) as e404:
            gw.check("no-such-campaign", CALLEE)
        assert e404.value.code == "not_found"
        with pytest.raises(NotFound):
            gw.outcome("att_does_not_exist", "answered")

        first = gw.check("spring-2026", CALLEE, external_id="call-409")
        with pytest.raises(IdempotencyConflict) as e409:
            gw.check("spring-2026", NO_CONSENT, external_id="call-409")
        assert e409.value.code == "idempotency_conflict" and e409.value.status == 409
        assert e409.value.differs == ["callee"] and e409.value.attempt_id == first.attempt_id
        gw.outcome(first.attempt_id or "", "busy")
        with pytest.raises(Conflict) as conflict:
            gw.outcome(first.attempt_id or "", "no_answer")
        assert not isinstance(conflict.value, IdempotencyConflict)

        with pytest.raises(PayloadTooLarge) as e413:
            admin.create_consent(CALLEE, given_at="2026-09-01T10:00:00+02:00",
                                 evidence={"scan": "x" * (1 << 20)})
        assert e413.value.status == 413

        with pytest.raises(UnsupportedMediaType) as e415:
            admin.import_consents(b'{"numero": "0611000030"}', content_type="application/json")
        assert e415.value.code == "unsupported_media_type"
        with pytest.raises(UnsupportedMediaType):
            gw.request("POST", "/v1/calls/evaluate", content=b"campaign=spring-2026",
                       headers={"Content-Type": "text/plain"})

        with pytest.raises(ValidationFailed) as e422:
            gw.check("", CALLEE)
        assert e422.value.fields == ["campaign"] and e422.value.errors[0]["msg"]
        with pytest.raises(ValidationFailed) as bad_status:
            gw.outcome(first.attempt_id or "", "hung_up")  # type: ignore[arg-type]
        assert bad_status.value.fields == ["status"]


def test_rate_limited_then_retry_after_honoured(live: Server, tenant: Tenant) -> None:
    """compliance keys get 100 requests at once, then 50/s, per worker: one keep-alive
    connection (one worker) runs through them. Without retries the 429 is raised with its
    Retry-After; a client allowed to wait that long waits it and gets through."""
    with client(live, tenant.compliance, retries=0) as gw:
        for _ in range(400):
            try:
                gw.list_campaigns()
            except RateLimited as exc:
                limited = exc
                break
        else:
            pytest.fail("never rate limited")
        assert limited.status == 429 and limited.code == "rate_limited"
        assert limited.retry_after is not None and 1 <= limited.retry_after <= 2

    answers: list[tuple[float, int]] = []

    def seen(response: httpx.Response) -> None:
        answers.append((time.monotonic(), response.status_code))

    http = httpx.Client(event_hooks={"response": [seen]})
    with http, client(live, tenant.compliance, http_client=http, retries=2,
                      max_retry_after=2.0) as gw:
        for _ in range(400):  # every call gets through, waiting when it must
            assert gw.list_campaigns()[0]["id"] == "spring-2026"
            if any(status == 429 for _, status in answers):
                break
        refused = [i for i, (_, status) in enumerate(answers) if status == 429]
        assert refused, "never rate limited"
        i = refused[0]
        assert answers[i + 1][1] == 200 and answers[i + 1][0] - answers[i][0] >= 0.9
        gw.policy = dataclasses.replace(gw.policy, max_retry_after=0.5)
        count = len(answers)
        with pytest.raises(RateLimited):  # Retry-After above the bound: raised, not waited
            for _ in range(400):
                gw.list_campaigns()
        assert [status for _, status in answers[count:]].count(429) == 1  # not retried


@contextlib.contextmanager
def gateway(workdir: Path, database_url: str, ready: str = "/readyz") -> Iterator[
        tuple[subprocess.Popen[bytes], str]]:
    """``gateway serve`` with one worker on ``database_url`` (cheaper to start than
    ``serve``'s two), once ``ready`` answers 200; always stopped."""
    port = _free_port()
    log = workdir / "stderr.log"
    env = os.environ | {"DATABASE_URL": database_url, "GATEWAY_FROZEN_NOW": FROZEN_NOW,
                        "GATEWAY_LOG_LEVEL": "warning"}
    with log.open("wb") as err:
        proc = subprocess.Popen([_gateway_executable(), "serve", "--port", str(port)], env=env,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(base + ready, timeout=1).status_code == 200:
                    break
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield proc, base
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def no_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway whose PostgreSQL is a port nobody listens on: it starts (the database is
    only needed per request) and answers every authenticated request 503."""
    url = f"postgresql://gateway:x@127.0.0.1:{_free_port()}/gw"
    with gateway(tmp_path_factory.mktemp("no-db"), url, ready="/healthz") as (_, base):
        yield base


def test_database_unavailable_is_503_and_never_a_dial(no_database: str) -> None:
    with GatewayClient(no_database, "gw_any_key", retries=0) as gw:
        with pytest.raises(Unavailable) as e503:
            gw.check("spring-2026", CALLEE)
        assert isinstance(e503.value, ServerError) and e503.value.status == 503
        assert (e503.value.code, e503.value.retry_after) == ("unavailable", 1.0)
        with pytest.raises(Unavailable):
            gw.ready()
    sent: list[httpx.Request] = []
    http = httpx.Client(event_hooks={"request": [sent.append]})
    with http, GatewayClient(no_database, "gw_any_key", http_client=http,
                             max_retry_after=0.2) as gw:
        d = gw.decide("spring-2026", CALLEE)  # Retry-After 1 s is above the bound: no wait
        assert not d.dial and isinstance(d.error, Unavailable) and len(sent) == 1
        gw.policy = dataclasses.replace(gw.policy, max_retry_after=1.0, total_timeout=10.0)
        started = time.monotonic()
        d = gw.decide("spring-2026", CALLEE)  # within the bound: waited, retried, still 503
        assert not d.dial and isinstance(d.error, Unavailable) and len(sent) == 4
        assert time.monotonic() - started >= 2.0


# ----------------------------------------------------------------------------- retries


class DropAnswers(httpx.HTTPTransport):
    """Sends the request to the real server, reads its answer, then drops it the first
    ``drops`` times (the connection reset after the gateway did the work)."""

    def __init__(self, drops: int) -> None:
        super().__init__()
        self.drops = drops
        self.sent: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        response = super().handle_request(request)
        response.read()
        if self.drops > 0:
            self.drops -= 1
            response.close()
            raise httpx.ReadError("connection reset after the request was sent")
        return response


class AsyncDropAnswers(httpx.AsyncHTTPTransport):
    def __init__(self, drops: int) -> None:
        super().__init__()
        self.drops = drops
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        response = await super().handle_async_request(request)
        await response.aread()
        if self.drops > 0:
            self.drops -= 1
            await response.aclose()
            raise httpx.ReadError("connection reset after the request was sent")
        return response


def test_a_check_retried_after_a_dropped_answer_counts_once(live: Server,
                                                            tenant: Tenant) -> None:
    drop = DropAnswers(drops=2)
    with GatewayClient(live.base_url, tenant.dialer, transport=drop, **LIVE) as gw:
        # no external_id given: the client makes one, and sends it again on each retry
        c = gw.check("spring-2026", CALLEE, caller_id=tenant.canvassing_cli)
        sent = [json.loads(r.content) for r in drop.sent]
        assert len(sent) == 3 and len({s["external_id"] for s in sent}) == 1
        assert c.replayed and c.external_id == sent[0]["external_id"]
        drop.drops = 1
        assert gw.outcome(c.attempt_id or "", "answered", duration_s=3).duration_s == 3
        assert len(drop.sent) == 5
    with client(live, tenant.compliance) as compliance:
        rows = list(compliance.attempts_report())
        assert [(r["attempt_id"], r["outcome_status"]) for r in rows] == [
            (c.attempt_id, "answered")]

    async def async_check() -> CheckResult:
        adrop = AsyncDropAnswers(drops=1)
        async with AsyncGatewayClient(live.base_url, tenant.dialer, transport=adrop,
                                      **LIVE) as agw:
            result = await agw.check("spring-2026", NO_CONSENT,
                                     caller_id=tenant.canvassing_cli)
            assert len(adrop.sent) == 2 and result.replayed
            return result

    denied = asyncio.run(async_check())
    with client(live, tenant.compliance) as compliance:
        assert [r["attempt_id"] for r in compliance.attempts_report(decision="deny")] == [
            denied.attempt_id]


def test_non_idempotent_calls_are_not_retried_once_sent(live: Server, tenant: Tenant) -> None:
    drop = DropAnswers(drops=1)
    with GatewayClient(live.base_url, tenant.admin, transport=drop, **LIVE) as admin:
        with pytest.raises(GatewayUnreachable):
            admin.import_oppositions(b"numero\n0611000040\n")
        assert len(drop.sent) == 1  # the gateway did the import; the client did not resend
        drop.drops = 1
        with pytest.raises(GatewayUnreachable):
            admin.create_opposition("+33611000041")
        assert len(drop.sent) == 2
        assert {o["callee"] for o in admin.list_oppositions()} == {"+33611000040",
                                                                   "+33611000041"}


def mock(handler: Any, **kw: Any) -> GatewayClient:
    options = {"retries": 2, "total_timeout": 5.0} | kw
    return GatewayClient("http://gateway.test", "k", transport=httpx.MockTransport(handler),
                         **options)


def test_retry_policy_never_repeats_an_unsafe_request() -> None:
    seen: list[str] = []

    def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            return httpx.Response(status, json=body or {"error": "x", "detail": "d"},
                                  headers=headers)
        return handler

    for status in (400, 401, 403, 404, 409, 413, 415, 422, 500):
        seen.clear()
        with pytest.raises(GatewayError) as exc:
            mock(answer(status)).check("c", CALLEE)
        assert (exc.value.status, len(seen)) == (status, 1)
    assert isinstance(exc.value, ServerError)
    seen.clear()
    with pytest.raises(Unavailable):
        mock(answer(503, headers={"Retry-After": "0"})).check("c", CALLEE)
    assert len(seen) == 3  # idempotent: retried
    seen.clear()
    with pytest.raises(Unavailable):
        mock(answer(503, headers={"Retry-After": "0"})).import_consents(b"numero\n")
    assert len(seen) == 1  # an import may have been done: never resent
    seen.clear()
    with pytest.raises(RateLimited) as e429:
        mock(answer(429, headers={"Retry-After": "0"})).import_consents(b"numero\n")
    assert len(seen) == 3 and e429.value.retry_after == 0  # refused unread: safe to resend
    seen.clear()
    started = time.monotonic()
    with pytest.raises(RateLimited) as long_wait:
        mock(answer(429, headers={"Retry-After": "120"})).check("c", CALLEE)
    assert len(seen) == 1 and long_wait.value.retry_after == 120
    assert time.monotonic() - started < 0.5

    calls = 0

    def refuse_once(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json=REPORT)

    assert mock(refuse_once).import_consents(b"numero\n").created == 0
    assert calls == 2  # nothing was sent the first time: resending is safe
    calls = 0
    with pytest.raises(GatewayUnreachable):  # chunks already consumed cannot be sent again
        mock(refuse_once).import_consents(iter([b"numero\n"]))
    assert calls == 1


REPORT = {"import_id": "imp", "kind": "consents", "lines": 0, "created": 0, "updated": 0,
          "unchanged": 0, "rejected": 0, "blank": 0, "rejected_samples": [], "reasons": {},
          "sha256": "0" * 64}


# ----------------------------------------------------------------------------- fail closed


ALLOW = {"attempt_id": "att_1", "decision": "allow", "callee": CALLEE,
         "callee_time_zone": "Europe/Paris", "regime": "opt_in",
         "checked_at": "2026-11-23T10:30:00+01:00", "reasons": [], "penalty_eur": "0.00",
         "next_allowed_at": None}


@pytest.mark.parametrize(("status", "body"), [
    (200, ALLOW),  # the control: the same client dials on a 200 allow
    (500, {"error": "internal_error", "detail": "boom"}),
    (502, "<html>Bad Gateway</html>"),
    (504, ""),
    (200, "not json"),
    (200, [ALLOW]),
    (200, ALLOW | {"decision": "maybe"}),
    (200, ALLOW | {"decision": None}),
    (200, ALLOW | {"attempt_id": None}),
    (200, ALLOW | {"penalty_eur": "two cents"}),
    (200, ALLOW | {"external_id": "someone-else"}),
    (201, {"error": "x"}),
    (302, ""),
])
def test_decide_does_not_dial_on_any_answer_but_a_200_allow(status: int, body: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    d = mock(handler, total_timeout=0.5).decide("spring-2026", CALLEE)
    if (status, body) == (200, ALLOW):
        assert d.dial and d.attempt_id == "att_1"
        return
    assert d.dial is False and not d and d.error is not None, d
    assert isinstance(d.error, GatewayError | MalformedResponse), repr(d.error)


def test_decide_fails_closed_when_nobody_listens_or_nobody_answers() -> None:
    nobody = f"http://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    d = GatewayClient(nobody, "k").decide("spring-2026", CALLEE)
    assert not d.dial and isinstance(d.error, GatewayUnreachable) and d.attempt_id is None
    assert time.monotonic() - started < 1.5

    with socket.socket() as silent:  # accepts connections (the kernel's backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        d = GatewayClient(url, "k", timeout=0.2, total_timeout=0.5).decide("c", CALLEE)
        elapsed = time.monotonic() - started
        assert not d.dial and isinstance(d.error, GatewayTimeout), d
        assert 0.2 <= elapsed < 1.5, elapsed

        async def both() -> tuple[Decision, Decision]:
            async with AsyncGatewayClient(url, "k", timeout=0.2, total_timeout=0.5) as slow, \
                    AsyncGatewayClient(nobody, "k") as gone:
                return await slow.decide("c", CALLEE), await gone.decide("c", CALLEE)

        slow_d, gone_d = asyncio.run(both())
        assert not slow_d.dial and isinstance(slow_d.error, GatewayTimeout)
        assert not gone_d.dial and isinstance(gone_d.error, GatewayUnreachable)


def test_decide_fails_closed_once_the_server_stops(live: Server, tenant: Tenant,
                                                   tmp_path: Path) -> None:
    """A second gateway on the same database: it allows, then it is stopped: do not dial."""
    with gateway(tmp_path, live.database.url) as (proc, base):
        gw = GatewayClient(base, tenant.dialer, **LIVE)
        assert gw.decide("spring-2026", CALLEE, caller_id=tenant.canvassing_cli).dial
        _stop(proc)
        assert proc.poll() is not None
        gw.policy = dataclasses.replace(gw.policy, total_timeout=2.0)
        started = time.monotonic()
        d = gw.decide("spring-2026", CALLEE, caller_id=tenant.canvassing_cli)
        assert not d.dial and isinstance(d.error, GatewayUnreachable) and d.attempt_id is None
        assert time.monotonic() - started < 3.0
        gw.close()
