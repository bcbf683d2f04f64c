"""The HTTP edge: what every request goes through before a route sees it.

One pure ASGI middleware (``GatewayHTTP``), in front of the routes:

* **a request id** for every request (the caller's ``X-Request-Id`` when it is a short token,
  else a new one), returned in ``X-Request-Id``; an unhandled error is logged with it and its
  traceback and answered as a JSON 500 carrying it (``request_id``);
* **authentication before the body**: a ``/v1`` request (other than the few public routes,
  found from the routes themselves: those without the bearer dependency) has its
  ``Authorization`` resolved by ``app.tenancy.auth.resolve`` — one cache look-up and one
  rate-limit token — before any body byte is read; no or a bad key is a 401 at once, and the
  principal is left in the ASGI scope, where the routes' dependency picks it up;
* **JSON bodies limited while they stream** (``GATEWAY_MAX_JSON_BYTES``, 1 MiB): a
  ``Content-Length`` above it is a 413 at once; otherwise Starlette's body-limit responder
  counts the bytes as the route reads them and answers 413 when the count passes the limit,
  so a chunked body is never held whole. A JSON route called with a missing or non-JSON
  ``Content-Type`` is a 415. Upload routes (those that read ``request.stream()`` themselves:
  a ``Request`` parameter and no body model) are left alone: they have their own limits.
* **a fast path for the hottest route** (``fast_path``): an endpoint may name a handler that
  serves its ordinary request — a JSON body with a ``Content-Length`` — without FastAPI's
  routing and request handling (measured: the route scan over every included router, the
  dependency solving and the body handling cost more worker CPU than the whole HTTP stack of
  ``/healthz``). The handler gets the principal and the body bytes, and either returns the
  endpoint's answer, serialised here with the route's own response field (the bytes FastAPI
  would send), or ``None`` before doing anything — then the request goes through FastAPI as
  usual, its body replayed: every refusal (403, 422…) keeps FastAPI's exact answer. An error
  the handler raises is answered by the app's exception handlers, as from the endpoint.

The error handlers (one envelope for every error, ``app.errors.envelope``) are installed by
``install_error_handlers``.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import get_settings
from app.errors import ApiError, api_error_response, code_for, envelope
from app.tenancy.auth import PRINCIPAL_SCOPE_KEY, bearer, resolve

log = logging.getLogger("gateway")

REQUEST_ID_SCOPE_KEY = "gateway.request_id"
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


def request_id(request: Request) -> str | None:
    return request.scope.get(REQUEST_ID_SCOPE_KEY)


# ---------------------------------------------------------------------------------- routes


def api_routes(app: FastAPI) -> list[RouteContext]:
    """Every API route as served (included routers flattened: prefix, dependencies…)."""
    return [r for r in iter_route_contexts(app.routes) if isinstance(r.original_route, APIRoute)]


def dependants(route: Any) -> Iterable[Any]:
    """The route's endpoint and every dependency under it."""
    stack = [route.dependant]
    while stack:
        dependant = stack.pop()
        yield dependant
        stack.extend(dependant.dependencies)


def needs_key(route: Any) -> bool:
    """The route authenticates its caller (it depends on the bearer scheme)."""
    return any(d.call is bearer for d in dependants(route))


def is_upload(route: Any) -> bool:
    """The route reads its body itself (``request.stream()``): a ``Request`` parameter on the
    endpoint, no body model, a method that carries a body."""
    return (
        route.body_field is None
        and route.dependant.request_param_name is not None
        and bool(route.methods & _WRITE_METHODS)
    )


def takes_json(route: Any) -> bool:
    return route.body_field is not None


#: ``fast_path``'s handler: (principal, body bytes) → the endpoint's answer, or None (before
#: any side effect) to let FastAPI serve the request
FastHandler = Callable[[Any, bytes], Awaitable[Any]]
_FAST_ATTR = "__gateway_fast_path__"
#: False: every request goes through FastAPI (tests compare both; bench/http_ab.py measures)
FAST_PATHS = True


def fast_path(handler: FastHandler) -> Callable[[Any], Any]:
    """Decorate an endpoint (under its ``@router.post``…) with the handler that serves its
    ordinary requests without FastAPI's request handling (module docstring). The endpoint
    must take a JSON body, have no path parameter, and answer 200 with its response model;
    the handler must mirror the endpoint's dependencies' checks or return None."""

    def mark(endpoint: Any) -> Any:
        setattr(endpoint, _FAST_ATTR, handler)
        return endpoint

    return mark


@dataclass(frozen=True)
class _Fast:
    handler: FastHandler
    route: Any  # the APIRoute: its response field and response-model options


@dataclass(frozen=True)
class _Paths:
    """Path sets of one kind of route: exact paths (no parameter) and patterns."""

    exact: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]

    @classmethod
    def of(cls, routes: Iterable[Any]) -> _Paths:
        routes = list(routes)
        return cls(
            frozenset(r.path for r in routes if not r.param_convertors),
            tuple(r.path_regex for r in routes if r.param_convertors),
        )

    def __contains__(self, path: str) -> bool:
        return path in self.exact or any(p.match(path) for p in self.patterns)


@dataclass(frozen=True)
class _Routes:
    public: _Paths  # /v1 routes that need no key
    uploads: _Paths
    fast: dict[tuple[str, str], _Fast]  # (method, path) → its fast path


def _fast_routes(app: FastAPI, api: list[RouteContext]) -> dict[tuple[str, str], _Fast]:
    """The routes with a fast path, by (method, path) — only where FastAPI's own routing
    sends that method and path to that very route (no earlier route catches them)."""
    fast: dict[tuple[str, str], _Fast] = {}
    for r in api:
        handler = getattr(r.endpoint, _FAST_ATTR, None)
        if handler is None:
            continue
        if r.param_convertors or not takes_json(r) or r.status_code not in (None, 200):
            raise TypeError(f"{r.path}: a fast path needs a JSON route without path "
                            "parameters answering 200")
        for method in r.methods:
            found = _matched_route(app, {"path": r.path, "method": method})
            if found is not None and found.original_route is r.original_route:
                fast[(method, r.path)] = _Fast(handler, r)
    return fast


def _classify(app: FastAPI) -> _Routes:
    api = api_routes(app)
    return _Routes(
        public=_Paths.of(r for r in api if r.path.startswith("/v1") and not needs_key(r)),
        uploads=_Paths.of(r for r in api if is_upload(r)),
        fast=_fast_routes(app, api),
    )


def _matched_route(app: FastAPI, scope: Scope) -> Any:
    """The API route this request goes to, if any (the slow path: only for the rare request
    whose content type is not JSON)."""
    path, method = scope["path"], scope["method"]
    for route in api_routes(app):
        if route.path_regex.match(path) and method in route.methods:
            return route
    return None


# ---------------------------------------------------------------------------------- helpers


#: the request headers the middleware reads (ASGI gives their names in lower case)
_READ = frozenset({b"authorization", b"content-length", b"content-type", b"transfer-encoding",
                   b"x-request-id"})


def _is_json(content_type: bytes | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


# ------------------------------------------------------------------------------ middleware


class GatewayHTTP:
    """See the module docstring."""

    def __init__(self, app: ASGIApp, gateway: FastAPI) -> None:
        self.app = app
        self.gateway = gateway
        self._routes: _Routes | None = None
        self._limited: ASGIApp | None = None
        self.max_json_bytes = 0

    @property
    def routes(self) -> _Routes:
        if self._routes is None:  # the routes are all in place by the first request
            self._routes = _classify(self.gateway)
        return self._routes

    def json_limit(self) -> int:
        """GATEWAY_MAX_JSON_BYTES, read at the first request (so that a bad setting fails the
        start-up, not the import)."""
        if self._limited is None:
            self.max_json_bytes = get_settings().max_json_bytes
            self._limited = RequestBodyLimitMiddleware(self.app,
                                                       max_body_size=self.max_json_bytes)
        return self.max_json_bytes

    @property
    def limited(self) -> ASGIApp:
        """The app behind Starlette's streaming body limit."""
        self.json_limit()
        return self._limited  # type: ignore[return-value]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k: v for k, v in scope["headers"] if k in _READ}
        given = headers.get(b"x-request-id")
        rid = given.decode() if given and _REQUEST_ID.fullmatch(given) else secrets.token_hex(8)
        scope[REQUEST_ID_SCOPE_KEY] = rid
        rid_header = (b"x-request-id", rid.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        try:
            early, app = await self._before(scope, headers)
            await (app if early is None else early)(scope, receive, send_with_id)
        except Exception as exc:
            log.error("%s %s failed (request_id=%s)", scope["method"], scope["path"], rid,
                      exc_info=exc)
            if started:
                raise
            await envelope(
                500, "internal_error",
                f"internal error: the server log has its details under request_id {rid}",
                request_id=rid,
            )(scope, receive, send_with_id)

    async def _before(self, scope: Scope, headers: dict[bytes, bytes]) -> tuple[Any, ASGIApp]:
        """(the answer given before the route runs and before any body byte is read — 401,
        429 or 503 from authentication, 413 from a declared length, 415 — or None; the app
        that serves the request otherwise: behind the JSON limit when it has a body)."""
        path: str = scope["path"]
        if (path == "/v1" or path.startswith("/v1/")) and path not in self.routes.public:
            try:
                scope[PRINCIPAL_SCOPE_KEY] = await resolve(
                    headers.get(b"authorization", b"").decode("latin-1") or None
                )
            except ApiError as exc:
                return api_error_response(exc), self.app
            except OperationalError as exc:
                return database_unavailable(exc), self.app
        length = headers.get(b"content-length")
        has_body = (length is not None and length.strip() not in (b"", b"0")) or (
            b"transfer-encoding" in headers
        )
        if not has_body or path in self.routes.uploads:
            return None, self.app  # a body nobody reads, or an upload under its own limits
        limit = self.json_limit()
        if length is not None and length.isdigit() and int(length) > limit:
            return envelope(
                413, "payload_too_large",
                f"the body is {int(length)} bytes; JSON bodies are limited to {limit} bytes "
                "(GATEWAY_MAX_JSON_BYTES)",
                limit_bytes=limit,
            ), self.app
        content_type = headers.get(b"content-type")
        if not _is_json(content_type):
            route = _matched_route(self.gateway, scope)
            if route is not None and takes_json(route):
                given = content_type.decode("latin-1") if content_type else "none"
                return envelope(
                    415, "unsupported_media_type",
                    f"this endpoint takes a JSON body: send Content-Type: application/json "
                    f"(got {given})",
                ), self.app
        elif FAST_PATHS and length is not None and PRINCIPAL_SCOPE_KEY in scope:
            fast = self.routes.fast.get((scope["method"], path))
            if fast is not None:
                return None, partial(self._serve_fast, fast)
        return None, self.limited

    async def _serve_fast(self, fast: _Fast, scope: Scope, receive: Receive,
                          send: Send) -> None:
        """A route's fast path (``fast_path``): the body read, the handler's answer sent; or
        FastAPI's whole handling, the body replayed, when the handler declines."""
        received: list[Message] = []
        chunks: list[bytes] = []
        size, complete = 0, False
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                break  # the client left: FastAPI's handling says what that means
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size > self.max_json_bytes:
                break  # Starlette's body limit answers (413)
            if not message.get("more_body", False):
                complete = True
                break
        result = None
        if complete:
            try:
                result = await fast.handler(scope[PRINCIPAL_SCOPE_KEY], b"".join(chunks))
            except Exception as exc:
                handler = self._exception_handler(exc)
                if handler is None:
                    raise  # a 500, as from the endpoint (GatewayHTTP.__call__)
                response = await handler(Request(scope, receive), exc)  # ours are async
                await response(scope, receive, send)
                return
        if result is None:
            replay = iter(received)

            async def receive_again() -> Message:
                message = next(replay, None)
                return message if message is not None else await receive()

            await self.limited(scope, receive_again, send)
            return
        route = fast.route
        field = route.response_field
        value, errors = field.validate(result, {}, loc=("response",))
        if errors:
            raise ResponseValidationError(errors=errors, body=result)
        content = field.serialize_json(
            value, include=route.response_model_include,
            exclude=route.response_model_exclude, by_alias=route.response_model_by_alias,
            exclude_unset=route.response_model_exclude_unset,
            exclude_defaults=route.response_model_exclude_defaults,
            exclude_none=route.response_model_exclude_none,
        )
        await Response(content=content, media_type="application/json")(scope, receive, send)

    def _exception_handler(self, exc: Exception) -> Any:
        """The app's handler for ``exc`` (by class, most specific first), as Starlette's
        exception middleware finds it for an endpoint's error."""
        handlers = self.gateway.exception_handlers
        for cls in type(exc).__mro__:
            if cls is Exception:  # that one is the server-error middleware's, outside us
                return None
            if cls in handlers:
                return handlers[cls]
        return None


# ------------------------------------------------------------------------- error handlers


def database_unavailable(exc: OperationalError) -> Any:
    log.error("database unavailable: %s", exc.orig)
    return envelope(503, "unavailable", "database unavailable, retry",
                    headers={"Retry-After": "1"})


def _allowed_methods(app: FastAPI, path: str) -> list[str]:
    methods: set[str] = set()
    for route in iter_route_contexts(app.routes):
        route_methods = route.methods
        regex = getattr(route, "path_regex", None)
        if route_methods and regex is not None and regex.match(path):
            methods |= route_methods
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    """Every error, whoever raises it, in the one envelope."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Any:
        return api_error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Any:
        # Starlette's and FastAPI's own: unknown route, wrong method, a body over the limit…
        headers = dict(exc.headers or {})
        detail = exc.detail
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's answer to a JSON body that is not UTF-8: invalid input like the rest
            return envelope(422, "invalid", [{"loc": ["body"], "type": "json_invalid",
                                              "msg": "the body is not JSON (UTF-8)"}])
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such route: {request.url.path}"
        elif exc.status_code == 405:
            # Starlette names only the first route of the path; every route of it counts
            allowed = _allowed_methods(app, request.url.path)
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}"
        elif exc.status_code == 413:
            limit = request.scope.get("starlette.max_body_size")
            detail = (f"the body passed the limit of {limit} bytes "
                      "(JSON bodies: GATEWAY_MAX_JSON_BYTES)")
        return envelope(exc.status_code, code_for(exc.status_code), detail,
                        headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> Any:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return envelope(422, "invalid", jsonable_encoder(errors))

    @app.exception_handler(IntegrityError)
    async def conflict(_: Request, exc: IntegrityError) -> Any:
        log.info("integrity error: %s", exc.orig)
        return envelope(409, "conflict", "conflicts with an existing record")

    @app.exception_handler(DataError)
    async def unstorable(_: Request, exc: DataError) -> Any:
        # the database refused a value (e.g. a NUL character in a path parameter)
        log.info("data error: %s", exc.orig)
        return envelope(422, "invalid", "a value cannot be stored (NUL character?)")

    @app.exception_handler(OperationalError)
    async def unavailable(_: Request, exc: OperationalError) -> Any:
        return database_unavailable(exc)
