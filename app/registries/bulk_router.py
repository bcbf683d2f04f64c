"""``POST /v1/{consents,contracts,oppositions}/import``: a CSV file as the body, streamed.

See ``app.registries.bulk`` for the file format, the natural keys and the failure semantics.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from app.db import get_engine
from app.errors import ApiError, Conflict, Unprocessable
from app.registries import bulk
from app.tenancy.auth import Admin
from bloctel.parse import FormatError
from bloctel.router import UploadStalled, _Body

log = logging.getLogger("gateway.registries.bulk")
router = APIRouter(prefix="/v1", tags=["registries"])

_DESCRIPTION = (
    "Send the CSV file itself as the body (`curl --data-binary @file.csv`), gzip or not; `;` or "
    "`,`; a header naming the columns in French or English. Rows are created, updated or left "
    "unchanged by their natural key, or rejected with their line number and reason. Rows are "
    "written once the file is read whole, in batches: an interrupted import leaves every row "
    "wholly in or out, and importing the same file again completes it."
    " Dates (YYYY-MM-DD or DD/MM/YYYY) and instants (ISO 8601; no offset: Paris time) lie in "
    "2000-01-01 … 2100-12-31, or the row is rejected naming the column; no end date or expiry "
    "is an empty cell."
)


async def _import(request: Request, p: Any, kind: bulk.Kind) -> Any:
    if request.headers.get("content-type", "").lower().startswith("multipart/"):
        raise ApiError(
            "send the file itself as the request body (curl --data-binary @file.csv), not a "
            "multipart form", code="unsupported_media_type", status=415)
    try:
        return await run_in_threadpool(
            bulk.import_csv, get_engine(), io.BufferedReader(_Body(request), 1 << 20),
            kind=kind, tenant_id=p.tenant_id or "")
    except bulk.ImportBusy as e:
        raise Conflict(str(e), code="import_running") from e
    except UploadStalled as e:
        raise ApiError(str(e), code="upload_stalled", status=408) from e
    except (bulk.BulkImportError, FormatError) as e:
        raise Unprocessable(str(e), code="import_invalid") from e
    except ClientDisconnect:  # the file was not read whole: nothing was written
        log.info("bulk import of %s: the client disconnected", kind)
        return Response(status_code=400)


@router.post("/consents/import", status_code=200, description=_DESCRIPTION)
async def import_consents(request: Request, p: Admin) -> Any:
    """Columns: numero|telephone|phone|callee, date_consentement|given_at, portee|scope,
    canal|channel, preuve|evidence (JSON object or text), expire|expires_at."""
    return await _import(request, p, "consents")


@router.post("/contracts/import", status_code=200, description=_DESCRIPTION)
async def import_contracts(request: Request, p: Admin) -> Any:
    """Columns: numero|telephone|phone|callee, reference|contrat, secteur|sector,
    debut|starts_on, fin|ends_on."""
    return await _import(request, p, "contracts")


@router.post("/oppositions/import", status_code=200, description=_DESCRIPTION)
async def import_oppositions(request: Request, p: Admin) -> Any:
    """Columns: numero|telephone|phone|callee, source."""
    return await _import(request, p, "oppositions")
