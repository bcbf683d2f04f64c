"""``GatewayClient``: the synchronous client (httpx.Client)."""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import IO, Any, Literal, TypeVar

import httpx

from gateway_client import _calls, _core
from gateway_client._core import (
    Call,
    Policy,
    Upload,
    attempt_timeout,
    auth_headers,
    new_external_id,
    retry_delay,
    transport_error,
)
from gateway_client._rows import ROW_FORMATS, RowFormat, check_answer, parse_rows, scrub_result
from gateway_client.errors import error_for
from gateway_client.models import (
    Attempt,
    CheckResult,
    Decision,
    ImportReport,
    OutcomeResult,
    OutcomeStatus,
    ScrubResult,
)

T = TypeVar("T")


class GatewayClient:
    """Synchronous client for the gateway's public API.

    ``base_url``: e.g. ``https://gateway.example``; ``key``: the API key (a dialer's for the
    check path). ``timeout``: per attempt on short calls — default 0.5 s to connect, 1 s to
    read; seconds for every phase, ``(connect, read)`` or an ``httpx.Timeout``;
    ``bulk_timeout``: uploads and reports (default 5 s / 600 s). ``retries``: how many times a
    call is retried when that is safe (see the README); ``total_timeout``: no call on the short
    path lasts longer than this, retries included (default 2.5 s; None: no bound);
    ``max_retry_after``: the longest ``Retry-After`` honoured (longer: the error is raised).
    ``http_client`` or ``transport``: bring your own (the client does not close one you give).
    """

    def __init__(
        self, base_url: str, key: str, *,
        timeout: float | tuple[float, float] | httpx.Timeout | None = None,
        bulk_timeout: float | tuple[float, float] | httpx.Timeout | None = None,
        retries: int = _core.DEFAULT_RETRIES,
        total_timeout: float | None = _core.DEFAULT_TOTAL_TIMEOUT,
        max_retry_after: float = _core.DEFAULT_MAX_RETRY_AFTER,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.base_url = base_url.rstrip("/")
        self._headers = auth_headers(key, headers)
        self._timeout = _core.as_timeout(timeout, _core.DEFAULT_TIMEOUT)
        self._bulk_timeout = _core.as_timeout(bulk_timeout, _core.DEFAULT_BULK_TIMEOUT)
        self.policy = Policy(retries=retries, total_timeout=total_timeout,
                             max_retry_after=max_retry_after)
        self._owns = http_client is None
        self._http = http_client or httpx.Client(
            transport=transport, limits=httpx.Limits(max_keepalive_connections=20))

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        if self._owns:
            self._http.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------------ low level

    def _execute(self, call: Call[Any], *, stream: bool = False) -> httpx.Response:
        """Send ``call`` with the retry policy; the 2xx response (open when ``stream``), or the
        error raised (``GatewayError`` subclass, ``GatewayUnreachable``)."""
        started = time.monotonic()
        attempt = 0
        while True:
            timeout = attempt_timeout(self._bulk_timeout if call.bulk else self._timeout,
                                      self.policy, started, call.bulk)
            kw = call.request_kwargs(self._headers)
            content = call.body.sync_content() if call.body is not None else None
            request = self._http.build_request(call.method, self.base_url + call.path,
                                               content=content, timeout=timeout, **kw)
            try:
                response = self._http.send(request, stream=True)
                if not stream or response.status_code >= 300:
                    try:
                        response.read()
                    finally:
                        response.close()
            except httpx.HTTPError as exc:
                delay = retry_delay(call, self.policy, attempt, started, exc=exc)
                if delay is None:
                    raise transport_error(exc) from exc
            else:
                if response.status_code < 300:
                    return response
                delay = retry_delay(call, self.policy, attempt, started, response=response)
                if delay is None:
                    raise error_for(response.status_code, response.content, response.headers)
            time.sleep(delay)
            attempt += 1

    def _run(self, call: Call[T]) -> T:
        return call.parse(self._execute(call))

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, content: bytes | None = None,
                headers: Mapping[str, str] | None = None,
                idempotent: bool | None = None) -> httpx.Response:
        """Any request, with this client's key, timeouts, retry policy and errors: the 2xx
        response, read. ``idempotent`` (default: GET/HEAD only) allows retries after the
        request may have been sent."""
        call: Call[httpx.Response] = Call(
            method.upper(), path, lambda r: r,
            idempotent=method.upper() in ("GET", "HEAD") if idempotent is None else idempotent,
            params=_core.params_of(params) if params else None, json=json,
            has_json=json is not None, headers=dict(headers or {}),
            body=_core.Body(content, httpx.Headers(headers).get("content-type",
                                                                "application/octet-stream"))
            if content is not None else None)
        return self._run(call)

    def health(self) -> dict[str, Any]:
        """``GET /healthz``: the process is up."""
        return self._run(_calls.get_object("/healthz"))

    def ready(self) -> dict[str, Any]:
        """``GET /readyz``: the database answers (``Unavailable`` otherwise)."""
        return self._run(_calls.get_object("/readyz"))

    # ------------------------------------------------------------------ the check path

    def check(self, campaign: str, callee: str, *, caller_id: str | None = None,
              agent_id: str | None = None, contract_ref: str | None = None,
              external_id: str | None = None, callee_department: str | None = None,
              extra: Mapping[str, Any] | None = None) -> CheckResult:
        """``POST /v1/calls/check``: decide (and log) one attempt just before dialling. Sent
        with ``external_id`` (a new unique one when not given), so a retry is counted once.
        Raises on any error: use ``decide`` in a dialer."""
        ext = external_id or new_external_id()
        body = _core.check_body(campaign, callee, caller_id, agent_id, contract_ref, ext,
                                callee_department, extra)
        return check_answer(self._run(_calls.check(body)), ext)

    def decide(self, campaign: str, callee: str, *, caller_id: str | None = None,
               agent_id: str | None = None, contract_ref: str | None = None,
               external_id: str | None = None,
               callee_department: str | None = None) -> Decision:
        """``check``, failing closed: ``Decision.dial`` is True only for a 200 ``allow``;
        on any error (timeout, refused, non-200, malformed answer) ``dial`` is False and
        ``error`` says why. Never raises for those."""
        ext = external_id or new_external_id()
        try:
            result = self.check(campaign, callee, caller_id=caller_id, agent_id=agent_id,
                                contract_ref=contract_ref, external_id=ext,
                                callee_department=callee_department)
        except Exception as exc:  # fail closed: whatever went wrong, do not dial
            return Decision.failed(exc, ext)
        return Decision.of(result, ext)

    def evaluate(self, campaign: str, callee: str, *, caller_id: str | None = None,
                 agent_id: str | None = None, contract_ref: str | None = None,
                 callee_department: str | None = None, at: Any = None,
                 extra: Mapping[str, Any] | None = None) -> CheckResult:
        """``POST /v1/calls/evaluate``: judge a call at ``at`` (default now); nothing logged."""
        body = _core.check_body(campaign, callee, caller_id, agent_id, contract_ref, None,
                                callee_department, extra)
        return self._run(_calls.evaluate(body, at))

    def outcome(self, attempt_id: str, status: OutcomeStatus, *, sip_code: int | None = None,
                duration_s: int = 0, consumer_refused: bool = False,
                consumer_opposed: bool = False) -> OutcomeResult:
        """``POST /v1/calls/{attempt_id}/outcome``: what happened to the call (idempotent; a
        different second outcome is ``Conflict``)."""
        return self._run(_calls.outcome(attempt_id, status, sip_code, duration_s,
                                        consumer_refused, consumer_opposed))

    def disposition(self, attempt_id: str, *, consumer_refused: bool = False,
                    consumer_opposed: bool = False) -> OutcomeResult:
        """``POST /v1/calls/{attempt_id}/disposition``: what the agent learnt in an answered
        call whose outcome came from the SIP proxy (the consumer refused; opposed). Each flag
        takes effect once; ``Conflict`` while the attempt has no ``answered`` outcome yet
        (``recorded_status`` None: retry shortly)."""
        return self._run(_calls.disposition(attempt_id, consumer_refused, consumer_opposed))

    def get_attempt(self, attempt_id: str) -> Attempt:
        """``GET /v1/calls/{attempt_id}``: a stored attempt and its outcome status."""
        return self._run(_calls.get_attempt(attempt_id))

    # ------------------------------------------------------------------ uploads

    def import_consents(self, data: Upload, *, force: bool = False,
                        content_type: str = "text/csv") -> ImportReport:
        """``POST /v1/consents/import``: a CSV file (bytes, a path, a binary file, chunks)."""
        return self._run(_calls.bulk_import("consents", data, force, content_type))

    def import_contracts(self, data: Upload, *, force: bool = False,
                         content_type: str = "text/csv") -> ImportReport:
        """``POST /v1/contracts/import``."""
        return self._run(_calls.bulk_import("contracts", data, force, content_type))

    def import_oppositions(self, data: Upload, *, force: bool = False,
                           content_type: str = "text/csv") -> ImportReport:
        """``POST /v1/oppositions/import``."""
        return self._run(_calls.bulk_import("oppositions", data, force, content_type))

    def scrub(self, data: Upload, campaign: str, *, caller_id: str | None = None,
              agent_id: str | None = None, force: bool = False,
              content_type: str = "text/csv", into: IO[bytes] | None = None) -> ScrubResult:
        """``POST /v1/scrub``: the prospect file annotated (``callable_now``, reasons,
        ``next_allowed_at``); written to ``into`` when given, else in ``content``."""
        call = _calls.scrub(data, campaign, caller_id, agent_id, force, content_type)
        response = self._execute(call, stream=into is not None)
        if into is None:
            return scrub_result(response, response.content)
        try:
            for chunk in response.iter_bytes():
                into.write(chunk)
        except httpx.HTTPError as exc:
            raise transport_error(exc) from exc
        finally:
            response.close()
        return scrub_result(response, None)

    # ------------------------------------------------------------------ reports

    def attempts_report(self, *, from_: Any = None, to: Any = None, campaign: str | None = None,
                        decision: Literal["allow", "deny"] | None = None,
                        reason: str | None = None, caller_id: str | None = None,
                        agent_id: str | None = None, principal: str | None = None,
                        format: RowFormat = "jsonl") -> Generator[dict[str, Any], None, None]:
        """``GET /v1/reports/attempts``, streamed: one dict per attempt (``jsonl``: JSON
        values; ``csv``: strings). Errors are raised here; close the generator (or exhaust
        it) to release the connection."""
        if format not in ROW_FORMATS:
            raise ValueError(f"format: one of {', '.join(ROW_FORMATS)}")
        call = _calls.attempts(_calls.report_params(
            from_, to, campaign=campaign, decision=decision, reason=reason,
            caller_id=caller_id, agent_id=agent_id, principal=principal, format=format))
        response = self._execute(call, stream=True)
        return _stream_rows(response, format)

    def summary(self, *, from_: Any = None, to: Any = None, campaign: str | None = None,
                caller_id: str | None = None, principal: str | None = None) -> dict[str, Any]:
        """``GET /v1/reports/summary``: totals, by reason, by campaign, by day."""
        params = _calls.report_params(from_, to, campaign=campaign, caller_id=caller_id,
                                      principal=principal)
        return self._run(_calls.summary(params))

    def audit_pdf(self, from_: Any, to: Any) -> bytes:
        """``GET /v1/reports/audit.pdf``: the signed audit report (PDF bytes)."""
        return self._run(_calls.audit_pdf(from_, to))

    # ------------------------------------------------------------------ registries (admin)

    def create_consent(self, callee: str, *, given_at: Any, evidence: Mapping[str, Any],
                       scope: str = "canvassing", channel: str = "web_form",
                       expires_at: Any = None, **extra: Any) -> dict[str, Any]:
        """``POST /v1/consents``."""
        return self._run(_calls.post("/v1/consents", _calls.consent_body(
            callee, given_at, scope, channel, evidence, expires_at, extra)))

    def revoke_consent(self, consent_id: str, reason: str | None = None) -> dict[str, Any]:
        """``POST /v1/consents/{id}/revoke``."""
        return self._run(_calls.post(
            f"/v1/consents/{_core.segment(consent_id)}/revoke", {"reason": reason}))

    def list_consents(self, callee: str | None = None) -> list[dict[str, Any]]:
        """``GET /v1/consents``."""
        return self._run(_calls.get_list("/v1/consents", _calls.optional(callee=callee)))

    def create_contract(self, callee: str, reference: str, *, starts_on: Any,
                        sector: str = "general", ends_on: Any = None,
                        **extra: Any) -> dict[str, Any]:
        """``POST /v1/contracts``."""
        return self._run(_calls.post("/v1/contracts", _calls.contract_body(
            callee, reference, starts_on, sector, ends_on, extra)))

    def list_contracts(self, callee: str | None = None) -> list[dict[str, Any]]:
        """``GET /v1/contracts``."""
        return self._run(_calls.get_list("/v1/contracts", _calls.optional(callee=callee)))

    def create_opposition(self, callee: str, source: str = "api",
                          **extra: Any) -> dict[str, Any]:
        """``POST /v1/oppositions`` (the tenant's internal do-not-call list)."""
        return self._run(_calls.post(
            "/v1/oppositions", {"callee": callee, "source": source} | extra))

    def list_oppositions(self, callee: str | None = None) -> list[dict[str, Any]]:
        """``GET /v1/oppositions``."""
        return self._run(_calls.get_list("/v1/oppositions", _calls.optional(callee=callee)))

    # ------------------------------------------------------------------ set-up (admin)

    def create_campaign(self, campaign_id: str, *, caller_ids: Sequence[str],
                        purpose: str = "commercial", audience: str = "consumers",
                        sector: str = "general", automated: bool = False,
                        **extra: Any) -> dict[str, Any]:
        """``POST /v1/campaigns``."""
        return self._run(_calls.post("/v1/campaigns", _calls.campaign_body(
            campaign_id, purpose, audience, sector, automated, caller_ids, extra)))

    def get_campaign(self, campaign_id: str) -> dict[str, Any]:
        """``GET /v1/campaigns/{id}``."""
        return self._run(_calls.get_object(f"/v1/campaigns/{_core.segment(campaign_id)}"))

    def list_campaigns(self) -> list[dict[str, Any]]:
        """``GET /v1/campaigns``."""
        return self._run(_calls.get_list("/v1/campaigns"))

    def create_caller_id(self, number: str, assigned_to: str | None = None) -> dict[str, Any]:
        """``POST /v1/caller-ids``."""
        return self._run(_calls.post(
            "/v1/caller-ids", {"number": number, "assigned_to": assigned_to}))

    def list_caller_ids(self) -> list[dict[str, Any]]:
        """``GET /v1/caller-ids``."""
        return self._run(_calls.get_list("/v1/caller-ids"))

    def create_key(self, tenant_id: str, role: str) -> dict[str, Any]:
        """``POST /v1/tenants/{id}/keys``: the new key (its secret shown once)."""
        return self._run(_calls.post(
            f"/v1/tenants/{_core.segment(tenant_id)}/keys", {"role": role}))

    def list_keys(self, tenant_id: str) -> list[dict[str, Any]]:
        """``GET /v1/tenants/{id}/keys`` (never a secret)."""
        return self._run(_calls.get_list(f"/v1/tenants/{_core.segment(tenant_id)}/keys"))

    def revoke_key(self, tenant_id: str, key_id: str) -> dict[str, Any]:
        """``DELETE /v1/tenants/{id}/keys/{key_id}`` (revoking twice changes nothing)."""
        return self._run(_calls.delete(
            f"/v1/tenants/{_core.segment(tenant_id)}/keys/{_core.segment(key_id)}"))


def _stream_rows(response: httpx.Response,
                 format: RowFormat) -> Generator[dict[str, Any], None, None]:
    try:
        yield from parse_rows(_text_chunks(response), format)
    finally:
        response.close()


def _text_chunks(response: httpx.Response) -> Iterator[str]:
    try:
        yield from response.iter_text()
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc
