"""The OpenAPI document, made exact: FastAPI's, plus what it cannot know by itself.

* **Security.** Routes that take a key depend on ``app.tenancy.auth.bearer`` (FastAPI's
  ``HTTPBearer``), so FastAPI declares the ``HTTPBearer`` scheme on them (the Authorize button
  of ``/docs``); the public ones are marked ``security: []``.
* **Errors.** Every operation lists the error statuses it can answer, each with the envelope
  (``ErrorEnvelope``), derived from the route itself: a key → 401, 403, 429 and 503 (the key
  is read from the database on a cache miss); path parameters → 404 and 422; query or header
  parameters → 422; a JSON body → 404 (an object it names), 413, 415, 422; a body read as an
  upload → 413, 422; a write (POST, PUT, PATCH, DELETE) → 409; everything → 500. An error
  status a route declares itself (``responses=``) keeps its description; every error status
  gets the envelope as its body, unless the route declared a richer one (more members than
  ``error`` and ``detail``: an import refused with its report).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from app.http import api_routes, dependants, is_upload, needs_key, takes_json

ENVELOPE = "ErrorEnvelope"
_REF = {"$ref": f"#/components/schemas/{ENVELOPE}"}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.",
                                "schema": {"type": "integer"}}}


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description='Where: ["body", "callee"], ["query", "from"]…')
    msg: str
    type: str


class ErrorEnvelope(BaseModel):
    """Every error the gateway answers, 500 included. More members may follow ``detail``
    (``retry_after_s`` on a 429, ``request_id`` on a 500, what differs on an
    ``idempotency_conflict``…)."""

    model_config = ConfigDict(extra="allow", title=ENVELOPE)

    error: str = Field(description="A stable code: unauthorized, forbidden, not_found, "
                                   "method_not_allowed, conflict, payload_too_large, "
                                   "unsupported_media_type, invalid, rate_limited, "
                                   "unavailable, internal_error…")
    detail: str | list[ValidationIssue] = Field(
        description="Human text; for a 422 from input validation, the list of issues.")
    request_id: str | None = Field(
        default=None, description="On a 500: the id the server log shows with the error "
                                  "(also in the X-Request-Id header of every answer).")


_DESCRIPTIONS = {
    401: "No or bad API key (decided before the body is read).",
    403: "The key's role may not do this, or its tenant is suspended.",
    404: "Unknown, or another tenant's, object.",
    409: "Conflicts with the current state (see `error` and `detail`).",
    413: "The body is too large (JSON: GATEWAY_MAX_JSON_BYTES, 1 MiB by default).",
    415: "The body is not JSON: send `Content-Type: application/json`.",
    422: "Invalid input; `detail` names the field.",
    429: "Rate limited: retry after `Retry-After` seconds.",
    500: "Internal error; `request_id` names it in the server log.",
    503: "Database unavailable: retry after `Retry-After` seconds. A dialer treats anything "
         "but a 200 decision as \"do not dial\".",
}
_HEADERS = {
    401: {"WWW-Authenticate": {"description": "`Bearer`.", "schema": {"type": "string"}}},
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def error_statuses(route: Any, method: str) -> set[int]:
    every = list(dependants(route))
    statuses = {500}
    if needs_key(route):
        statuses |= {401, 403, 429, 503}
    if any(d.path_params for d in every):
        statuses |= {404, 422}
    if any(d.query_params or d.header_params or d.cookie_params for d in every):
        statuses.add(422)
    if takes_json(route):
        statuses |= {404, 413, 415, 422}
    elif is_upload(route):
        statuses |= {413, 422}
    if method in _WRITES:
        statuses.add(409)
    return statuses


def _document_errors(schema: dict[str, Any], app: FastAPI) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    envelope = ErrorEnvelope.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(envelope.pop("$defs", {}))
    components[ENVELOPE] = envelope
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        path = schema["paths"].get(route.path_format, {})
        for method in route.methods:
            operation = path.get(method.lower())
            if operation is None:
                continue
            if not needs_key(route):
                operation["security"] = []  # public
            responses = operation.setdefault("responses", {})
            declared = {int(s) for s in responses if s.isdigit() and int(s) >= 400}
            for status in sorted(error_statuses(route, method) | declared):
                answer = responses.setdefault(str(status), {})
                if answer.get("description") in (None, "", "Validation Error"):
                    answer["description"] = _DESCRIPTIONS.get(status, "An error.")
                if not _richer_envelope(answer, components):
                    answer["content"] = {"application/json": {"schema": _REF}}
                if status in _HEADERS:
                    answer["headers"] = _HEADERS[status]
    # schemas no operation uses any more (FastAPI's 422 bodies, routes' own error models)
    reachable: set[str] = set()
    pending = _refs(schema["paths"])
    while pending:
        name = pending.pop()
        if name not in reachable and name in components:
            reachable.add(name)
            pending |= _refs(components[name])
    for name in set(components) - reachable:
        del components[name]


def _richer_envelope(answer: dict[str, Any], components: dict[str, Any]) -> bool:
    """The route declared this error with an envelope that has more members than ``error``
    and ``detail`` (e.g. an import refused with its report): kept."""
    schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    properties = set(components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {}))
    return {"error", "detail"} < properties


def _refs(node: Any) -> set[str]:
    """Names of the component schemas ``node`` refers to."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
                found.add(ref.rsplit("/", 1)[1])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def install_openapi(app: FastAPI) -> None:
    """``app.openapi()`` (hence ``/openapi.json``, ``/docs``, ``/redoc``) serves the exact
    document, built once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, openapi_version=app.openapi_version,
                summary=app.summary, description=app.description, routes=app.routes,
                tags=app.openapi_tags, servers=app.servers,
            )
            _document_errors(schema, app)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
