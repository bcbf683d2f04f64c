"""What every console page shares: the templates and their French filters, who is looking
(``Viewer``, from the session cookie), the role guards, CSRF on every form, and the HTML error
page (the API keeps its JSON envelope; a console path gets a page in French).

Pages are rendered on the server (Jinja2) with htmx for partial updates (progress bars, lazy
panels). No inline script or style: the Content-Security-Policy allows only the gateway's own
files (``static/``), so an injected ``<script>`` cannot run.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.clock import PARIS
from app.console import sessions
from app.console.labels import ROLE_FR
from app.console.sessions import Viewer
from app.errors import ApiError
from app.reports.pdf.labels import fr_eur, fr_int, fr_pct
from rules_fr.data import catalog, code_label

HERE = Path(__file__).parent
PREFIX = "/console"
#: where ``current_viewer`` notes when the page started (``Server-Timing`` in ``render``)
STARTED = "console.started"
templates = Jinja2Templates(directory=str(HERE / "templates"))


#: every reason code's legal basis, as GET /v1/rules gives it
LEGAL_BASIS: Mapping[str, str] = {e.code: e.legal_basis for e in catalog()}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


# ------------------------------------------------------------------------------ filters


def fr_datetime(value: Any) -> str:
    """An instant (aware datetime or ISO text) in Paris time, ``03/12/2026 14:05:09``."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(PARIS)
        return value.strftime("%d/%m/%Y %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def fr_date(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = value.astimezone(PARIS).date() if value.tzinfo else value.date()
    return value.strftime("%d/%m/%Y")


templates.env.filters.update(
    nombre=fr_int, euros=fr_eur, pourcentage=fr_pct, date_heure=fr_datetime, date_fr=fr_date,
    motif=code_label, base_legale=lambda code: LEGAL_BASIS.get(code, ""),
    role_fr=lambda role: ROLE_FR.get(role, role), urlquote=lambda v: quote(str(v), safe=""),
)
templates.env.globals.update(PREFIX=PREFIX, ROLE_FR=ROLE_FR)


def render(request: Request, template: str, viewer: Viewer | None = None, *,
           status: int = 200, headers: Mapping[str, str] | None = None,
           **context: Any) -> HTMLResponse:
    """A page (or an htmx fragment) with the viewer, its CSRF token and the security
    headers."""
    response = templates.TemplateResponse(
        request, template, {"viewer": viewer, "csrf": viewer.csrf if viewer else None,
                            **context},
        status_code=status, headers={**SECURITY_HEADERS, **(headers or {})},
    )
    started = request.scope.get(STARTED)
    if started is not None:  # the page's own time on the server (bench.console reads it)
        response.headers["Server-Timing"] = f"page;dur={(time.perf_counter() - started) * 1e3:.1f}"
    return response


# ------------------------------------------------------------------------------ errors


class SignInRequired(Exception):
    """No live session: to the sign-in page (then back to where the viewer was going)."""


class ConsoleDenied(Exception):
    """A page this role may not see: 403, in French."""

    def __init__(self, detail: str, status: int = 403) -> None:
        super().__init__(detail)
        self.detail, self.status = detail, status


def is_console(request: Request) -> bool:
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


_TITLES = {400: "Requête invalide", 401: "Connexion requise", 403: "Accès refusé",
           404: "Page introuvable", 405: "Méthode non permise", 409: "Conflit",
           413: "Fichier trop volumineux", 415: "Format non pris en charge",
           422: "Données invalides", 429: "Trop de requêtes", 500: "Erreur interne",
           503: "Service indisponible"}


def error_page(request: Request, status: int, detail: Any) -> HTMLResponse:
    viewer = request.scope.get("console.viewer")
    if not isinstance(detail, str):
        detail = "; ".join(
            f"{'.'.join(str(x) for x in e.get('loc', ()) if x not in ('query', 'body'))} : "
            f"{e.get('msg', '')}" if isinstance(e, Mapping) else str(e)
            for e in (detail if isinstance(detail, list) else [detail])
        )
    return render(request, "erreur.html", viewer, status=status,
                  title=_TITLES.get(status, f"Erreur {status}"), detail=detail, code=status)


def _sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"{PREFIX}/connexion?suite={quote(target, safe='')}"
    if request.headers.get("hx-request"):  # an htmx fragment: the whole page goes there
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def install_errors(app: FastAPI) -> None:
    """Console paths get an HTML page for every error; API paths keep their envelope (the
    handlers ``app.http.install_error_handlers`` put in place, called for them)."""
    handlers = app.exception_handlers
    api_error, http_error, invalid = (handlers[ApiError], handlers[StarletteHTTPException],
                                      handlers[RequestValidationError])

    async def on_api_error(request: Request, exc: Exception) -> Response:
        if is_console(request) and isinstance(exc, ApiError):
            return error_page(request, exc.status, exc.detail)
        return await api_error(request, exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        if is_console(request) and isinstance(exc, StarletteHTTPException):
            detail = exc.detail
            if exc.status_code == 404:
                detail = f"Aucune page à l'adresse {request.url.path}."
            elif exc.status_code == 405:
                detail = f"La méthode {request.method} n'est pas permise ici."
            return error_page(request, exc.status_code, detail)
        return await http_error(request, exc)

    async def on_invalid(request: Request, exc: Exception) -> Response:
        if is_console(request) and isinstance(exc, RequestValidationError):
            return error_page(request, 422, list(exc.errors()))
        return await invalid(request, exc)

    async def on_sign_in(request: Request, _: Exception) -> Response:
        return _sign_in(request)

    async def on_denied(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ConsoleDenied)
        return error_page(request, exc.status, exc.detail)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(SignInRequired, on_sign_in)
    app.add_exception_handler(ConsoleDenied, on_denied)


# ------------------------------------------------------------------------------ who


async def current_viewer(request: Request) -> Viewer:
    """Dependency: the signed-in viewer, or to the sign-in page."""
    request.scope.setdefault(STARTED, time.perf_counter())

    viewer = await run_in_threadpool(sessions.load, request.cookies.get(sessions.COOKIE))
    if viewer is None:
        raise SignInRequired()
    request.scope["console.viewer"] = viewer
    return viewer


def _needs(role: str, what: str) -> Any:
    async def dependency(request: Request) -> Viewer:
        viewer = await current_viewer(request)
        if not viewer.can(role) or (role != "operator" and viewer.tenant_id is None):
            raise ConsoleDenied(f"Cette page est réservée {what}. Vous êtes connecté avec une "
                                f"clé « {ROLE_FR.get(viewer.role, viewer.role)} ».")
        return viewer

    return dependency


#: any signed-in viewer (operator included)
Anyone = Annotated[Viewer, Depends(current_viewer)]
#: a tenant's compliance officer or admin (the operator has no tenant: its pages are its own)
Compliance = Annotated[Viewer, Depends(_needs("compliance", "aux clés d'un centre d'appels "
                                                          "(conformité ou administrateur)"))]
Admin = Annotated[Viewer, Depends(_needs("admin", "aux administrateurs du centre d'appels"))]
Operator = Annotated[Viewer, Depends(_needs("operator", "à l'opérateur de la plateforme"))]


# ------------------------------------------------------------------------------ CSRF


def csrf_ok(viewer_token: str, given: str | None) -> bool:
    return bool(given) and secrets.compare_digest(viewer_token.encode(), given.encode())


#: the largest form that is not a file upload (a sign-in, a setting, a search): the console's
#: routes read their bodies themselves, so the API's JSON limit does not apply to them
FORM_LIMIT = 65_536


async def read_form(request: Request) -> FormData:
    """The request's form. A form without a file must declare its length (browsers do) and
    stay within ``FORM_LIMIT``, or 413 before a byte is read: the sign-in form is open to
    anyone. File uploads (multipart) are for signed-in admins and the operator, checked
    before their body is read, and are streamed to disk by the parser."""
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        length = request.headers.get("content-length", "")
        if not length.isdigit() or int(length) > FORM_LIMIT:
            raise ConsoleDenied(f"Formulaire trop volumineux (au plus {FORM_LIMIT} octets, "
                                "longueur annoncée).", status=413)
    return await request.form()


async def checked_form(request: Request, viewer: Viewer) -> FormData:
    """The form of a POST, once its CSRF token (field ``_csrf``, or the ``X-CSRF-Token``
    header htmx sends) matches the session's; otherwise 403."""
    form = await read_form(request)
    given = request.headers.get("x-csrf-token") or form.get("_csrf")
    if not isinstance(given, str) or not csrf_ok(viewer.csrf, given):
        raise ConsoleDenied("Jeton de sécurité (CSRF) absent ou invalide : rechargez la page "
                            "et recommencez.")
    return form


def field(form: FormData, name: str) -> str | None:
    """A text field, stripped; None when absent or empty."""
    value = form.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None
