"""Errors the API turns into clear 4xx answers: ``{"error": code, "detail": message}``."""

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
