"""The admin's policy page: the tenant policy within the operator's sanctions and floors."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app.console.labels import ACTION_FR, MONITOR_FR
from app.console.pages.admin.common import refusal, router, see, tenant_of
from app.console.sessions import Viewer
from app.console.web import Admin, checked_form, render
from app.db import session_scope
from app.errors import ApiError
from app.tenancy import service as tenancy
from app.tenancy.monitor_policy import MONITORS
from app.tenancy.policy import DEFAULT, PolicyIn, policy_from_json, policy_to_json

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
    current = await run_in_threadpool(_policy, tenant_of(viewer))
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
    current = await run_in_threadpool(_policy, tenant_of(viewer))
    try:
        body = _policy_changes(form, current)
        patch = PolicyIn.model_validate(body)
        if body:
            await run_in_threadpool(tenancy.update_policy, tenant_of(viewer), patch)
    except (ValidationError, ApiError, ValueError) as exc:
        known = isinstance(exc, ValidationError | ApiError)
        return await _policy_page(request, viewer, status=422, given=given,
                                  error=refusal(exc)[1] if known else str(exc))
    return see("/politique?ok=" + ("1" if body else "0"))
