from __future__ import annotations

import functools
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from app.bloctel import importer, status
from app.clock import DATE_RANGE_DOC, Day
from app.db import get_engine
from app.errors import ApiError, Conflict, Unprocessable
from app.tenancy.auth import Operator, Principal, authenticate
from app.uploads import (
    ErrorBody,
    Limits,
    check_content_type,
    error_responses,
    receive,
    request_body,
)
from bloctel.parse import FormatError

log = logging.getLogger("gateway.bloctel")
router = APIRouter(prefix="/v1/bloctel", tags=["bloctel"])


class BloctelRejectedLine(BaseModel):
    line: int
    value: str
    error: str


class BloctelImportReport(BaseModel):
    """A BLOCTEL import: what the file held and what became of it."""

    import_id: str
    version: int
    mode: str
    as_of: str = Field(description="YYYY-MM-DD")
    imported_by: str | None = None
    forced: bool
    status: str = Field(description="`active` (201) or `refused` (422).")
    lines: int
    header: int
    blank: int
    accepted: int
    duplicates: int
    rejected: int
    rejected_share: float
    rejected_samples: list[BloctelRejectedLine]
    rejected_reasons: dict[str, int]
    sha256: str
    file_bytes: int
    format: str
    total_numbers: int | None
    added: int | None
    removed: int | None
    base_version: int | None = None
    activated_at: str | None = Field(description="ISO 8601; null when refused.")
    error: str | None = None
    seconds: float
    stopped_after_lines: int | None = Field(
        default=None, description="When the reading stopped early (too many lines rejected).")


class BloctelImportRefusal(BaseModel):
    error: str = Field(description="`import_refused` (the report under `import`) or `invalid`.")
    detail: Any
    import_: BloctelImportReport | None = Field(default=None, alias="import")


class BloctelLastImport(BaseModel):
    import_id: str
    version: int
    status: str
    created_at: str
    error: str | None


class BloctelStatus(BaseModel):
    """The list in force (null fields: no list) and its freshness."""

    version: int | None
    total_numbers: int
    as_of: str | None = Field(description="YYYY-MM-DD")
    activated_at: str | None
    age_days: int | None = Field(description="Paris days since as_of.")
    stale: bool = Field(description="No list, or as_of more than stale_after_days ago.")
    stale_after_days: int
    last_import: BloctelLastImport | None


class BloctelImportEntry(BaseModel):
    """One import in the history."""

    import_id: str
    version: int
    mode: str
    status: str = Field(description="loading, active, superseded, refused or failed.")
    as_of: str
    lines: int | None
    header: int | None
    blank: int | None
    accepted: int | None
    duplicates: int | None
    rejected: int | None
    rejected_share: float
    rejected_samples: list[BloctelRejectedLine] | None
    sha256: str
    file_bytes: int | None
    format: str | None
    total_numbers: int | None
    added: int | None
    removed: int | None
    base_version: int | None
    forced: bool
    error: str | None
    imported_by: str | None
    created_at: str
    finished_at: str | None
    activated_at: str | None


@router.post(
    "/imports", status_code=201, response_model=BloctelImportReport,
    responses={**error_responses(409), 422: {"model": BloctelImportRefusal, "description": (
        "`import_refused`: read and refused (the report under `import`: mostly rejected — "
        "the reading then stops past the first 1,000 lines —, empty, shrinking by half, older "
        "than the list in force); `invalid`: unreadable file, bad mode or as_of.")},
        500: {"model": ErrorBody, "description": "`import_failed`: the list in force is "
              "unchanged."}},
    openapi_extra=request_body("The list: text or CSV, one number per line, gzip or not."),
)
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
    or E.164 forms, UTF-8 with or without BOM, CRLF, gzip (detected by content). Streamed.
    Limits (``app.uploads``): GATEWAY_BLOCTEL_MAX_BYTES (raw and decompressed) → 413; stalls
    and GATEWAY_UPLOAD_MAX_SECONDS → 408. A stopped upload is recorded as a failed version."""
    limits = Limits.of("bloctel")
    work = functools.partial(
        importer.import_file, get_engine(), mode=mode, as_of=as_of, imported_by=p.key_id,
        force=force, max_rejected=max_rejected, max_bytes=limits.max_bytes)
    try:
        check_content_type(request, "list.csv")  # before check_request: as every upload
        importer.check_request(mode, as_of)
        return await receive(request, limits, work, example="list.csv",
                             what="BLOCTEL import")
    except importer.ImportRefused as e:
        raise Unprocessable(str(e), code="import_refused", extra={"import": e.report}) from e
    except importer.ImportBusy as e:
        raise Conflict(str(e), code="import_running") from e
    except ApiError:
        raise
    except (importer.BloctelImportError, FormatError) as e:
        raise Unprocessable(str(e)) from e
    except Exception as e:  # recorded as a failed version; the list in force is unchanged
        log.exception("BLOCTEL import failed")
        raise ApiError(
            f"the import failed ({type(e).__name__}: {e}); the list in force is unchanged",
            code="import_failed", status=500,
        ) from e


@router.get("", response_model=BloctelStatus)
def get_status(_: Annotated[Principal, Depends(authenticate)]) -> dict[str, Any]:
    return status.current()


@router.get("/imports", response_model=list[BloctelImportEntry])
def list_imports(
    _: Operator, limit: int = Query(default=100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    return status.history(limit)
