"""Console pages of the platform's operator: call centres (tenants), BLOCTEL, principals and
mandates, caller-ID verification, the operator's keys."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from app.console.web import PREFIX, Operator, render
from app.db import session_scope
from app.tenancy import service as tenancy

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _tenants() -> list[dict[str, str]]:
    with session_scope() as s:
        return [{"id": t.id, "name": t.name, "legal_form": t.legal_form, "status": t.status}
                for t in tenancy.list_tenants(s)]


@router.get("/operateur", response_class=HTMLResponse)
async def tenants(request: Request, viewer: Operator) -> HTMLResponse:
    return render(request, "operateur/centres.html", viewer,
                  tenants=await run_in_threadpool(_tenants))
