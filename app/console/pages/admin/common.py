"""What the admin's pages share: their router, a refused input said in one line, the 303 to a
page, the viewer's tenant."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from app.console.sessions import Viewer
from app.console.web import PREFIX
from app.errors import ApiError

#: the admin's pages all register here (``app.console.pages.admin`` imports them in order)
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _invalid(exc: ValidationError) -> str:
    """A request model's refusal in one line: ``field : message`` per error."""
    out = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e.get("loc", ()))
        msg = str(e.get("msg", "")).removeprefix("Value error, ")
        out.append(f"{where} : {msg}" if where else msg)
    return " ; ".join(out)


def refusal(exc: Exception) -> tuple[int, str]:
    """(status, message) of a refused input: a service's ``ApiError`` (its status, 422 for a
    403 that is a refusal of the input, not of the page) or a request model's error."""
    if isinstance(exc, ValidationError):
        return 422, _invalid(exc)
    assert isinstance(exc, ApiError)
    return (409 if exc.status == 409 else 422), exc.detail


def see(path: str) -> RedirectResponse:
    return RedirectResponse(PREFIX + path, status_code=303)


def tenant_of(viewer: Viewer) -> str:
    return viewer.tenant_id or ""
