"""Console pages of a tenant's admin: the registries (consents, contracts, oppositions: search
by number, bulk import with a live progress bar and the report of rejected lines), campaigns,
caller IDs, API keys, webhooks, and the tenant policy within the operator's sanctions.

Every page calls the public service functions the API's routers call (``app.registries``,
``app.campaigns``, ``app.tenancy``, ``app.alerts``) and validates a form with the API's own
request models, so that a form and the API accept and refuse exactly the same input. A refused
input re-renders its page with a French heading and the service's explanation (422; the
status of the service's answer where it says more: 409 for a name already taken).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app import clock
from app.alerts import service as alerts
from app.alerts.schemas import WebhookIn
from app.campaigns import service as campaigns
from app.campaigns.schemas import CallerIdIn, CampaignIn, CampaignPut
from app.console import jobs
from app.console.sessions import Viewer
from app.console.web import PREFIX, Admin, checked_form, field, render
from app.db import get_engine, session_scope
from app.errors import ApiError
from app.principals.service import held_principals
from app.registries import bulk
from app.registries import service as registries
from app.tenancy import service as tenancy
from app.tenancy.monitor_policy import MONITORS
from app.tenancy.policy import DEFAULT, PolicyIn, policy_from_json, policy_to_json
from app.tenancy.schemas import KeyIn
from app.uploads import Limits as UploadLimits
from bloctel.parse import FormatError
from rules_fr.data import SECTORS

router = APIRouter(prefix=PREFIX, include_in_schema=False)


# ------------------------------------------------------------------------------ shared


def _invalid(exc: ValidationError) -> str:
    """A request model's refusal in one line: ``field : message`` per error."""
    out = []
    for e in exc.errors():
        where = ".".join(str(x) for x in e.get("loc", ()))
        msg = str(e.get("msg", "")).removeprefix("Value error, ")
        out.append(f"{where} : {msg}" if where else msg)
    return " ; ".join(out)


def _refusal(exc: Exception) -> tuple[int, str]:
    """(status, message) of a refused input: a service's ``ApiError`` (its status, 422 for a
    403 that is a refusal of the input, not of the page) or a request model's error."""
    if isinstance(exc, ValidationError):
        return 422, _invalid(exc)
    assert isinstance(exc, ApiError)
    return (409 if exc.status == 409 else 422), exc.detail


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(PREFIX + path, status_code=303)


def _tenant(viewer: Viewer) -> str:
    return viewer.tenant_id or ""


# ------------------------------------------------------------------------------ registries


REGISTRIES: dict[str, dict[str, str]] = {
    "consents": {"slug": "consentements", "title": "Consentements",
                 "none": "Aucun consentement enregistré"},
    "contracts": {"slug": "contrats", "title": "Contrats", "none": "Aucun contrat enregistré"},
    "oppositions": {"slug": "oppositions", "title": "Oppositions",
                    "none": "Aucune opposition enregistrée"},
}

#: the importer's reasons (``app.registries.bulk.fields``, ``bloctel.parse``) in French; a
#: reason not listed is shown as the importer wrote it
_REASONS: list[tuple[re.Pattern[str], str]] = [(re.compile(p), fr) for p, fr in (
    (r"^no number$", "numéro absent"),
    (r"^no value in the number column$", "numéro absent"),
    (r"^fewer fields than the header$", "moins de colonnes que l'en-tête"),
    (r"^missing (\w+)$", "{0} absent"),
    (r"^(\w+) is not a date-time", "{0} n'est pas une date et heure (ISO 8601 ou "
     "JJ/MM/AAAA HH:MM)"),
    (r"^(\w+) is not a date", "{0} n'est pas une date (AAAA-MM-JJ ou JJ/MM/AAAA)"),
    (r"^(\w+) is outside (.*?)(; open-ended.*)?$", "{0} hors de la plage {1}"),
    (r"^scope is not", "portée inconnue (canvassing ou outside_hours)"),
    (r"^unknown sector$", "secteur inconnu"),
    (r"^(\w+) is too long$", "{0} trop long"),
    (r"^expires_at must be after given_at$", "l'expiration précède le consentement"),
    (r"^ends_on must not be before starts_on$", "la fin précède le début"),
    (r"^evidence is JSON but not an object$", "la preuve est du JSON mais pas un objet"),
    (r"^unexpected characters", "caractères inattendus dans le numéro"),
    (r"^'\+' must come before the digits$", "le « + » doit précéder les chiffres"),
    (r"^a national number has 10 digits", "un numéro national a 10 chiffres"),
    (r"^neither a national number", "ni numéro national (0…) ni international (+… ou 00…)"),
    (r"^not a French number", "numéro étranger (indicatif pays)"),
    (r"^not a valid number in the French numbering plan$",
     "numéro invalide dans le plan de numérotation français"),
    (r"^quotes that do not enclose whole fields$", "guillemets mal placés"),
    (r"^given_at is in the future", "consentement daté dans le futur (plus de 5 minutes "
     "après le début de l'import)"),
    (r"^principals: no mandate from principal (.*)$", "aucun mandat du mandant {0}"),
    (r"^principals: an id is longer", "identifiant de mandant trop long"),
    (r"^(\w+) is not yes or no", "{0} n'est ni oui ni non"),
)]


#: the importer's fields (``app.registries.bulk.fields.FIELDS``) in French
FIELD_FR = {"callee": "numéro", "given_at": "date du consentement", "scope": "portée",
            "channel": "canal", "evidence": "preuve", "expires_at": "expiration",
            "principals": "mandants", "source": "source", "notice_given": "information donnée",
            "conditional_on_sale": "vente liée", "reference": "référence", "sector": "secteur",
            "starts_on": "début", "ends_on": "fin"}


def reason_fr(reason: str) -> str:
    for pattern, french in _REASONS:
        found = pattern.search(reason)
        if found:
            text = french.format(*(FIELD_FR.get(g, g) if g else "" for g in found.groups()))
            return text[:1].upper() + text[1:]
    return reason


def _french_report(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The importer's report, JSON-ready, each rejected line's and reason's French label
    added (``motif``, ``reasons_fr``)."""
    if report is None:
        return None
    out = dict(report)
    out["rejected_samples"] = [dict(s, motif=reason_fr(str(s.get("error", ""))))
                               for s in report.get("rejected_samples") or []]
    out["columns_fr"] = [{"column": c, "field": FIELD_FR.get(f, f)}
                         for f, c in (report.get("columns") or {}).items()]
    out["reasons_fr"] = [{"reason": r, "motif": reason_fr(r), "count": n}
                         for r, n in sorted((report.get("reasons") or {}).items(),
                                            key=lambda kv: -kv[1])]
    return out


def _import_work(kind: bulk.Kind, tenant_id: str, force: bool) -> jobs.Work:
    """The job's work: ``bulk.import_csv`` as ``POST /v1/{kind}/import`` runs it, its
    refusals in French."""

    def work(raw: IO[bytes], progress: jobs.JobProgress) -> dict[str, Any]:
        try:
            report = bulk.import_csv(get_engine(), raw, kind=kind, tenant_id=tenant_id,
                                     limits=bulk.Limits.from_settings(force=force),
                                     progress=progress)
        except bulk.ImportRefused as e:
            r = e.report
            considered = (r.get("lines") or 0) - (r.get("blank") or 0)
            raise jobs.JobRefused(
                f"Import arrêté : {r.get('rejected', 0):,} lignes rejetées sur les "
                f"{considered:,} premières, trop pour un bon fichier "
                "(GATEWAY_IMPORT_MAX_REJECTED). Rien n'a été écrit. Vérifiez le fichier, ou "
                "cochez « Forcer l'import » pour l'importer quand même. "
                f"({e})".replace(",", "\u202f"), _french_report(r)) from None
        except bulk.ImportBusy:
            raise jobs.JobRefused("Un autre import est en cours pour votre centre d'appels : "
                                  "attendez qu'il se termine puis recommencez.") from None
        except bulk.TooManyRows as e:
            raise jobs.JobRefused(f"Le fichier a plus de {e.limit:,} lignes "
                                  "(GATEWAY_IMPORT_MAX_ROWS) : découpez-le. Rien n'a été "
                                  "écrit.".replace(",", "\u202f")) from None
        except (bulk.BulkImportError, FormatError) as e:
            raise jobs.JobRefused(f"Fichier illisible ou sans en-tête utilisable : {e}. "
                                  "Rien n'a été écrit.") from None
        return _french_report(report) or {}

    return work


def _consents(tenant_id: str, viewer: Viewer, callee: str) -> list[dict[str, Any]]:
    """``GET /v1/consents?callee=`` as the API answers it (status, valid_until, warnings)."""
    at = clock.now()
    with session_scope() as s:
        rows = registries.list_consents(s, tenant_id, callee)
        named = registries.principals_of(s, [r.id for r in rows])
        out = []
        for r in rows:
            life = registries.lifetime(r, at, viewer.principal.policy.consent_max_age_days)
            out.append({"id": r.id, "callee": r.callee, "scope": r.scope,
                        "given_at": r.given_at, "channel": r.channel, "source": r.source,
                        "expires_at": r.expires_at, "revoked_at": r.revoked_at,
                        "valid_until": life.valid_until, "status": life.status,
                        "principals": named[r.id],
                        "warnings": registries.warnings(r, named[r.id])})
        return out


def _contracts(tenant_id: str, callee: str) -> list[dict[str, Any]]:
    with session_scope() as s:
        return [{"id": r.id, "callee": r.callee, "reference": r.reference, "sector": r.sector,
                 "starts_on": r.starts_on, "ends_on": r.ends_on,
                 "principal": r.principal_id or r.tenant_id}
                for r in registries.list_contracts(s, tenant_id, callee)]


def _oppositions(tenant_id: str, callee: str) -> list[dict[str, Any]]:
    with session_scope() as s:
        return [{"id": r.id, "callee": r.callee, "source": r.source,
                 "created_at": r.created_at, "principal": r.principal_id or r.tenant_id}
                for r in registries.list_oppositions(s, tenant_id, callee)]


async def _registry_page(request: Request, viewer: Viewer, kind: str, *, status: int = 200,
                         error: str | None = None) -> HTMLResponse:
    tenant_id = _tenant(viewer)
    numero = (request.query_params.get("numero") or "").strip()[:64]
    entries: list[dict[str, Any]] | None = None
    search_error = None
    if numero:
        try:
            if kind == "consents":
                entries = await run_in_threadpool(_consents, tenant_id, viewer, numero)
            elif kind == "contracts":
                entries = await run_in_threadpool(_contracts, tenant_id, numero)
            else:
                entries = await run_in_threadpool(_oppositions, tenant_id, numero)
        except ApiError as exc:
            search_error = f"Numéro invalide : {exc.detail}"
            status = 422
    recent = await run_in_threadpool(jobs.recent, viewer.tenant_id, (kind,))
    shown = request.query_params.get("travail")  # one import's report, in the page
    job = None
    if shown:
        job = await run_in_threadpool(jobs.get, shown[:40], viewer.tenant_id)
        if job is None or job["kind"] != kind:
            job, status = None, 404
            error = "Aucun import de ce nom pour votre centre d'appels."
    refused = request.query_params.get("refus")
    if refused in REFUSALS:
        error = REFUSALS[refused] or _too_large()
    return render(request, "admin/registre.html", viewer, status=status, kind=kind, job=job,
                  registry=REGISTRIES[kind], numero=numero, entries=entries,
                  search_error=search_error, recent=recent, error=error,
                  error_title="Import refusé" if refused in REFUSALS else None,
                  max_bytes=UploadLimits.of("import").max_bytes)


def _too_large() -> str:
    limits = UploadLimits.of("import")
    return (f"Fichier trop volumineux : la limite est de {limits.max_bytes:,} octets "
            f"({limits.setting}). Découpez le fichier.").replace(",", "\u202f")


#: why an upload was refused, as the page says it after htmx was sent there (``?refus=``)
REFUSALS = {"absent": "Choisissez un fichier CSV à importer.",
            "vide": "Le fichier envoyé est vide.", "volumineux": ""}


def _refuse_upload(request: Request, viewer: Viewer, kind: str, status: int, code: str,
                   message: str) -> Response:
    """A refused upload, with its status (413, 422) and its reason in French: the page
    (a plain form) or, for htmx (which swaps no 4xx answer), the page to go to with the
    reason (``HX-Redirect``, which htmx follows whatever the status)."""
    if request.headers.get("hx-request"):
        return render(request, "admin/_refus_import.html", viewer, status=status,
                      message=message, headers={
                          "HX-Redirect": f"{PREFIX}/{REGISTRIES[kind]['slug']}?refus={code}"})
    return render(request, "erreur.html", viewer, status=status,
                  title="Import refusé", detail=message, code=status)


async def _import(request: Request, viewer: Viewer, kind: bulk.Kind) -> Response:
    limits = UploadLimits.of("import")
    declared = request.headers.get("content-length", "")
    # the form's other fields and the multipart envelope take a few hundred bytes
    if declared.isdigit() and int(declared) > limits.max_bytes + 64 * 1024:
        return _refuse_upload(request, viewer, kind, 413, "volumineux", _too_large())
    form = await checked_form(request, viewer)
    upload = form.get("fichier")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _refuse_upload(request, viewer, kind, 422, "absent", REFUSALS["absent"])
    if upload.size is not None and upload.size > limits.max_bytes:
        return _refuse_upload(request, viewer, kind, 413, "volumineux", _too_large())
    path, size = await run_in_threadpool(jobs.spool, upload.file)
    if size == 0:
        path.unlink(missing_ok=True)
        return _refuse_upload(request, viewer, kind, 422, "vide",
                              f"Le fichier « {upload.filename} » est vide.")
    if size > limits.max_bytes:
        path.unlink(missing_ok=True)
        return _refuse_upload(request, viewer, kind, 413, "volumineux", _too_large())
    force = field(form, "forcer") is not None
    job_id = await run_in_threadpool(
        lambda: jobs.start(kind=kind, label=upload.filename or kind,
                           tenant_id=viewer.tenant_id, key_id=viewer.principal.key_id,
                           path=path, size=size, work=_import_work(kind, _tenant(viewer), force)))
    job = await run_in_threadpool(jobs.get, job_id, viewer.tenant_id)
    if not request.headers.get("hx-request"):  # a plain form (no script): the page, with it
        return _see(f"/{REGISTRIES[kind]['slug']}?travail={job_id}")
    return render(request, "travaux/_travail.html", viewer, job=job)


def _registry_routes(kind: bulk.Kind) -> None:
    slug = REGISTRIES[kind]["slug"]

    async def page(request: Request, viewer: Admin) -> HTMLResponse:
        return await _registry_page(request, viewer, kind)

    async def import_(request: Request, viewer: Admin) -> Response:
        return await _import(request, viewer, kind)

    page.__name__, import_.__name__ = f"{kind}_page", f"{kind}_import"
    router.get(f"/{slug}", response_class=HTMLResponse)(page)
    router.post(f"/{slug}/import", response_class=HTMLResponse)(import_)


for _kind in bulk.KINDS:
    _registry_routes(_kind)


# ------------------------------------------------------------------------------ campaigns


#: the rule set's sectors (``rules_fr.data.SECTORS``) in French
SECTOR_FR = {"general": "général", "energy_renovation": "rénovation énergétique",
             "home_adaptation": "adaptation du logement", "cpf_training": "formation (CPF)",
             "premium_rate_callback": "rappel vers un numéro surtaxé",
             "press_subscription": "abonnement de presse"}


def _campaign_context(tenant_id: str) -> dict[str, Any]:
    with session_scope() as s:
        rows = [{"id": r.id, "purpose": r.purpose, "audience": r.audience, "sector": r.sector,
                 "automated": r.automated, "prerecorded": bool(r.prerecorded),
                 "principal": r.principal_id or r.tenant_id, "caller_ids": numbers}
                for r, numbers in campaigns.list_campaigns(s, tenant_id)]
        clis = [c.number for c in campaigns.list_caller_ids(s, tenant_id)]
        principals = sorted(held_principals(s, tenant_id))
    return {"campaigns": rows, "clis": clis, "principals": principals,
            "sectors": {s: SECTOR_FR.get(s, s) for s in sorted(SECTORS)}}


def _campaign_form(form: Any) -> dict[str, Any]:
    """The campaign form as the API's JSON body (the model validates it)."""
    return {"purpose": field(form, "purpose"), "audience": field(form, "audience"),
            "sector": field(form, "sector") or "general",
            "automated": field(form, "automated") is not None,
            "prerecorded": field(form, "prerecorded") is not None,
            "caller_ids": [v for v in form.getlist("caller_ids") if isinstance(v, str) and v],
            "principal": field(form, "principal")}


async def _campaigns_page(request: Request, viewer: Viewer, *, status: int = 200,
                          editing: dict[str, Any] | None = None, error: str | None = None,
                          given: dict[str, Any] | None = None) -> HTMLResponse:
    ctx = await run_in_threadpool(_campaign_context, _tenant(viewer))
    return render(request, "admin/campagnes.html", viewer, status=status, editing=editing,
                  error=error, given=given, done=request.query_params.get("ok"), **ctx)


@router.get("/campagnes", response_class=HTMLResponse)
async def campaigns_page(request: Request, viewer: Admin) -> HTMLResponse:
    return await _campaigns_page(request, viewer)


@router.get("/campagnes/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(request: Request, campaign_id: str, viewer: Admin) -> HTMLResponse:
    def load() -> dict[str, Any]:
        with session_scope() as s:
            row, numbers = campaigns.get_campaign(s, _tenant(viewer), campaign_id)
            return {"id": row.id, "purpose": row.purpose, "audience": row.audience,
                    "sector": row.sector, "automated": row.automated,
                    "prerecorded": bool(row.prerecorded),
                    "principal": row.principal_id or row.tenant_id, "caller_ids": numbers}

    return await _campaigns_page(request, viewer, editing=await run_in_threadpool(load))


@router.post("/campagnes", response_class=HTMLResponse)
async def create_campaign(request: Request, viewer: Admin) -> Response:
    form = await checked_form(request, viewer)
    data = _campaign_form(form) | {"id": field(form, "id")}

    def create() -> None:
        body = CampaignIn.model_validate(data)
        with session_scope(write=True) as s:
            campaigns.upsert_campaign(s, _tenant(viewer), create_only=True, **body.model_dump())

    try:
        await run_in_threadpool(create)
    except (ValidationError, ApiError) as exc:
        status, message = _refusal(exc)
        return await _campaigns_page(request, viewer, status=status, error=message,
                                     given=data)
    return _see(f"/campagnes?ok={data['id']}")


@router.post("/campagnes/{campaign_id}", response_class=HTMLResponse)
async def update_campaign(request: Request, campaign_id: str, viewer: Admin) -> Response:
    form = await checked_form(request, viewer)
    data = _campaign_form(form)

    def update() -> None:
        body = CampaignPut.model_validate(data)
        with session_scope(write=True) as s:
            campaigns.get_campaign(s, _tenant(viewer), campaign_id)  # 404: not another's
            campaigns.upsert_campaign(s, _tenant(viewer), create_only=False,
                                      **(body.model_dump() | {"id": campaign_id}))

    try:
        await run_in_threadpool(update)
    except (ValidationError, ApiError) as exc:
        if isinstance(exc, ApiError) and exc.status == 404:
            raise
        status, message = _refusal(exc)
        return await _campaigns_page(request, viewer, status=status, error=message,
                                     editing=data | {"id": campaign_id}, given=data)
    return _see(f"/campagnes?ok={campaign_id}")


# ------------------------------------------------------------------------------ caller IDs


KIND_FR = {"canvassing": "polyvalent vérifié (démarchage)", "geographic": "géographique",
           "platform": "plateforme technique", "non_geographic": "non géographique",
           "mobile": "mobile", "toll_free": "gratuit (08 0x)", "shared_cost": "coût partagé",
           "premium_rate": "surtaxé", "short_code": "numéro court", "satellite": "satellite"}


async def _caller_ids_page(request: Request, viewer: Viewer, *, status: int = 200,
                           error: str | None = None,
                           given: dict[str, Any] | None = None) -> HTMLResponse:
    def load() -> list[dict[str, Any]]:
        with session_scope() as s:
            return [{"number": c.number, "kind": c.kind, "assigned_to": c.assigned_to,
                     "verified_at": c.verified_at}
                    for c in campaigns.list_caller_ids(s, _tenant(viewer))]

    return render(request, "admin/numeros_presentes.html", viewer, status=status,
                  clis=await run_in_threadpool(load), error=error, given=given or {},
                  kinds=KIND_FR, required=campaigns.verification_required(),
                  done=request.query_params.get("ok"), removed=request.query_params.get("retire"))


@router.get("/numeros-presentes", response_class=HTMLResponse)
async def caller_ids_page(request: Request, viewer: Admin) -> HTMLResponse:
    return await _caller_ids_page(request, viewer)


@router.post("/numeros-presentes", response_class=HTMLResponse)
async def register_caller_id(request: Request, viewer: Admin) -> Response:
    form = await checked_form(request, viewer)
    data = {"number": field(form, "number") or "", "assigned_to": field(form, "assigned_to")}

    def register() -> str:
        body = CallerIdIn.model_validate(data)
        with session_scope(write=True) as s:
            return campaigns.register_caller_id(s, _tenant(viewer), body.number,
                                                body.assigned_to).number

    try:
        number = await run_in_threadpool(register)
    except (ValidationError, ApiError) as exc:
        status, message = _refusal(exc)
        return await _caller_ids_page(request, viewer, status=status, error=message, given=data)
    return _see(f"/numeros-presentes?ok={number.replace('+', '%2B')}")


@router.post("/numeros-presentes/retirer", response_class=HTMLResponse)
async def remove_caller_id(request: Request, viewer: Admin) -> Response:
    form = await checked_form(request, viewer)
    number = field(form, "number") or ""

    def remove() -> None:
        with session_scope(write=True) as s:
            campaigns.delete_caller_id(s, _tenant(viewer), number)

    await run_in_threadpool(remove)  # another tenant's number: 404, as the API
    return _see(f"/numeros-presentes?retire={number.replace('+', '%2B')}")


# ------------------------------------------------------------------------------ keys


async def _keys_page(request: Request, viewer: Viewer, *, status: int = 200,
                     error: str | None = None, created: dict[str, Any] | None = None
                     ) -> HTMLResponse:
    def load() -> list[dict[str, Any]]:
        with session_scope() as s:
            return [{"id": k.id, "role": k.role, "label": k.label, "prefix": k.prefix,
                     "created_at": k.created_at, "last_used_at": k.last_used_at,
                     "revoked_at": k.revoked_at, "mine": k.id == viewer.principal.key_id}
                    for k in tenancy.list_keys(s, _tenant(viewer))]

    return render(request, "admin/cles.html", viewer, status=status,
                  keys=await run_in_threadpool(load), error=error, created=created,
                  revoked=request.query_params.get("revoquee"))


@router.get("/cles", response_class=HTMLResponse)
async def keys_page(request: Request, viewer: Admin) -> HTMLResponse:
    return await _keys_page(request, viewer)


@router.post("/cles", response_class=HTMLResponse)
async def create_key(request: Request, viewer: Admin) -> Response:
    """A new key of the tenant, its secret in this answer only (never stored, never in a
    URL): the page is rendered here, not redirected to."""
    form = await checked_form(request, viewer)
    data = {"role": field(form, "role"), "label": field(form, "label")}

    def create() -> dict[str, Any]:
        body = KeyIn.model_validate(data)
        with session_scope(write=True) as s:
            row, key = tenancy.create_key(s, body.role, _tenant(viewer), body.label)
            return {"id": row.id, "role": row.role, "label": row.label, "key": key}

    try:
        created = await run_in_threadpool(create)
    except (ValidationError, ApiError) as exc:
        status, message = _refusal(exc)
        return await _keys_page(request, viewer, status=status, error=message)
    return await _keys_page(request, viewer, status=201, created=created)


@router.post("/cles/{key_id}/revoquer", response_class=HTMLResponse)
async def revoke_key(request: Request, key_id: str, viewer: Admin) -> Response:
    """Revoke one of the tenant's keys (another tenant's: 404), at once on this worker as
    ``DELETE /v1/tenants/{id}/keys/{key_id}``. The key of this very session is revoked only
    when the form says the admin understood that the session ends with it."""
    form = await checked_form(request, viewer)
    own = key_id == viewer.principal.key_id
    if own and field(form, "la_mienne") != "oui":
        return await _keys_page(
            request, viewer, status=422,
            error="Cette clé est celle de votre session : la révoquer ferme votre session et "
                  "vous devrez vous reconnecter avec une autre clé d'administrateur. Cochez "
                  "« Je comprends » pour la révoquer quand même.")

    def revoke() -> None:
        with session_scope(write=True) as s:
            tenancy.revoke_key(s, tenancy.get_key(s, key_id, _tenant(viewer)))

    await run_in_threadpool(revoke)  # revoke_key invalidates this worker's principals
    if own:
        return RedirectResponse(f"{PREFIX}/connexion?fin=1", status_code=303)
    return _see(f"/cles?revoquee={key_id}")


# ------------------------------------------------------------------------------ webhooks


def _webhooks(tenant_id: str) -> dict[str, Any]:
    """The tenant's webhooks and the delivery log of its latest alerts (``GET /v1/alerts``,
    then ``GET /v1/alerts/{id}`` for each: its deliveries)."""
    hooks = alerts.list_webhooks(tenant_id)
    urls = {h["id"]: h["url"] for h in hooks}
    log = []
    for alert in alerts.list_alerts(tenant_id, limit=20)["items"]:
        detail = alerts.get_alert(tenant_id, alert["id"])
        for d in detail["deliveries"]:
            log.append({"alert": alert, "delivery": d,
                        "url": urls.get(d["webhook_id"], "(webhook supprimé)")})
    return {"webhooks": hooks, "log": log}


async def _webhooks_page(request: Request, viewer: Viewer, *, status: int = 200,
                         error: str | None = None, created: dict[str, Any] | None = None,
                         given: dict[str, Any] | None = None) -> HTMLResponse:
    ctx = await run_in_threadpool(_webhooks, _tenant(viewer))
    return render(request, "admin/webhooks.html", viewer, status=status, error=error,
                  created=created, given=given or {}, tested=request.query_params.get("test"),
                  deleted=request.query_params.get("supprime"), **ctx)


@router.get("/webhooks", response_class=HTMLResponse)
async def webhooks_page(request: Request, viewer: Admin) -> HTMLResponse:
    return await _webhooks_page(request, viewer)


@router.post("/webhooks", response_class=HTMLResponse)
async def create_webhook(request: Request, viewer: Admin) -> Response:
    """``POST /v1/webhooks``: the URL checked by the API's model and by
    ``alerts.create_webhook`` (public addresses only, https; the SSRF rules of
    ``app.alerts.targets``); the signing secret shown in this answer only."""
    form = await checked_form(request, viewer)
    data = {"url": field(form, "url") or "", "description": field(form, "description")}

    def create() -> dict[str, Any]:
        body = WebhookIn.model_validate(data)
        return alerts.create_webhook(_tenant(viewer), body.url, body.description)

    try:
        created = await run_in_threadpool(create)
    except (ValidationError, ApiError) as exc:
        status, message = _refusal(exc)
        return await _webhooks_page(request, viewer, status=status, error=message, given=data)
    return await _webhooks_page(request, viewer, status=201, created=created)


@router.post("/webhooks/{webhook_id}/test", response_class=HTMLResponse)
async def test_webhook(request: Request, webhook_id: str, viewer: Admin) -> Response:
    await checked_form(request, viewer)
    queued = await run_in_threadpool(alerts.queue_test_delivery, _tenant(viewer), webhook_id)
    return _see(f"/webhooks?test={queued['alert']['id']}")


@router.post("/webhooks/{webhook_id}/supprimer", response_class=HTMLResponse)
async def delete_webhook(request: Request, webhook_id: str, viewer: Admin) -> Response:
    await checked_form(request, viewer)
    await run_in_threadpool(alerts.delete_webhook, _tenant(viewer), webhook_id)
    return _see(f"/webhooks?supprime={webhook_id}")


# ------------------------------------------------------------------------------ policy


#: the policy's settings as the page shows them: (field, French label, kind, help)
POLICY_FIELDS: list[tuple[str, str, str, str]] = [
    ("foreign_destinations", "Appels vers l'étranger", "choice:deny=refusés|allow=autorisés",
     "Numéros appelés hors de France."),
    ("local_holidays", "Jours fériés locaux", "bool",
     "Appliquer aussi les jours fériés d'Alsace-Moselle et d'outre-mer."),
    ("bloctel_after_opt_in", "BLOCTEL après un consentement", "choice:notice=avertir|block=bloquer",
     "Un numéro inscrit à BLOCTEL qui a consenti : avertir seulement, ou refuser l'appel."),
    ("mobile_daily_cap", "Plafond quotidien par numéro présenté mobile", "int:1:100000",
     "Appels par jour au plus depuis un numéro mobile attribué à un agent."),
    ("denied_attempt_penalty_eur", "Pénalité par tentative refusée (€)", "eur",
     "Au moins le tarif de l'opérateur."),
    ("unassigned_penalty_eur", "Pénalité par numéro non attribué (€)", "eur",
     "Au moins le tarif de l'opérateur."),
    ("unassigned_quarantine_days", "Quarantaine d'un numéro non attribué (jours)",
     "int:1:3650", "Durée pendant laquelle un numéro signalé non attribué n'est plus appelé."),
    ("automated_shared_cost_cli", "Numéros à coût partagé (08 1x / 08 2x) pour les campagnes "
     "automatisées", "bool", "Désactivé par défaut."),
    ("consent_max_age_days", "Durée de vie maximale d'un consentement (jours)", "int:1:365",
     "Vide : la durée légale (365 jours). Ne peut que raccourcir."),
    ("ledger_retention_days", "Conservation des tentatives (jours)", "int:30:36500",
     "Durée pendant laquelle « gateway audit purge » conserve les tentatives."),
]

ACTION_FR = {"notice": "avertir", "throttle": "ralentir", "suspend": "suspendre"}
MONITOR_FR = {
    "attempts_per_minute": "Tentatives par minute", "attempts_per_hour": "Tentatives par heure",
    "attempts_per_day": "Tentatives par jour",
    "denied_share": "Part de refus (15 minutes)", "penalties_per_day": "Pénalités par jour (€)",
    "unassigned_share": "Part de numéros non attribués (1 heure)",
    "short_call_share": "Part d'appels courts (24 heures)",
    "volume_jump": "Saut de volume (rapport à la médiane)",
}


def _policy(tenant_id: str) -> dict[str, Any]:
    """``GET /v1/policy``: the policy in force, its overrides, the operator's sanctions."""
    with session_scope() as s:
        t = tenancy.get_tenant(s, tenant_id)
        return policy_to_json(policy_from_json(t.policy, t.sanctions), t.policy, t.sanctions)


def _defaults() -> dict[str, Any]:
    """The platform's defaults (rules-fr.md's, ``GATEWAY_RETENTION_DAYS``, the monitors')."""
    base = policy_to_json(DEFAULT)
    out = {name: getattr(DEFAULT, name, base.get(name)) for name, *_ in POLICY_FIELDS}
    out["ledger_retention_days"] = base["ledger_retention_days"]
    out["monitors"] = {name: {"threshold": m.threshold, "action": m.action,
                              "min_events": m.min_events} for name, m in MONITORS.items()}
    return out


async def _policy_page(request: Request, viewer: Viewer, *, status: int = 200,
                       error: str | None = None, given: dict[str, Any] | None = None
                       ) -> HTMLResponse:
    current = await run_in_threadpool(_policy, _tenant(viewer))
    return render(request, "admin/politique.html", viewer, status=status, policy=current,
                  defaults=_defaults(), fields=POLICY_FIELDS, monitors=MONITORS,
                  monitor_fr=MONITOR_FR, action_fr=ACTION_FR, error=error, given=given or {},
                  saved=request.query_params.get("ok"))


@router.get("/politique", response_class=HTMLResponse)
async def policy_page(request: Request, viewer: Admin) -> HTMLResponse:
    return await _policy_page(request, viewer)


def _number(text: str) -> Any:
    """A form's number as JSON would carry it (an int when whole)."""
    value = Decimal(text.replace(",", ".").replace("\u202f", "").replace(" ", ""))
    return int(value) if value == value.to_integral_value() and "." not in text \
        and "," not in text else float(value)


def _policy_changes(form: Any, current: dict[str, Any]) -> dict[str, Any]:
    """The ``PATCH /v1/policy`` body of a policy form: the settings whose value differs from
    the one in force (an empty cell: back to the default). ``ValueError`` for a number that is
    not one."""
    body: dict[str, Any] = {}
    for name, label, kind, _ in POLICY_FIELDS:
        raw = form.get(name)
        if kind == "bool":
            if raw not in ("oui", "non"):
                continue  # not in the form: unchanged
            value: Any = raw == "oui"
            if value != current[name]:
                body[name] = value
            continue
        text = raw.strip() if isinstance(raw, str) else ""
        if text == "":
            if current[name] is not None and name in ("consent_max_age_days",):
                body[name] = None
            continue
        if kind.startswith("choice"):
            value = text
        elif kind == "eur":
            try:
                value = str(Decimal(text.replace(",", ".")))
            except InvalidOperation:
                raise ValueError(f"{label} : « {text} » n'est pas un montant") from None
            if Decimal(value) == Decimal(str(current[name])):
                continue
        else:
            try:
                value = _number(text)
            except InvalidOperation:
                raise ValueError(f"{label} : « {text} » n'est pas un nombre") from None
        if value != current[name]:
            body[name] = value
    monitors: dict[str, Any] = {}
    for name in MONITORS:
        now_ = current["monitors"][name]
        change: dict[str, Any] = {}
        for part in ("threshold", "min_events"):
            text = form.get(f"{name}.{part}")
            text = text.strip() if isinstance(text, str) else ""
            if not text:
                continue
            try:
                value = _number(text)
            except InvalidOperation:
                raise ValueError(f"{MONITOR_FR[name]} : « {text} » n'est pas un nombre"
                                 ) from None
            if value != now_[part]:
                change[part] = value
        action = form.get(f"{name}.action")
        if isinstance(action, str) and action and action != now_["action"]:
            change["action"] = action
        if change:
            monitors[name] = change
    if monitors:
        body["monitors"] = monitors
    return body


@router.post("/politique", response_class=HTMLResponse)
async def update_policy(request: Request, viewer: Admin) -> Response:
    """``PATCH /v1/policy`` with what the form changed: its model, then the service the API
    calls (the operator's floors, the principals' cache invalidated)."""
    form = await checked_form(request, viewer)
    given = {k: v for k, v in form.items() if isinstance(v, str) and k != "_csrf"}
    current = await run_in_threadpool(_policy, _tenant(viewer))
    try:
        body = _policy_changes(form, current)
        patch = PolicyIn.model_validate(body)
        if body:
            await run_in_threadpool(tenancy.update_policy, _tenant(viewer), patch)
    except (ValidationError, ApiError, ValueError) as exc:
        known = isinstance(exc, ValidationError | ApiError)
        return await _policy_page(request, viewer, status=422, given=given,
                                  error=_refusal(exc)[1] if known else str(exc))
    return _see("/politique?ok=" + ("1" if body else "0"))


__all__ = ["reason_fr", "router"]
