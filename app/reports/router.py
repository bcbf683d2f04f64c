"""Audit reports for compliance officers: attempt exports and summaries."""
from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.clock import RANGE
from app.errors import Unprocessable
from app.reports import service
from app.reports.schemas import Summary
from app.tenancy.auth import Compliance

router = APIRouter(prefix="/v1/reports", tags=["reports"])

FROM = Query(default=None, alias="from",
              description=f"Date (Paris day) or ISO 8601 instant, {RANGE}.")
TO = Query(default=None,
            description=f"Date (inclusive Paris day) or ISO instant (exclusive), {RANGE}.")
CAMPAIGN = Query(default=None, max_length=100, description="Campaign id.")
CALLER_ID = Query(default=None, max_length=200,
                  description="Presented number (national form or E.164).")
PRINCIPAL = Query(default=None, max_length=40,
                  description="Only the attempts made for this principal (the tenant's own "
                              "attempts, always).")


_TEXT = {"schema": {"type": "string"}}


@router.get(
    "/attempts",
    response_class=StreamingResponse,
    responses={200: {
        "description": "One row per attempt, streamed: CSV (format=csv, the default) or JSON "
                       "lines (format=jsonl).",
        "content": {"text/csv": _TEXT, "application/x-ndjson": _TEXT},
    }},
)
def attempts(
    p: Compliance,
    from_: str | None = FROM,
    to: str | None = TO,
    campaign: str | None = CAMPAIGN,
    decision: Literal["allow", "deny"] | None = None,
    reason: str | None = Query(default=None, max_length=40,
                               description="A reason code: attempts that have it."),
    caller_id: str | None = CALLER_ID,
    agent_id: str | None = Query(default=None, max_length=100),
    principal: str | None = PRINCIPAL,
    format: Literal["csv", "jsonl"] = "csv",
    dialect: Literal["rfc4180", "excel-fr"] = Query(
        default="rfc4180",
        description="CSV only. excel-fr: UTF-8 with BOM, ';', CRLF, decimal comma in money."),
) -> StreamingResponse:
    """One row per attempt, streamed (columns: the contract's, then reasons with their legal
    bases, external_id, contract_ref, ruleset_version, next_allowed_at, outcome_at, sip_code,
    principal)."""
    f = service.filters(from_, to, campaign=campaign, decision=decision, reason=reason,
                        caller_id=caller_id, agent_id=agent_id, principal=principal)
    tenant = p.tenant_id or ""
    if format == "jsonl":
        if dialect != "rfc4180":
            raise Unprocessable("dialect: excel-fr applies to format=csv only")
        return StreamingResponse(
            service.attempts_jsonl(tenant, f), media_type="application/x-ndjson"
        )
    excel_fr = dialect == "excel-fr"
    return StreamingResponse(
        service.attempts_csv(tenant, f, excel_fr=excel_fr),
        media_type="text/csv; charset=utf-8" + ("; header=present" if excel_fr else ""),
        headers={"Content-Disposition": 'attachment; filename="attempts.csv"'},
    )


@router.get("/summary", response_model=Summary)
def summary(
    p: Compliance, from_: str | None = FROM, to: str | None = TO,
    campaign: str | None = CAMPAIGN, caller_id: str | None = CALLER_ID,
    principal: str | None = PRINCIPAL,
) -> dict[str, Any]:
    f = service.filters(from_, to, campaign=campaign, caller_id=caller_id, principal=principal)
    return service.summary(p.tenant_id or "", f=f)
