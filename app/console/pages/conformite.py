"""Console pages for compliance officers (a tenant's compliance or admin key), besides the
dashboard: the attempts list and its export, the investigation of one number (erasure: admins),
the period report with its PDF, and the alerts.

Every figure and row comes from the public function the API's router calls for the same
question (``app.reports.service``, ``app.reports.listing``, ``app.numbers.service``,
``app.erasure.service``, ``app.alerts.service``, ``app.reports.pdf``), always for the viewer's
own tenant; blocking work runs in the thread pool.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from app import clock
from app.alerts import service as alerts
from app.campaigns.service import list_campaigns
from app.clock import PARIS, parse_bound
from app.console.labels import ACTION_FR, CONSENT_STATUS_FR, OUTCOME_FR, SCOPE_FR
from app.console.web import LEGAL_BASIS, PREFIX, Admin, Compliance, checked_form, field, render
from app.db import session_scope
from app.erasure import service as erasure
from app.errors import ApiError, NotFound, Unprocessable
from app.numbers import service as numbers
from app.registries.service import normalise_callee
from app.reports import listing, pdf
from app.reports import service as reports
from app.reports.export import Filters
from rules_fr.data import catalog

router = APIRouter(prefix=PREFIX, include_in_schema=False)

#: the export's filters, by their query names (``GET /v1/reports/attempts``)
FILTERS = ("from", "to", "campaign", "decision", "reason", "caller_id", "agent_id", "principal")
PAGE = 50  # rows a page: attempts, a number's attempts, alerts
FORMATS = {"csv": ("csv", False), "excel-fr": ("csv", True), "jsonl": ("jsonl", False)}



def _page_context() -> dict[str, Any]:
    return {"STATUS_FR": OUTCOME_FR, "ACTION_FR": ACTION_FR, "CONSENT_STATUS_FR":
            CONSENT_STATUS_FR, "SCOPE_FR": SCOPE_FR, "LEGAL_BASIS": LEGAL_BASIS}


def _invalid(exc: ApiError) -> str:
    """A service's 422 under a French heading (the detail names the field, as the API's)."""
    return f"Valeur invalide — {exc.detail}"


def _campaign_ids(tenant_id: str) -> list[str]:
    with session_scope() as s:
        return [c.id for c, _ in list_campaigns(s, tenant_id)]


# ------------------------------------------------------------------------------ tentatives


def _given(request: Request) -> dict[str, str]:
    """The filters as typed (empty fields dropped: a browser sends every field)."""
    out = {}
    for name in FILTERS:
        value = request.query_params.get(name)
        if value is not None and value.strip() != "":
            out[name] = value
    return out


def _filters(given: dict[str, str]) -> Filters:
    return reports.filters(
        given.get("from"), given.get("to"), campaign=given.get("campaign"),
        decision=given.get("decision"), reason=given.get("reason"),
        caller_id=given.get("caller_id"), agent_id=given.get("agent_id"),
        principal=given.get("principal"))


@router.get("/tentatives", response_class=HTMLResponse)
async def attempts(request: Request, viewer: Compliance) -> Response:
    """The tenant's attempts, newest first, 50 a page, with the export's filters."""
    tenant = viewer.tenant_id or ""
    given = _given(request)
    after = request.query_params.get("apres") or None
    error = None
    page = None
    try:
        f = _filters(given)
        page = await run_in_threadpool(listing.attempts_page, tenant, f, limit=PAGE,
                                       after=after)
    except Unprocessable as exc:
        error = _invalid(exc)
    campaigns = await run_in_threadpool(_campaign_ids, tenant)
    query = urlencode(given)
    return render(
        request, "conformite/tentatives.html", viewer, status=422 if error else 200,
        given=given, error=error, page=page, query=query, first=after is not None,
        reasons=catalog(), campaigns=campaigns, **_page_context())


@router.get("/tentatives/export")
async def attempts_export(request: Request, viewer: Compliance) -> Response:
    """The current filter's export, byte for byte ``GET /v1/reports/attempts``'s."""
    fmt = request.query_params.get("format", "csv")
    if fmt not in FORMATS:
        raise Unprocessable(f"format : csv, excel-fr ou jsonl, pas {fmt!r}")
    f = _filters(_given(request))
    tenant = viewer.tenant_id or ""
    kind, excel_fr = FORMATS[fmt]
    if kind == "jsonl":
        return StreamingResponse(
            reports.attempts_jsonl(tenant, f), media_type="application/x-ndjson",
            headers={"Content-Disposition": 'attachment; filename="attempts.jsonl"'})
    return StreamingResponse(
        reports.attempts_csv(tenant, f, excel_fr=excel_fr),
        media_type="text/csv; charset=utf-8" + ("; header=present" if excel_fr else ""),
        headers={"Content-Disposition": 'attachment; filename="attempts.csv"'})


# ------------------------------------------------------------------------------ numéros


@router.get("/numeros", response_class=HTMLResponse)
async def number_search(request: Request, viewer: Compliance) -> Response:
    """The search form; a valid number goes to its investigation."""
    raw = request.query_params.get("numero")
    if raw is None or not raw.strip():
        return render(request, "conformite/numeros.html", viewer, numero="", error=None)
    try:
        e164 = normalise_callee(raw)
    except Unprocessable:
        return render(request, "conformite/numeros.html", viewer, status=422, numero=raw,
                      error=f"« {raw} » n'est pas un numéro de téléphone valide. Saisissez-le "
                            "sous une forme française (06 12 34 56 78, +33 6 12 34 56 78…).")
    return RedirectResponse(f"{PREFIX}/numeros/{quote(e164, safe='')}", status_code=303)


def _investigation(viewer: Any, number: str, campaign: str | None,
                   after: str | None) -> dict[str, Any]:
    tenant = viewer.tenant_id or ""
    max_age = viewer.principal.policy.consent_max_age_days
    story = numbers.history(tenant, number, limit=PAGE, after=after,
                            max_age_days=max_age)
    proofs = {}
    for c in story.consents:
        p = numbers.proof(tenant, c.id, limit=1, after=None, max_age_days=max_age)
        proofs[c.id] = p
    campaigns = _campaign_ids(tenant)
    if campaign is None and campaigns:
        campaign = campaigns[0]
    window = window_error = None
    if campaign is not None:
        try:
            window = numbers.next_window(viewer.principal, number, campaign, None, None)
        except ApiError as exc:
            window_error = (f"Campagne « {campaign} » inconnue." if exc.status == 404
                            else _invalid(exc))
    return {"h": story, "proofs": proofs, "campaigns": campaigns, "campaign": campaign,
            "window": window, "window_error": window_error}


async def _number_page(request: Request, viewer: Any, number: str, *, status: int = 200,
                       error: str | None = None) -> Response:
    q = request.query_params
    try:
        found = await run_in_threadpool(_investigation, viewer, number,
                                        q.get("campagne") or None, q.get("apres") or None)
    except Unprocessable as exc:
        if exc.code == "CALLEE_INVALID":
            return render(request, "conformite/numeros.html", viewer, status=422,
                          numero=number, error=f"« {number} » n'est pas un numéro de "
                                               "téléphone valide.")
        raise
    done = q.get("efface")
    erased = next((e for e in found["h"].erasures if e.id == done), None) if done else None
    return render(request, "conformite/numero.html", viewer, status=status, error=error,
                  erased=erased, now=clock.now(), **found, **_page_context())


@router.get("/numeros/{numero}", response_class=HTMLResponse)
async def number_page(request: Request, numero: str, viewer: Compliance) -> Response:
    """One number's story with this tenant, its consents' proofs and its next window."""
    return await _number_page(request, viewer, numero)


def _erase(viewer: Any, number: str) -> str:
    with session_scope(write=True) as s:
        result = erasure.erase(s, viewer.tenant_id or "", number, viewer.principal.key_id)
        return result.erasure.id


@router.post("/numeros/{numero}/effacement", response_class=HTMLResponse)
async def erase_number(request: Request, numero: str, viewer: Admin) -> Response:
    """Erase the number's personal data (``POST /v1/numbers/{number}/erasure``), once the
    admin has ticked « Je confirme »."""
    form = await checked_form(request, viewer)
    if field(form, "confirme") != "oui":
        return await _number_page(
            request, viewer, numero, status=422,
            error="Cochez « Je confirme » pour effacer les données de ce numéro.")
    try:
        e164 = normalise_callee(numero)
    except Unprocessable:
        return render(request, "conformite/numeros.html", viewer, status=422, numero=numero,
                      error=f"« {numero} » n'est pas un numéro de téléphone valide.")
    erasure_id = await run_in_threadpool(_erase, viewer, e164)
    return RedirectResponse(f"{PREFIX}/numeros/{quote(e164, safe='')}?efface={erasure_id}",
                            status_code=303)


# ------------------------------------------------------------------------------ rapports


def _month_so_far() -> tuple[date, date]:
    today = clock.now().astimezone(PARIS).date()
    return today.replace(day=1), today


@router.get("/rapports", response_class=HTMLResponse)
async def report(request: Request, viewer: Compliance) -> Response:
    """A period's summary (``GET /v1/reports/summary``) and the link to its PDF."""
    first, last = _month_so_far()
    start = request.query_params.get("from") or first.isoformat()
    end = request.query_params.get("to") or last.isoformat()
    error = summary = None
    try:
        f = reports.filters(start, end)
        summary = await run_in_threadpool(reports.summary, viewer.tenant_id or "", f=f)
    except Unprocessable as exc:
        error = _invalid(exc)
    reasons = [{"code": code, "count": n, "legal_basis": LEGAL_BASIS.get(code, "")}
               for code, n in (summary or {}).get("by_reason", {}).items()]
    return render(request, "conformite/rapports.html", viewer, status=422 if error else 200,
                  start=start, end=end, error=error, s=summary, reasons=reasons,
                  pdf_query=urlencode({"from": start, "to": end}), **_page_context())


@router.get("/rapports/audit.pdf")
async def report_pdf(request: Request, viewer: Compliance) -> Response:
    """The signed audit report of the period: ``GET /v1/reports/audit.pdf``'s document."""
    q = request.query_params
    from_, to = q.get("from"), q.get("to")
    if not from_ or not to:
        raise Unprocessable("Indiquez le début (from) et la fin (to) de la période.")
    start = parse_bound(from_, end=False, name="from")
    end = parse_bound(to, end=True, name="to")
    if start is not None and end is not None and end <= start:
        raise Unprocessable(f"La période finit avant de commencer : du {from_} au {to}.")
    try:
        content, name = await run_in_threadpool(pdf.audit_report, viewer.tenant_id or "",
                                                start, end)
    except reports.UnknownTenant as exc:  # the key outlived its tenant
        raise NotFound("Ce centre d'appels n'existe plus.") from exc
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


# ------------------------------------------------------------------------------ alertes


@router.get("/alertes", response_class=HTMLResponse)
async def alerts_page(request: Request, viewer: Compliance) -> Response:
    """The tenant's alerts, newest first, 50 a page (``GET /v1/alerts``)."""
    cursor = request.query_params.get("apres") or None
    try:
        page = await run_in_threadpool(alerts.list_alerts, viewer.tenant_id or "", None, PAGE,
                                       cursor)
    except Unprocessable as exc:  # a cursor that is not one of this tenant's alerts
        return render(request, "conformite/alertes.html", viewer, status=422,
                      page={"items": [], "next_cursor": None}, first=True,
                      error=_invalid(exc), **_page_context())
    return render(request, "conformite/alertes.html", viewer, page=page,
                  first=cursor is not None, error=None, **_page_context())
