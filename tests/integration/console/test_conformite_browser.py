"""A compliance officer's work in a real browser (the live server's clock: Monday 2026-11-23,
10:30 Paris): filter the attempts and download the filter's export, investigate a number, pick a
period and download its PDF, read the alerts; an admin erases a number; a compliance session
cannot erase, and no page shows another tenant's data."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import httpx
import pypdf

from app.alerts.service import raise_alert
from app.db import write_transaction
from tests.factories import Tenant, add_consent, auth, make_tenant
from tests.integration.console.conftest import Console


def _calls(t: Tenant, prefix: str = "+336123457") -> dict[str, Any]:
    """A consent and two allowed checks to +33612345601 (one answered 20 s), three denials."""
    add_consent(t, "+33612345601")
    allowed = [t.check(callee="+33612345601").json() for _ in range(2)]
    assert all(a["decision"] == "allow" for a in allowed), allowed
    r = t.post(f"/v1/calls/{allowed[1]['attempt_id']}/outcome",
               {"status": "answered", "duration_s": 20}, role="dialer")
    assert r.status_code in (200, 201), r.text
    denied = [t.check(callee=f"{prefix}{n:02d}").json() for n in range(3)]
    assert all(d["decision"] == "deny" for d in denied), denied
    return {"allowed": [a["attempt_id"] for a in allowed],
            "denied": [d["attempt_id"] for d in denied]}


def _alert(tenant_id: str, monitor: str, action: str = "notice") -> str:
    with write_transaction() as conn:
        return str(raise_alert(conn, tenant_id=tenant_id, monitor=monitor, scope="tenant",
                               action=action, value=0.42, threshold=0.3, window="1h",
                               details={"answered": 50, "short": 21})["id"])


def _rows(console: Console) -> list[str]:
    return [r.get_attribute("data-attempt") or ""
            for r in console.page.locator("[data-attempt]").all()]


def test_a_compliance_officer_filters_attempts_and_downloads_the_export(
        console: Console, acme: Tenant, api: httpx.Client) -> None:
    made = _calls(acme)
    console.sign_in(acme.compliance)
    page = console.page
    page.get_by_role("link", name="Tentatives", exact=True).click()
    page.wait_for_url("**/console/tentatives")
    assert sorted(_rows(console)) == sorted(made["allowed"] + made["denied"])
    page.get_by_label("Décision").select_option("deny")
    page.get_by_label("Motif").select_option("CONSENT_REQUIRED")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_url(re.compile(r"decision=deny"))
    assert sorted(_rows(console)) == sorted(made["denied"])
    assert "Consentement préalable absent" in page.get_by_test_id("tentatives").inner_text()
    console.shot("tentatives")
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    content = Path(download.value.path()).read_bytes()
    expected = api.get("/v1/reports/attempts",
                       params={"decision": "deny", "reason": "CONSENT_REQUIRED"},
                       headers=auth(acme.compliance))
    assert expected.status_code == 200
    assert content == expected.content
    assert all(a in content.decode() for a in made["denied"])
    assert not any(a in content.decode() for a in made["allowed"])


def test_a_compliance_officer_looks_up_a_number_and_sees_its_consent_and_next_window(
        console: Console, acme: Tenant) -> None:
    consent = add_consent(acme, "+33612345601")
    console.sign_in(acme.compliance)
    page = console.page
    page.get_by_role("link", name="Enquête sur un numéro").click()
    page.get_by_label("Numéro").fill("06 12 34 56 01")
    page.get_by_role("button", name="Rechercher").click()
    page.wait_for_url("**/console/numeros/%2B33612345601")
    assert page.get_by_test_id("numero").inner_text() == "+33612345601"
    row = page.locator(f'[data-consent="{consent["id"]}"]')
    assert "valide" in row.locator('[data-figure="etat-consentement"]').inner_text()
    assert "intacte" in row.locator('[data-figure="preuve"]').inner_text()
    assert "01/09/2026" in row.inner_text()
    window = page.get_by_test_id("prochaine-fenetre")
    assert "Appelable maintenant" in window.inner_text()
    assert "spring-2026" in window.inner_text()
    console.shot("enquete-numero")
    # an invalid number: said so, on the search form
    page.get_by_role("link", name="Chercher un autre numéro").click()
    page.get_by_label("Numéro").fill("12 34")
    page.get_by_role("button", name="Rechercher").click()
    assert "n'est pas un numéro de téléphone valide" in page.get_by_test_id("erreur").inner_text()
    console.errors.clear()  # the 422 of the invalid number


def test_a_compliance_officer_downloads_the_pdf_of_a_period(
        console: Console, acme: Tenant) -> None:
    _calls(acme)
    console.sign_in(acme.compliance)
    page = console.page
    page.get_by_role("link", name="Rapports").click()
    assert page.get_by_label("Du", exact=True).input_value() == "2026-11-01"  # the month so far
    assert page.get_by_label("Au", exact=True).input_value() == "2026-11-23"
    page.get_by_label("Du", exact=True).fill("2026-11-16")
    page.get_by_role("button", name="Afficher").click()
    page.wait_for_url(re.compile(r"from=2026-11-16"))
    assert console.figure("totaux", "total") == "5"
    assert console.figure("totaux", "denied") == "3"
    console.shot("rapports")
    with page.expect_download() as download:
        page.get_by_test_id("pdf").click()
    content = Path(download.value.path()).read_bytes()
    assert content.startswith(b"%PDF")
    text = " ".join(p.extract_text() or "" for p in pypdf.PdfReader(io.BytesIO(content)).pages)
    assert "16 novembre 2026" in text and "23 novembre 2026" in text


def test_an_admin_erases_a_number_after_confirming(
        console: Console, acme: Tenant, api: httpx.Client) -> None:
    add_consent(acme, "+33612345601")
    console.sign_in(acme.admin)
    console.goto("/console/numeros/0612345601")
    page = console.page
    page.get_by_label("Je confirme").check()
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Effacer").click()
    page.wait_for_url(re.compile(r"efface=era_"))
    result = page.get_by_test_id("resultat-effacement").inner_text()
    assert "1 consentement(s)" in result and "opposition interne" in result
    console.shot("effacement")
    erasures = api.get("/v1/erasures", headers=auth(acme.compliance)).json()
    assert len(erasures) == 1 and erasures[0]["erased"]["consents"] == 1


def test_a_compliance_session_cannot_erase_and_sees_only_its_tenant(
        console: Console, acme: Tenant, api: httpx.Client) -> None:
    mine = _calls(acme)
    globex = make_tenant(api, "Globex", operator=acme.operator)
    add_consent(globex, "+33699999901")
    theirs = [globex.check(callee="+33699999901").json()["attempt_id"],
              globex.check(callee="+33699999902").json()["attempt_id"]]
    _alert(acme.id, "short_call_share")
    _alert(acme.id, "attempts_per_minute", "suspend")
    their_alert = _alert(globex.id, "globex_only_monitor")
    console.sign_in(acme.compliance)
    page = console.page
    leaks = [*theirs, "+33699999902", globex.canvassing_cli, their_alert,
             "globex_only_monitor", "Globex"]
    for path in ("/console/tentatives", "/console/numeros/+33699999901", "/console/rapports",
                 "/console/alertes"):
        console.goto(path)
        html = page.content()
        # Globex's number is named on its own investigation page (the URL), nowhere else
        for leak in leaks + ([] if "99999901" in path else ["+33699999901"]):
            assert leak not in html, (path, leak)
    console.goto("/console/alertes")
    assert len(page.locator("[data-alert]").all()) == 2
    assert "suspension" in page.get_by_test_id("alertes").inner_text()
    console.shot("alertes")
    console.goto("/console/numeros/+33699999901")
    assert "Aucun consentement enregistré" in page.get_by_test_id("consentements").inner_text()
    assert page.get_by_test_id("effacement").count() == 0  # no erasure for compliance
    for fmt in ("csv", "jsonl"):
        body = page.request.get(console.url(f"/console/tentatives/export?format={fmt}")).text()
        assert mine["denied"][0] in body and not any(t in body for t in theirs)
    csrf = page.locator('input[name="_csrf"]').first.get_attribute("value")
    r = page.request.post(console.url("/console/numeros/+33612345601/effacement"),
                          form={"_csrf": csrf or "", "confirme": "oui"})
    assert r.status == 403 and "administrateurs" in r.text()
    assert api.get("/v1/erasures", headers=auth(acme.compliance)).json() == []
