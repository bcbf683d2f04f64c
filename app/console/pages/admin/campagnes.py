"""The admin's campaign pages (list, create, edit) and caller-ID page (register, remove)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app.campaigns import service as campaigns
from app.campaigns.schemas import CallerIdIn, CampaignIn, CampaignPut
from app.console.labels import CALLER_ID_CLASS_FR, SECTOR_FR
from app.console.pages.admin.common import refusal, router, see, tenant_of
from app.console.sessions import Viewer
from app.console.web import Admin, checked_form, field, render
from app.db import session_scope
from app.errors import ApiError
from app.principals.service import held_principals
from rules_fr.data import SECTORS


def _campaign_context(tenant_id: str) -> dict[str, Any]:
    with session_scope() as s:
        rows = [{"id": r.id, "purpose": r.purpose, "audience": r.audience, "sector": r.sector,
                 "automated": r.automated, "prerecorded": bool(r.prerecorded),
                 "principal": r.principal_id or r.tenant_id, "caller_ids": numbers}
                for r, numbers in campaigns.list_campaigns(s, tenant_id)]
        clis = [c.number for c in campaigns.list_caller_ids(s, tenant_id)]
        principals = sorted(held_principals(s, tenant_id))
    return {"campaigns": rows, "clis": clis, "principals": principals,
            "sectors": {s: SECTOR_FR.get(s, s) for s in sorted(SECTORS)}}


def _campaign_form(form: Any) -> dict[str, Any]:
    """The campaign form as the API's JSON body (the model validates it)."""
    return {"purpose": field(form, "purpose"), "audience": field(form, "audience"),
            "sector": field(form, "sector") or "general",
            "automated": field(form, "automated") is not None,
            "prerecorded": field(form, "prerecorded") is not None,
            "caller_ids": [v for v in form.getlist("caller_ids") if isinstance(v, str) and v],
            "principal": field(form, "principal")}


async def _campaigns_page(request: Request, viewer: Viewer, *, status: int = 200,
                          editing: dict[str, Any] | None = None, error: str | None = None,
                          given: dict[str, Any] | None = None) -> HTMLResponse:
    ctx = await run_in_threadpool(_campaign_context, tenant_of(viewer))
    return render(request, "admin/campagnes.html", viewer, status=status, editing=editing,
                  error=error, given=given, done=request.query_params.get("ok"), **ctx)


@router.get("/campagnes", response_class=HTMLResponse)
async def campaigns_page(request: Request, viewer: Admin) -> HTMLResponse:
    return await _campaigns_page(request, viewer)


@router.get("/campagnes/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(request: Request, campaign_id: str, viewer: Admin) -> HTMLResponse:
    def load() -> dict[str, Any]:
        with session_scope() as s:
            row, numbers = campaigns.get_campaign(s, tenant_of(viewer), campaign_id)
            return {"id": row.id, "purpose": row.purpose, "audience": row.audience,
                    "sector": row.sector, "automated": row.automated,
                    "prerecorded": bool(row.prerecorded),
                    "principal": row.principal_id or row.tenant_id, "caller_ids": numbers}

    return await _campaigns_page(request, viewer, editing=await run_in_threadpool(load))


@router.post("/campagnes", response_class=HTMLResponse)
async def create_campaign(request: Request, viewer: Admin) -> Response:
    form = await checked_form(request, viewer)
    data = _campaign_form(form) | {"id": field(form, "id")}

    def create() -> None:
        body = CampaignIn.model_validate(data)
        with session_scope(write=True) as s:
            campaigns.upsert_campaign(s, tenant_of(viewer), create_only=True, **body.model_dump())

    try:
        await run_in_threadpool(create)
    except (ValidationError, ApiError) as exc:
        status, message = refusal(exc)
        return await _campaigns_page(request, viewer, status=status, error=message,
                                     given=data)
    return see(f"/campagnes?ok={data['id']}")


@router.post("/campagnes/{campaign_id}", response_class=HTMLResponse)
async def update_campaign(request: Request, campaign_id: str, viewer: Admin) -> Response:
    form = await checked_form(request, viewer)
    data = _campaign_form(form)

    def update() -> None:
        body = CampaignPut.model_validate(data)
        with session_scope(write=True) as s:
            campaigns.get_campaign(s, tenant_of(viewer), campaign_id)  # 404: not another's
            campaigns.upsert_campaign(s, tenant_of(viewer), create_only=False,
                                      **(body.model_dump() | {"id": campaign_id}))

    try:
        await run_in_threadpool(update)
    except (ValidationError, ApiError) as exc:
        if isinstance(exc, ApiError) and exc.status == 404:
            raise
        status, message = refusal(exc)
        return await _campaigns_page(request, viewer, status=status, error=message,
                                     editing=data | {"id": campaign_id}, given=data)
    return see(f"/campagnes?ok={campaign_id}")


# ------------------------------------------------------------------------------ caller IDs




async def _caller_ids_page(request: Request, viewer: Viewer, *, status: int = 200,
                           error: str | None = None,
                           given: dict[str, Any] | None = None) -> HTMLResponse:
    def load() -> list[dict[str, Any]]:
        with session_scope() as s:
            return [{"number": c.number, "kind": c.kind, "assigned_to": c.assigned_to,
                     "verified_at": c.verified_at}
                    for c in campaigns.list_caller_ids(s, tenant_of(viewer))]

    return render(request, "admin/numeros_presentes.html", viewer, status=status,
                  clis=await run_in_threadpool(load), error=error, given=given or {},
                  kinds=CALLER_ID_CLASS_FR, required=campaigns.verification_required(),
                  done=request.query_params.get("ok"), removed=request.query_params.get("retire"))


@router.get("/numeros-presentes", response_class=HTMLResponse)
async def caller_ids_page(request: Request, viewer: Admin) -> HTMLResponse:
    return await _caller_ids_page(request, viewer)


@router.post("/numeros-presentes", response_class=HTMLResponse)
async def register_caller_id(request: Request, viewer: Admin) -> Response:
    form = await checked_form(request, viewer)
    data = {"number": field(form, "number") or "", "assigned_to": field(form, "assigned_to")}

    def register() -> str:
        body = CallerIdIn.model_validate(data)
        with session_scope(write=True) as s:
            return campaigns.register_caller_id(s, tenant_of(viewer), body.number,
                                                body.assigned_to).number

    try:
        number = await run_in_threadpool(register)
    except (ValidationError, ApiError) as exc:
        status, message = refusal(exc)
        return await _caller_ids_page(request, viewer, status=status, error=message, given=data)
    return see(f"/numeros-presentes?ok={number.replace('+', '%2B')}")


@router.post("/numeros-presentes/retirer", response_class=HTMLResponse)
async def remove_caller_id(request: Request, viewer: Admin) -> Response:
    form = await checked_form(request, viewer)
    number = field(form, "number") or ""

    def remove() -> None:
        with session_scope(write=True) as s:
            campaigns.delete_caller_id(s, tenant_of(viewer), number)

    await run_in_threadpool(remove)  # another tenant's number: 404, as the API
    return see(f"/numeros-presentes?retire={number.replace('+', '%2B')}")
