"""The admin's registry pages: consents, contracts and oppositions (search by number, bulk
CSV import off the request with a live progress bar and the report of rejected lines)."""

from __future__ import annotations

import re
from typing import IO, Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from app import clock
from app.console import jobs
from app.console.labels import IMPORT_FIELD_FR
from app.console.pages.admin.common import router, see, tenant_of
from app.console.sessions import Viewer
from app.console.web import PREFIX, Admin, checked_form, field, render
from app.db import get_engine, session_scope
from app.errors import ApiError
from app.registries import bulk
from app.registries import service as registries
from app.uploads import Limits as UploadLimits
from bloctel.parse import FormatError

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




def reason_fr(reason: str) -> str:
    for pattern, french in _REASONS:
        found = pattern.search(reason)
        if found:
            text = french.format(*(IMPORT_FIELD_FR.get(g, g) if g else "" for g in found.groups()))
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
    out["columns_fr"] = [{"column": c, "field": IMPORT_FIELD_FR.get(f, f)}
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
    tenant_id = tenant_of(viewer)
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
                           path=path, size=size, work=_import_work(kind, tenant_of(viewer), force)))
    job = await run_in_threadpool(jobs.get, job_id, viewer.tenant_id)
    if not request.headers.get("hx-request"):  # a plain form (no script): the page, with it
        return see(f"/{REGISTRIES[kind]['slug']}?travail={job_id}")
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


__all__ = ["reason_fr"]
