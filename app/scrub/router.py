"""``POST /v1/scrub``: a prospect file in, the same file annotated out, both streamed.

The upload is judged as it arrives (``_Body``, batch by batch), and the annotated rows go to a
spooled file (memory up to ``SPOOL_MEMORY``, then disk) that is streamed back once the upload
has ended. Answering while the upload is still coming would deadlock common clients (httpx,
requests, most HTTP libraries): they read nothing until they have sent everything, so the
answer fills the socket buffers, the server stops reading, and both wait for ever. Waiting for
the end of the upload also lets an unreadable file be a 422 rather than a truncated 200.
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Iterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from app.errors import ApiError, Unprocessable
from app.scrub.service import Scrub
from app.tenancy.auth import Principal, require
from bloctel.parse import FormatError
from bloctel.router import UploadStalled, _Body

log = logging.getLogger("gateway.scrub")
router = APIRouter(prefix="/v1", tags=["scrub"])

SPOOL_MEMORY = 8 << 20
CHUNK = 1 << 20

DialerOrAdmin = Annotated[Principal, Depends(require("dialer", "admin", tenant=True))]


def _judge(job: Scrub, request: Request) -> IO[bytes]:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 (returned)
    try:
        for chunk in job.run(io.BufferedReader(_Body(request), CHUNK)):
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _read(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        while data := spool.read(CHUNK):
            yield data
    finally:
        spool.close()


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
    (true/false), ``blocking_reasons`` (codes, space-separated) and ``next_allowed_at`` (ISO
    8601 in the callee's zone; empty when no instant is known). Invalid numbers are annotated,
    not dropped. The upload is judged as it arrives; the answer is streamed once it has ended.
    """
    if request.headers.get("content-type", "").lower().startswith("multipart/"):
        raise ApiError(
            "send the file itself as the request body (curl --data-binary @prospects.csv)",
            code="unsupported_media_type", status=415)
    job = await run_in_threadpool(Scrub, p, campaign, caller_id=caller_id, agent_id=agent_id)
    try:
        spool = await run_in_threadpool(_judge, job, request)
    except UploadStalled as e:
        raise ApiError(str(e), code="upload_stalled", status=408) from e
    except FormatError as e:
        raise Unprocessable(str(e)) from e
    except ClientDisconnect:
        log.info("scrub: the client disconnected after %d rows", job.rows)
        raise
    log.info("scrub: %d rows, %d callable, %d invalid", job.rows, job.callable, job.invalid)
    return StreamingResponse(
        _read(spool), media_type="text/csv; charset=utf-8",
        headers={"X-Scrub-At": job.at.isoformat(), "X-Scrub-Rows": str(job.rows),
                 "X-Scrub-Callable": str(job.callable)})
