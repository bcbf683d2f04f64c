"""The operator's console in a real browser against a live ``gateway serve`` (SQLite and
PostgreSQL; the server's clock: Monday 2026-11-23, 10:30 Paris): a BLOCTEL upload with its
progress and the new version, a call centre created, suspended and reactivated, the other
operator pages, and tenant sessions kept out."""

from __future__ import annotations

import time

import httpx

from tests.factories import Tenant, auth
from tests.integration.console.conftest import Console

#: 4,000 distinct mobile numbers, national form
LIST = b"".join(b"06%08d\r\n" % n for n in range(12_000_000, 12_004_000))


def _accept_confirmations(console: Console) -> None:
    """Forms with ``data-confirm`` ask first (``window.confirm``): say yes."""
    console.page.on("dialog", lambda dialog: dialog.accept())


def test_an_operator_uploads_a_bloctel_list_and_sees_the_new_version(
        console: Console, acme: Tenant, api: httpx.Client) -> None:
    # a list already in force (version 1, of 1 November), loaded through the API
    r = api.post("/v1/bloctel/imports", params={"mode": "replace", "as_of": "2026-11-01"},
                 content=LIST[:3000 * 12], headers={**auth(acme.operator),
                                                    "Content-Type": "text/plain"})
    assert r.status_code == 201, r.text[:300]
    console.sign_in(acme.operator)
    page = console.page
    assert page.url == console.url("/console/operateur")
    console.goto("/console/operateur/bloctel")
    state = page.get_by_test_id("liste-en-vigueur")
    assert state.locator('[data-figure="version"]').inner_text() == "1"
    assert state.locator('[data-figure="age_days"]').inner_text() == "22 jours"

    form = page.get_by_test_id("import-bloctel")
    form.get_by_label("Fichier de la liste").set_input_files(
        files=[{"name": "bloctel-2026-11-20.txt", "mimeType": "text/plain", "buffer": LIST}])
    form.get_by_label("Date de la liste").fill("2026-11-20")
    form.get_by_label("Mode").select_option("replace")
    form.get_by_role("button", name="Importer").click()

    job = page.get_by_test_id("travail").first
    job.wait_for()  # the job's progress, polling itself, in place of a page load
    assert "bloctel-2026-11-20.txt" in job.inner_text()
    page.locator('[data-testid="travail"][data-status="done"]').wait_for()
    # the upload's own bar went to the end while the file was sent
    assert form.locator("progress.envoi").evaluate("bar => bar.value") == 100
    report = page.get_by_test_id("rapport-bloctel")
    assert report.locator('[data-figure="accepted"]').inner_text() == "4\u00a0000"
    assert report.locator('[data-figure="version"]').inner_text() == "2"
    # the status panel reloaded itself: the new version is the one in force
    page.locator('[data-testid="liste-en-vigueur"] [data-figure="version"]',
                 has_text="2").wait_for()
    state = page.get_by_test_id("liste-en-vigueur")
    assert state.locator('[data-figure="total_numbers"]').inner_text() == "4\u00a0000"
    assert state.locator('[data-figure="as_of"]').get_attribute("data-value") == "2026-11-20"
    assert "à jour" in state.locator('[data-figure="stale"]').inner_text()
    assert page.get_by_test_id("version-2").is_visible()
    console.shot("operateur-bloctel")

    status = api.get("/v1/bloctel", headers=auth(acme.dialer)).json()
    assert (status["version"], status["total_numbers"], status["as_of"]) == (
        2, 4000, "2026-11-20")
    # and after a reload, the page still says so (from the database, not the fragment)
    console.goto("/console/operateur/bloctel")
    assert page.get_by_test_id("liste-en-vigueur").locator(
        '[data-figure="version"]').inner_text() == "2"


def test_an_operator_creates_a_call_centre_suspends_and_reactivates_it(
        console: Console, acme: Tenant, api: httpx.Client) -> None:
    _accept_confirmations(console)
    console.sign_in(acme.operator)
    page = console.page
    assert page.get_by_test_id("role").inner_text() == "Opérateur"
    form = page.get_by_test_id("creer-centre")
    form.get_by_label("Nom").fill("Initech")
    form.get_by_role("button", name="Créer le centre").click()
    page.get_by_test_id("centre-cree").wait_for()
    tenant_id = page.url.split("/")[-1].split("?")[0]

    page.get_by_role("button", name="Créer sa première clé d'administrateur").click()
    secret = page.get_by_test_id("secret").inner_text().strip()
    assert api.get("/v1/policy", headers=auth(secret)).status_code == 200

    page.get_by_label("Motif de la suspension").fill("Plainte d'un consommateur")
    page.get_by_role("button", name="Suspendre").click()
    page.get_by_test_id("reactiver").wait_for()
    shown = page.get_by_test_id("etat-centre")
    assert shown.locator('[data-figure="statut"]').inner_text() == "suspendu"
    assert shown.locator('[data-figure="motif"]').inner_text() == "Plainte d'un consommateur"
    console.shot("operateur-centre")
    tenants = {t["id"]: t for t in api.get("/v1/tenants", headers=auth(acme.operator)).json()}
    assert tenants[tenant_id]["status"] == "suspended"
    assert tenants[acme.id]["status"] == "active"

    console.goto("/console/operateur")
    row = page.get_by_test_id(f"centre-{tenant_id}")
    assert "suspendu" in row.inner_text() and "Plainte d'un consommateur" in row.inner_text()
    console.shot("operateur-centres")

    row.get_by_role("link", name="Initech").click()
    page.get_by_role("button", name="Réactiver").click()
    page.get_by_test_id("suspendre").wait_for()
    assert page.get_by_test_id("etat-centre").locator(
        '[data-figure="statut"]').inner_text() == "actif"
    tenants = {t["id"]: t for t in api.get("/v1/tenants", headers=auth(acme.operator)).json()}
    assert tenants[tenant_id]["status"] == "active"


def test_the_operators_principals_caller_ids_and_keys_pages(
        console: Console, acme: Tenant, api: httpx.Client) -> None:
    _accept_confirmations(console)
    console.sign_in(acme.operator, then="/console/operateur/mandants")
    page = console.page
    form = page.get_by_test_id("creer-mandant")
    form.get_by_label("Nom").fill("Énergie Plus")
    form.get_by_label("SIREN").fill("732829320")
    form.get_by_role("button", name="Créer le mandant").click()
    principal = next(p for p in api.get("/v1/principals", headers=auth(acme.operator)).json()
                     if p["siren"] == "732829320")
    row = page.get_by_test_id(f"mandant-{principal['id']}")
    row.get_by_label("Centre d'appels").select_option(acme.id)
    row.get_by_role("button", name="Mandater").click()
    page.get_by_test_id(f"mandant-{principal['id']}").get_by_test_id(
        f"mandat-{acme.id}").wait_for()
    assert [m["tenant"] for m in api.get(f"/v1/principals/{principal['id']}/mandates",
                                         headers=auth(acme.operator)).json()] == [acme.id]
    console.shot("operateur-mandants")

    console.goto("/console/operateur/numeros-presentes")
    assert "désactivée" in page.get_by_test_id("verification-mode").inner_text()
    page.get_by_role("button", name=f"Marquer {acme.mobile_cli} comme vérifié").click()
    page.get_by_test_id("verifies").get_by_test_id(f"numero-{acme.mobile_cli}").wait_for()
    verified = {c["number"]: c["verified_at"] for c in api.get(
        "/v1/caller-ids/all", headers=auth(acme.operator)).json()}
    assert verified[acme.mobile_cli] is not None and verified[acme.geographic_cli] is None
    console.shot("operateur-numeros")

    console.goto("/console/operateur/cles")
    page.get_by_test_id("creer-cle").get_by_label("Libellé (facultatif)").fill("supervision")
    page.get_by_role("button", name="Créer la clé").click()
    secret = page.get_by_test_id("secret").inner_text().strip()
    assert api.get("/v1/keys", headers=auth(secret)).status_code == 200
    console.goto("/console/operateur/cles")  # the secret is not shown again
    assert secret not in page.content()
    key_id = next(k["id"] for k in api.get("/v1/keys", headers=auth(secret)).json()
                  if k["label"] == "supervision")
    page.get_by_test_id(f"cle-{key_id}").get_by_role("button", name="Révoquer").click()
    page.get_by_test_id(f"cle-{key_id}").get_by_text("révoquée le").wait_for()
    deadline = time.monotonic() + 5  # every worker within GATEWAY_CACHE_TTL_S (1 s here)
    while api.get("/v1/keys", headers=auth(secret)).status_code != 401:
        assert time.monotonic() < deadline, "the revoked key still works"
        time.sleep(0.2)
    console.shot("operateur-cles")


def test_tenant_sessions_cannot_reach_the_operator_pages(console: Console, acme: Tenant) -> None:
    for key, role in ((acme.compliance, "Conformité"), (acme.admin, "Administrateur")):
        console.sign_in(key)
        assert console.page.get_by_test_id("role").inner_text() == role
        assert console.page.get_by_role("link", name="BLOCTEL").count() == 0  # not in the nav
        response = console.goto("/console/operateur/bloctel")
        assert response.status == 403
        assert "réservée à l'opérateur" in console.page.get_by_test_id("erreur").inner_text()
        console.errors.clear()  # the 403 on purpose
        console.sign_out()
