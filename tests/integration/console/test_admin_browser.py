"""An admin's console in a real browser (SQLite and PostgreSQL): a consents file imported with a
live progress bar and its report, a key created (shown once) and revoked — then refused by the
API —, every admin page visited, a compliance session kept out, a form without its token
refused. The details (each refusal, tenant isolation) are in ``tests/api/console/test_admin.py``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from tests.factories import Tenant, auth
from tests.integration.console.conftest import Console

TTL_S = 1.0  # GATEWAY_CACHE_TTL_S's default, which the test server keeps
ROWS = 20_000
BAD = {3: "pas-un-numero;2026-09-01 10:00;canvassing;web",
       7_001: "06 13 00 07 00;le 3 septembre;canvassing;web",
       15_000: ";2026-09-01;canvassing;web",
       19_999: "06 13 00 99 99;2026-09-01;partout;web"}


def digits(s: str) -> int:
    return int(re.sub(r"\D", "", s))


def consents_file(tmp_path: Path) -> Path:
    """``ROWS`` data lines, ``BAD`` of them rejected (the header is line 1)."""
    lines = ["numero;date_consentement;portee;canal"]
    for i in range(ROWS):
        lines.append(BAD.get(i + 2, f"06 12 {i // 10_000:02d} {i // 100 % 100:02d} "
                                    f"{i % 100:02d};2026-09-01 10:00;canvassing;web"))
    path = tmp_path / "consentements-novembre.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_admin_imports_consents_and_watches_the_progress_then_the_report(
        console: Console, acme: Tenant, api: httpx.Client, tmp_path: Path) -> None:
    path = consents_file(tmp_path)
    console.sign_in(acme.admin)
    console.goto("/console/consentements")
    page = console.page
    # an empty file is refused, and the page says why
    empty = tmp_path / "vide.csv"
    empty.write_bytes(b"")
    page.get_by_label("Fichier CSV").set_input_files(str(empty))
    page.get_by_role("button", name="Importer", exact=True).click()
    page.wait_for_url("**/console/consentements?refus=vide")
    assert "Le fichier envoyé est vide" in page.get_by_test_id("erreur").inner_text()
    assert [e for e in console.errors if "422" in e]
    console.errors.clear()  # the 422, on purpose
    console.goto("/console/consentements")  # a clean page for the real import
    page.get_by_label("Fichier CSV").set_input_files(str(path))
    with page.expect_response(lambda r: r.url.endswith("/console/consentements/import")) as sent:
        page.get_by_role("button", name="Importer", exact=True).click()
    answer = sent.value
    assert answer.status == 200
    # the job's progress bar, polling itself while the import runs
    assert 'data-status="running"' in answer.text() and "<progress" in answer.text()
    job = page.get_by_test_id("travail")
    job.locator("progress").wait_for()
    assert page.locator("progress.envoi").get_attribute("value") == "100"  # the upload's bar
    assert "Envoi du fichier : 100 %" in page.locator(".envoi-texte").inner_text()
    page.locator('[data-testid="travail"][data-status="done"]').wait_for(timeout=60_000)
    counts = page.get_by_test_id("comptes")
    fig = {name: digits(counts.locator(f'[data-figure="{name}"]').inner_text())
           for name in ("lines", "created", "updated", "unchanged", "rejected", "blank")}
    assert fig == {"lines": ROWS, "created": ROWS - len(BAD), "updated": 0, "unchanged": 0,
                   "rejected": len(BAD), "blank": 0}
    rejected = page.get_by_test_id("lignes-rejetees")
    shown = [digits(x) for x in rejected.locator("tbody th").all_inner_texts()]
    assert shown == sorted(BAD)
    assert "pas-un-numero" in rejected.inner_text()
    assert "Date du consentement n'est pas une date" in rejected.inner_text()  # French
    assert "Portée inconnue" in rejected.inner_text()
    console.shot("consentements-import")
    # the consents are really in the registry
    for number in ("+33612000000", "+33612019999", "+33612014997"):
        got = api.get("/v1/consents", params={"callee": number},
                      headers=auth(acme.compliance)).json()
        assert [c["status"] for c in got] == ["valid"], number
    assert api.get("/v1/consents", params={"callee": "+33613000700"},
                   headers=auth(acme.compliance)).json() == []
    # and the page finds them, and lists the import
    console.goto("/console/consentements?numero=06+12+01+99+99")
    assert "1 consentement(s)" in page.get_by_test_id("entrees").inner_text()
    assert "consentements-novembre.csv" in page.get_by_test_id("imports-recents").inner_text()


def test_an_admin_creates_a_key_shown_once_and_revokes_one_which_the_api_then_refuses(
        console: Console, acme: Tenant, api: httpx.Client) -> None:
    console.sign_in(acme.admin)
    console.goto("/console/cles")
    page = console.page
    page.get_by_label("Rôle").select_option("admin")
    page.get_by_label("Libellé").fill("intégration CRM")
    page.get_by_role("button", name="Créer la clé").click()
    secret = page.get_by_test_id("nouvelle-cle").inner_text().strip()
    assert secret.startswith("gw_") and "plus jamais affichée" in page.content()
    assert secret not in page.url
    assert api.get("/v1/reports/summary", headers=auth(secret)).status_code == 200
    console.shot("cles")
    console.goto("/console/cles")
    assert secret not in page.content()  # shown once
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Révoquer la clé intégration CRM").click()
    page.get_by_test_id("succes").wait_for()
    row = page.locator("tr", has_text="intégration CRM")
    assert "révoquée" in row.inner_text()
    # 401 at once on the worker that revoked it, on the server's other worker within
    # GATEWAY_CACHE_TTL_S (1 s), as a revocation through the API
    deadline = time.monotonic() + TTL_S + 0.5
    while api.get("/v1/reports/summary", headers=auth(secret)).status_code != 401:
        assert time.monotonic() < deadline, "the revoked key still works"
        time.sleep(0.05)
    time.sleep(TTL_S)
    assert {api.get("/v1/reports/summary", headers=auth(secret)).status_code
            for _ in range(6)} == {401}
    assert api.get("/v1/reports/summary", headers=auth(acme.admin)).status_code == 200


def test_a_compliance_session_cannot_reach_the_admin_pages(console: Console,
                                                           acme: Tenant) -> None:
    console.sign_in(acme.compliance)
    for path in ("/console/cles", "/console/consentements", "/console/webhooks",
                 "/console/politique", "/console/campagnes", "/console/numeros-presentes"):
        response = console.goto(path)
        assert response.status == 403, path
        assert "réservée aux administrateurs" in console.page.get_by_test_id("erreur").inner_text()
    assert "Clés d'API" not in console.page.get_by_role("navigation").inner_text()
    console.errors.clear()  # the 403s, on purpose


def test_an_admin_visits_every_admin_page_and_a_form_without_its_token_is_refused(
        console: Console, acme: Tenant, api: httpx.Client) -> None:
    console.sign_in(acme.admin)
    page = console.page
    # campaigns: one created through the form
    console.goto("/console/campagnes")
    page.get_by_label("Identifiant").fill("relance-hiver")
    page.get_by_label("Secteur").select_option("press_subscription")
    page.get_by_label(acme.canvassing_cli).check()
    page.get_by_role("button", name="Créer la campagne").click()
    page.get_by_test_id("succes").wait_for()
    got = api.get("/v1/campaigns/relance-hiver", headers=auth(acme.compliance)).json()
    assert got["sector"] == "press_subscription" and got["caller_ids"] == [acme.canvassing_cli]
    console.shot("campagnes")
    # caller IDs: a mobile number needs its agent
    console.goto("/console/numeros-presentes")
    page.get_by_label("Numéro", exact=True).fill("06 12 77 00 01")
    page.get_by_role("button", name="Enregistrer").click()
    assert "assigned to one agent" in page.get_by_test_id("erreur").inner_text()
    page.get_by_label("Agent attribué (obligatoire pour un mobile)").fill("agent-12")
    page.get_by_role("button", name="Enregistrer").click()
    assert "agent-12" in page.get_by_test_id("numeros").inner_text()
    console.shot("numeros-presentes")
    # webhooks: one created (its secret once) and a test queued
    console.goto("/console/webhooks")
    page.get_by_label("Adresse (https://…)").fill("https://198.51.101.7/alertes")
    page.get_by_label("Description").fill("Centre de sécurité")
    page.get_by_role("button", name="Ajouter").click()
    assert page.get_by_test_id("secret-webhook").inner_text().startswith("whsec_")
    console.goto("/console/webhooks")
    page.get_by_role("button", name="Envoyer un test à https://198.51.101.7/alertes").click()
    page.get_by_test_id("succes").wait_for()
    assert "198.51.101.7" in page.get_by_test_id("journal").inner_text()
    console.shot("webhooks")
    # the policy: tightened, and a value below the operator's floor refused
    console.goto("/console/politique")
    page.get_by_label("Plafond quotidien par numéro présenté mobile").fill("90")
    page.get_by_role("button", name="Enregistrer la politique").click()
    page.get_by_test_id("succes").wait_for()
    assert api.get("/v1/policy", headers=auth(acme.admin)).json()["mobile_daily_cap"] == 90
    page.get_by_label("Pénalité par tentative refusée (€)").fill("0.00")
    page.get_by_role("button", name="Enregistrer la politique").click()
    assert "below the operator's tariff" in page.get_by_test_id("erreur").inner_text()
    console.shot("politique")
    console.errors.clear()  # the 422s of the refused forms, on purpose
    for name in ("contrats", "oppositions"):
        console.goto(f"/console/{name}?numero=0612345678")
        assert page.get_by_test_id("aucune-entree").is_visible()
        console.shot(name)
    # CSRF: the session's cookie without the form's token
    r = page.request.post(console.url("/console/cles"),
                          form={"role": "admin", "label": "sans jeton"})
    assert r.status == 403 and "CSRF" in r.text()
    keys = api.get(f"/v1/tenants/{acme.id}/keys", headers=auth(acme.admin)).json()
    assert not [k for k in keys if k["label"] == "sans jeton"]
    console.errors.clear()
