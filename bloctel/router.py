from __future__ import annotations

import tempfile
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from app.clock import now
from app.db import get_engine, session_scope
from app.errors import Unprocessable
from app.tenancy.auth import Operator, Principal, authenticate
from bloctel import importer, status
from bloctel.models import BloctelVersion

router = APIRouter(prefix="/v1/bloctel", tags=["bloctel"])


@router.post("/imports", status_code=201)
async def import_list(
    request: Request,
    p: Operator,
    mode: Literal["replace", "add", "remove"] = Query(default="replace"),
    as_of: date = Query(description="Date of the list (YYYY-MM-DD), as BLOCTEL states it."),
) -> dict[str, Any]:
    """Upload a list (plain text or CSV, one number per line, optionally gzip) as a new version."""
    if as_of > now().astimezone(status.PARIS).date():
        raise Unprocessable("as_of is in the future")
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            spool.write(chunk)
        if size == 0:
            raise Unprocessable("empty body: send the list file as the request body")
        spool.seek(0)
        return await run_in_threadpool(
            importer.import_file, get_engine(), spool, mode=mode, as_of=as_of,
            imported_by=p.key_id,
        )


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
