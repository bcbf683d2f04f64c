"""``GET /v1/monitors``: the tenant's abuse monitors, their thresholds and current values."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from app.monitors import service
from app.tenancy.auth import Compliance

router = APIRouter(prefix="/v1", tags=["monitors"])


@router.get("/monitors")
async def monitors(p: Compliance) -> dict[str, Any]:
    """Each monitor in force (threshold, action, window, the operator's ceiling) with its
    current values per scope and whether they are above the threshold, when it last raised an
    alert, and the throttles in force. Thresholds: ``PATCH /v1/policy`` ``{"monitors": …}``."""
    return await run_in_threadpool(service.snapshot, p.tenant_id or "")
