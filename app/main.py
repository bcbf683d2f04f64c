"""The FastAPI application: one router per domain, clear JSON errors, never a bare 500."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import multiprocess
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from app.alerts.delivery import Deliverer
from app.alerts.router import router as alerts_router
from app.audit.router import router as audit_router
from app.audit.service import Sealer
from app.calls.router import router as calls_router
from app.campaigns.router import router as campaigns_router
from app.clock import frozen_instant
from app.config import get_settings
from app.erasure.router import router as erasure_router
from app.errors import ApiError
from app.monitors.router import router as monitors_router
from app.monitors.service import Monitors
from app.numbers.router import router as numbers_router
from app.ops.router import router as ops_router
from app.registries.bulk_router import router as bulk_router
from app.registries.router import router as registries_router
from app.reports.pdf_router import router as reports_pdf_router
from app.reports.router import router as reports_router
from app.rules_router import router as rules_router
from app.scrub.router import router as scrub_router
from app.tenancy.router import router as tenancy_router
from bloctel.lookup import default_lookup
from bloctel.router import router as bloctel_router

log = logging.getLogger("gateway")


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    frozen = frozen_instant()
    if frozen is not None:
        log.warning("GATEWAY_FROZEN_NOW is set: the clock is frozen at %s", frozen.isoformat())
    elif get_settings().clock_offset_s:
        log.warning("GATEWAY_CLOCK_OFFSET_S is set: the clock runs %+.0f s off real time",
                    get_settings().clock_offset_s)
    # Hold the BLOCTEL list before the first check (and start the watcher that swaps in new
    # versions); if the database is not there yet, the first check loads it.
    try:
        await run_in_threadpool(default_lookup().refresh)
    except Exception as exc:
        log.warning("BLOCTEL list not loaded at start-up (%s); the first check will", exc)
    settings = get_settings()
    jobs = [job(interval).start() for job, interval in (
        (Sealer, settings.seal_interval_s), (Monitors, settings.monitor_interval_s),
        (Deliverer, settings.webhook_poll_s))
        if interval > 0]
    yield
    for job in jobs:
        job.stop()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # drop this worker's live gauges
        multiprocess.mark_process_dead(os.getpid())


def create_app() -> FastAPI:
    app = FastAPI(
        title="Canvassing compliance gateway (France)",
        version="0.1.0",
        description=(
            "Every call a dialer wants to place is decided under French law (Code de la "
            "consommation, ARCEP numbering plan, loi 2025-594) and the operator's terms, "
            "with every reason and its legal basis, and logged with its penalty."
        ),
        lifespan=lifespan,
    )
    for router in (
        ops_router, tenancy_router, campaigns_router, registries_router, calls_router,
        bloctel_router, reports_router, rules_router, bulk_router, numbers_router,
        scrub_router, erasure_router,
        reports_pdf_router, audit_router, monitors_router, alerts_router,
    ):
        app.include_router(router)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.headers:
            headers = {**(headers or {}), **exc.headers}
        return JSONResponse(
            {"error": exc.code, "detail": exc.detail, **exc.extra},
            status_code=exc.status, headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse(
            {"error": "invalid", "detail": jsonable_encoder(errors)}, status_code=422
        )

    @app.exception_handler(IntegrityError)
    async def conflict(_: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", exc.orig)
        return JSONResponse(
            {"error": "conflict", "detail": "conflicts with an existing record"}, status_code=409
        )

    @app.exception_handler(DataError)
    async def unstorable(_: Request, exc: DataError) -> JSONResponse:
        # the database refused a value (e.g. a NUL character in a path parameter)
        log.info("data error: %s", exc.orig)
        return JSONResponse(
            {"error": "invalid", "detail": "a value cannot be stored (NUL character?)"},
            status_code=422,
        )

    @app.exception_handler(OperationalError)
    async def unavailable(_: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", exc.orig)
        return JSONResponse(
            {"error": "unavailable", "detail": "database unavailable, retry"},
            status_code=503, headers={"Retry-After": "1"},
        )

    return app


app = create_app()
