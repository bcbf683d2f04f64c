"""Alerts (compliance, admin) and webhooks (admin). Another tenant's alert or webhook is a 404."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from app.alerts import service
from app.alerts.schemas import (
    AlertDetail,
    AlertsPage,
    TestDelivery,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
)
from app.clock import RANGE, parse_bound
from app.errors import Unprocessable
from app.tenancy.auth import Admin, Compliance

router = APIRouter(prefix="/v1", tags=["alerts"])


@router.post("/webhooks", status_code=201, response_model=WebhookCreated)
def create_webhook(body: WebhookIn, p: Admin) -> dict[str, Any]:
    """A webhook receiving every alert of the tenant, signed with the ``secret`` returned here
    once (see the README: *Alerts and webhooks*)."""
    return service.create_webhook(p.tenant_id or "", body.url, body.description)


@router.get("/webhooks", response_model=list[WebhookOut])
def list_webhooks(p: Admin) -> list[dict[str, Any]]:
    return service.list_webhooks(p.tenant_id or "")


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str, p: Admin) -> Response:
    """No more deliveries to it; its pending ones fail with ``webhook deleted``."""
    service.delete_webhook(p.tenant_id or "", webhook_id)
    return Response(status_code=204)


@router.post("/webhooks/{webhook_id}/test", status_code=202, response_model=TestDelivery)
def test_webhook(webhook_id: str, p: Admin) -> dict[str, Any]:
    """Queue a synthetic alert (monitor ``test``, action ``notice``) to this webhook; follow
    it at ``GET /v1/alerts/{alert.id}``."""
    return service.queue_test_delivery(p.tenant_id or "", webhook_id)


@router.get("/alerts", response_model=AlertsPage)
def list_alerts(
    p: Compliance,
    since: str | None = Query(default=None,
                              description=f"Date (Paris day) or ISO 8601 instant, {RANGE}."),
    monitor: str | None = Query(default=None, max_length=40),
    action: str | None = Query(default=None, description="notice | throttle | suspend"),
    limit: int = Query(default=service.DEFAULT_PAGE, ge=1, le=service.MAX_PAGE),
    cursor: str | None = Query(default=None, max_length=40,
                               description="next_cursor of the previous page"),
) -> dict[str, Any]:
    """The tenant's alerts, newest first, in keyset pages."""
    if action is not None and action not in service.ACTIONS:
        raise Unprocessable(f"action must be one of {', '.join(service.ACTIONS)}: {action!r}")
    return service.list_alerts(
        p.tenant_id or "", parse_bound(since, end=False, name="since"), limit, cursor,
        monitor=monitor, action=action,
    )


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: str, p: Compliance) -> dict[str, Any]:
    """One alert with the log of its deliveries (no webhook URL: compliance may read this)."""
    return service.get_alert(p.tenant_id or "", alert_id)
