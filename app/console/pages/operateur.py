"""Console pages of the platform's operator (an operator key: no tenant): call centres
(tenants), BLOCTEL (the list in force, its history, an upload with live progress), principals
and mandates, caller-ID verification, the operator's own keys.

Every action calls the service functions the API's routers call (``app.tenancy.service``,
``app.bloctel``, ``app.principals.service``, ``app.campaigns.service``); the services invalidate
the principals' cache themselves where the API relies on it (suspension, revocation).
"""

from __future__ import annotations

import re
from datetime import date
from typing import IO, Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from app.bloctel import importer
from app.bloctel import status as bloctel_status
from app.campaigns import service as campaigns
from app.clock import FIRST_DAY, LAST_DAY, PARIS, now
from app.console import jobs
from app.console.sessions import Viewer
from app.console.web import PREFIX, Operator, checked_form, field, render
from app.db import get_engine, session_scope
from app.errors import ApiError
from app.principals import service as principals
from app.tenancy import service as tenancy
from app.tenancy.policy import policy_from_json, policy_to_json
from app.tenancy.sanctions import TARIFF_FIELDS, platform_tariff, valid_amount
from app.uploads import Limits
from bloctel import parse as bloctel_parse
from bloctel.parse import FormatError

router = APIRouter(prefix=PREFIX, include_in_schema=False)

HOME = f"{PREFIX}/operateur"
LEGAL_FORMS = {"legal_person": "personne morale", "natural_person": "personne physique"}
TENANT_KEY_ROLES = {"admin": "Administrateur", "compliance": "Conformité", "dialer": "Automate"}
MODES = {"replace": "remplacer la liste", "add": "ajouter des numéros",
         "remove": "retirer des numéros"}
HISTORY = 20
#: ``rules_fr.model.NumberKind`` in French (the ARCEP numbering plan's terms)
NUMBER_KINDS = {"canvassing": "polyvalent vérifié (démarchage)", "geographic": "géographique",
                "platform": "plateforme technique (09 37–09 39)",
                "non_geographic": "non géographique", "mobile": "mobile",
                "toll_free": "libre appel (08 0x)", "shared_cost": "coût partagé (08 1x, 08 2x)",
                "premium_rate": "surtaxé (08 9x)", "short_code": "numéro court",
                "satellite": "satellite", "foreign": "étranger", "other": "autre",
                "invalid": "invalide"}


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _api_fr(exc: ApiError) -> str:
    """An ApiError of a service (English, for API clients) said in French for the page."""
    detail = str(exc.detail)
    known = (
        (r"no tenant holds the caller ID", "Aucun centre d'appels ne détient ce numéro."),
        (r"no tenant", "Ce centre d'appels n'existe pas."),
        (r"no key", "Cette clé n'existe pas."),
        (r"no principal", "Ce mandant n'existe pas."),
        (r"is not a SIREN", "Le SIREN doit compter 9 chiffres avec une clé de contrôle "
                            "valide."),
        (r"a principal with SIREN .* exists", "Un mandant porte déjà ce SIREN."),
        (r"already holds a mandate", "Ce centre d'appels détient déjà ce mandat."),
        (r"own principal", "Le mandant propre d'un centre d'appels ne se retire pas."),
        (r"campaign", "Des campagnes de ce centre d'appels nomment ce mandant : modifiez-les "
                      "d'abord."),
    )
    for pattern, french in known:
        if re.search(pattern, detail):
            return french
    return f"Refusé ({exc.status}) : {detail}"


# ------------------------------------------------------------------------------ centres


def _tenants() -> list[dict[str, Any]]:
    with session_scope() as s:
        keys: dict[str, int] = {}
        for k in tenancy.list_keys(s, None, every_tenant=True, active_only=True):
            if k.tenant_id is not None:
                keys[k.tenant_id] = keys.get(k.tenant_id, 0) + 1
        return [{"id": t.id, "name": t.name, "legal_form": t.legal_form, "status": t.status,
                 "suspended_at": t.suspended_at, "suspended_reason": t.suspended_reason,
                 "cles": keys.get(t.id, 0)}
                for t in tenancy.list_tenants(s)]


def _centres_page(request: Request, viewer: Viewer, *, status: int = 200,
                  error: str | None = None, values: dict[str, str] | None = None
                  ) -> HTMLResponse:
    return render(request, "operateur/centres.html", viewer, status=status,
                  tenants=_tenants(), error=error, values=values or {},
                  legal_forms=LEGAL_FORMS)


@router.get("/operateur", response_class=HTMLResponse)
async def tenants(request: Request, viewer: Operator) -> HTMLResponse:
    return await run_in_threadpool(_centres_page, request, viewer)


@router.post("/operateur/centres", response_class=HTMLResponse)
async def create_tenant(request: Request, viewer: Operator) -> Response:
    form = await checked_form(request, viewer)
    name, legal_form = field(form, "nom"), field(form, "forme") or "legal_person"
    values = {"nom": name or "", "forme": legal_form}
    error = None
    if name is None:
        error = "Saisissez le nom du centre d'appels."
    elif len(name) > 200:
        error = "Le nom compte au plus 200 caractères."
    elif legal_form not in LEGAL_FORMS:
        error = "Choisissez la forme juridique : personne morale ou personne physique."
    if error:
        return await run_in_threadpool(_centres_page, request, viewer, status=422, error=error,
                                       values=values)

    def create() -> str:
        with session_scope(write=True) as s:
            return tenancy.create_tenant(s, name or "", legal_form).id

    tenant_id = await run_in_threadpool(create)
    return _see_other(f"{HOME}/centres/{tenant_id}?cree=1")


def _tenant(tenant_id: str) -> dict[str, Any]:
    with session_scope() as s:
        t = tenancy.get_tenant(s, tenant_id)
        in_force = policy_to_json(policy_from_json(None, t.sanctions), None,
                                  t.sanctions)["operator"]
        own = t.sanctions or {}
        keys = [{"id": k.id, "role": k.role, "label": k.label, "prefix": k.prefix,
                 "created_at": k.created_at, "last_used_at": k.last_used_at,
                 "revoked_at": k.revoked_at} for k in tenancy.list_keys(s, tenant_id)]
        return {"id": t.id, "name": t.name, "legal_form": t.legal_form, "status": t.status,
                "suspended_at": t.suspended_at, "suspended_reason": t.suspended_reason,
                "created_at": t.created_at, "cles": keys,
                "has_admin": any(k["role"] == "admin" and not k["revoked_at"] for k in keys),
                "in_force": in_force, "own_tariff": own.get("tariff") or {},
                "platform_tariff": {k: str(v) for k, v in platform_tariff().items()},
                "own_monitors": own.get("monitors") or {}}


def _tenant_page(request: Request, viewer: Viewer, tenant_id: str, *, status: int = 200,
                 **context: Any) -> HTMLResponse:
    return render(request, "operateur/centre.html", viewer, status=status,
                  t=_tenant(tenant_id), legal_forms=LEGAL_FORMS, key_roles=TENANT_KEY_ROLES,
                  **context)


@router.get("/operateur/centres/{tenant_id}", response_class=HTMLResponse)
async def tenant(request: Request, tenant_id: str, viewer: Operator,
                 cree: int = 0) -> HTMLResponse:
    return await run_in_threadpool(_tenant_page, request, viewer, tenant_id,
                                   created=bool(cree))


@router.post("/operateur/centres/{tenant_id}/cles", response_class=HTMLResponse)
async def create_tenant_key(request: Request, tenant_id: str, viewer: Operator) -> Response:
    """A key for the call centre (its first admin key, typically): the secret shown once."""
    form = await checked_form(request, viewer)
    role, label = field(form, "role") or "admin", field(form, "libelle")
    error = _key_form_error(role, label, TENANT_KEY_ROLES)
    if error:
        return await run_in_threadpool(_tenant_page, request, viewer, tenant_id, status=422,
                                       error=error)

    def create() -> dict[str, Any]:
        with session_scope(write=True) as s:
            row, key = tenancy.create_key(s, role, tenant_id, label)
            return {"id": row.id, "role": row.role, "label": row.label, "key": key}

    created = await run_in_threadpool(create)
    return await run_in_threadpool(_tenant_page, request, viewer, tenant_id, new_key=created)


@router.post("/operateur/centres/{tenant_id}/cles/{key_id}/revoquer",
             response_class=HTMLResponse)
async def revoke_tenant_key(request: Request, tenant_id: str, key_id: str,
                            viewer: Operator) -> Response:
    """Revoke one of the centre's keys (``DELETE /v1/keys/{id}``, scoped to the centre): it
    stops working at once on this worker, within the cache TTL on the others."""
    await checked_form(request, viewer)

    def act() -> None:
        with session_scope(write=True) as s:
            tenancy.revoke_key(s, tenancy.get_key(s, key_id, tenant_id))

    try:
        await run_in_threadpool(act)
    except ApiError as exc:
        return await run_in_threadpool(_tenant_page, request, viewer, tenant_id, status=404,
                                       error=_api_fr(exc))
    return _see_other(f"{HOME}/centres/{tenant_id}")


TARIFF_FR = {"denied_attempt_penalty_eur": "La pénalité par tentative refusée",
             "unassigned_penalty_eur": "La pénalité par numéro non attribué"}


@router.post("/operateur/centres/{tenant_id}/sanctions", response_class=HTMLResponse)
async def set_tariff(request: Request, tenant_id: str, viewer: Operator) -> Response:
    """The centre's own tariff (``PUT /v1/tenants/{id}/sanctions``'s ``tariff``; an empty
    field: the platform's). Its monitor floors, set through the API, are kept as they are.
    Penalties already written keep their amount."""
    form = await checked_form(request, viewer)
    own: dict[str, str] = {}
    for name in TARIFF_FIELDS:
        raw = (field(form, name) or "").replace(",", ".").replace("€", "").strip()
        if not raw:
            continue
        try:
            own[name] = str(valid_amount(name, raw))
        except ValueError:
            return await run_in_threadpool(
                _tenant_page, request, viewer, tenant_id, status=422,
                error=f"{TARIFF_FR[name]} doit être un montant en euros de 0 à 1 000, au "
                      f"centime près (par exemple 0,05) ; « {field(form, name)} » ne l'est "
                      "pas.")

    def act() -> None:
        with session_scope(write=True) as s:
            monitors = (tenancy.get_tenant(s, tenant_id).sanctions or {}).get("monitors")
            stored: dict[str, Any] = {}
            if own:
                stored["tariff"] = own
            if monitors:
                stored["monitors"] = monitors
            tenancy.set_sanctions(s, tenant_id, stored)

    await run_in_threadpool(act)
    return _see_other(f"{HOME}/centres/{tenant_id}")


def _key_form_error(role: str, label: str | None, roles: dict[str, str]) -> str | None:
    if role not in roles:
        return f"Choisissez le rôle de la clé : {', '.join(roles.values()).lower()}."
    if label is not None and (len(label) > 100 or re.search(r"[\x00-\x1f\x7f]", label)):
        return "Le libellé compte au plus 100 caractères, sans caractère de contrôle."
    return None


@router.post("/operateur/centres/{tenant_id}/suspendre")
async def suspend(request: Request, tenant_id: str, viewer: Operator) -> Response:
    """Suspend a call centre (its keys answer 403 at once on this worker, within the cache
    TTL elsewhere: ``set_status`` invalidates the principals, as the API's route)."""
    form = await checked_form(request, viewer)
    reason = field(form, "motif")
    error = None
    if reason is None:
        error = "Indiquez le motif de la suspension."
    elif len(reason) > 500:
        error = "Le motif compte au plus 500 caractères."
    if error:
        return await run_in_threadpool(_tenant_page, request, viewer, tenant_id, status=422,
                                       error=error, motif=reason or "")

    def act() -> None:
        with session_scope(write=True) as s:
            tenancy.set_status(s, tenant_id, "suspended", reason)

    await run_in_threadpool(act)
    return _see_other(f"{HOME}/centres/{tenant_id}")


@router.post("/operateur/centres/{tenant_id}/reactiver")
async def reactivate(request: Request, tenant_id: str, viewer: Operator) -> Response:
    await checked_form(request, viewer)

    def act() -> None:
        with session_scope(write=True) as s:
            tenancy.set_status(s, tenant_id, "active")

    await run_in_threadpool(act)
    return _see_other(f"{HOME}/centres/{tenant_id}")


# ------------------------------------------------------------------------------ BLOCTEL


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
        return _see_other(f"{HOME}/bloctel")
    job = await run_in_threadpool(jobs.get, job_id, None)
    return render(request, "travaux/_travail.html", viewer, job=job, status=202)


# ------------------------------------------------------------------------------ mandants


def _principals() -> dict[str, Any]:
    with session_scope() as s:
        rows = []
        for p in principals.list_principals(s, None):
            rows.append({"id": p.id, "name": p.name, "siren": p.siren, "own": p.tenant_id,
                         "created_at": p.created_at,
                         "mandates": [{"tenant": m.tenant_id, "tenant_name": name,
                                       "created_at": m.created_at}
                                      for m, name in principals.list_mandates(s, p.id)]})
        return {"principals": rows,
                "tenants": [{"id": t.id, "name": t.name} for t in tenancy.list_tenants(s)]}


def _principals_page(request: Request, viewer: Viewer, *, status: int = 200,
                     **context: Any) -> HTMLResponse:
    return render(request, "operateur/mandants.html", viewer, status=status, **_principals(),
                  **context)


@router.get("/operateur/mandants", response_class=HTMLResponse)
async def principals_page(request: Request, viewer: Operator) -> HTMLResponse:
    return await run_in_threadpool(_principals_page, request, viewer)


async def _principal_action(request: Request, viewer: Viewer, act: Any,
                            values: dict[str, str] | None = None) -> Response:
    try:
        await run_in_threadpool(act)
    except ApiError as exc:
        return await run_in_threadpool(_principals_page, request, viewer,
                                       status=409 if exc.status == 409 else 422,
                                       error=_api_fr(exc), values=values or {})
    return _see_other(f"{HOME}/mandants")


@router.post("/operateur/mandants", response_class=HTMLResponse)
async def create_principal(request: Request, viewer: Operator) -> Response:
    form = await checked_form(request, viewer)
    name, siren = field(form, "nom"), (field(form, "siren") or "").replace(" ", "")
    values = {"nom": name or "", "siren": siren}
    error = None
    if name is None:
        error = "Saisissez le nom du mandant."
    elif len(name) > 200:
        error = "Le nom compte au plus 200 caractères."
    elif not principals.siren_valid(siren):
        error = "Le SIREN doit compter 9 chiffres avec une clé de contrôle valide."
    if error:
        return await run_in_threadpool(_principals_page, request, viewer, status=422,
                                       error=error, values=values)

    def act() -> None:
        with session_scope(write=True) as s:
            principals.create_principal(s, name or "", siren)

    return await _principal_action(request, viewer, act, values)


@router.post("/operateur/mandants/{principal_id}/mandats", response_class=HTMLResponse)
async def grant_mandate(request: Request, principal_id: str, viewer: Operator) -> Response:
    form = await checked_form(request, viewer)
    tenant_id = field(form, "centre")
    if tenant_id is None:
        return await run_in_threadpool(_principals_page, request, viewer, status=422,
                                       error="Choisissez le centre d'appels mandaté.")

    def act() -> None:
        with session_scope(write=True) as s:
            principals.grant_mandate(s, principal_id, tenant_id)

    return await _principal_action(request, viewer, act)


@router.post("/operateur/mandants/{principal_id}/mandats/{tenant_id}/retirer",
             response_class=HTMLResponse)
async def revoke_mandate(request: Request, principal_id: str, tenant_id: str,
                         viewer: Operator) -> Response:
    await checked_form(request, viewer)

    def act() -> None:
        with session_scope(write=True) as s:
            principals.revoke_mandate(s, principal_id, tenant_id)

    return await _principal_action(request, viewer, act)


# ------------------------------------------------------------------------------ numéros


def _caller_ids() -> list[dict[str, Any]]:
    with session_scope() as s:
        return [{"number": c.number, "kind": c.kind, "tenant_id": c.tenant_id,
                 "tenant_name": name, "assigned_to": c.assigned_to,
                 "created_at": c.created_at, "verified_at": c.verified_at}
                for c, name in campaigns.list_all_caller_ids(s, None)]


def _numbers_page(request: Request, viewer: Viewer, *, status: int = 200,
                  error: str | None = None) -> HTMLResponse:
    rows = _caller_ids()
    return render(request, "operateur/numeros.html", viewer, status=status, error=error,
                  required=campaigns.verification_required(), kinds=NUMBER_KINDS,
                  waiting=[r for r in rows if r["verified_at"] is None],
                  verified=[r for r in rows if r["verified_at"] is not None])


@router.get("/operateur/numeros-presentes", response_class=HTMLResponse)
async def numbers(request: Request, viewer: Operator) -> HTMLResponse:
    return await run_in_threadpool(_numbers_page, request, viewer)


async def _verify(request: Request, viewer: Viewer, number: str, verified: bool) -> Response:
    await checked_form(request, viewer)

    def act() -> None:
        with session_scope(write=True) as s:
            campaigns.set_verified(s, number, verified)

    try:
        await run_in_threadpool(act)
    except ApiError as exc:
        return await run_in_threadpool(_numbers_page, request, viewer,
                                       status=404 if exc.status == 404 else 422,
                                       error=_api_fr(exc))
    return _see_other(f"{HOME}/numeros-presentes")


@router.post("/operateur/numeros-presentes/{number}/verifier", response_class=HTMLResponse)
async def verify_number(request: Request, number: str, viewer: Operator) -> Response:
    return await _verify(request, viewer, number, True)


@router.post("/operateur/numeros-presentes/{number}/retirer", response_class=HTMLResponse)
async def withdraw_number(request: Request, number: str, viewer: Operator) -> Response:
    return await _verify(request, viewer, number, False)


# ------------------------------------------------------------------------------ clés


def _operator_keys() -> list[dict[str, Any]]:
    with session_scope() as s:
        return [{"id": k.id, "label": k.label, "prefix": k.prefix, "created_at": k.created_at,
                 "last_used_at": k.last_used_at, "revoked_at": k.revoked_at}
                for k in tenancy.list_keys(s, None)]


def _keys_page(request: Request, viewer: Viewer, *, status: int = 200,
               **context: Any) -> HTMLResponse:
    return render(request, "operateur/cles.html", viewer, status=status, keys=_operator_keys(),
                  current=viewer.principal.key_id, **context)


@router.get("/operateur/cles", response_class=HTMLResponse)
async def keys(request: Request, viewer: Operator) -> HTMLResponse:
    return await run_in_threadpool(_keys_page, request, viewer)


@router.post("/operateur/cles", response_class=HTMLResponse)
async def create_operator_key(request: Request, viewer: Operator) -> Response:
    """A new operator key: its secret shown once, on the answer to this POST."""
    form = await checked_form(request, viewer)
    label = field(form, "libelle")
    error = _key_form_error("operator", label, {"operator": "Opérateur"})
    if error:
        return await run_in_threadpool(_keys_page, request, viewer, status=422, error=error)

    def create() -> dict[str, Any]:
        with session_scope(write=True) as s:
            row, key = tenancy.create_key(s, "operator", None, label)
            return {"id": row.id, "label": row.label, "key": key}

    created = await run_in_threadpool(create)
    return await run_in_threadpool(_keys_page, request, viewer, new_key=created)


@router.post("/operateur/cles/{key_id}/revoquer", response_class=HTMLResponse)
async def revoke_operator_key(request: Request, key_id: str, viewer: Operator) -> Response:
    """Revoke one of the operator's keys (``DELETE /v1/keys/{id}`` on the operator's own). The
    session's own key only when the form confirms it: the session ends with it."""
    form = await checked_form(request, viewer)
    own = key_id == viewer.principal.key_id
    if own and field(form, "confirmer") != "oui":
        return await run_in_threadpool(
            _keys_page, request, viewer, status=422,
            error="C'est la clé de votre session : la révoquer vous déconnecte. Cochez la "
                  "confirmation pour la révoquer quand même.")

    def act() -> None:
        with session_scope(write=True) as s:
            tenancy.revoke_key(s, tenancy.get_key(s, key_id, None))

    try:
        await run_in_threadpool(act)
    except ApiError as exc:
        return await run_in_threadpool(_keys_page, request, viewer, status=404,
                                       error=_api_fr(exc))
    if own:
        return _see_other(f"{PREFIX}/connexion?fin=1")
    return _see_other(f"{HOME}/cles")

