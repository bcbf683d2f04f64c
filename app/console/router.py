"""The console's own routes: sign-in and sign-out, the home page of each role, the progress of
long work, the static files. The pages of each audience live in ``app.console.pages``."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.console import jobs, sessions
from app.console.pages import tableau
from app.console.web import (
    PREFIX,
    Anyone,
    Compliance,
    ConsoleDenied,
    checked_form,
    csrf_ok,
    field,
    read_form,
    render,
)
from app.errors import ApiError
from app.tenancy.auth import resolve

router = APIRouter(prefix=PREFIX, include_in_schema=False)

#: the sign-in form's CSRF token lives in this cookie until a session exists (double submit)
PRE_COOKIE = "gw_console_pre"


def _cookie(response: Response, request: Request, name: str, value: str, path: str) -> None:
    response.set_cookie(name, value, httponly=True, samesite="strict", path=path,
                        secure=request.url.scheme == "https")


def _next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if target and target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX


def _sign_in_page(request: Request, status: int = 200, error: str | None = None,
                  target: str | None = None, ended: bool = False) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(request, "connexion.html", status=status, pre_csrf=token, error=error,
                      suite=_next(target), ended=ended)
    _cookie(response, request, PRE_COOKIE, token, PREFIX + "/connexion")
    return response


@router.get("/connexion", response_class=HTMLResponse)
async def sign_in_form(request: Request, suite: str | None = None, fin: int = 0) -> Response:
    viewer = await run_in_threadpool(sessions.load, request.cookies.get(sessions.COOKIE))
    if viewer is not None and not fin:
        return RedirectResponse(_next(suite), status_code=303)
    return _sign_in_page(request, target=suite, ended=bool(fin))


@router.post("/connexion", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    form = await read_form(request)
    target = field(form, "suite")
    if not csrf_ok(request.cookies.get(PRE_COOKIE) or "", field(form, "_csrf")):
        return _sign_in_page(request, 403, "Jeton de sécurité (CSRF) absent ou invalide : la "
                             "page a expiré, recommencez.", target)
    key = field(form, "cle")
    if key is None:
        return _sign_in_page(request, 422, "Saisissez votre clé d'API.", target)
    try:
        principal = await resolve(f"Bearer {key}")
    except ApiError as exc:
        if exc.status == 429:
            return _sign_in_page(request, 429, "Trop de tentatives avec cette clé : "
                                 "réessayez dans un instant.", target)
        return _sign_in_page(request, 401, "Clé inconnue ou révoquée.", target)
    if principal.role not in sessions.CONSOLE_ROLES:
        return _sign_in_page(
            request, 403, f"Une clé « {principal.role} » ne peut pas ouvrir la console : "
            "elle sert aux automates d'appel. Utilisez une clé de conformité, "
            "d'administrateur ou d'opérateur.", target)
    token = await run_in_threadpool(sessions.open_session, principal,
                                    request.headers.get("user-agent"))
    response = RedirectResponse(_next(target), status_code=303)
    _cookie(response, request, sessions.COOKIE, token, PREFIX)
    response.delete_cookie(PRE_COOKIE, path=PREFIX + "/connexion")
    return response


@router.post("/deconnexion")
async def sign_out(request: Request, viewer: Anyone) -> Response:
    await checked_form(request, viewer)
    await run_in_threadpool(sessions.close, viewer.session_id)
    response = RedirectResponse(f"{PREFIX}/connexion?fin=1", status_code=303)
    response.delete_cookie(sessions.COOKIE, path=PREFIX)
    return response


@router.get("", response_class=HTMLResponse)
async def home(request: Request, viewer: Anyone) -> Response:
    """A tenant's key: the dashboard; the operator's: its own pages."""
    if viewer.tenant_id is None:
        return RedirectResponse(f"{PREFIX}/operateur", status_code=303)
    return await tableau.page(request, viewer)


@router.get("/partiels/scellement", response_class=HTMLResponse)
async def seal_panel(request: Request, viewer: Compliance) -> Response:
    return await tableau.seal_panel(request, viewer)


@router.post("/partiels/scellement", response_class=HTMLResponse)
async def verify_now(request: Request, viewer: Compliance) -> Response:
    """"Vérifier maintenant": a new verification of the sealed ledger (unless one runs)."""
    await checked_form(request, viewer)
    return await tableau.seal_panel(request, viewer, force=True)


@router.get("/travaux/{job_id}", response_class=HTMLResponse)
async def job(request: Request, job_id: str, viewer: Anyone) -> Response:
    """One job's progress (an htmx fragment that polls itself while the job runs)."""
    found = await run_in_threadpool(jobs.get, job_id, viewer.tenant_id)
    if found is None:
        raise ConsoleDenied("Aucun travail de ce nom pour votre compte.", status=404)
    return render(request, "travaux/_travail.html", viewer, job=found)

