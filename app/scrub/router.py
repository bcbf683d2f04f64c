"""``POST /v1/scrub``: a prospect file in, the same file annotated out, both streamed.

The upload is judged as it arrives (``_Body``, batch by batch), and the annotated rows go to a
spooled file (memory up to ``SPOOL_MEMORY``, then disk) that is streamed back once the upload
has ended. Answering while the upload is still coming would deadlock common clients (httpx,
requests, most HTTP libraries): they read nothing until they have sent everything, so the
answer fills the socket buffers, the server stops reading, and both wait for ever. Waiting for
the end of the upload also lets an unreadable file be a 422 rather than a truncated 200.
Limits, content type, stalls and disconnects: ``app.uploads``.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from collections.abc import Iterator
from typing import IO, Annotated, Any, BinaryIO

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from app.clock import iso
from app.config import get_settings
from app.errors import Unprocessable
from app.scrub import service
from app.scrub.service import Scrub
from app.tenancy.auth import Principal, require
from app.uploads import Limits, TooManyRows, error_responses, receive, request_body
from bloctel.parse import FormatError

log = logging.getLogger("gateway.scrub")
router = APIRouter(prefix="/v1", tags=["scrub"])

SPOOL_MEMORY = 8 << 20
CHUNK = 1 << 20

DialerOrAdmin = Annotated[Principal, Depends(require("dialer", "admin", tenant=True))]


def _judge(job: Scrub, raw: BinaryIO) -> IO[bytes]:
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 (returned)
    try:
        for chunk in job.run(raw):
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


class ScrubInvalidRow(BaseModel):
    line: int
    value: str
    error: str


class ScrubCounts(BaseModel):
    rows: int
    invalid: int = Field(description="Rows without a valid telephone number.")
    rejected_samples: list[ScrubInvalidRow]


class ScrubRefusal(BaseModel):
    error: str = Field(description="`scrub_refused` or `invalid`.")
    detail: Any
    scrub: ScrubCounts | None = Field(default=None, description="With `scrub_refused`.")


_CSV_SCHEMA = {"type": "string", "description": "The annotated file (CSV)."}


@router.post(
    "/scrub", response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {"schema": _CSV_SCHEMA}}, "description": (
            "The annotated file; headers `X-Scrub-At`, `X-Scrub-Rows`, `X-Scrub-Callable`.")},
        **error_responses(),
        404: {"description": "No such campaign.", "model": ScrubRefusal},
        422: {"model": ScrubRefusal, "description": (
            "`scrub_refused` (past the first 1,000 rows, more than GATEWAY_SCRUB_MAX_INVALID of "
            "them without a valid number; `force=true` scrubs anyway), or `invalid` (the file "
            "cannot be read, a query parameter).")},
    },
    openapi_extra=request_body("The prospect file: CSV or one number per line, gzip or not."),
)
async def scrub(
    request: Request,
    p: DialerOrAdmin,
    campaign: str = Query(min_length=1, max_length=100),
    caller_id: str | None = Query(
        default=None, max_length=200,
        description="Number presented (default: the campaign's first caller ID)."),
    agent_id: str | None = Query(default=None, max_length=100),
    force: bool = Query(default=False, description=(
        "Scrub even if more than GATEWAY_SCRUB_MAX_INVALID of the rows hold no valid number.")),
) -> Any:
    """Judge every row of a prospect file (CSV or one number per line; header or not; ``,`` or
    ``;``; gzip by content) at the service's current instant, without logging any attempt.

    Answers the same rows, same columns and delimiter, followed by ``e164``, ``callable_now``
    (true/false), ``blocking_reasons`` (codes, space-separated) and ``next_allowed_at`` (ISO
    8601 in the callee's zone; empty when no instant is known). Invalid numbers are annotated,
    not dropped. A cell a spreadsheet would run as a formula is neutralised as in the reports'
    CSV export (a `'` before it; `+33…` numbers kept). The upload is judged as it arrives; the
    answer is streamed once it has ended.

    Past the first 1,000 rows, a file where more than GATEWAY_SCRUB_MAX_INVALID (50 %) of the
    rows hold no valid telephone number stops at once: 422 `scrub_refused` with samples
    (`force=true` scrubs it anyway). Limits: GATEWAY_SCRUB_MAX_BYTES (raw and decompressed)
    → 413 `upload_too_large`; GATEWAY_SCRUB_MAX_ROWS → 413 `too_many_rows`; stalls and
    GATEWAY_UPLOAD_MAX_SECONDS → 408.
    """
    s = get_settings()
    limits = Limits.of("scrub")
    job = await run_in_threadpool(
        Scrub, p, campaign, caller_id=caller_id, agent_id=agent_id,
        max_invalid=None if force else s.scrub_max_invalid, max_rows=s.scrub_max_rows,
        max_bytes=limits.max_bytes)
    try:
        spool = await receive(request, limits, functools.partial(_judge, job),
                              example="prospects.csv", what="scrub")
    except service.ScrubRefused as e:
        raise Unprocessable(str(e), code="scrub_refused", extra={"scrub": e.report}) from e
    except service.TooManyRows as e:
        raise TooManyRows(e.limit, "GATEWAY_SCRUB_MAX_ROWS") from e
    except FormatError as e:
        raise Unprocessable(str(e)) from e
    log.info("scrub: %d rows, %d callable, %d invalid", job.rows, job.callable, job.invalid)
    return StreamingResponse(
        _read(spool), media_type="text/csv; charset=utf-8",
        headers={"X-Scrub-At": iso(job.at) or "", "X-Scrub-Rows": str(job.rows),
                 "X-Scrub-Callable": str(job.callable)})
