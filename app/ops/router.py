from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.db import get_engine
from app.ops import metrics
from bloctel.lookup import default_lookup

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz() -> Response:
    """The database answers and this worker holds the BLOCTEL list in force."""
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        index = default_lookup().index()
    except Exception as exc:  # any failure means not ready; say which
        return JSONResponse({"status": "unavailable", "detail": type(exc).__name__}, 503)
    return JSONResponse({
        "status": "ready", "database": get_engine().dialect.name,
        "bloctel": {"version": index.version, "numbers": index.size},
    })


@router.get("/metrics")
def prometheus() -> Response:
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
