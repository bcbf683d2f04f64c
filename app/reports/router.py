from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.reports import service
from app.tenancy.auth import Compliance

router = APIRouter(prefix="/v1/reports", tags=["reports"])

FROM = Query(default=None, alias="from", description="Date (Paris day) or ISO 8601 instant.")
TO = Query(default=None, description="Date (inclusive Paris day) or ISO instant (exclusive).")


@router.get("/attempts")
def attempts(
    p: Compliance,
    from_: str | None = FROM,
    to: str | None = TO,
    campaign: str | None = Query(default=None, max_length=100),
    decision: Literal["allow", "deny"] | None = None,
    format: Literal["csv", "jsonl"] = "csv",
) -> StreamingResponse:
    """One row per attempt, streamed."""
    filters: dict[str, Any] = {
        "start": service.parse_bound(from_, end=False), "end": service.parse_bound(to, end=True),
        "campaign": campaign, "decision": decision,
    }
    tenant = p.tenant_id or ""
    if format == "jsonl":
        return StreamingResponse(
            service.attempts_jsonl(tenant, **filters), media_type="application/x-ndjson"
        )
    return StreamingResponse(
        service.attempts_csv(tenant, **filters), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="attempts.csv"'},
    )


@router.get("/summary")
def summary(p: Compliance, from_: str | None = FROM, to: str | None = TO) -> dict[str, Any]:
    return service.summary(
        p.tenant_id or "", service.parse_bound(from_, end=False), service.parse_bound(to, end=True)
    )
