"""``POST /v1/{consents,contracts,oppositions}/import``: a CSV file as the body, streamed.

See ``app.registries.bulk`` for the file format, the natural keys and the failure semantics,
``app.uploads`` for the limits every upload has.
"""

from __future__ import annotations

import functools
from typing import Any, BinaryIO

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from app.db import get_engine
from app.errors import Conflict, Unprocessable
from app.registries import bulk
from app.tenancy.auth import Admin
from app.uploads import Limits, TooManyRows, error_responses, receive, request_body
from bloctel.parse import FormatError

router = APIRouter(prefix="/v1", tags=["registries"])

_DESCRIPTION = (
    "Send the CSV file itself as the body (`curl --data-binary @file.csv -H 'Content-Type: "
    "text/csv'`), gzip or not; `;` or `,`; a header naming the columns in French or English. "
    "Rows are created, updated or left unchanged by their natural key, or rejected with their "
    "line number and reason. Rows are written once the file is read whole, in batches: an "
    "interrupted import leaves every row wholly in or out, and importing the same file again "
    "completes it. Dates (YYYY-MM-DD or DD/MM/YYYY) and instants (ISO 8601; no offset: Paris "
    "time) lie in 2000-01-01 … 2100-12-31, or the row is rejected naming the column; no end "
    "date or expiry is an empty cell.\n\n"
    "**Early stop.** Past the first 1,000 data rows, an import whose share of rejected rows is "
    "above GATEWAY_IMPORT_MAX_REJECTED (5 %) stops at once with 422 `import_refused` and the "
    "rejected samples under `import`; nothing is written (`force=true` imports it anyway). "
    "**Limits**: GATEWAY_IMPORT_MAX_BYTES (raw and decompressed) → 413 `upload_too_large`; "
    "GATEWAY_IMPORT_MAX_ROWS → 413 `too_many_rows`; no byte for GATEWAY_UPLOAD_STALL_S → 408 "
    "`upload_stalled`; not read within GATEWAY_UPLOAD_MAX_SECONDS → 408 `upload_timeout`."
)


class BulkRejectedSample(BaseModel):
    line: int = Field(description="Physical line of the file (the header is line 1).")
    value: str = Field(description="The line's text (first 100 characters).")
    error: str = Field(description="Why the row was rejected.")


class BulkImportReport(BaseModel):
    """What an import did: `lines` = created + updated + unchanged + rejected + blank."""

    import_id: str
    kind: str
    lines: int = Field(description="Lines after the header.")
    created: int
    updated: int
    unchanged: int
    rejected: int
    blank: int
    rejected_samples: list[BulkRejectedSample] = Field(description="The first 100 rejected rows.")
    reasons: dict[str, int] = Field(description="Rejected rows counted by reason.")
    sha256: str = Field(description=(
        "SHA-256 of the bytes as uploaded (in a refusal: of those read before the stop)."))
    bytes: int = Field(description="Bytes read.")
    columns: dict[str, str] = Field(description="Field → the file's column giving it.")
    ignored_columns: list[str]
    delimiter: str
    seconds: float
    stopped_after_lines: int | None = Field(
        default=None, description="Only in a refusal: lines read when the import stopped.")


class BulkImportRefusal(BaseModel):
    error: str = Field(description="`import_refused`, `import_invalid`, or `invalid`.")
    detail: Any
    import_: BulkImportReport | None = Field(
        default=None, alias="import",
        description="With `import_refused`: the counts so far and the rejected samples.")


_RESPONSES: dict[int | str, dict[str, Any]] = {
    **error_responses(409),
    422: {"model": BulkImportRefusal, "description": (
        "`import_refused` (too many rejected rows: the report so far under `import`), "
        "`import_invalid` (no usable header, unreadable file) or `invalid` (a query "
        "parameter).")},
}

Force = Query(default=False, description=(
    "Import even if more than GATEWAY_IMPORT_MAX_REJECTED of the rows are rejected."))


def _run(kind: bulk.Kind, tenant_id: str, limits: bulk.Limits, raw: BinaryIO) -> Any:
    return bulk.import_csv(get_engine(), raw, kind=kind, tenant_id=tenant_id, limits=limits)


async def _import(request: Request, p: Any, kind: bulk.Kind, force: bool) -> Any:
    limits = Limits.of("import")
    work = functools.partial(_run, kind, p.tenant_id or "",
                             bulk.Limits.from_settings(force=force))
    try:
        return await receive(request, limits, work, example=f"{kind}.csv",
                             what=f"bulk import of {kind}")
    except bulk.ImportBusy as e:
        raise Conflict(str(e), code="import_running") from e
    except bulk.ImportRefused as e:
        raise Unprocessable(str(e), code="import_refused", extra={"import": e.report}) from e
    except bulk.TooManyRows as e:
        raise TooManyRows(e.limit, "GATEWAY_IMPORT_MAX_ROWS") from e
    except (bulk.BulkImportError, FormatError) as e:
        raise Unprocessable(str(e), code="import_invalid") from e


def _route(kind: bulk.Kind, columns: str) -> None:
    async def endpoint(request: Request, p: Admin, force: bool = Force) -> Any:
        return await _import(request, p, kind, force)

    endpoint.__name__ = f"import_{kind}"
    router.post(
        f"/{kind}/import", status_code=200, summary=f"Import {kind} from a CSV file",
        description=f"Columns: {columns}.\n\n{_DESCRIPTION}", response_model=BulkImportReport,
        response_model_exclude_none=True,
        responses=_RESPONSES, openapi_extra=request_body(f"The CSV file of {kind}."),
    )(endpoint)


_route("consents", "numero|telephone|phone|callee, date_consentement|given_at, portee|scope, "
       "canal|channel, preuve|evidence (JSON object or text), expire|expires_at, "
       "mandants|principals (principal ids held by a mandate, separated by | or spaces; "
       "default: the tenant's own for an own consent, none for a partner's), source|origine "
       "(own or the partner's name), information_donnee|notice_given (oui/non), "
       "vente_liee|conditional_on_sale (oui/non). A given_at more than 5 minutes in the "
       "future rejects its row")
_route("contracts", "numero|telephone|phone|callee, reference|contrat, secteur|sector, "
       "debut|starts_on, fin|ends_on")
_route("oppositions", "numero|telephone|phone|callee, source")

__all__ = ["BulkImportReport", "router"]
