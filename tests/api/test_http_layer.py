"""The HTTP edge (``app.http``): authentication before the body, JSON bodies limited while they
stream, 415, and one error envelope for every error — 404, 405 with its ``Allow``, Starlette's
and FastAPI's own exceptions, 413, 415, 422, 503 and 500 with a request id the log shows.

Where it matters whether the body was read, the app is driven at the ASGI level with a
``receive`` that counts what it hands out (a test client reads the whole body first)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from itertools import repeat
from typing import Any

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

import app.http as http
from app.config import get_settings
from app.main import create_app
from app.tenancy import auth as auth_module
from tests.factories import CALLEE, CANVASSING_CLI, Tenant, auth

CHECK = {"campaign": "spring-2026", "callee": CALLEE, "caller_id": CANVASSING_CLI}
CHUNK = 64 * 1024
MIB = 1024 * 1024


class Sent:
    """An ASGI exchange: the answer, and how many body bytes the app asked for."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.read = 0

    def json(self) -> Any:
        import json

        return json.loads(self.body)


def drive(app: FastAPI, method: str, path: str, headers: dict[str, str],
          chunks: Iterator[bytes]) -> Sent:
    """One request straight into the ASGI app, its body handed out chunk by chunk (forever,
    if ``chunks`` is endless: the app must stop asking)."""
    sent = Sent()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }

    async def receive() -> dict[str, Any]:
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent.read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.status = message["status"]
            sent.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            sent.body += message.get("body", b"")

    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=60))
    return sent


def junk() -> Iterator[bytes]:
    """An endless body: 64 KiB chunks of a JSON string that never ends."""
    yield b'{"campaign": "' + b"x" * (CHUNK - 14)
    yield from repeat(b"x" * CHUNK)


def is_envelope(body: Any, code: str) -> bool:
    return isinstance(body, dict) and body.get("error") == code and bool(body.get("detail"))


# --- authentication before the body -------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/v1/calls/check"), ("POST", "/v1/consents"), ("PUT", "/v1/campaigns/x"),
    ("POST", "/v1/consents/import"), ("POST", "/v1/bloctel/imports"), ("POST", "/v1/scrub"),
    ("POST", "/v1/no-such-route"),
])
@pytest.mark.parametrize("authorization", [None, "Bearer gw_not-a-key", "Basic abc"])
def test_no_or_a_bad_key_is_401_before_any_body_byte(
    tenant: Tenant, method: str, path: str, authorization: str | None
) -> None:
    headers = {"content-type": "application/json", "transfer-encoding": "chunked"}
    if authorization:
        headers["authorization"] = authorization
    sent = drive(create_app(), method, path, headers, junk())
    assert sent.status == 401
    assert sent.read == 0  # not one byte of the (endless) body was asked for
    assert is_envelope(sent.json(), "unauthorized")
    assert sent.headers["www-authenticate"] == "Bearer"


def test_a_public_v1_route_needs_no_key(client: TestClient) -> None:
    r = client.get("/v1/rules")
    assert r.status_code == 200 and r.json()["codes"]


def test_the_key_is_resolved_once_per_request(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The middleware resolves it; the route's dependency takes the principal from the scope:
    one look-up and one rate-limit token per request, not two."""
    calls: list[str | None] = []
    resolve = auth_module.resolve

    async def counted(authorization: str | None) -> Any:
        calls.append(authorization)
        return await resolve(authorization)

    monkeypatch.setattr(http, "resolve", counted)
    monkeypatch.setattr(auth_module, "resolve", counted)
    for request in (lambda: tenant.check(callee=CALLEE),
                    lambda: tenant.get("/v1/campaigns", role="admin"),
                    lambda: tenant.get("/v1/bloctel", role="dialer")):
        calls.clear()
        assert request().status_code == 200
        assert len(calls) == 1


# --- JSON bodies: 413 while they stream ---------------------------------------------------


def test_a_declared_length_over_the_limit_is_413_before_any_body_byte(tenant: Tenant) -> None:
    headers = {"authorization": f"Bearer {tenant.dialer}", "content-type": "application/json",
               "content-length": str(2 * MIB)}
    sent = drive(create_app(), "POST", "/v1/calls/check", headers, junk())
    assert sent.status == 413 and sent.read == 0
    body = sent.json()
    assert is_envelope(body, "payload_too_large") and body["limit_bytes"] == MIB


def test_a_chunked_json_body_is_cut_when_it_passes_the_limit(tenant: Tenant) -> None:
    headers = {"authorization": f"Bearer {tenant.admin}", "content-type": "application/json",
               "transfer-encoding": "chunked"}
    for method, path in (("POST", "/v1/calls/check"), ("POST", "/v1/consents"),
                         ("PATCH", "/v1/policy")):
        sent = drive(create_app(), method, path, headers, junk())
        assert sent.status == 413, (path, sent.body)
        assert is_envelope(sent.json(), "payload_too_large")
        assert MIB < sent.read <= MIB + CHUNK  # counted while streaming, never held whole


@pytest.fixture
def max_json(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("GATEWAY_MAX_JSON_BYTES", "2000")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_limit_is_a_setting_and_uploads_are_not_held_to_it(
    tenant: Tenant, max_json: None
) -> None:
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        small = c.post("/v1/calls/check", json=CHECK, headers=auth(tenant.dialer))
        assert small.status_code == 200, small.text
        big = c.post("/v1/calls/check", json=CHECK | {"agent_id": "a" * 3000},
                     headers=auth(tenant.dialer))
        assert big.status_code == 413 and big.json()["limit_bytes"] == 2000
        # chunked: no Content-Length, the count decides
        chunked = c.post("/v1/calls/check", headers=auth(tenant.dialer) | {
            "content-type": "application/json"}, content=iter([b'{"x": "', b"y" * 3000, b'"}']))
        assert chunked.status_code == 413, chunked.text
        # an upload streams under its own limits
        csv = "callee;source\n" + "".join(f"06 12 34 {i // 100:02d} {i % 100:02d};crm\n"
                                          for i in range(200))
        r = c.post("/v1/oppositions/import", content=csv.encode(),
                   headers=auth(tenant.admin) | {"content-type": "text/csv"})
        assert len(csv) > 2000 and r.status_code not in (413, 415) and r.status_code < 500, r.text


# --- 415 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("content_type", "status"), [
    (None, 415),
    ("text/plain", 415),
    ("application/x-www-form-urlencoded", 415),
    ("multipart/form-data; boundary=x", 415),
    ("application/xml", 415),
    ("application/json", 200),
    ("application/json; charset=utf-8", 200),
    ("Application/JSON", 200),
])
def test_a_json_endpoint_takes_json_only(
    tenant: Tenant, content_type: str | None, status: int
) -> None:
    import json

    headers = auth(tenant.dialer) | ({"content-type": content_type} if content_type else {})
    r = tenant.client.post("/v1/calls/evaluate", content=json.dumps(CHECK).encode(),
                           headers=headers)
    assert r.status_code == status, r.text
    if status == 415:
        assert is_envelope(r.json(), "unsupported_media_type")
        assert "application/json" in r.json()["detail"]


def test_415_is_only_for_json_endpoints(tenant: Tenant) -> None:
    # an unknown route stays a 404, a route without a body ignores one
    r = tenant.client.post("/v1/no-such", content=b"x", headers=auth(tenant.admin))
    assert r.status_code == 404
    r = tenant.client.get("/v1/campaigns", headers=auth(tenant.admin) | {
        "content-type": "text/plain"})
    assert r.status_code == 200


# --- the envelope everywhere --------------------------------------------------------------


def test_unknown_routes_are_404_in_the_envelope(tenant: Tenant) -> None:
    for path, headers in (("/nope", {}), ("/v1/nope", auth(tenant.admin)),
                          ("/v1/campaigns/x/y/z", auth(tenant.admin))):
        r = tenant.client.get(path, headers=headers)
        assert r.status_code == 404 and is_envelope(r.json(), "not_found"), (path, r.text)
    r = tenant.client.get("/v1/campaigns/nope", headers=auth(tenant.admin))  # an ApiError
    assert r.status_code == 404 and is_envelope(r.json(), "not_found")


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("DELETE", "/v1/caller-ids", "GET, POST"),
    ("PATCH", "/v1/campaigns/spring-2026", "GET, PUT"),
    ("POST", "/healthz", "GET"),
    ("PUT", "/v1/calls/check", "GET, POST"),  # POST check, GET /v1/calls/{attempt_id}
    ("DELETE", "/v1/policy", "GET, PATCH"),
])
def test_a_wrong_method_is_405_with_every_allowed_method(
    tenant: Tenant, method: str, path: str, allow: str
) -> None:
    r = tenant.client.request(method, path, headers=auth(tenant.admin))
    assert r.status_code == 405, r.text
    assert r.headers["allow"] == allow
    assert is_envelope(r.json(), "method_not_allowed") and allow in r.json()["detail"]


def test_validation_errors_are_422_in_the_envelope(tenant: Tenant) -> None:
    r = tenant.post("/v1/calls/check", {"campaign": 3}, role="dialer")
    assert r.status_code == 422 and r.json()["error"] == "invalid"
    assert ["body", "callee"] in [e["loc"] for e in r.json()["detail"]]


def _app_with(path: str, endpoint: Any) -> FastAPI:
    app = create_app()
    app.add_api_route(path, endpoint, methods=["GET"])
    return app


def test_starlette_and_fastapi_exceptions_are_in_the_envelope(db: Any) -> None:
    def teapot() -> None:
        raise HTTPException(status_code=418, detail="short and stout",
                            headers={"X-Why": "tea"})

    def conflict() -> None:
        raise HTTPException(status_code=409, detail="already there")

    app = _app_with("/teapot", teapot)
    app.add_api_route("/conflict", conflict, methods=["GET"])
    with TestClient(app) as c:
        r = c.get("/teapot")
        assert r.status_code == 418 and r.headers["x-why"] == "tea"
        assert r.json() == {"error": "i_m_a_teapot", "detail": "short and stout"}
        assert c.get("/conflict").json() == {"error": "conflict", "detail": "already there"}


def test_a_500_is_json_with_a_request_id_the_log_shows(
    db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(_app_with("/v1/boom", boom), raise_server_exceptions=False) as c, \
            caplog.at_level(logging.ERROR, logger="gateway"):
        r = c.get("/v1/boom")
    assert r.status_code == 500
    body = r.json()
    assert is_envelope(body, "internal_error")
    assert body["request_id"] == r.headers["x-request-id"]
    assert "secret internals" not in r.text  # the details are for the log
    [record] = [x for x in caplog.records if body["request_id"] in x.getMessage()]
    assert record.exc_info and isinstance(record.exc_info[1], RuntimeError)
    assert "GET /v1/boom" in record.getMessage()


def test_a_database_outage_during_authentication_is_503(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(_: str | None) -> Any:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(http, "resolve", down)
    r = tenant.check(callee=CALLEE)
    assert r.status_code == 503 and is_envelope(r.json(), "unavailable")
    assert r.headers["retry-after"] == "1"


def test_every_answer_carries_a_request_id(tenant: Tenant) -> None:
    ids = {tenant.client.get("/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5
    r = tenant.client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.42"})
    assert r.headers["x-request-id"] == "lb-7f3a.42"  # a proxy's id is kept
    r = tenant.client.get("/healthz", headers={"X-Request-Id": "no spaces <script>"})
    assert r.headers["x-request-id"] != "no spaces <script>"
    assert tenant.check(callee=CALLEE).headers["x-request-id"]
    assert tenant.client.get("/v1/campaigns").headers["x-request-id"]  # a 401 too
