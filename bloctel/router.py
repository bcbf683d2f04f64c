from __future__ import annotations

import io
import logging
from typing import Annotated, Any, Literal

import anyio.from_thread
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from starlette.requests import ClientDisconnect

from app.clock import DATE_RANGE_DOC, Day
from app.db import get_engine, session_scope
from app.errors import ApiError, Conflict, Unprocessable
from app.tenancy.auth import Operator, Principal, authenticate
from bloctel import importer, status
from bloctel.models import BloctelVersion
from bloctel.parse import FormatError

log = logging.getLogger("gateway.bloctel")
router = APIRouter(prefix="/v1/bloctel", tags=["bloctel"])


IDLE_TIMEOUT_S = 60.0


class UploadStalled(FormatError):
    pass


class _Body(io.RawIOBase):
    """The request body as a blocking stream, read from the import's worker thread: the upload
    is parsed as it arrives, never held whole in memory or on disk. A client that sends nothing
    for ``IDLE_TIMEOUT_S`` fails the import (it holds the import lock meanwhile)."""

    def __init__(self, request: Request) -> None:
        self._chunks = request.stream()
        self._buf = b""
        self._done = False

    def readable(self) -> bool:
        return True

    async def _next(self) -> bytes:
        with anyio.fail_after(IDLE_TIMEOUT_S):
            return await self._chunks.__anext__()

    def readinto(self, buffer: Any) -> int:
        while not self._buf and not self._done:
            try:
                self._buf = anyio.from_thread.run(self._next)
            except StopAsyncIteration:
                self._done = True
            except TimeoutError:
                raise UploadStalled(
                    f"the upload stalled: nothing received for {IDLE_TIMEOUT_S:.0f} s") from None
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


@router.post("/imports", status_code=201)
async def import_list(
    request: Request,
    p: Operator,
    # Annotated, not ``= Query(…)``: FastAPI would drop the type's own range check
    as_of: Annotated[Day, Query(description="Date of the list (YYYY-MM-DD), as BLOCTEL states "
                                "it. " + DATE_RANGE_DOC)],
    mode: Literal["replace", "add", "remove"] = Query(default="replace"),
    force: bool = Query(
        default=False,
        description="Import even if too many lines are rejected, the list would be emptied or "
        "cut by more than half, or as_of is older than the list in force.",
    ),
    max_rejected: float | None = Query(
        default=None, ge=0, le=1,
        description="Share of rejected lines above which the file is refused "
        "(default GATEWAY_BLOCTEL_MAX_REJECTED, 0.05).",
    ),
) -> Any:
    """Upload a list as a new version: plain text or CSV (the number column is found), national
    or E.164 forms, UTF-8 with or without BOM, CRLF, gzip (detected by content). Streamed."""
    if request.headers.get("content-type", "").lower().startswith("multipart/"):
        raise ApiError(
            "send the file itself as the request body (curl --data-binary @list.csv), not a "
            "multipart form: the form's envelope would be read as lines and hashed as the file",
            code="unsupported_media_type", status=415)
    try:
        importer.check_request(mode, as_of)
        return await run_in_threadpool(
            importer.import_file, get_engine(), io.BufferedReader(_Body(request), 1 << 20),
            mode=mode, as_of=as_of, imported_by=p.key_id, force=force,
            max_rejected=max_rejected,
        )
    except importer.ImportRefused as e:
        raise Unprocessable(str(e), code="import_refused", extra={"import": e.report}) from e
    except importer.ImportBusy as e:
        raise Conflict(str(e), code="import_running") from e
    except UploadStalled as e:
        raise ApiError(str(e), code="upload_stalled", status=408) from e
    except (importer.BloctelImportError, FormatError) as e:
        raise Unprocessable(str(e)) from e
    except ClientDisconnect:  # recorded as a failed version; nobody is left to answer
        log.info("BLOCTEL upload: the client disconnected; the import is recorded as failed")
        return Response(status_code=400)
    except Exception as e:  # recorded as a failed version; the list in force is unchanged
        log.exception("BLOCTEL import failed")
        raise ApiError(
            f"the import failed ({type(e).__name__}: {e}); the list in force is unchanged",
            code="import_failed", status=500,
        ) from e


@router.get("")
def get_status(_: Annotated[Principal, Depends(authenticate)]) -> dict[str, Any]:
    return status.current()


@router.get("/imports")
def list_imports(
    _: Operator, limit: int = Query(default=100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    with session_scope() as s:
        newest_first = select(BloctelVersion).order_by(BloctelVersion.version.desc())
        rows = s.scalars(newest_first.limit(limit))
        return [status.version_out(r) for r in rows]
