"""Errors the API turns into clear answers: one envelope, ``{"error": code, "detail": text, …}``."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self, detail: str, *, code: str | None = None, status: int | None = None,
        extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}  # more members of the JSON body
        self.headers = headers  # more response headers (e.g. Retry-After on a 429)
        if code:
            self.code = code
        if status:
            self.status = status


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class Unprocessable(ApiError):
    status = 422
    code = "invalid"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ApiError):
    status = 415
    code = "unsupported_media_type"


#: the ``error`` code of each status the gateway answers with, where no more precise code is
#: given (Starlette's and FastAPI's own HTTPExceptions: unknown route, wrong method…)
CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "invalid", 429: "rate_limited",
    500: "internal_error", 503: "unavailable",
}


def code_for(status: int) -> str:
    if status in CODES:
        return CODES[status]
    import re
    from http import HTTPStatus

    try:
        return re.sub(r"[^a-z0-9]+", "_", HTTPStatus(status).phrase.lower()).strip("_")
    except ValueError:
        return "error"


def envelope(
    status: int, code: str, detail: Any, *, headers: dict[str, str] | None = None,
    **extra: Any,
) -> Any:
    """The one error body: ``{"error": code, "detail": text, …}`` as a JSON response (a 401
    also says ``WWW-Authenticate: Bearer``)."""
    from fastapi.responses import JSONResponse

    if status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse({"error": code, "detail": detail, **extra}, status_code=status,
                        headers=headers)


def api_error_response(exc: ApiError) -> Any:
    return envelope(exc.status, exc.code, exc.detail, headers=exc.headers, **exc.extra)
