"""``/openapi.json`` is exact (``app.openapi``), and ``/docs`` and ``/redoc`` work on a closed
network: every asset they reference is served by the gateway itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app

PUBLIC = {("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics"), ("get", "/v1/rules")}
ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}


@pytest.fixture(scope="module")
def web() -> Iterator[TestClient]:
    """The app without its lifespan: neither the schema nor the docs touch the database."""
    yield TestClient(create_app())


@pytest.fixture(scope="module")
def spec(web: TestClient) -> dict[str, Any]:
    r = web.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            yield method, path, op


def test_a_bearer_scheme_on_every_keyed_operation_and_none_on_public_ones(
    spec: dict[str, Any]
) -> None:
    assert spec["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http", "scheme": "bearer",
        "description": "An API key: `Authorization: Bearer <key>`."}
    for method, path, op in operations(spec):
        if (method, path) in PUBLIC:
            assert op["security"] == [], (method, path)
        else:
            assert op["security"] == [{"HTTPBearer": []}], (method, path)
        # the key is the scheme's business, not a parameter of each operation
        assert "authorization" not in {p["name"].lower() for p in op.get("parameters", [])}


def _expected(method: str, path: str, op: dict[str, Any]) -> set[str]:
    want = {"500"}
    if (method, path) not in PUBLIC:
        want |= {"401", "403", "429", "503"}
    params = {p["in"] for p in op.get("parameters", [])}
    if "path" in params:
        want |= {"404", "422"}
    if "query" in params:
        want.add("422")
    if "application/json" in op.get("requestBody", {}).get("content", {}):
        want |= {"404", "413", "415", "422"}
    if method in {"post", "put", "patch", "delete"}:
        want.add("409")
    return want


def test_every_operation_documents_its_errors_with_the_envelope(spec: dict[str, Any]) -> None:
    missing = {}
    for method, path, op in operations(spec):
        errors = {s for s in op["responses"] if s >= "400"}
        if not _expected(method, path, op) <= errors:
            missing[f"{method.upper()} {path}"] = sorted(_expected(method, path, op) - errors)
        for status in errors:
            answer = op["responses"][status]
            assert answer["description"], (method, path, status)
            assert list(answer["content"]) == ["application/json"], (method, path, status)
            ref = answer["content"]["application/json"]["schema"]["$ref"]
            if ref != ENVELOPE["$ref"]:  # a richer envelope a route declared (an import's report)
                declared = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
                assert {"error", "detail"} < set(declared), (method, path, status)
        if "429" in errors:
            assert "Retry-After" in op["responses"]["429"]["headers"]
    assert missing == {}
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's own 422 body is gone
    envelope = schemas["ErrorEnvelope"]
    assert envelope["required"] == ["error", "detail"]
    assert envelope["additionalProperties"] is True  # retry_after_s, request_id…


@pytest.mark.parametrize(("method", "path", "status", "media_types"), [
    ("get", "/v1/reports/attempts", "200", {"text/csv", "application/x-ndjson"}),
    ("get", "/v1/reports/audit.pdf", "200", {"application/pdf"}),
    ("get", "/metrics", "200", {"text/plain"}),
    ("get", "/healthz", "200", {"application/json"}),
    ("get", "/readyz", "200", {"application/json"}),
    ("get", "/readyz", "503", {"application/json"}),
])
def test_answers_are_described_with_their_media_types(
    spec: dict[str, Any], method: str, path: str, status: str, media_types: set[str]
) -> None:
    assert set(spec["paths"][path][method]["responses"][status]["content"]) == media_types


def test_non_json_answers_are_served_as_documented(db: Any) -> None:
    with TestClient(create_app()) as c:
        assert c.get("/metrics").headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(("path", "model"), [
    ("/v1/reports/summary", "Summary"), ("/v1/audit/verify", "Verification"),
    ("/healthz", "Health"), ("/readyz", "Ready"),
])
def test_typed_answers(spec: dict[str, Any], path: str, model: str) -> None:
    content = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    assert content["schema"] == {"$ref": f"#/components/schemas/{model}"}
    assert spec["components"]["schemas"][model]["properties"]


def test_the_typed_summary_and_verification_are_what_the_service_returns(
    client: TestClient, freeze: Any
) -> None:
    from app.audit.schemas import Verification
    from app.reports.schemas import Summary
    from tests.factories import CALLEE, make_tenant

    freeze("2026-11-23T10:30:00+01:00")
    t = make_tenant(client)
    assert t.check(callee=CALLEE).status_code == 200
    summary = t.get("/v1/reports/summary").json()
    verify = t.get("/v1/audit/verify").json()
    # every key the service returns is a declared field (nothing served untyped)
    assert set(summary) == {f.alias or name for name, f in Summary.model_fields.items()}
    assert set(verify) == set(Verification.model_fields)
    assert summary["total"] == 1 and summary["by_hour"]["10"]["total"] == 1


# --- /docs and /redoc on a closed network -------------------------------------------------

_ASSET = re.compile(r"""(?:href|src|spec-url)\s*=\s*["']([^"']+)["']|\burl:\s*'([^']+)'""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_load_every_asset_from_the_gateway_itself(web: TestClient, page: str) -> None:
    r = web.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assets = {a or b for a, b in _ASSET.findall(html)}
    assert "/openapi.json" in assets
    assert any(a.endswith(".js") for a in assets)
    # nothing from another host: no absolute or protocol-relative URL anywhere on the page
    assert not re.search(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}", html), html
    for asset in sorted(assets):
        assert asset.startswith("/"), asset
        got = web.get(asset)
        assert got.status_code == 200 and len(got.content) > 0, asset
    if page == "/docs":
        assert '"persistAuthorization": true' in html  # the Authorize button keeps the key
