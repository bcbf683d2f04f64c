from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from app.bloctel.lookup import default_lookup
from app.config import get_settings
from app.db import answer_deadline, get_engine
from app.ops import metrics

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class BloctelHeld(BaseModel):
    version: int | None
    numbers: int


class Ready(BaseModel):
    status: str
    database: str
    bloctel: BloctelHeld


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz", response_model=Ready,
    responses={503: {"description": "Not ready: the database does not answer, or the BLOCTEL "
                                    "list is not loaded yet (`detail` names the failure)."}},
)
def readyz() -> Response:
    """The database answers (within ``GATEWAY_READYZ_TIMEOUT_MS`` on PostgreSQL) and this
    worker holds the BLOCTEL list in force."""
    try:
        with answer_deadline(get_settings().readyz_timeout_ms / 1000), \
                get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        # outside the deadline: the first load of a large list takes many round trips
        index = default_lookup().index()
    except Exception as exc:  # any failure means not ready; say which
        return JSONResponse({"error": "unavailable", "detail": type(exc).__name__,
                             "status": "unavailable"}, 503)
    return JSONResponse({
        "status": "ready", "database": get_engine().dialect.name,
        "bloctel": {"version": index.version, "numbers": index.size},
    })


@router.get(
    "/metrics", response_class=Response,
    responses={200: {"description": "Prometheus text exposition format.",
                     "content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def prometheus() -> Response:
    """Prometheus metrics (every worker's, aggregated)."""
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
