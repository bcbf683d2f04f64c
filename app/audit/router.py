"""``GET /v1/audit/verify``: the tenant's sealed ledger, verified (``app.audit.service``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from app.audit import service
from app.audit.schemas import Verification
from app.tenancy.auth import Compliance

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("/verify", response_model=Verification)
async def verify(p: Compliance) -> dict[str, Any]:
    """Check the seal chain and recompute every sealed part of this tenant's attempts and
    outcomes from the rows: ``ok``, the chain ``head`` (print it, keep it: it anchors the
    history), ``sealed_until``, ``unsealed`` rows (written since, sealed within minutes) and
    ``first_broken``, the first seal whose rows were changed, deleted or inserted (or whose
    chain link was), with the period and stream. 200 whatever the outcome."""
    return await run_in_threadpool(service.verify, p.tenant_id or "")
