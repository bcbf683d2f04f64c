"""Tableau de bord: today, the last 7 days and the month — the figures of
``GET /v1/reports/summary`` (``app.reports.service.summary``) with the same period bounds, read
through ``app.reports.service.headlines`` (equal to ``summary``'s at the same instant, from an
hourly rollup: fast at a million attempts); alerts, BLOCTEL's freshness and the ledger's seal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse

from app import clock
from app.alerts import service as alerts
from app.bloctel import status as bloctel_status
from app.clock import PARIS
from app.console import jobs
from app.console.sessions import Viewer, wall_now
from app.console.web import LEGAL_BASIS, render
from app.reports import service as reports
from rules_fr.data import code_label


@dataclass(frozen=True)
class Period:
    key: str
    title: str
    first: date
    last: date  # inclusive (Paris days)

    @property
    def query(self) -> dict[str, str]:
        """The period as ``/v1/reports/summary``'s ``from`` and ``to``."""
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def periods(today: date) -> list[Period]:
    return [
        Period("jour", "Aujourd'hui", today, today),
        Period("semaine", "7 derniers jours", today - timedelta(days=6), today),
        Period("mois", "Ce mois-ci", today.replace(day=1), today),
    ]


def today() -> date:
    return clock.now().astimezone(PARIS).date()


def summary(tenant_id: str, period: Period) -> dict[str, Any]:
    """``GET /v1/reports/summary?from=…&to=…`` for this tenant, as the API computes it."""
    q = period.query
    return reports.summary(tenant_id, f=reports.filters(q["from"], q["to"]))


def bars(series: dict[str, dict[str, int]], labels: dict[str, str] | None = None
         ) -> dict[str, Any]:
    """Geometry of a stacked bar chart (allowed under denied) drawn as inline SVG by
    ``_graphiques.html``: no chart library, no script, readable without colour (a table of
    the same figures follows each chart)."""
    keys = list(series)
    top = max((v["allowed"] + v["denied"] for v in series.values()), default=0) or 1
    width, height, gap = 720, 160, 2
    step = width / max(len(keys), 1)
    out = []
    for i, k in enumerate(keys):
        allow, deny = series[k]["allowed"], series[k]["denied"]
        h_allow = height * allow / top
        h_deny = height * deny / top
        out.append({"key": k, "label": (labels or {}).get(k, k), "allow": allow, "deny": deny,
                    "x": round(i * step + gap / 2, 1), "w": round(max(step - gap, 1), 1),
                    "y_allow": round(height - h_allow, 1), "h_allow": round(h_allow, 1),
                    "y_deny": round(height - h_allow - h_deny, 1), "h_deny": round(h_deny, 1)})
    return {"bars": out, "width": width, "height": height, "top": top}


def headlines(tenant_id: str, shown: list[Period]) -> list[dict[str, Any]]:
    """``summary``'s figures the page shows (``reports.HEADLINE``) for each period, equal to
    the API's, from ``app.reports.service.headlines`` (one pass, an hourly rollup: at a
    million attempts ``summary`` takes seconds per period)."""
    bounds = []
    for period in shown:
        f = reports.filters(period.query["from"], period.query["to"])
        assert f.start is not None and f.end is not None
        bounds.append((f.start, f.end))
    return reports.headlines(tenant_id, bounds)


def _figures(tenant_id: str) -> dict[str, Any]:
    day = today()
    listed = periods(day)
    shown = [{"period": p, "summary": s} for p, s in zip(listed, headlines(tenant_id, listed),
                                                           strict=True)]
    month = shown[-1]["summary"]
    reasons = [{"code": code, "label": code_label(code), "legal_basis": LEGAL_BASIS.get(code, ""),
                "count": n} for code, n in list(month["by_reason"].items())[:8]]
    by_day = month["by_day"]
    # every day of the month so far, empty ones included
    first = day.replace(day=1)
    days = {(first + timedelta(days=i)).isoformat(): {"allowed": 0, "denied": 0}
            for i in range((day - first).days + 1)}
    for d, v in by_day.items():
        if d in days:
            days[d] = v
    hours = shown[0]["summary"]["by_hour"]
    recent = alerts.list_alerts(tenant_id, limit=5)["items"]
    return {
        "today": day, "periods": shown, "reasons": reasons,
        "chart_days": bars(days, {d: d[8:10] for d in days}),
        "chart_hours": bars(hours, {h: f"{h} h" for h in hours}),
        "alerts": recent, "bloctel": bloctel_status.current(),
    }


async def page(request: Request, viewer: Viewer) -> HTMLResponse:
    figures = await run_in_threadpool(_figures, viewer.tenant_id or "")
    return render(request, "conformite/tableau.html", viewer, **figures)


#: a verification of the sealed ledger younger than this is shown as it is; an older one is
#: done again when the panel is shown (the button "Vérifier maintenant" forces one)
VERIFY_FRESH_S = 600.0


def _verification(tenant_id: str, key_id: str, force: bool) -> dict[str, Any]:
    """The tenant's latest verification of the sealed ledger, started (as a console job) when
    there is none, when the last one is older than ``VERIFY_FRESH_S`` or failed, or when
    ``force``; never two at once for a tenant on one worker's watch."""
    last = jobs.latest(tenant_id, "verification")
    if last is not None and (last["running"] or (
            not force and last["status"] == "done" and last["finished_at"] is not None
            and (wall_now() - last["finished_at"]).total_seconds() < VERIFY_FRESH_S)):
        return last

    def verify(_raw: Any, _progress: Any) -> dict[str, Any]:
        return {"seal": jsonable_encoder(reports.ledger_seal(tenant_id))}

    job_id = jobs.start(kind="verification", label="Vérification du registre scellé",
                        tenant_id=tenant_id, key_id=key_id, work=verify)
    found = jobs.get(job_id, tenant_id)
    assert found is not None
    return found


async def seal_panel(request: Request, viewer: Viewer, *, force: bool = False) -> HTMLResponse:
    """The ledger's head seal and whether it verifies (what ``GET /v1/audit/verify`` checks).
    Verifying reads the whole sealed ledger (seconds at a million attempts), so it runs as a
    console job, off the request: the panel shows the latest result with its time, or the
    verification under way, which polls itself until it ends."""
    job = await run_in_threadpool(_verification, viewer.tenant_id or "",
                                  viewer.principal.key_id, force)
    return render(request, "conformite/_scellement.html", viewer, job=job)
