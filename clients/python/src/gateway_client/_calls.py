"""Each endpoint of the public contract as a ``Call`` (shared by the sync and async clients)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from gateway_client._core import (
    Body,
    Call,
    Upload,
    as_bytes,
    as_json,
    as_list,
    as_object,
    drop_none,
    iso,
    json_call,
    params_of,
    parser,
    segment,
)
from gateway_client.models import Attempt, CheckResult, ImportReport, OutcomeResult

IMPORT_KINDS = ("consents", "contracts", "oppositions")


def check(body: dict[str, Any]) -> Call[CheckResult]:
    # idempotent: the body always carries an external_id (the client makes one when missing)
    return json_call("POST", "/v1/calls/check", parser(CheckResult.from_json),
                     idempotent=True, json=body)


def evaluate(body: dict[str, Any], at: Any) -> Call[CheckResult]:
    if at is not None:
        body = body | {"at": iso(at)}
    body.pop("external_id", None)
    return json_call("POST", "/v1/calls/evaluate", parser(CheckResult.from_json),
                     idempotent=True, json=body)  # no side effect


def outcome(attempt_id: str, status: str, sip_code: int | None, duration_s: int,
            consumer_refused: bool, consumer_opposed: bool) -> Call[OutcomeResult]:
    body = {"status": status, "sip_code": sip_code, "duration_s": duration_s,
            "consumer_refused": consumer_refused, "consumer_opposed": consumer_opposed}
    # idempotent: the same outcome again answers the stored one
    return json_call("POST", f"/v1/calls/{segment(attempt_id)}/outcome",
                     parser(OutcomeResult.from_json), idempotent=True, json=body)


def disposition(attempt_id: str, consumer_refused: bool,
                consumer_opposed: bool) -> Call[OutcomeResult]:
    body = {"consumer_refused": consumer_refused, "consumer_opposed": consumer_opposed}
    # idempotent: each flag takes effect once, a replay answers the same
    return json_call("POST", f"/v1/calls/{segment(attempt_id)}/disposition",
                     parser(OutcomeResult.from_json), idempotent=True, json=body)


def get_attempt(attempt_id: str) -> Call[Attempt]:
    return json_call("GET", f"/v1/calls/{segment(attempt_id)}", parser(Attempt.from_json),
                     idempotent=True)


def bulk_import(kind: str, data: Upload, force: bool, content_type: str) -> Call[ImportReport]:
    if kind not in IMPORT_KINDS:
        raise ValueError(f"kind: one of {', '.join(IMPORT_KINDS)}")
    return Call("POST", f"/v1/{kind}/import", parser(ImportReport.from_json), idempotent=False,
                params=params_of({"force": force}) if force else None,
                body=Body(data, content_type), bulk=True)


def scrub(data: Upload, campaign: str, caller_id: str | None, agent_id: str | None,
          force: bool, content_type: str) -> Call[httpx.Response]:
    return Call("POST", "/v1/scrub", lambda r: r, idempotent=False,
                params=params_of({"campaign": campaign, "caller_id": caller_id,
                                  "agent_id": agent_id, "force": force or None}),
                body=Body(data, content_type), bulk=True)


def report_params(from_: Any, to: Any, **filters: Any) -> dict[str, str]:
    return params_of({"from": iso(from_), "to": iso(to), **filters})


def summary(params: dict[str, str]) -> Call[dict[str, Any]]:
    return Call("GET", "/v1/reports/summary", as_object, idempotent=True, params=params,
                bulk=True)


def attempts(params: dict[str, str]) -> Call[httpx.Response]:
    return Call("GET", "/v1/reports/attempts", lambda r: r, idempotent=True, params=params,
                bulk=True)


def audit_pdf(from_: Any, to: Any) -> Call[bytes]:
    return Call("GET", "/v1/reports/audit.pdf", as_bytes, idempotent=True,
                params=report_params(from_, to), bulk=True,
                headers={"Accept": "application/pdf"})


# ----------------------------------------------------------------- registries and set-up


def get(path: str, params: Mapping[str, Any] | None = None) -> Call[Any]:
    return json_call("GET", path, as_json, idempotent=True, params=params)


def get_object(path: str, params: Mapping[str, Any] | None = None) -> Call[dict[str, Any]]:
    return json_call("GET", path, as_object, idempotent=True, params=params)


def get_list(path: str, params: Mapping[str, Any] | None = None
             ) -> Call[list[dict[str, Any]]]:
    return json_call("GET", path, as_list, idempotent=True, params=params)


def post(path: str, body: Any) -> Call[dict[str, Any]]:
    return json_call("POST", path, as_object, idempotent=False, json=body, has_json=True)


def delete(path: str) -> Call[dict[str, Any]]:
    return json_call("DELETE", path, as_object, idempotent=True)  # revoking twice: no change


def consent_body(callee: str, given_at: Any, scope: str, channel: str,
                 evidence: Mapping[str, Any], expires_at: Any,
                 extra: Mapping[str, Any]) -> dict[str, Any]:
    return {"callee": callee, "scope": scope, "given_at": iso(given_at), "channel": channel,
            "evidence": dict(evidence), "expires_at": iso(expires_at)} | dict(extra)


def contract_body(callee: str, reference: str, starts_on: Any, sector: str, ends_on: Any,
                  extra: Mapping[str, Any]) -> dict[str, Any]:
    return {"callee": callee, "reference": reference, "sector": sector,
            "starts_on": iso(starts_on), "ends_on": iso(ends_on)} | dict(extra)


def campaign_body(campaign_id: str, purpose: str, audience: str, sector: str, automated: bool,
                  caller_ids: Sequence[str], extra: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": campaign_id, "purpose": purpose, "audience": audience, "sector": sector,
            "automated": automated, "caller_ids": list(caller_ids)} | dict(extra)


def optional(**values: Any) -> dict[str, Any]:
    return drop_none(values)
