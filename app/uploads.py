"""Uploads: a file sent as the request body (BLOCTEL lists, bulk imports, scrubs), read as it
arrives by a worker thread, never held whole in memory or on disk.

One place for what every upload endpoint does around its own work:

* **Content type** (``check_content_type``): the file itself is the body. A multipart form
  (``curl -F``) or a JSON body is 415 with how to send the file; ``text/*``,
  ``application/gzip``, ``application/octet-stream`` and curl's default for ``--data-binary``
  (``application/x-www-form-urlencoded``) are read (gzip is detected by content, not by type).
* **Limits** (``Limits``, from the settings): bytes received and bytes once decompressed (a gzip
  bomb) → 413 ``upload_too_large``, as soon as the limit is passed (a ``Content-Length`` above
  it: before any byte is read); no byte for ``GATEWAY_UPLOAD_STALL_S`` → 408
  ``upload_stalled``; reading for longer than ``GATEWAY_UPLOAD_MAX_SECONDS`` → 408
  ``upload_timeout``. Rows are counted by the endpoint's own work (413 ``too_many_rows``).
* **The bridge** (``Body``): the request body as a blocking stream for the worker thread.
* **A client gone** mid-upload: logged; nothing was answered, nothing half-done is kept (each
  endpoint's own failure semantics).

An endpoint that refuses a file early (a limit, a rejected share) answers at once; the server
(uvicorn) discards the rest of the body as it arrives, so the client still reads the answer.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

import anyio
import anyio.from_thread
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from starlette.requests import ClientDisconnect

from app.config import get_settings
from app.errors import ApiError
from bloctel.parse import TooLarge

log = logging.getLogger("gateway.uploads")

T = TypeVar("T")
CHUNK = 1 << 20  # the buffered reader's size over ``Body``

#: What an upload body may be declared as. Anything else is 415.
ACCEPTED_TYPES = ("text/", "application/gzip", "application/x-gzip", "application/octet-stream",
                  "application/x-www-form-urlencoded")
#: The media types the OpenAPI document lists for an upload's body.
MEDIA_TYPES = ("text/csv", "text/plain", "application/gzip", "application/octet-stream")


@dataclass(frozen=True)
class Limits:
    """One upload's limits. ``setting``: the name of the byte limit's setting (for messages)."""

    max_bytes: int
    setting: str
    stall_s: float
    max_seconds: float

    @classmethod
    def of(cls, which: str) -> Limits:
        """``import``, ``scrub`` or ``bloctel``: that endpoint's limits from the settings."""
        s = get_settings()
        return cls(max_bytes=getattr(s, f"{which}_max_bytes"),
                   setting=f"GATEWAY_{which.upper()}_MAX_BYTES",
                   stall_s=s.upload_stall_s, max_seconds=s.upload_max_seconds)


class UploadTooLarge(ApiError):
    status = 413
    code = "upload_too_large"

    def __init__(self, limit: int, setting: str, what: str = "the upload") -> None:
        super().__init__(f"{what} is larger than {limit:,} bytes ({setting}): split the file",
                         extra={"limit": limit})


class TooManyRows(ApiError):
    status = 413
    code = "too_many_rows"

    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(f"the file has more than {limit:,} data rows ({setting}): split it",
                         extra={"limit": limit})


class UploadStalled(ApiError):
    status = 408
    code = "upload_stalled"


class UploadTimeout(ApiError):
    status = 408
    code = "upload_timeout"


class ClientGone(ApiError):
    """The client disconnected before the end of its upload: nobody reads this answer."""

    status = 400
    code = "client_disconnected"


def check_content_type(request: Request, example: str) -> None:
    """415 unless the body is declared as a file (see the module docstring)."""
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not declared or declared.startswith(ACCEPTED_TYPES):
        return
    how = f"send the file itself as the request body (curl --data-binary @{example})"
    if declared.startswith("multipart/"):
        how += ", not a multipart form"
    raise ApiError(f"{how}; Content-Type {declared!r} is not a file type: use one of "
                   f"{', '.join(MEDIA_TYPES)}", code="unsupported_media_type", status=415)


class Body(io.RawIOBase):
    """The request body as a blocking stream, read from a worker thread (``anyio.from_thread``):
    the upload is processed as it arrives. Enforces the byte limit, the stall timeout and the
    wall-clock limit of ``limits`` as it reads."""

    def __init__(self, request: Request, limits: Limits) -> None:
        self._chunks = request.stream()
        self._buf = b""
        self._done = False
        self.limits = limits
        self.received = 0
        self.deadline = time.monotonic() + limits.max_seconds

    def readable(self) -> bool:
        return True

    async def _next(self, wait: float) -> bytes:
        with anyio.fail_after(wait):
            return await self._chunks.__anext__()

    def _fill(self) -> None:
        lim = self.limits
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise UploadTimeout(f"the upload was not read within {lim.max_seconds:.0f} s "
                                f"(GATEWAY_UPLOAD_MAX_SECONDS): split the file")
        try:
            self._buf = anyio.from_thread.run(self._next, min(lim.stall_s, left))
        except StopAsyncIteration:
            self._done = True
            return
        except TimeoutError:
            if time.monotonic() >= self.deadline:
                raise UploadTimeout(
                    f"the upload was not read within {lim.max_seconds:.0f} s "
                    f"(GATEWAY_UPLOAD_MAX_SECONDS): split the file") from None
            raise UploadStalled(
                f"the upload stalled: nothing received for {lim.stall_s:.0f} s "
                f"(GATEWAY_UPLOAD_STALL_S)") from None
        self.received += len(self._buf)
        if self.received > lim.max_bytes:
            raise UploadTooLarge(lim.max_bytes, lim.setting)

    def readinto(self, buffer: Any) -> int:
        while not self._buf and not self._done:
            self._fill()
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


async def receive(request: Request, limits: Limits, work: Callable[[BinaryIO], T], *,
                  example: str, what: str) -> T:
    """Run ``work`` on the request body (a buffered binary stream) in a worker thread, within
    ``limits``. ``work`` may build a ``bloctel.parse.Reader`` with ``max_bytes=limits.max_bytes``
    (its ``TooLarge`` becomes the 413). ``what`` names the endpoint in the log."""
    check_content_type(request, example)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise UploadTooLarge(limits.max_bytes, limits.setting)
    body = Body(request, limits)
    try:
        return await run_in_threadpool(work, io.BufferedReader(body, CHUNK))
    except TooLarge as e:
        raise UploadTooLarge(e.limit, limits.setting, "the file once decompressed") from e
    except ClientDisconnect:
        log.info("%s: the client disconnected after %d bytes", what, body.received)
        raise ClientGone("the client disconnected before the end of the upload") from None


# --------------------------------------------------------------------------- OpenAPI

class ErrorBody(BaseModel):
    """The error envelope (``app.errors``): more members depending on the error."""

    error: str
    detail: Any


def request_body(description: str) -> dict[str, Any]:
    """``openapi_extra`` for an endpoint whose body is the file itself."""
    schema = {"type": "string", "format": "binary"}
    return {"requestBody": {"required": True, "description": description,
                            "content": {t: {"schema": schema} for t in MEDIA_TYPES}}}


def error_responses(*extra: int) -> dict[int | str, dict[str, Any]]:
    """The refusals every upload endpoint can answer, plus ``extra`` statuses."""
    described = {
        400: "The client disconnected before the end of the upload (nobody reads this).",
        408: "``upload_stalled`` (no byte for GATEWAY_UPLOAD_STALL_S) or ``upload_timeout`` "
             "(not read within GATEWAY_UPLOAD_MAX_SECONDS).",
        409: "``import_running``: another import is running.",
        413: "``upload_too_large`` (bytes, raw or decompressed) or ``too_many_rows``; "
             "``limit`` names the limit.",
        415: "``unsupported_media_type``: a multipart form or JSON instead of the file.",
        422: "The file cannot be read, or is refused (see ``detail``).",
    }
    wanted = (400, 408, 413, 415, 422, *extra)
    return {code: {"model": ErrorBody, "description": described[code]} for code in wanted}
