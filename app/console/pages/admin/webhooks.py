"""The admin's webhooks page: the tenant's webhooks, a test delivery, the deliveries' log."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app.alerts import service as alerts
from app.alerts.schemas import WebhookIn
from app.console.pages.admin.common import refusal, router, see, tenant_of
from app.console.sessions import Viewer
from app.console.web import Admin, checked_form, field, render
from app.errors import ApiError


def _webhooks(tenant_id: str) -> dict[str, Any]:
    """The tenant's webhooks and the delivery log of its latest alerts (what ``GET
    /v1/alerts/{id}`` gives of each: its deliveries)."""
    hooks = alerts.list_webhooks(tenant_id)
    urls = {h["id"]: h["url"] for h in hooks}
    log = [{"alert": alert, "delivery": d, "url": urls.get(d["webhook_id"], "(webhook supprimé)")}
           for alert, d in alerts.recent_deliveries(tenant_id, 20)]
    return {"webhooks": hooks, "log": log}


async def _webhooks_page(request: Request, viewer: Viewer, *, status: int = 200,
                         error: str | None = None, created: dict[str, Any] | None = None,
                         given: dict[str, Any] | None = None) -> HTMLResponse:
    ctx = await run_in_threadpool(_webhooks, tenant_of(viewer))
    return render(request, "admin/webhooks.html", viewer, status=status, error=error,
                  created=created, given=given or {}, tested=request.query_params.get("test"),
                  deleted=request.query_params.get("supprime"), **ctx)


@router.get("/webhooks", response_class=HTMLResponse)
async def webhooks_page(request: Request, viewer: Admin) -> HTMLResponse:
    return await _webhooks_page(request, viewer)


@router.post("/webhooks", response_class=HTMLResponse)
async def create_webhook(request: Request, viewer: Admin) -> Response:
    """``POST /v1/webhooks``: the URL checked by the API's model and by
    ``alerts.create_webhook`` (public addresses only, https; the SSRF rules of
    ``app.alerts.targets``); the signing secret shown in this answer only."""
    form = await checked_form(request, viewer)
    data = {"url": field(form, "url") or "", "description": field(form, "description")}

    def create() -> dict[str, Any]:
        body = WebhookIn.model_validate(data)
        return alerts.create_webhook(tenant_of(viewer), body.url, body.description)

    try:
        created = await run_in_threadpool(create)
    except (ValidationError, ApiError) as exc:
        status, message = refusal(exc)
        return await _webhooks_page(request, viewer, status=status, error=message, given=data)
    return await _webhooks_page(request, viewer, status=201, created=created)


@router.post("/webhooks/{webhook_id}/test", response_class=HTMLResponse)
async def test_webhook(request: Request, webhook_id: str, viewer: Admin) -> Response:
    await checked_form(request, viewer)
    queued = await run_in_threadpool(alerts.queue_test_delivery, tenant_of(viewer), webhook_id)
    return see(f"/webhooks?test={queued['alert']['id']}")


@router.post("/webhooks/{webhook_id}/supprimer", response_class=HTMLResponse)
async def delete_webhook(request: Request, webhook_id: str, viewer: Admin) -> Response:
    await checked_form(request, viewer)
    await run_in_threadpool(alerts.delete_webhook, tenant_of(viewer), webhook_id)
    return see(f"/webhooks?supprime={webhook_id}")
