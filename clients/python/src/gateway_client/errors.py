"""Errors: the gateway's envelope ``{"error": code, "detail": text, …}`` as exceptions.

Everything the client raises derives from ``GatewayClientError``:

* ``GatewayError`` — the gateway answered with an error status; one subclass per status the
  contract lists (``error_for`` picks it).
* ``GatewayUnreachable`` — no answer: connection refused or reset, DNS, TLS, or a timeout
  (``GatewayTimeout``).
* ``MalformedResponse`` — an answer that is not what the contract says (not JSON, a missing
  field, an unknown decision).
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any


class GatewayClientError(Exception):
    """Anything that went wrong talking to the gateway."""


class GatewayUnreachable(GatewayClientError):
    """No answer from the gateway (refused, reset, DNS, TLS…). The request may or may not have
    reached it: for a check, the same ``external_id`` again is safe."""


class GatewayTimeout(GatewayUnreachable):
    """The gateway did not answer within the client's timeout."""


class MalformedResponse(GatewayClientError):
    """A 2xx answer the client cannot read as the contract describes."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class GatewayError(GatewayClientError):
    """The gateway answered an error: ``status``, the envelope's ``code`` (``error``) and
    ``detail``, the whole parsed ``body`` (a dict, or the text when it was not JSON) and the
    response ``headers``."""

    def __init__(self, status: int, code: str, detail: Any, body: Any = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}


class Unauthorized(GatewayError):
    """401: no key, or a bad, revoked or expired one."""


class Forbidden(GatewayError):
    """403: the key's role may not do this (or another tenant's object)."""


class NotFound(GatewayError):
    """404: unknown campaign, attempt, consent… (or another tenant's)."""


class Conflict(GatewayError):
    """409: a second, different outcome (``recorded_status``), a caller ID held by another
    tenant, an import already running…"""

    @property
    def recorded_status(self) -> str | None:
        value = self.body.get("recorded_status") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else None


class IdempotencyConflict(Conflict):
    """409 ``idempotency_conflict``: the ``external_id`` already names an attempt checked for
    another request. ``differs``: the fields that differ; ``attempt_id``: that attempt."""

    @property
    def differs(self) -> list[str]:
        value = self.body.get("differs") if isinstance(self.body, dict) else None
        return [str(v) for v in value] if isinstance(value, list) else []

    @property
    def attempt_id(self) -> str | None:
        value = self.body.get("attempt_id") if isinstance(self.body, dict) else None
        return value if isinstance(value, str) else None


class PayloadTooLarge(GatewayError):
    """413: a JSON body over the gateway's limit (1 MiB by default), or an upload over its own."""


class UnsupportedMediaType(GatewayError):
    """415: the body's Content-Type is not one the endpoint reads."""


class ValidationFailed(GatewayError):
    """422: invalid input. ``errors``: the gateway's list of ``{"loc", "msg", "type"}`` (empty
    when the detail is a sentence); ``fields``: the offending fields, e.g. ``["campaign"]`` or
    ``["evidence.form"]``."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [e for e in self.detail if isinstance(e, dict)] if isinstance(
            self.detail, list) else []

    @property
    def fields(self) -> list[str]:
        out: list[str] = []
        for e in self.errors:
            loc = [str(p) for p in e.get("loc", [])]
            if loc and loc[0] in ("body", "query", "path", "header"):
                loc = loc[1:]
            if loc:
                out.append(".".join(loc))
        return out


class _Retryable(GatewayError):
    @property
    def retry_after(self) -> float | None:
        """Seconds the gateway asked to wait (``Retry-After``), if it said."""
        return parse_retry_after(self.headers.get("retry-after"))


class RateLimited(_Retryable):
    """429: the key is past its rate; ``retry_after`` says for how long."""


class ServerError(GatewayError):
    """5xx: the gateway failed. Never a decision: do not dial."""


class Unavailable(ServerError, _Retryable):
    """503: the gateway cannot reach its database (or is draining). Do not dial; retry later."""


_BY_STATUS: dict[int, type[GatewayError]] = {
    401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 413: PayloadTooLarge,
    415: UnsupportedMediaType, 422: ValidationFailed, 429: RateLimited, 503: Unavailable,
}


def error_for(status: int, content: bytes, headers: Mapping[str, str]) -> GatewayError:
    """The exception for an error answer: the envelope parsed when it is one, else the text."""
    body: Any
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = content.decode("utf-8", "replace")
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        code: str = body["error"]
        detail: Any = body.get("detail")
    else:
        code, detail = "http_error", body
    cls = _BY_STATUS.get(status)
    if status == 409 and code == "idempotency_conflict":
        cls = IdempotencyConflict
    if cls is None:
        cls = ServerError if status >= 500 else GatewayError
    return cls(status, code, detail, body, headers)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: delta-seconds or an HTTP date; ``None`` if absent or bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


__all__ = [
    "Conflict", "Forbidden", "GatewayClientError", "GatewayError", "GatewayTimeout",
    "GatewayUnreachable", "IdempotencyConflict", "MalformedResponse", "NotFound",
    "PayloadTooLarge", "RateLimited", "ServerError", "Unauthorized", "Unavailable",
    "UnsupportedMediaType", "ValidationFailed", "error_for", "parse_retry_after",
]
