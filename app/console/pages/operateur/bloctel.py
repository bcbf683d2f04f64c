"""The operator's BLOCTEL page: the list in force, its history, an upload imported off the
request with live progress and the refusals and rejected lines in French."""

from __future__ import annotations

from datetime import date
from typing import IO, Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData, UploadFile

from app.bloctel import importer
from app.bloctel import status as bloctel_status
from app.clock import FIRST_DAY, LAST_DAY, PARIS, now
from app.console import jobs
from app.console.pages.operateur.common import HOME, router, see_other
from app.console.sessions import Viewer
from app.console.web import Operator, checked_form, field, render
from app.db import get_engine
from app.uploads import Limits
from bloctel import parse as bloctel_parse
from bloctel.parse import FormatError

MODES = {"replace": "remplacer la liste", "add": "ajouter des numéros",
         "remove": "retirer des numéros"}
HISTORY = 20


def _bloctel_state() -> dict[str, Any]:
    return {"etat": bloctel_status.current(), "versions": bloctel_status.history(HISTORY),
            "modes": MODES}


def _today() -> date:
    return now().astimezone(PARIS).date()


def _bloctel_page(request: Request, viewer: Viewer, *, status: int = 200,
                  error: str | None = None) -> HTMLResponse:
    return render(request, "operateur/bloctel.html", viewer, status=status, error=error,
                  today=_today().isoformat(), travaux=jobs.recent(None, ("bloctel",)),
                  deja_charge=True,
                  **_bloctel_state())


@router.get("/operateur/bloctel", response_class=HTMLResponse)
async def bloctel(request: Request, viewer: Operator) -> HTMLResponse:
    return await run_in_threadpool(_bloctel_page, request, viewer)


@router.get("/operateur/bloctel/etat", response_class=HTMLResponse)
async def bloctel_panel(request: Request, viewer: Operator) -> HTMLResponse:
    """The status and history panel (htmx: reloaded when an import ends)."""
    state = await run_in_threadpool(_bloctel_state)
    return render(request, "operateur/_bloctel_etat.html", viewer, **state)


_REFUSALS = (
    ("were rejected", "Trop de lignes rejetées : {rejected} sur {considered} ({share} %), plus "
                      "que le seuil admis. Est-ce le bon fichier ?"),
    ("leaves no number", "Après cette opération, la liste serait vide."),
    ("has no valid number", "Le fichier ne contient aucun numéro valide : la liste serait "
                            "vide."),
    ("would cut the list", "La liste passerait de plus de la moitié de ses numéros à "
                           "{total} : est-ce le bon fichier et le bon mode ?"),
    ("is older than the list in force", "La date de cette liste est antérieure à celle de la "
                                        "liste en vigueur."),
    ("stale list look fresh", "Un ajout ou un retrait daté de plus de 30 jours après la liste "
                              "en vigueur la ferait paraître à jour : importez la liste "
                              "complète (mode « remplacer »)."),
)


def refusal_fr(message: str, report: dict[str, Any] | None) -> str:
    """Why the importer refused a file (its message is for API clients), in French."""
    r = report or {}
    considered = (r.get("accepted") or 0) + (r.get("duplicates") or 0) + (r.get("rejected") or 0)
    for needle, french in _REFUSALS:
        if needle in message:
            text = french.format(
                rejected=r.get("rejected", "?"), considered=considered,
                share=f"{(r.get('rejected_share') or 0) * 100:.1f}".replace(".", ","),
                total=r.get("accepted", "?"))
            return text + " Cochez « forcer » pour l'importer quand même."
    return f"Fichier refusé : {message}"


#: why a line was rejected (``bloctel.parse.R_*``), in French
LINE_ERRORS = {
    bloctel_parse.R_CHARS: "caractères inattendus (un numéro a des chiffres, des espaces, "
                           ". - / ( ) et un + en tête)",
    bloctel_parse.R_PLUS: "le « + » doit précéder les chiffres",
    bloctel_parse.R_EMPTY: "aucun numéro",
    bloctel_parse.R_NATIONAL_LENGTH: "un numéro national a 10 chiffres (0 et 9 autres)",
    bloctel_parse.R_NO_PREFIX: "ni un numéro national (0…) ni un numéro international "
                               "(+… ou 00…)",
    bloctel_parse.R_FOREIGN: "pas un numéro français (indicatif pays)",
    bloctel_parse.R_PLAN: "pas un numéro valide du plan de numérotation français",
    bloctel_parse.R_QUOTES: "des guillemets qui n'entourent pas des champs entiers",
    bloctel_parse.R_COLUMN: "aucune valeur dans la colonne des numéros",
}


def _in_french(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The job's copy of the report, each rejected sample with its reason in French too."""
    if not report:
        return report
    samples = [{**x, "error_fr": LINE_ERRORS.get(x.get("error", ""), x.get("error"))}
               for x in report.get("rejected_samples") or []]
    return {**report, "rejected_samples": samples}


def _bloctel_work(mode: str, as_of: date, force: bool, key_id: str) -> jobs.Work:
    max_bytes = Limits.of("bloctel").max_bytes

    def work(raw: IO[bytes], progress: jobs.JobProgress) -> dict[str, Any]:
        try:
            report = importer.import_file(
                get_engine(), raw, mode=mode, as_of=as_of, imported_by=key_id, force=force,
                max_rejected=None, progress=progress, max_bytes=max_bytes)
        except importer.ImportRefused as e:
            raise jobs.JobRefused(refusal_fr(str(e), e.report), _in_french(e.report)) from e
        except importer.ImportBusy as e:
            raise jobs.JobRefused("Un autre import BLOCTEL est en cours : réessayez quand il "
                                  "sera terminé.") from e
        except importer.BloctelImportError as e:
            raise jobs.JobRefused(f"Demande refusée : {e}") from e
        except bloctel_parse.TooLarge as e:
            raise jobs.JobRefused(
                f"Fichier trop volumineux une fois décompressé : au plus {max_bytes:,} octets "
                f"(GATEWAY_BLOCTEL_MAX_BYTES).".replace(",", "\u00a0")) from e
        except FormatError as e:
            raise jobs.JobRefused(f"Fichier illisible : {e}") from e
        return _in_french(report) or report

    return work


def _check_upload(form: FormData) -> tuple[str | None, dict[str, Any]]:
    """A French message for the first wrong field (None: all good), and the parsed values."""
    upload = form.get("fichier")
    mode = field(form, "mode") or "replace"
    raw_day = field(form, "as_of")
    values: dict[str, Any] = {"mode": mode, "force": field(form, "forcer") is not None}
    if not isinstance(upload, UploadFile) or not upload.filename:
        return "Choisissez le fichier de la liste BLOCTEL.", values
    values["upload"] = upload
    if raw_day is None:
        return "Indiquez la date de la liste (celle que BLOCTEL indique).", values
    try:
        day = date.fromisoformat(raw_day)
    except ValueError:
        return f"La date de la liste « {raw_day} » n'est pas une date (AAAA-MM-JJ).", values
    if not FIRST_DAY <= day <= LAST_DAY:
        return (f"La date de la liste doit être comprise entre le {FIRST_DAY:%d/%m/%Y} et le "
                f"{LAST_DAY:%d/%m/%Y}."), values
    values["as_of"] = day
    if mode not in MODES:
        return "Choisissez le mode : remplacer, ajouter ou retirer.", values
    try:
        importer.check_request(mode, day)
    except importer.BloctelImportError:
        return (f"La date de la liste ({day:%d/%m/%Y}) est dans le futur : indiquez la date "
                "que BLOCTEL donne au fichier."), values
    return None, values


@router.post("/operateur/bloctel/import", response_class=HTMLResponse)
async def bloctel_import(request: Request, viewer: Operator) -> Response:
    """Start an import off the request; the job's progress fragment (htmx, into #travaux),
    or the page when the form was sent without htmx."""
    form = await checked_form(request, viewer)
    error, values = _check_upload(form)
    htmx = bool(request.headers.get("hx-request"))
    if error:
        if htmx:  # htmx swaps no 4xx answer: the message goes where the job would have
            return render(request, "operateur/_erreur_envoi.html", viewer, error=error)
        return await run_in_threadpool(_bloctel_page, request, viewer, status=422, error=error)
    upload: UploadFile = values["upload"]
    key_id = viewer.principal.key_id
    path, size = await run_in_threadpool(jobs.spool, upload.file)
    limits = Limits.of("bloctel")
    if size > limits.max_bytes:  # as the API's 413 (app.uploads)
        path.unlink(missing_ok=True)
        error = (f"Fichier trop volumineux : au plus {limits.max_bytes:,} octets "
                 f"({limits.setting}).").replace(",", "\u00a0")
        if htmx:
            return render(request, "operateur/_erreur_envoi.html", viewer, error=error)
        return await run_in_threadpool(_bloctel_page, request, viewer, status=413, error=error)
    job_id = await run_in_threadpool(
        lambda: jobs.start(kind="bloctel", label=upload.filename or "liste BLOCTEL",
                           tenant_id=None, key_id=key_id, path=path, size=size,
                           work=_bloctel_work(values["mode"], values["as_of"], values["force"],
                                              key_id)))
    if not htmx:
        return see_other(f"{HOME}/bloctel")
    job = await run_in_threadpool(jobs.get, job_id, None)
    return render(request, "travaux/_travail.html", viewer, job=job, status=202)
