"""The dashboard's figures are the API's: ``/console`` against ``GET /v1/reports/summary`` for
today, the last 7 days and the month, with attempts in each; and the rollup behind it
(``app.reports.service.headlines``) against ``summary`` on a varied ledger, as it changes —
new attempts, outcomes reported for attempts the rollup already holds, penalty lines, the
clock moving on and back (in process, SQLite and PostgreSQL)."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from app.calls.models import Attempt, PenaltyLine
from app.console.web import templates
from app.db import get_engine
from app.reports import service
from bench import console as bench
from tests.api.conftest import outcome
from tests.consolekit import signed_in
from tests.factories import Tenant, add_consent

PERIODS = {"jour": ("2026-11-23", "2026-11-23"), "semaine": ("2026-11-17", "2026-11-23"),
           "mois": ("2026-11-01", "2026-11-23")}


def seed_ledger(tenant_id: str, n: int, seed: int = bench.SEED) -> int:
    """``n`` attempts of the bench's mix (October and November up to Monday 10:30, outcomes,
    breaches, penalty lines), written as the bench writes them."""
    attempts, lines = [], []
    for row, pens in bench.ledger(tenant_id, n, seed):
        values = dict(zip(bench.ATTEMPT_COLUMNS, row, strict=True))
        values["reasons"] = json.loads(values["reasons"])
        attempts.append(values)
        lines += [dict(zip(bench.PENALTY_COLUMNS, p, strict=True)) for p in pens]
    with get_engine().begin() as conn:
        conn.execute(insert(Attempt.__table__), attempts)
        conn.execute(insert(PenaltyLine.__table__), lines)
    return len(lines)


def bounds(first: str, last: str) -> tuple[datetime, datetime]:
    f = service.filters(first, last)
    assert f.start is not None and f.end is not None
    return f.start, f.end


def assert_headlines_are_summary(tenant_id: str, periods: list[tuple[str, str]]) -> None:
    got = service.headlines(tenant_id, [bounds(a, b) for a, b in periods])
    for (a, b), h in zip(periods, got, strict=True):
        s = service.summary(tenant_id, f=service.filters(a, b))
        assert {k: s[k] for k in service.HEADLINE} == h, (a, b)


def test_the_rollup_equals_summary_as_the_ledger_changes(
        tenant: Tenant, freeze: Callable[[str], None]) -> None:
    assert seed_ledger(tenant.id, 3000) > 1000
    periods = [PERIODS["jour"], PERIODS["semaine"], PERIODS["mois"],
               ("2026-10-26", "2026-11-23"), ("2026-11-20", "2026-11-20")]
    assert_headlines_are_summary(tenant.id, periods)  # builds the rollup
    s = service.summary(tenant.id, f=service.filters(*PERIODS["mois"]))
    assert s["total"] > 2000 and s["dialled_despite_deny"] > 0
    assert s["short_calls"]["short"] > 0 and s["unassigned"]["attempts"] > 0
    # Monday 10:31: a call checked now, held live (after the rollup's mark)
    freeze("2026-11-23T10:31:00+01:00")
    add_consent(tenant, "+33612000111")
    first = tenant.check(callee="+33612000111").json()
    assert first["decision"] == "allow"
    assert_headlines_are_summary(tenant.id, periods)
    # 10:50: the rollup folds 10:31 in; then its outcome (unassigned: a penalty line), recorded
    # after the mark for a row the rollup holds; a denial (a line) and a breach
    freeze("2026-11-23T10:50:00+01:00")
    assert_headlines_are_summary(tenant.id, periods)
    assert outcome(tenant, first["attempt_id"], "unassigned", sip_code=404).status_code in (
        200, 201)
    denied = tenant.check(callee="+33612000222").json()
    assert denied["decision"] == "deny"
    assert outcome(tenant, denied["attempt_id"], "answered", duration_s=12).status_code in (
        200, 201)
    assert_headlines_are_summary(tenant.id, periods)
    # an hour later, folded in; then the clock set back (the rollup is rebuilt)
    freeze("2026-11-23T11:55:00+01:00")
    assert_headlines_are_summary(tenant.id, periods)
    freeze("2026-11-23T10:52:00+01:00")
    assert_headlines_are_summary(tenant.id, periods)
    # asked for today only, it forgets the older hours; asked for the month again, rebuilt
    assert_headlines_are_summary(tenant.id, [PERIODS["jour"]])
    assert_headlines_are_summary(tenant.id, periods)


_ARTICLE = re.compile(r'data-testid="periode-(\w+)".*?</article>', re.S)
_FIGURE = re.compile(r'data-figure="(\w+)"[^>]*>(.*?)</dd>', re.S)


def page_figures(page: str) -> dict[str, dict[str, str]]:
    """Per period, each figure's text as shown (tags dropped, spaces collapsed)."""
    out = {}
    for article in _ARTICLE.finditer(page):
        out[article.group(1)] = {
            name: " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())
            for name, text in _FIGURE.findall(article.group(0))}
    return out


def shown(s: dict[str, Any]) -> dict[str, str]:
    """The API's summary as the dashboard prints it."""
    f = templates.env.filters
    nombre, euros, pct = f["nombre"], f["euros"], f["pourcentage"]
    sc, un = s["short_calls"], s["unassigned"]
    short = f"{nombre(sc['short'])} sur {nombre(sc['answered'])} décrochés" + (
        f" ({pct(sc['share'])})" if sc["share"] is not None else "")
    unas = f"{nombre(un['attempts'])} sur {nombre(un['dialled'])} composés" + (
        f" ({pct(un['share'])})" if un["share"] is not None else "")
    out = {"total": nombre(s["total"]), "allowed": nombre(s["allowed"]),
           "denied": nombre(s["denied"]), "penalty_eur": euros(s["penalty_eur"]),
           "short": short, "unassigned": unas,
           "dialled_despite_deny": nombre(s["dialled_despite_deny"])}
    return {k: " ".join(html.unescape(str(v)).split()) for k, v in out.items()}


def test_the_dashboard_shows_the_api_summary_of_each_period(
        tenant: Tenant, other: Tenant, freeze: Callable[[str], None]) -> None:
    seed_ledger(tenant.id, 1500)
    seed_ledger(other.id, 500, seed=7)  # another tenant's ledger: never on this dashboard
    freeze("2026-11-23T10:30:00+01:00")
    signed_in(tenant.client, tenant.compliance)
    page = tenant.client.get("/console")
    assert page.status_code == 200
    assert page.headers["server-timing"].startswith("page;dur=")
    figures = page_figures(page.text)
    assert set(figures) == set(PERIODS)
    totals = set()
    for key, (first, last) in PERIODS.items():
        r = tenant.get("/v1/reports/summary", params={"from": first, "to": last})
        assert r.status_code == 200, r.text
        api = r.json()
        assert api["total"] > 0, key  # data in every period, each a different count
        totals.add(api["total"])
        assert figures[key] == shown(api), key
    assert len(totals) == 3
    # the month's reasons table: the API's by_reason, with their legal bases
    first, last = PERIODS["mois"]
    month = tenant.get("/v1/reports/summary", params={"from": first, "to": last}).json()
    table = page.text.split('data-testid="motifs"', 1)[1].split("</table>", 1)[0]
    for code, n in list(month["by_reason"].items())[:8]:
        assert f"<code>{code}</code>" in table
        row = table.split(f"<code>{code}</code>", 1)[1].split("</tr>", 1)[0]
        assert templates.env.filters["nombre"](n) in html.unescape(row)


def test_a_new_check_shows_on_the_dashboard_at_once(
        tenant: Tenant, freeze: Callable[[str], None]) -> None:
    seed_ledger(tenant.id, 300)
    signed_in(tenant.client, tenant.compliance)
    before = page_figures(tenant.client.get("/console").text)["jour"]["total"]
    assert tenant.check(callee="+33612000333").status_code == 200
    after = page_figures(tenant.client.get("/console").text)["jour"]
    api = tenant.get("/v1/reports/summary", params={"from": "2026-11-23", "to": "2026-11-23"})
    assert after == shown(api.json())
    assert int(after["total"].replace(" ", "").replace("\u202f", "")) == int(
        before.replace(" ", "").replace("\u202f", "")) + 1


def _settled(client: Any, method: str = "get", **kw: Any) -> str:
    """The seal panel once its verification ended (it polls itself while it runs)."""
    r = getattr(client, method)("/console/partiels/scellement", **kw)
    assert r.status_code == 200, r.text
    for _ in range(100):
        if 'data-status="running"' not in r.text:
            return r.text
        time.sleep(0.05)
        r = client.get("/console/partiels/scellement")
    raise AssertionError("the verification never ended")


def test_the_seal_panel_verifies_off_the_request_and_keeps_the_result(
        tenant: Tenant, freeze: Callable[[str], None]) -> None:
    from app.audit.service import seal
    from app.console.models import ConsoleJob
    from app.db import session_scope

    csrf = signed_in(tenant.client, tenant.compliance)
    assert "aucun sceau encore" in _settled(tenant.client)
    assert tenant.check(callee="+33612000444").status_code == 200
    freeze("2026-11-23T11:00:00+01:00")  # past the sealer's grace
    assert seal() is not None
    # the last result is kept (younger than VERIFY_FRESH_S): no new verification
    assert "aucun sceau encore" in _settled(tenant.client)
    # "Vérifier maintenant" needs the form's token, then verifies again
    assert tenant.client.post("/console/partiels/scellement").status_code == 403
    text = _settled(tenant.client, "post", headers={"X-CSRF-Token": csrf})
    assert 'data-testid="scellement-ok"' in text and "1 sceaux" in text.replace("\u202f", " ")
    with session_scope() as s:
        jobs_ = s.scalars(select(ConsoleJob).where(ConsoleJob.kind == "verification")).all()
        assert len(jobs_) == 2 and {j.tenant_id for j in jobs_} == {tenant.id}


def test_a_broken_ledger_shows_on_the_panel(
        tenant: Tenant, freeze: Callable[[str], None]) -> None:
    from app.audit.service import seal
    from app.db import session_scope

    csrf = signed_in(tenant.client, tenant.compliance)
    assert tenant.check(callee="+33612000555").status_code == 200
    freeze("2026-11-23T11:00:00+01:00")  # past the sealer's grace
    assert seal() is not None
    with session_scope(write=True) as s:  # someone edits a sealed attempt in the database
        s.execute(update(Attempt).values(decision="allow"))  # it was denied (no consent)
    text = _settled(tenant.client, "post", headers={"X-CSRF-Token": csrf})
    assert 'data-testid="scellement-casse"' in text and "NON VÉRIFIÉ" in text
