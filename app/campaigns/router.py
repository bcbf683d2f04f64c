from __future__ import annotations

from fastapi import APIRouter, Response

from app.campaigns import service
from app.campaigns.models import CallerId, Campaign
from app.campaigns.schemas import CallerIdIn, CallerIdOut, CampaignIn, CampaignOut
from app.db import session_scope
from app.tenancy.auth import Admin, Compliance

router = APIRouter(prefix="/v1", tags=["campaigns"])


def _cli(row: CallerId) -> CallerIdOut:
    return CallerIdOut(number=row.number, kind=row.kind, assigned_to=row.assigned_to)


def _campaign(row: Campaign, numbers: list[str]) -> CampaignOut:
    return CampaignOut(
        id=row.id, purpose=row.purpose, audience=row.audience, sector=row.sector,
        automated=row.automated, caller_ids=numbers,
    )


@router.post("/caller-ids", status_code=201, response_model=CallerIdOut)
def register_caller_id(body: CallerIdIn, p: Admin) -> CallerIdOut:
    with session_scope(write=True) as s:
        return _cli(service.register_caller_id(s, p.tenant_id or "", body.number, body.assigned_to))


@router.get("/caller-ids", response_model=list[CallerIdOut])
def list_caller_ids(p: Compliance) -> list[CallerIdOut]:
    with session_scope() as s:
        return [_cli(r) for r in service.list_caller_ids(s, p.tenant_id or "")]


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
def replace_campaign(campaign_id: str, body: CampaignIn, p: Admin) -> CampaignOut:
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
