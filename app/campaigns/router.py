from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Response

from app.campaigns import service
from app.campaigns.models import CallerId, Campaign
from app.campaigns.schemas import (
    CallerIdIn,
    CallerIdOut,
    CampaignIn,
    CampaignOut,
    CampaignPut,
    OperatorCallerIdOut,
)
from app.clock import iso
from app.db import session_scope
from app.errors import Unprocessable
from app.tenancy.auth import Admin, Compliance, Operator

router = APIRouter(prefix="/v1", tags=["campaigns"])


def _cli(row: CallerId) -> CallerIdOut:
    return CallerIdOut(
        number=row.number, kind=row.kind, assigned_to=row.assigned_to,
        verified_at=iso(row.verified_at),
    )


def _campaign(row: Campaign, numbers: list[str]) -> CampaignOut:
    return CampaignOut(
        id=row.id, purpose=row.purpose, audience=row.audience, sector=row.sector,
        automated=row.automated, caller_ids=numbers,
        principal=row.principal_id or row.tenant_id, prerecorded=bool(row.prerecorded),
    )


@router.post("/caller-ids", status_code=201, response_model=CallerIdOut)
def register_caller_id(body: CallerIdIn, p: Admin) -> CallerIdOut:
    with session_scope(write=True) as s:
        return _cli(service.register_caller_id(s, p.tenant_id or "", body.number, body.assigned_to))


@router.get("/caller-ids", response_model=list[CallerIdOut])
def list_caller_ids(p: Compliance) -> list[CallerIdOut]:
    with session_scope() as s:
        return [_cli(r) for r in service.list_caller_ids(s, p.tenant_id or "")]


def _operator_cli(row: CallerId, tenant_name: str) -> OperatorCallerIdOut:
    return OperatorCallerIdOut(
        number=row.number, kind=row.kind, tenant_id=row.tenant_id, tenant_name=tenant_name,
        assigned_to=row.assigned_to, created_at=iso(row.created_at) or "",
        verified_at=iso(row.verified_at),
    )


@router.get(
    "/caller-ids/all", response_model=list[OperatorCallerIdOut],
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                     "description": "JSON, or CSV (RFC 4180) with format=csv."}},
)
def list_all_caller_ids(
    p: Operator,
    format: Literal["json", "csv"] = "json",
    tenant: str | None = Query(default=None, max_length=40, description="Only this tenant's."),
) -> list[OperatorCallerIdOut] | Response:
    """Every tenant's caller IDs (operator): the list of each customer's authorised numbers
    that ARCEP decision 2025-2215 asks originating operators to keep. A tenant sees only its
    own, at ``GET /v1/caller-ids``."""
    with session_scope() as s:
        rows = [_operator_cli(c, name) for c, name in service.list_all_caller_ids(s, tenant)]
    if format == "csv":
        return Response(
            service.caller_ids_csv(r.model_dump() for r in rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="caller-ids.csv"'},
        )
    return rows


@router.post("/caller-ids/{number}/verify", response_model=OperatorCallerIdOut)
def verify_caller_id(number: str, p: Operator) -> OperatorCallerIdOut:
    """The operator verified that the number is its holder's (operator): with
    ``GATEWAY_CALLER_ID_VERIFICATION=required`` it is usable from now on (every worker within
    ``GATEWAY_CACHE_TTL_S``). The number in any written form; 404 when no tenant holds it."""
    with session_scope(write=True) as s:
        return _operator_cli(*service.set_verified(s, number, True))


@router.delete("/caller-ids/{number}/verify", response_model=OperatorCallerIdOut)
def withdraw_caller_id_verification(number: str, p: Operator) -> OperatorCallerIdOut:
    """Withdraw the operator's verification (operator): where verification is required, calls
    presenting the number are denied ``CALLER_ID_NOT_VERIFIED`` again."""
    with session_scope(write=True) as s:
        return _operator_cli(*service.set_verified(s, number, False))


@router.delete("/caller-ids/{number}", status_code=204)
def delete_caller_id(number: str, p: Admin) -> Response:
    with session_scope(write=True) as s:
        service.delete_caller_id(s, p.tenant_id or "", number)
    return Response(status_code=204)


@router.post("/campaigns", status_code=201, response_model=CampaignOut)
def create_campaign(body: CampaignIn, p: Admin) -> CampaignOut:
    with session_scope(write=True) as s:
        row, numbers = service.upsert_campaign(
            s, p.tenant_id or "", create_only=True, **body.model_dump()
        )
        return _campaign(row, numbers)


@router.put("/campaigns/{campaign_id}", response_model=CampaignOut)
def replace_campaign(campaign_id: str, body: CampaignPut, p: Admin) -> CampaignOut:
    """Create or replace the campaign named by the path. The body's ``id`` is optional; when
    given it must be the path's (a campaign is not renamed): another id is a 422 naming it."""
    if body.id is not None and body.id != campaign_id:
        raise Unprocessable(
            f"id: the body names campaign {body.id!r} but the path names {campaign_id!r} "
            "(a campaign cannot be renamed; leave id out or repeat the path's)",
            extra={"field": "id"},
        )
    data = body.model_dump() | {"id": campaign_id}
    with session_scope(write=True) as s:
        row, numbers = service.upsert_campaign(s, p.tenant_id or "", create_only=False, **data)
        return _campaign(row, numbers)


@router.get("/campaigns", response_model=list[CampaignOut])
def list_campaigns(p: Compliance) -> list[CampaignOut]:
    with session_scope() as s:
        return [_campaign(r, n) for r, n in service.list_campaigns(s, p.tenant_id or "")]


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
def get_campaign(campaign_id: str, p: Compliance) -> CampaignOut:
    with session_scope() as s:
        return _campaign(*service.get_campaign(s, p.tenant_id or "", campaign_id))
