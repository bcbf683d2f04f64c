"""``GET /v1/monitors``: the tenant's abuse monitors, their thresholds and current values."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from app.clock import InstantOut
from app.monitors import service
from app.tenancy.auth import Compliance

router = APIRouter(prefix="/v1", tags=["monitors"])

Action = Literal["notice", "throttle", "suspend"]


class MonitorValue(BaseModel):
    scope: str = Field(description='"tenant", "campaign:<id>" or "caller_id:<number>"')
    value: float
    events: int
    above: bool = Field(description="Above the threshold, on at least min_events events.")


class MonitorState(BaseModel):
    monitor: str
    measure: str
    window_s: int
    threshold: float = Field(description="In force: the tenant's, under the operator's.")
    ceiling: float = Field(description="The operator's highest threshold for this tenant.")
    floor_action: Action = Field(description="The operator's weakest action for this tenant.")
    action: Action
    min_events: int
    unit: str
    values: list[MonitorValue]
    last_alert_at: InstantOut | None


class Throttle(BaseModel):
    scope: str
    until: InstantOut
    monitor: str


class MonitorsOut(BaseModel):
    tenant_id: str
    status: str
    at: InstantOut
    monitors: list[MonitorState]
    throttles: list[Throttle]


@router.get("/monitors", response_model=MonitorsOut)
async def monitors(p: Compliance) -> dict[str, Any]:
    """Each monitor in force (threshold, action, window, the operator's ceiling and weakest
    action) with its current values per scope and whether they are above the threshold, when
    it last raised an alert, and the throttles in force. Thresholds: ``PATCH /v1/policy``
    ``{"monitors": …}``; the operator's bounds: ``PUT /v1/tenants/{id}/sanctions``."""
    return await run_in_threadpool(service.snapshot, p.tenant_id or "")
