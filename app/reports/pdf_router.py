"""``GET /v1/reports/audit.pdf``: the signed audit report of one tenant over a period."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import Response

from app.clock import RANGE
from app.errors import NotFound, Unprocessable
from app.reports import pdf, service
from app.tenancy.auth import Compliance

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get(
    "/audit.pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
              "description": "The report (PDF)."},
        404: {"description": "The key's tenant no longer exists."},
    },
)
def audit_pdf(
    p: Compliance,
    from_: str = Query(alias="from",
                       description=f"First day (Paris date) or ISO 8601 instant, {RANGE}."),
    to: str = Query(description=f"Last day, inclusive (Paris date), or ISO instant (exclusive), "
                                f"{RANGE}."),
) -> Response:
    """The audit report a compliance officer signs, in French: cover page with the ledger seal,
    totals, charts, tables per campaign and caller ID, rule-set versions and legal bases."""
    start = service.parse_bound(from_, end=False, name="from")
    end = service.parse_bound(to, end=True, name="to")
    if start is not None and end is not None and end <= start:
        raise Unprocessable(f"the period ends before it starts: from={from_!r}, to={to!r}")
    tenant = p.tenant_id or ""
    try:
        content, name = pdf.audit_report(tenant, start, end)
    except service.UnknownTenant as exc:  # the key outlived its tenant
        raise NotFound("no such tenant") from exc
    return Response(
        content, media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"',
                 "Cache-Control": "no-store"},
    )
