"""The PDF audit report: ``GET /v1/reports/audit.pdf`` on both databases, and its layout.

Pages are rendered to images with pypdfium2 (a pip package) and, when the machine has it, with
poppler's ``pdftoppm``; the text is read back with pypdf.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
import types
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pypdf
import pypdfium2 as pdfium
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from app.reports import pdf as report_pdf
from app.reports.pdf import Period, fr_date, fr_eur, fr_pct, render_audit_pdf
from app.reports.pdf import charts as report_charts
from app.reports.service import parse_bound
from tests.api.conftest import outcome
from tests.conftest import IN_CI
from tests.factories import CALLEE, Tenant, add_campaign, add_consent

PDF_PATH = "/v1/reports/audit.pdf"
WEEK = {"from": "2026-11-23", "to": "2026-11-29"}
PERIOD = "du 23 novembre 2026 au 29 novembre 2026"


# --- reading a PDF back -----------------------------------------------------------------------


def pdf_pages(content: bytes) -> list[str]:
    """The text of each page, no-break spaces as spaces, runs of blanks as one space."""
    reader = pypdf.PdfReader(io.BytesIO(content))
    return [re.sub(r"\s+", " ", (page.extract_text() or "").replace("\u00a0", " "))
            for page in reader.pages]


def pdf_text(content: bytes) -> str:
    return " ".join(pdf_pages(content))


def render_pypdfium2(content: bytes, page: int, tmp: Path) -> Image.Image:
    doc = pdfium.PdfDocument(content)
    try:
        image = doc[page - 1].render(scale=100 / 72).to_pil()
    finally:
        doc.close()
    path = tmp / f"pdfium-{page}.png"
    image.save(path)
    return Image.open(path)


def render_pdftoppm(content: bytes, page: int, tmp: Path) -> Image.Image:
    source = tmp / "report.pdf"
    source.write_bytes(content)
    subprocess.run(["pdftoppm", "-png", "-r", "100", "-f", str(page), "-l", str(page),
                    "-singlefile", str(source), str(tmp / "poppler")], check=True, timeout=60)
    return Image.open(tmp / "poppler.png")


RENDERERS = [
    pytest.param(render_pypdfium2, id="pypdfium2"),
    # under CI=true .ci/run installs poppler-utils, so this never skips there
    pytest.param(render_pdftoppm, id="pdftoppm", marks=pytest.mark.skipif(
        shutil.which("pdftoppm") is None and not IN_CI,
        reason="pdftoppm (poppler-utils) is not installed on this machine; pypdfium2 renders")),
]


def ink(image: Image.Image) -> float:
    """Share of pixels that are not (nearly) white."""
    grey = image.convert("L")
    histogram = grey.histogram()
    return 1 - sum(histogram[245:]) / (grey.width * grey.height)


# --- a ledger ---------------------------------------------------------------------------------


@pytest.fixture
def ledger(tenant: Tenant, other: Tenant, freeze) -> dict[str, Any]:
    """Acme: 4 attempts over Monday and Tuesday on two campaigns (2 allowed, 2 denied, 0.06 €
    of penalties); Globex: 2 attempts on its own campaign ``globex-only``."""
    add_consent(tenant)
    add_campaign(tenant, "autumn-energie")
    allowed = tenant.check(callee="06 12 34 56 78").json()["attempt_id"]
    outcome(tenant, allowed, "answered", duration_s=42)
    freeze("2026-11-23T10:31:00+01:00")
    tenant.check(callee="+33611223344", campaign="autumn-energie")  # no consent
    freeze("2026-11-23T10:32:00+01:00")
    tenant.check(callee="garbage")
    freeze("2026-11-24T19:30:00+01:00")
    tuesday = tenant.check(callee=CALLEE, campaign="autumn-energie").json()["attempt_id"]
    outcome(tenant, tuesday, "unassigned")
    add_consent(other)
    add_campaign(other, "globex-only")
    other.check(callee=CALLEE, campaign="globex-only")
    other.check(callee="garbage", campaign="globex-only")
    return {"allowed": allowed}


def get_pdf(t: Tenant, params: dict[str, str] | None = None, role: str = "compliance") -> bytes:
    r = t.get(PDF_PATH, params=WEEK if params is None else params, role=role)
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    return r.content


# --- the endpoint -----------------------------------------------------------------------------


def test_the_report_says_who_when_and_how_much(tenant: Tenant, ledger, monkeypatch) -> None:
    r = tenant.get(PDF_PATH, params=WEEK)
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == (
        'attachment; filename="audit-acme-2026-11-23_2026-11-29.pdf"')
    pages = pdf_pages(r.content)
    text = " ".join(pages)
    assert "Rapport d'audit" in text and "Acme" in text and tenant.id in text
    assert f"Période {PERIOD} (heure de Paris)" in text
    assert "Généré le 24 novembre 2026 à 19:30 (heure de Paris)" in text  # app.clock.now()
    # the cover's key figures, as the summary counts them
    summary = tenant.get("/v1/reports/summary", params=WEEK).json()
    assert (summary["total"], summary["allowed"], summary["penalty_eur"]) == (4, 2, "0.06")
    cover = pages[0]
    assert "Tentatives Autorisées Refusées Pénalités 4 2 (50,0 %) 2 (50,0 %) 0,06 €" in cover
    # campaigns, reasons (with their legal basis), penalties, rule set
    for expected in ("spring-2026", "autumn-energie", "Consentement préalable absent",
                     "CONSENT_REQUIRED", "Code de la consommation, art. L223-1",
                     "Numéro appelé invalide", "Tentative illégitime", "fr-2026-08-11",
                     "Tentatives par jour, selon la décision"):
        assert expected in text, expected
    assert "Aucune tentative sur la période" not in text
    # every page: tenant and period in the footer, "page i / n"
    for i, page in enumerate(pages, start=1):
        assert f"Acme — période : {PERIOD}" in page, i
        assert f"page {i} / {len(pages)}" in page, i
    # nothing sealed yet: said so, not invented, and why (the sealer's schedule, the command)
    assert "Sceau du registre aucun pour l'instant : rien n'a encore été scellé" in cover
    assert "« gateway audit seal »" in cover  # (the tests' server does not seal by itself)
    # penalties per week: 0.06 € in one week, an axis in cents (not 0 € · 1 €)
    (penalties,) = [p for p in pages if "Pénalités par semaine" in p]
    assert re.search(r"0,00 € 0,02 € 0,04 € 0,06 €", penalties), penalties
    assert not re.search(r"(?<![\d,])1 €", penalties), penalties


@pytest.mark.parametrize(("interval", "grace", "says"), [
    ("300", "120", "Le serveur scelle le registre toutes les 5 min (GATEWAY_SEAL_INTERVAL_S), "
     "chaque tentative une fois âgée de 2 min (GATEWAY_SEAL_GRACE_S) ; on peut aussi sceller "
     "aussitôt avec la commande « gateway audit seal »"),
    ("3600", "90", "toutes les 1 h (GATEWAY_SEAL_INTERVAL_S), chaque tentative une fois âgée "
     "de 90 s (GATEWAY_SEAL_GRACE_S)"),
    ("0", "120", "Le serveur ne scelle pas de lui-même (GATEWAY_SEAL_INTERVAL_S = 0) : le "
     "registre est scellé par la commande « gateway audit seal », chaque tentative une fois "
     "âgée de 2 min"),
])
def test_the_cover_says_why_no_seal_is_shown_yet(
        tenant: Tenant, ledger, interval: str, grace: str, says: str) -> None:
    from app.config import get_settings

    saved = {k: os.environ.get(k) for k in ("GATEWAY_SEAL_INTERVAL_S", "GATEWAY_SEAL_GRACE_S")}
    os.environ.update({"GATEWAY_SEAL_INTERVAL_S": interval, "GATEWAY_SEAL_GRACE_S": grace})
    get_settings.cache_clear()
    try:
        cover = pdf_pages(get_pdf(tenant))[0]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()
    assert "Sceau du registre aucun pour l'instant : rien n'a encore été scellé" in cover
    assert says in cover, cover


@pytest.mark.parametrize(("maximum", "unit", "ticks"), [
    (0.02, 0.01, ["0,00 €", "0,01 €", "0,02 €"]),
    (0.06, 0.01, ["0,00 €", "0,02 €", "0,04 €", "0,06 €"]),
    (0.1, 0.01, ["0,00 €", "0,02 €", "0,04 €", "0,06 €", "0,08 €", "0,10 €"]),
    (0.13, 0.01, ["0,00 €", "0,05 €", "0,10 €", "0,15 €"]),
    (1.0, 0.01, ["0,00 €", "0,20 €", "0,40 €", "0,60 €", "0,80 €", "1,00 €"]),
    (1234.0, 0.01, ["0 €", "250 €", "500 €", "750 €", "1 000 €", "1 250 €"]),
    (0, 0.01, ["0,00 €", "0,01 €", "0,02 €", "0,03 €", "0,04 €", "0,05 €"]),
    (3, 1.0, ["0", "1", "2", "3"]),
    (11, 1.0, ["0", "5", "10", "15"]),
])
def test_value_axes_have_readable_ticks(maximum: float, unit: float, ticks: list[str]) -> None:
    top, step = report_charts.nice_axis(maximum, unit=unit)
    values = [i * step for i in range(round(top / step) + 1)]
    if unit < 1:
        got = [report_charts.eur_tick(v, step).replace("\u00a0", " ") for v in values]
    else:
        got = [report_pdf.fr_int(v) for v in values]
    assert got == ticks


@given(st.decimals(min_value=0, max_value=10**7, places=2), st.sampled_from([0.01, 1.0]))
def test_an_axis_holds_its_maximum_in_whole_units(amount: Any, unit: float) -> None:
    maximum = float(amount)
    top, step = report_charts.nice_axis(maximum, unit=unit)
    assert top >= maximum and top - step < max(maximum, 0) + 1e-9 or maximum == 0
    assert round(step / unit, 6).is_integer() and step >= unit  # whole cents / whole counts
    assert 1 <= round(top / step) <= 10  # a handful of ticks


def test_the_cover_shows_the_ledger_seal(tenant: Tenant, ledger, monkeypatch) -> None:
    head = {"chain_hash": "ab" * 32, "sealed_until": "2026-11-24T23:00:00+00:00", "seals": 3,
            "verified": False, "first_broken": "att_0042"}
    seen: list[str] = []

    def ledger_head(tenant_id: str) -> dict[str, Any]:
        seen.append(tenant_id)
        return head

    audit = types.ModuleType("app.audit")
    service = types.ModuleType("app.audit.service")
    service.ledger_head = ledger_head  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "app.audit", audit)
    monkeypatch.setitem(sys.modules, "app.audit.service", service)
    cover = pdf_pages(get_pdf(tenant))[0]
    assert seen == [tenant.id]
    assert "ab" * 32 in cover
    assert "Scellé jusqu'au 25 novembre 2026 à 00:00 (heure de Paris)" in cover
    assert "Nombre de sceaux 3" in cover
    assert "ÉCHEC de la vérification : première rupture à att_0042" in cover
    head["verified"], head["first_broken"] = True, None
    assert "vérifié : chaîne intacte" in pdf_pages(get_pdf(tenant))[0]

    def broken(tenant_id: str) -> dict[str, Any]:
        raise RuntimeError("seal table missing")

    service.ledger_head = broken  # type: ignore[attr-defined]
    cover = pdf_pages(get_pdf(tenant))[0]  # a broken seal module is said, never a 500
    assert "non disponible (lecture impossible : RuntimeError)" in cover


@pytest.mark.parametrize("render", RENDERERS)
def test_page_one_renders_and_is_not_blank(tenant: Tenant, ledger, render, tmp_path) -> None:
    content = get_pdf(tenant)
    cover = render(content, 1, tmp_path)
    assert cover.width > 500 and cover.height > 700  # A4 at 100 dpi: 827 x 1169
    assert ink(cover) > 0.02
    charts = render(content, 2, tmp_path)
    assert ink(charts) > ink(cover)  # bars and axes


def test_an_empty_period_renders_and_says_so(tenant: Tenant, ledger, tmp_path) -> None:
    content = get_pdf(tenant, {"from": "2026-12-01", "to": "2026-12-31"})
    text = pdf_text(content)
    assert "Aucune tentative sur la période" in text
    assert "du 1er décembre 2026 au 31 décembre 2026" in text
    assert "Tentatives Autorisées Refusées Pénalités 0 0 (—) 0 (—) 0,00 €" in text
    assert "spring-2026" not in text and "Tentatives par jour" not in text
    assert ink(render_pypdfium2(content, 1, tmp_path)) > 0.02
    # a tenant with no attempt at all, one day
    assert "Aucune tentative sur la période" in pdf_text(
        get_pdf(tenant, {"from": "2026-11-25", "to": "2026-11-25"}))


def test_a_report_never_holds_another_tenants_data(tenant: Tenant, other: Tenant,
                                                   ledger) -> None:
    mine = pdf_text(get_pdf(tenant))
    theirs = pdf_text(get_pdf(other))
    assert "Globex" not in mine and "globex-only" not in mine and other.id not in mine
    assert "Acme" not in theirs and "autumn-energie" not in theirs and tenant.id not in theirs
    assert "Globex" in theirs and "globex-only" in theirs
    assert "Tentatives Autorisées Refusées Pénalités 2 1 (50,0 %) 1 (50,0 %)" in theirs
    # naming the other tenant changes nothing: a key reads its own tenant only
    asked = pdf_text(get_pdf(tenant, WEEK | {"tenant": other.id, "tenant_id": other.id}))
    assert "Acme" in asked and "Globex" not in asked


def test_roles(tenant: Tenant, ledger) -> None:
    assert get_pdf(tenant, role="admin")  # admin may do what compliance may
    for role in ("dialer", "operator"):
        r = tenant.get(PDF_PATH, params=WEEK, role=role)
        assert r.status_code == 403, role
        assert r.headers["content-type"].startswith("application/json")
    assert tenant.client.get(PDF_PATH, params=WEEK).status_code == 401


@pytest.mark.parametrize("params", [
    {"from": "yesterday", "to": "2026-11-29"},
    {"from": "2026-11-23", "to": "2026-02-30"},
    {"from": "2026-11-23", "to": "2026-11-23T10:00:00"},  # an instant needs its offset
    {"from": "2026-11-29", "to": "2026-11-23"},  # ends before it starts
    {"to": "2026-11-29"},
    {"from": "2026-11-23"},
])
def test_bad_periods_are_422(tenant: Tenant, params: dict[str, str]) -> None:
    r = tenant.get(PDF_PATH, params=params)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid"


# --- the layout, from summaries (no database) -------------------------------------------------


def test_french_formats() -> None:
    nb = "\u00a0"
    assert fr_eur("1500") == f"1{nb}500,00{nb}€"
    assert fr_eur("1234567.5") == f"1{nb}234{nb}567,50{nb}€"
    assert fr_eur("0.0025") == f"0,0025{nb}€"
    assert fr_eur("-3") == f"-3,00{nb}€"
    assert fr_eur(None) == "—"
    assert fr_pct(0.125) == f"12,5{nb}%"
    assert fr_date(date(2026, 11, 23)) == "23 novembre 2026"
    assert fr_date(date(2026, 8, 1)) == "1er août 2026"
    start, end = parse_bound("2026-11-01", end=False), parse_bound("2026-11-30", end=True)
    assert Period(start, end).label() == "du 1er novembre 2026 au 30 novembre 2026"
    assert Period(start, parse_bound("2026-11-01", end=True)).label() == "le 1er novembre 2026"
    instant = parse_bound("2026-11-23T10:30:00+01:00", end=False)
    assert Period(instant, end).label() == (
        "du 23 novembre 2026 à 10:30 au 30 novembre 2026")
    assert Period(None, None).label() == "depuis l'origine du registre"
    assert report_pdf.file_name("Société Générale d'Énergie", Period(start, end)) == (
        "audit-societe-generale-d-energie-2026-11-01_2026-11-30.pdf")


def year_summary(campaigns: int, start: date = date(2026, 1, 1), days: int = 365
                 ) -> dict[str, Any]:
    """What the extended summary returns for a busy year: every optional key present."""
    by_day, by_week = {}, {}
    for i in range(days):
        d = start + timedelta(days=i)
        allowed = 0 if d.weekday() >= 5 else 300 + (i * 37) % 400
        denied = 20 + (i * 11) % 90
        by_day[d.isoformat()] = {"total": allowed + denied, "allowed": allowed, "denied": denied}
        week = f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}"
        by_week[week] = f"{float(by_week.get(week, 0)) + denied * 0.02:.2f}"
    total = sum(v["total"] for v in by_day.values())
    allowed = sum(v["allowed"] for v in by_day.values())
    by_campaign = {
        f"campagne-{i:03d}-{'renovation-energetique-grand-est' if i % 4 == 0 else 'mutuelle'}":
        {"total": 1000 + i, "allowed": 900, "denied": 100 + i, "penalty_eur": f"{2 + i / 50:.2f}"}
        for i in range(campaigns)
    }
    hours = {f"{h:02d}": {"total": 50 * h, "allowed": 40 * h, "denied": 10 * h} for h in range(24)}
    first, last = parse_bound(start.isoformat(), end=False), parse_bound(
        (start + timedelta(days=days - 1)).isoformat(), end=True)
    return {
        "from": first.isoformat(), "to": last.isoformat(),
        "total": total, "allowed": allowed, "denied": total - allowed,
        "penalty_eur": "12345.67",
        "penalties_by_code": {"CALLEE_UNASSIGNED": "45.67", "ILLEGITIMATE_ATTEMPT": "12300.00"},
        "by_reason": {"CONSENT_REQUIRED": 9000, "OUTSIDE_HOURS": 4000, "WEEKEND": 2500,
                      "FREQUENCY_LIMIT": 800, "BLOCTEL_LISTED": 400, "NEW_CODE_X": 3},
        "by_campaign": by_campaign, "by_day": by_day, "by_hour": hours,
        "by_caller_id": {"+33162000001": {"total": 5000, "allowed": 4000, "denied": 1000},
                         "(none)": {"total": 7, "allowed": 0, "denied": 7}},
        "penalties_by_week": by_week,
        "short_calls": {"answered": 54000, "short": 8300, "share": 0.1537},
        "unassigned": {"attempts": 620, "share": 0.041},
        "bloctel": {"as_of": "2026-10-28", "age_days": 24, "stale": False,
                    "stale_attempts": 12},
        "consent_coverage": {"consumer_allowed": 95000, "consent": 91000, "contract": 4000,
                             "share_consent": 0.958, "share_contract": 0.042},
        "ruleset_versions": [
            {"version": "fr-2025-07-02", "first_seen": "2026-01-01T08:00:00+00:00",
             "last_seen": "2026-08-10T17:00:00+00:00", "attempts": 1000},
            {"version": "fr-2026-08-11", "first_seen": "2026-08-11T08:00:00+00:00",
             "last_seen": "2026-12-31T17:00:00+00:00", "attempts": 2000,
             "legal_bases": ["Code de la consommation, art. L223-1 (loi n° 2025-594)"]},
        ],
    }


GENERATED = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@pytest.mark.serial  # asserts on elapsed time: alone on the CPU
def test_a_year_with_every_key_and_many_campaigns(tmp_path: Path) -> None:
    summary = year_summary(campaigns=150)
    started = time.perf_counter()
    content = render_audit_pdf(summary, tenant_name="Acme", tenant_id="t-1",
                               generated_at=GENERATED, seal=None)
    elapsed = time.perf_counter() - started
    assert elapsed < 3, f"{elapsed:.1f} s to draw a year"
    pages = pdf_pages(content)
    text = " ".join(pages)
    assert "du 1er janvier 2026 au 31 décembre 2026" in text
    for expected in ("Appels courts (sur 54 000 appels aboutis) 8 300 15,4 %",
                     "Appels vers des numéros non attribués 620 4,1 %",
                     "couverts par un consentement 91 000 95,8 %",
                     "tentatives sur liste périmée 12", "liste du 28 octobre 2026",
                     "12 345,67 €", "Tentatives par heure de la journée",
                     "Pénalités par semaine", "+33162000001", "(aucun)", "NEW_CODE_X",
                     "fr-2025-07-02", "loi n° 2025-594"):
        assert expected in text, expected
    # 150 campaigns: the table runs over several pages, its header repeated on each
    names = list(summary["by_campaign"])
    with_campaigns = [p for p in pages if any(n in p for n in names)]
    assert len(with_campaigns) >= 3
    assert all("Campagne Tentatives Autorisées Refusées Taux de refus Pénalités" in p
               for p in with_campaigns)
    assert all(n in text for n in names)
    assert "Total (150)" in text


def test_ruleset_versions_come_from_the_rules_when_the_summary_has_none() -> None:
    summary = year_summary(campaigns=2, start=date(2026, 8, 1), days=20)
    del summary["ruleset_versions"]
    text = pdf_text(render_audit_pdf(summary, tenant_name="Acme", tenant_id="t-1",
                                     generated_at=GENERATED))
    # the opt-in regime started on 11 August 2026, inside the period: both versions, each
    # with its effective dates and the changes that entered into force then
    assert "fr-2025-07-02 — en vigueur du 2 juillet 2025 au 10 août 2026" in text
    assert "fr-2026-08-11 — en vigueur depuis le 11 août 2026" in text
    assert "Code de la consommation, art. D223-9" in text
    assert "Changements entrés en vigueur le 11 août 2026" in text
    assert "Durée de validité du consentement" in text and "R223-1" in text
    assert "Tentatives" in text and "Changements à cette date" in text


def test_every_version_the_period_spans_is_listed_even_without_attempts() -> None:
    summary = year_summary(campaigns=2, start=date(2026, 8, 1), days=20)
    summary["ruleset_versions"] = [
        {"version": "fr-2026-08-11", "first_seen": "2026-08-11T08:00:00+00:00",
         "last_seen": "2026-08-20T17:00:00+00:00", "attempts": 5, "effective": "2026-08-11",
         "changed_rules": ["opposition"], "legal_bases": {}}]
    pages = pdf_pages(render_audit_pdf(summary, tenant_name="Acme", tenant_id="t-1",
                                       generated_at=GENERATED))
    rules = " ".join(p for p in pages if "Référentiel juridique appliqué" in p
                     or "Changements entrés" in p)
    assert "du 1er août 2026 au 20 août 2026" in rules
    # the version of 1-10 August judged nothing, and is listed all the same, with its dates
    assert "fr-2025-07-02 — en vigueur du 2 juillet 2025 au 10 août 2026, 0 tentatives" in rules
    assert "fr-2026-08-11 — en vigueur depuis le 11 août 2026, 5 tentatives" in rules
    assert rules.index("fr-2025-07-02 —") < rules.index("fr-2026-08-11 —")
    # the changes in force on 11 August 2026: the opt-in regime, the consent lifetime, press
    changes = rules[rules.index("Changements entrés en vigueur le 11 août 2026"):]
    for expected in ("Opposition / consentement préalable", "Durée de validité du consentement",
                     "Secteur : abonnements de presse", "R223-1", "L223-5"):
        assert expected in changes, expected
    assert "Changements entrés en vigueur le 2 juillet 2025" in rules
    assert "Secteur : rénovation énergétique" in rules


def test_labels_come_from_the_catalogue() -> None:
    """Every reason code, penalty code and rule is printed by its label from rules_fr.data,
    RATE_THROTTLED and the rule ``throttle`` included (they once printed raw)."""
    from rules_fr.data import CODES, RULE_LABELS, code_label

    summary = year_summary(campaigns=1, start=date(2026, 11, 1), days=30)
    summary["by_reason"] = {code: 100 + i for i, code in enumerate(CODES)}
    summary["penalties_by_code"] = {"RATE_THROTTLED": "0.02", "ILLEGITIMATE_ATTEMPT": "1.00"}
    del summary["ruleset_versions"]
    text = pdf_text(render_audit_pdf(summary, tenant_name="Acme", tenant_id="t-1",
                                     generated_at=GENERATED))
    assert code_label("RATE_THROTTLED") != "RATE_THROTTLED"
    for code in CODES:
        assert code_label(code) in text, code
    assert f"dont {code_label('RATE_THROTTLED')} (RATE_THROTTLED)" in text
    assert f"dont {code_label('ILLEGITIMATE_ATTEMPT')} (ILLEGITIMATE_ATTEMPT)" in text
    rules = text[text.index("Référentiel juridique appliqué"):]
    for rule in ("throttle", "caller_id_ranges", "tariffs", "hours"):
        assert RULE_LABELS[rule] in rules, rule
        assert not re.search(rf"(?<![\w:]){rule}(?!\w)", rules), rule  # never the raw id


def test_an_old_summary_without_the_new_keys_still_renders() -> None:
    summary = year_summary(campaigns=3, days=10)
    for key in ("by_caller_id", "by_hour", "penalties_by_week", "short_calls", "unassigned",
                "bloctel", "consent_coverage", "ruleset_versions"):
        del summary[key]
    for row in summary["by_campaign"].values():
        del row["penalty_eur"]
    text = pdf_text(render_audit_pdf(summary, tenant_name="Acme", tenant_id="t-1",
                                     generated_at=GENERATED))
    assert "Appels courts non disponible" in text
    assert "Par numéro présenté : non disponible" in text
    assert "Campagne Tentatives Autorisées Refusées Taux de refus campagne-" in text  # no penalty
    assert "Tentatives par jour, selon la décision" in text


def test_hostile_names_are_text_not_markup() -> None:
    summary = year_summary(campaigns=0, days=2)
    summary["by_campaign"] = {"<b>x</b> & <font>": {"total": 1, "allowed": 1, "denied": 0},
                              "x" * 300: {"total": 1, "allowed": 0, "denied": 1}}
    text = pdf_text(render_audit_pdf(summary, tenant_name="A&B <i>", tenant_id="t-1",
                                     generated_at=GENERATED))
    assert "<b>x</b> & <font>" in text and "A&B <i>" in text
    assert "x" * 40 in text  # a name with no space wraps inside its cell


def test_the_cover_carries_the_real_seal_and_its_verification(
    tenant: Tenant, ledger, freeze
) -> None:
    from app.audit.service import seal

    freeze("2026-11-30T12:00:00+01:00")
    done = seal()
    assert done is not None
    cover = pdf_pages(get_pdf(tenant))[0]
    assert done["hash"] in cover.replace("\n", "")
    assert "vérifié : chaîne intacte" in cover
    from sqlalchemy import update

    from app.calls.models import Attempt
    from app.db import write_transaction

    with write_transaction() as conn:  # a row edited after the seal: the cover says so
        conn.execute(update(Attempt.__table__).where(
            Attempt.__table__.c.tenant_id == tenant.id).values(decision="allow"))
    cover = pdf_pages(get_pdf(tenant))[0]
    assert "ÉCHEC de la vérification" in cover and "seal 1" in cover
