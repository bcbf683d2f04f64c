"""``POST /v1/scrub``: a prospect file in, the same file annotated out, both streamed."""

from __future__ import annotations

import io
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from app.errors import ApiError
from app.scrub.service import Scrub
from app.tenancy.auth import Principal, require
from bloctel.parse import FormatError
from bloctel.router import _Body

log = logging.getLogger("gateway.scrub")
router = APIRouter(prefix="/v1", tags=["scrub"])



class _Duplex(StreamingResponse):
    """Streams the answer while the request body is still being read: Starlette's own
    ``StreamingResponse`` (ASGI < 2.4) listens for a disconnect on ``receive`` meanwhile, which
    would swallow the body's chunks."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.stream_response(send)
        except OSError:
            raise ClientDisconnect() from None


DialerOrAdmin = Annotated[Principal, Depends(require("dialer", "admin", tenant=True))]


@router.post("/scrub", response_class=StreamingResponse)
async def scrub(
    request: Request,
    p: DialerOrAdmin,
    campaign: str = Query(min_length=1, max_length=100),
    caller_id: str | None = Query(
        default=None, max_length=200,
        description="Number presented (default: the campaign's first caller ID)."),
    agent_id: str | None = Query(default=None, max_length=100),
) -> Any:
    """Judge every row of a prospect file (CSV or one number per line; header or not; ``,`` or
    ``;``; gzip by content) at the service's current instant, without logging any attempt.

    Answers the same rows, same columns and delimiter, followed by ``e164``, ``callable_now``
    (true/false), ``blocking_reasons`` (codes, space-separated) and ``next_allowed_at``.
    Invalid numbers are annotated, not dropped. Streamed in and out."""
    if request.headers.get("content-type", "").lower().startswith("multipart/"):
        raise ApiError(
            "send the file itself as the request body (curl --data-binary @prospects.csv)",
            code="unsupported_media_type", status=415)
    job = await run_in_threadpool(
        Scrub, p, campaign, caller_id=caller_id, agent_id=agent_id)
    body = io.BufferedReader(_Body(request), 1 << 20)

    def chunks() -> Any:
        try:
            yield from job.run(body)
        except FormatError as e:  # the status is already sent: say so in the file, and stop
            log.warning("scrub: unreadable input after %d rows: %s", job.rows, e)
            yield f"# scrub stopped after {job.rows} rows: {e}\n".encode()
        log.info("scrub: %d rows, %d callable, %d invalid", job.rows, job.callable, job.invalid)

    return _Duplex(
        chunks(), media_type="text/csv; charset=utf-8",
        headers={"X-Scrub-At": job.at.isoformat(), "X-Scrub-Campaign": campaign})
