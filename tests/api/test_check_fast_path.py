"""The check's fast path (``app.http.fast_path``) answers exactly what FastAPI answers.

``POST /v1/calls/check``'s ordinary requests are served without FastAPI's routing and request
handling; everything else falls back to FastAPI. The same table of requests — answers of every
kind, refusals, errors raised by the service, bodies FastAPI refuses — is sent with the fast
path on and off (``app.http.FAST_PATHS``), on both databases, and the answers compared: status,
headers, body (the attempt ids aside, fresh per attempt) and the metrics.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi import routing
from prometheus_client import REGISTRY

from app import http
from tests.api.conftest import codes
from tests.factories import Tenant, add_consent, auth

_ATTEMPT_ID = re.compile(rb"att_[0-9a-f]+")


def _requests(t: Tenant, run: str) -> list[tuple[str, dict[str, str], bytes]]:
    """(what, headers, body): ``run`` keeps each run's callees and external ids its own."""
    json_headers = {**auth(t.dialer), "Content-Type": "application/json"}

    def body(**fields: Any) -> bytes:
        fields.setdefault("campaign", "spring-2026")
        fields.setdefault("caller_id", t.canvassing_cli)
        return json.dumps(fields).encode()

    consented, fresh = f"+3361234{run}01", f"+3361234{run}02"
    return [
        ("allow", json_headers, body(callee=consented)),
        ("allow, national form, extension fields", json_headers,
         body(callee="0" + consented[3:5] + " " + consented[5:], agent_id="a-1",
              contract_ref="C-1", callee_department="2A")),
        ("deny: no consent", json_headers, body(callee=fresh)),
        ("deny: invalid callee", json_headers, body(callee="06 12 34")),
        ("deny: foreign", json_headers, body(callee="+442071838750")),
        ("no caller id", json_headers, body(callee=consented, caller_id=None)),
        ("first with an external id", json_headers,
         body(callee=consented, external_id=f"ext-{run}")),
        ("replay", json_headers, body(callee=consented, external_id=f"ext-{run}")),
        ("409 idempotency conflict", json_headers,
         body(callee=fresh, external_id=f"ext-{run}")),
        ("404 unknown campaign", json_headers, body(callee=consented, campaign="nope")),
        ("+json content type", {**json_headers, "Content-Type": "application/merge+json"},
         body(callee=consented)),
        ("422 unknown field", json_headers, body(callee=consented, colour="red")),
        ("422 missing campaign", json_headers, b'{"callee": "+33612345678"}'),
        ("422 not JSON", json_headers, b'{"callee": '),
        ("422 a list", json_headers, b'["callee"]'),
        ("422 not UTF-8", json_headers, b'{"callee": "\xff"}'),
        ("422 too deep", json_headers, b"[" * 100_000 + b"]" * 100_000),
        ("422 bad departement", json_headers, body(callee=consented, callee_department="1")),
        ("403 an admin key", {**json_headers, **auth(t.admin)}, body(callee=consented)),
        ("401 no key", {"Content-Type": "application/json"}, body(callee=consented)),
        ("415 not JSON", {**json_headers, "Content-Type": "text/plain"},
         body(callee=consented)),
    ]


def _metrics() -> dict[str, float]:
    out = {}
    for family in REGISTRY.collect():
        if family.name in ("gateway_checks", "gateway_reasons", "gateway_check_seconds"):
            for s in family.samples:  # (a duration's bucket depends on the machine)
                if s.name.endswith("_total") or s.name == "gateway_check_seconds_count":
                    out[s.name + repr(sorted(s.labels.items()))] = s.value
    return out


def _run(t: Tenant, run: str, fast: bool, monkeypatch: pytest.MonkeyPatch
         ) -> tuple[list[tuple[str, int, dict[str, str], bytes]], int, dict[str, float]]:
    monkeypatch.setattr(http, "FAST_PATHS", fast)
    add_consent(t, callee=f"+3361234{run}01")
    through_fastapi = 0
    original = routing.serialize_response

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal through_fastapi
        through_fastapi += 1
        return await original(*args, **kwargs)

    monkeypatch.setattr(routing, "serialize_response", counted)
    before = _metrics()
    answers = []
    for what, headers, body in _requests(t, run):
        r = t.client.post("/v1/calls/check", content=body, headers=headers)
        kept = {k: v for k, v in r.headers.items() if k != "x-request-id"}
        content = _ATTEMPT_ID.sub(b"att_", r.content)
        for own in (f"+3361234{run}", f"ext-{run}"):
            content = content.replace(own.encode(), b"RUN")
        answers.append((what, r.status_code, kept, content))
    after = _metrics()
    moved = {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k, 0.0)}
    return answers, through_fastapi, moved


def test_the_fast_path_answers_what_fastapi_answers(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, fast_via_fastapi, fast_metrics = _run(tenant, "11", True, monkeypatch)
    slow, slow_via_fastapi, slow_metrics = _run(tenant, "22", False, monkeypatch)
    for f, s in zip(fast, slow, strict=True):
        assert f == s, f[0]
    # the answers are the ones the table names (so the comparison compares something)
    statuses = {what: status for what, status, _, _ in fast}
    assert statuses["allow"] == statuses["replay"] == 200
    assert statuses["409 idempotency conflict"] == 409
    assert statuses["404 unknown campaign"] == 404
    assert statuses["403 an admin key"] == 403
    assert statuses["401 no key"] == 401 and statuses["415 not JSON"] == 415
    assert all(status == 422 for what, status, _, _ in fast if what.startswith("422"))
    by_what = {what: json.loads(content) for what, _, _, content in fast}
    assert by_what["allow"]["decision"] == "allow"
    assert by_what["replay"]["replayed"] is True
    assert "CALLEE_INVALID" in codes(by_what["deny: invalid callee"])
    # FastAPI served only what the fast path declined: the 422s and the 403 (401 and 415 are
    # answered before either), and the service's 404/409 are the handlers' answers
    assert slow_via_fastapi == sum(1 for _, status, _, _ in slow if status == 200)
    assert fast_via_fastapi == 0
    # the metrics moved alike (a replay and an error count no check)
    assert fast_metrics == slow_metrics
    assert any(k.startswith("gateway_checks_total") for k in fast_metrics)
