"""The FastAPI application: one router per domain, one JSON error envelope, never a bare 500."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi_offline import FastAPIOffline
from prometheus_client import multiprocess

from app.alerts.delivery import Deliverer
from app.alerts.router import router as alerts_router
from app.audit.router import router as audit_router
from app.audit.service import Sealer
from app.bloctel.lookup import default_lookup
from app.bloctel.router import router as bloctel_router
from app.calls.router import router as calls_router
from app.campaigns.router import router as campaigns_router
from app.clock import frozen_instant
from app.config import get_settings
from app.console import install as install_console
from app.erasure.router import router as erasure_router
from app.http import GatewayHTTP, install_error_handlers
from app.monitors.router import router as monitors_router
from app.monitors.service import Monitors
from app.numbers.router import router as numbers_router
from app.openapi import install_openapi
from app.ops.router import router as ops_router
from app.principals.router import router as principals_router
from app.registries.bulk_router import router as bulk_router
from app.registries.router import router as registries_router
from app.reports.pdf_router import router as reports_pdf_router
from app.reports.router import router as reports_router
from app.rules_router import router as rules_router
from app.scrub.router import router as scrub_router
from app.tenancy.router import router as tenancy_router

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
    # /docs and /redoc with the Swagger UI and ReDoc assets the package ships (no CDN: call
    # centres run on closed networks); the Authorize button keeps the key across reloads
    app = FastAPIOffline(
        swagger_ui_parameters={"persistAuthorization": True, "validatorUrl": None},
        title="Canvassing compliance gateway (France)",
        version="0.1.0",
        description=(
            "Every call a dialer wants to place is decided under French law (Code de la "
            "consommation, ARCEP numbering plan, loi 2025-594) and the operator's terms, "
            "with every reason and its legal basis, and logged with its penalty.\n\n"
            "**Authentication**: every `/v1` operation but `GET /v1/rules` takes an API key, "
            "`Authorization: Bearer <key>` (here: **Authorize**, then paste the key alone). "
            "**Errors** have one shape, `{\"error\": code, \"detail\": text, …}`; every "
            "answer carries an `X-Request-Id`."
        ),
        lifespan=lifespan,
    )
    for router in (
        ops_router, tenancy_router, principals_router, campaigns_router, registries_router,
        calls_router,
        bloctel_router, reports_router, rules_router, bulk_router, numbers_router,
        scrub_router, erasure_router,
        reports_pdf_router, audit_router, monitors_router, alerts_router,
    ):
        app.include_router(router)

    install_error_handlers(app)  # one envelope for every error (app.http)
    install_console(app)  # /console: HTML pages, HTML errors on its paths (app.console)
    # authentication before the body, JSON bodies limited while they stream, request ids
    app.add_middleware(GatewayHTTP, gateway=app)
    install_openapi(app)  # security scheme, every error status, non-JSON answers (app.openapi)
    return app


app = create_app()
