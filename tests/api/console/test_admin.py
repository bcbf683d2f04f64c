"""The admin's console pages in process (SQLite and PostgreSQL): registries (search, bulk
import and its refusals), campaigns, caller IDs, keys, webhooks and the policy — each refusal
in French with the service's explanation, nothing of another tenant listed or reachable, and
every admin route closed to a compliance session."""

from __future__ import annotations

import html
import time
from typing import Any

import pytest

from app.console import jobs
from tests.consolekit import csrf_of, signed_in
from tests.factories import Tenant, add_consent, auth

PUBLIC_HOOK = "https://198.51.101.7/alertes"  # a public address: no DNS needed

ADMIN_GETS = ["/console/consentements", "/console/contrats", "/console/oppositions",
              "/console/campagnes", "/console/campagnes/spring-2026", "/console/numeros-presentes",
              "/console/cles", "/console/webhooks", "/console/politique"]
ADMIN_POSTS = ["/console/consentements/import", "/console/contrats/import",
               "/console/oppositions/import", "/console/campagnes",
               "/console/campagnes/spring-2026", "/console/numeros-presentes",
               "/console/numeros-presentes/retirer", "/console/cles",
               "/console/cles/key_x/revoquer", "/console/webhooks", "/console/webhooks/whk_x/test",
               "/console/webhooks/whk_x/supprimer", "/console/politique"]


def text(r: Any) -> str:
    return html.unescape(r.text)


def admin(t: Tenant) -> str:
    return signed_in(t.client, t.admin)


def wait_job(job_id: str, tenant_id: str) -> dict[str, Any]:
    for _ in range(400):
        job = jobs.get(job_id, tenant_id)
        assert job is not None
        if not job["running"]:
            return job
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def upload(t: Tenant, csrf: str, body: bytes, *, slug: str = "consentements",
           name: str = "consentements.csv", htmx: bool = True, **fields: str) -> Any:
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf} if htmx else {}
    data = fields if htmx else {"_csrf": csrf, **fields}
    return t.client.post(f"/console/{slug}/import", headers=headers, data=data,
                         files={"fichier": (name, body, "text/csv")}, follow_redirects=False)


def job_of(r: Any) -> str:
    import re

    found = re.search(r'id="travail-(job_[^"]+)"', r.text)
    assert found, r.text
    return found.group(1)


# ------------------------------------------------------------------------------ access


def test_a_compliance_session_reaches_no_admin_page_get_or_post(tenant: Tenant) -> None:
    c = tenant.client
    def keys() -> list[str]:
        return [k["id"] for k in c.get(f"/v1/tenants/{tenant.id}/keys",
                                       headers=auth(tenant.admin)).json()]

    before = keys()
    csrf = signed_in(c, tenant.compliance)
    for path in ADMIN_GETS:
        r = c.get(path)
        assert r.status_code == 403, path
        assert "réservée aux administrateurs" in text(r), path
    for path in ADMIN_POSTS:
        r = c.post(path, data={"_csrf": csrf, "role": "admin", "url": PUBLIC_HOOK},
                   follow_redirects=False)
        assert r.status_code == 403, path
    # nothing was done: no key, no webhook created by the compliance session
    assert keys() == before
    assert c.get("/v1/webhooks", headers=auth(tenant.admin)).json() == []


def test_every_admin_form_needs_its_csrf_token(tenant: Tenant) -> None:
    c = tenant.client
    admin(tenant)
    for path in ADMIN_POSTS:
        r = c.post(path, data={"role": "admin", "label": "x", "url": PUBLIC_HOOK},
                   follow_redirects=False)
        assert r.status_code == 403 and "CSRF" in r.text, path
    keys = c.get(f"/v1/tenants/{tenant.id}/keys", headers=auth(tenant.admin)).json()
    assert not [k for k in keys if k["label"] == "x"]


def test_every_admin_page_answers_with_one_heading(tenant: Tenant) -> None:
    admin(tenant)
    for path in ADMIN_GETS:
        r = tenant.client.get(path)
        assert r.status_code == 200, (path, r.text)
        assert r.text.count("<h1") == 1, path


# ------------------------------------------------------------------------------ registries


def test_search_by_number_shows_this_tenants_entries_only(tenant: Tenant, other: Tenant) -> None:
    add_consent(tenant, "+33612345601")
    add_consent(other, "+33612345601", given_at="2026-10-01T10:00:00+02:00")
    r = tenant.post("/v1/oppositions", {"callee": "+33612345602", "source": "call"})
    assert r.status_code == 201
    other.post("/v1/oppositions", {"callee": "+33612345603", "source": "call"})
    admin(tenant)
    c = tenant.client
    page = text(c.get("/console/consentements", params={"numero": "06 12 34 56 01"}))
    assert "1 consentement(s) pour 06 12 34 56 01" in page
    assert "01/09/2026" in page and "01/10/2026" not in page  # Globex's stays Globex's
    assert "valide" in page
    page = text(c.get("/console/oppositions", params={"numero": "+33612345603"}))
    assert "Aucune opposition enregistrée pour +33612345603" in page
    page = text(c.get("/console/oppositions", params={"numero": "+33612345602"}))
    assert "1 opposition(s)" in page
    r = c.get("/console/contrats", params={"numero": "12"})
    assert r.status_code == 422 and "Numéro invalide" in text(r)


CONSENTS = ("numero;date_consentement;portee;canal\n"
            "06 12 00 00 01;2026-09-01 10:00;canvassing;web\n"
            "06 12 00 00 02;2026-09-02;canvassing;web\n"
            "pas un numéro;2026-09-02;canvassing;web\n"
            "06 12 00 00 03;hier;canvassing;web\n"
            "\n"
            "06 12 00 00 04;2026-09-03;canvassing;web\n")


def test_an_import_runs_as_a_job_and_reports_in_french(tenant: Tenant, other: Tenant) -> None:
    csrf = admin(tenant)
    r = upload(tenant, csrf, CONSENTS.encode())
    assert r.status_code == 200, r.text
    assert 'data-testid="travail"' in r.text and "<progress" in r.text
    job = wait_job(job_of(r), tenant.id)
    assert job["status"] == "done", job
    report = job["result"]
    assert (report["created"], report["rejected"], report["blank"]) == (3, 2, 1)
    page = text(tenant.client.get(f"/console/travaux/{job['id']}"))
    assert "Créées" in page and 'data-figure="created">3<' in page
    assert 'data-figure="rejected" class="grave">2<' in page
    assert "pas un numéro" in page and "date_consentement" in page
    assert "Date du consentement n'est pas une date et heure" in page  # French
    # the consents are in the registry, for the API too
    listed = tenant.get("/v1/consents").json()
    assert sorted(x["callee"] for x in listed) == ["+33612000001", "+33612000002",
                                                   "+33612000004"]
    assert other.get("/v1/consents").json() == []
    # listed among the recent imports of this tenant only
    assert "consentements.csv" in text(tenant.client.get("/console/consentements"))
    assert jobs.recent(other.id, ("consents",)) == []
    assert tenant.client.get(f"/console/travaux/{job['id']}").status_code == 200


def test_another_tenants_import_is_not_readable(tenant: Tenant, other: Tenant) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app

    csrf = admin(tenant)
    job_id = job_of(upload(tenant, csrf, CONSENTS.encode()))
    wait_job(job_id, tenant.id)
    with TestClient(create_app()) as c2:
        signed_in(c2, other.admin)
        assert c2.get(f"/console/travaux/{job_id}").status_code == 404
        assert "consentements.csv" not in c2.get("/console/consentements").text


def test_a_plain_form_import_lands_on_the_page_with_its_report(tenant: Tenant,
                                                                other: Tenant) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app

    csrf = admin(tenant)
    r = upload(tenant, csrf, CONSENTS.encode(), htmx=False)  # no script: no htmx
    assert r.status_code == 303
    where = r.headers["location"]
    assert where.startswith("/console/consentements?travail=job_")
    wait_job(where.split("=")[1], tenant.id)
    page = text(tenant.client.get(where))
    assert page.count("<h1") == 1 and 'data-figure="created">3<' in page
    assert 'aria-label="Rapport de l\'import consentements.csv"' in page
    assert tenant.client.get(where.replace("consentements", "contrats")).status_code == 404
    with TestClient(create_app()) as c2:
        signed_in(c2, other.admin)
        r = c2.get(where)
        assert r.status_code == 404 and "pas un numéro" not in text(r)


def test_contracts_and_oppositions_import(tenant: Tenant) -> None:
    csrf = admin(tenant)
    r = upload(tenant, csrf, b"numero;reference;debut\n0612000011;C-1;2026-01-01\n",
               slug="contrats", name="contrats.csv")
    job = wait_job(job_of(r), tenant.id)
    assert job["status"] == "done" and job["result"]["created"] == 1
    r = upload(tenant, csrf, b"numero\n0612000012\n0612000012\n", slug="oppositions",
               name="oppositions.csv")
    job = wait_job(job_of(r), tenant.id)
    assert (job["result"]["created"], job["result"]["unchanged"]) == (1, 1)
    page = text(tenant.client.get("/console/contrats", params={"numero": "0612000011"}))
    assert "C-1" in page


def test_an_import_without_a_file_an_empty_file_or_too_large_is_refused(
        tenant: Tenant, settings: Any) -> None:
    c = tenant.client
    csrf = admin(tenant)
    r = c.post("/console/consentements/import", data={},
               headers={"HX-Request": "true", "X-CSRF-Token": csrf})
    assert r.status_code == 422 and "Choisissez un fichier" in text(r)
    r = upload(tenant, csrf, b"", name="vide.csv")
    assert r.status_code == 422 and "est vide" in text(r)
    # htmx swaps no 4xx answer: it is sent to the page, which says why
    assert r.headers["hx-redirect"] == "/console/consentements?refus=vide"
    page = text(c.get(r.headers["hx-redirect"]))
    assert "Import refusé</strong> — Le fichier envoyé est vide." in page
    settings(GATEWAY_IMPORT_MAX_BYTES=100)
    r = upload(tenant, csrf, CONSENTS.encode() * 2)
    assert r.status_code == 413 and "Fichier trop volumineux" in text(r)
    assert "GATEWAY_IMPORT_MAX_BYTES" in r.text
    assert "Fichier trop volumineux" in text(c.get(r.headers["hx-redirect"]))
    r = c.post("/console/consentements/import", content=b"x" * 70_000, headers={
        "HX-Request": "true", "X-CSRF-Token": csrf,
        "Content-Type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413  # from its declared length, before reading it
    r = upload(tenant, csrf, CONSENTS.encode() * 2, htmx=False)  # the plain form: a page
    assert r.status_code == 413 and "<h1>Import refusé</h1>" in text(r)
    r = upload(tenant, "forged", b"numero\n0612000012\n")
    assert r.status_code == 403
    assert jobs.recent(tenant.id, ("consents",)) == []


def test_too_many_rejected_lines_stop_the_import_unless_forced(tenant: Tenant) -> None:
    rows = ["numero;date_consentement"] + [f"06120{i:05d};2026-09-01" for i in range(1200)]
    rows += [f"x{i};2026-09-01" for i in range(100)]  # 7.7 % rejected
    body = "\n".join(rows).encode()
    csrf = admin(tenant)
    job = wait_job(job_of(upload(tenant, csrf, body)), tenant.id)
    assert job["status"] == "refused"
    page = text(tenant.client.get(f"/console/travaux/{job['id']}"))
    assert "Import arrêté" in page and "Rien n'a été écrit" in page
    assert tenant.get("/v1/consents").json() == []
    job = wait_job(job_of(upload(tenant, csrf, body, forcer="oui")), tenant.id)
    assert job["status"] == "done" and job["result"]["created"] == 1200


# ------------------------------------------------------------------------------ campaigns


def test_campaigns_create_edit_and_refusals(tenant: Tenant, other: Tenant) -> None:
    c = tenant.client
    csrf = admin(tenant)
    form = {"_csrf": csrf, "id": "automne", "purpose": "commercial", "audience": "consumers",
            "sector": "general", "automated": "oui", "caller_ids": [tenant.canvassing_cli],
            "principal": tenant.id}
    r = c.post("/console/campagnes", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    got = tenant.get("/v1/campaigns/automne").json()
    assert got["automated"] and got["caller_ids"] == [tenant.canvassing_cli]
    r = c.post("/console/campagnes", data=form)
    assert r.status_code == 409 and "exists" in r.text and 'value="automne"' in r.text
    r = c.post("/console/campagnes", data=form | {"id": "x", "sector": "astrologie"})
    assert r.status_code == 422 and "unknown sector" in text(r)
    r = c.post("/console/campagnes", data=form | {"id": "y", "caller_ids": [other.canvassing_cli]})
    assert r.status_code == 422 and "not registered by this tenant" in text(r)
    r = c.post("/console/campagnes", data=form | {"id": "z", "purpose": "autre"})
    assert r.status_code == 422 and "purpose" in text(r)
    r = c.post("/console/campagnes", data=form | {"id": "w", "principal": other.id})
    assert r.status_code == 422 and "no mandate" in text(r)
    # edit: no longer automated, prerecorded, no caller ID
    edit = {"_csrf": csrf, "purpose": "commercial", "audience": "professionals",
            "sector": "general", "prerecorded": "oui", "principal": tenant.id}
    r = c.post("/console/campagnes/automne", data=edit, follow_redirects=False)
    assert r.status_code == 303
    got = tenant.get("/v1/campaigns/automne").json()
    assert (got["automated"], got["prerecorded"], got["audience"], got["caller_ids"]) == (
        False, True, "professionals", [])
    assert "Campagne « automne » enregistrée" in text(c.get("/console/campagnes?ok=automne"))
    assert "enregistrée" not in text(c.get("/console/campagnes?ok=inventee"))  # no spoofing
    page = text(c.get("/console/campagnes/automne"))
    assert "Modifier la campagne « automne »" in page
    # another tenant's campaign: not there
    add = other.post("/v1/campaigns", {"id": "globex-only", "purpose": "commercial",
                                       "audience": "consumers", "automated": False})
    assert add.status_code == 201
    assert c.get("/console/campagnes/globex-only").status_code == 404
    assert c.post("/console/campagnes/globex-only", data=edit).status_code == 404
    assert "globex-only" not in c.get("/console/campagnes").text


# ------------------------------------------------------------------------------ caller IDs


def test_caller_ids_register_assign_and_remove(tenant: Tenant, other: Tenant) -> None:
    c = tenant.client
    csrf = admin(tenant)
    r = c.post("/console/numeros-presentes", data={"_csrf": csrf, "number": "06 12 99 00 01"})
    assert r.status_code == 422 and "assigned to one agent" in text(r)
    assert 'value="06 12 99 00 01"' in r.text  # the form keeps what was typed
    r = c.post("/console/numeros-presentes", data={"_csrf": csrf, "number": "06 12 99 00 01",
                                                   "assigned_to": "agent-7"},
               follow_redirects=False)
    assert r.status_code == 303
    listed = {x["number"]: x for x in tenant.get("/v1/caller-ids").json()}
    assert listed["+33612990001"]["assigned_to"] == "agent-7"
    page = text(c.get("/console/numeros-presentes"))
    assert "agent-7" in page and "non vérifié" in page and "mobile" in page
    assert other.mobile_cli not in page
    r = c.post("/console/numeros-presentes", data={"_csrf": csrf, "number": other.mobile_cli,
                                                   "assigned_to": "a"})
    assert r.status_code == 409 and "another customer" in text(r)
    r = c.post("/console/numeros-presentes/retirer", data={"_csrf": csrf,
                                                           "number": other.mobile_cli})
    assert r.status_code == 404
    r = c.post("/console/numeros-presentes/retirer", data={"_csrf": csrf,
                                                           "number": "+33612990001"},
               follow_redirects=False)
    assert r.status_code == 303
    assert "+33612990001" not in [x["number"] for x in tenant.get("/v1/caller-ids").json()]


# ------------------------------------------------------------------------------ keys


def test_a_key_is_shown_once_and_revoked_keys_stop_working(tenant: Tenant, other: Tenant) -> None:
    c = tenant.client
    csrf = admin(tenant)
    r = c.post("/console/cles", data={"_csrf": csrf, "role": "dialer", "label": "plateau 2"})
    assert r.status_code == 201
    secret = r.text.split('data-testid="nouvelle-cle">')[1].split("<")[0]
    assert secret.startswith("gw_") and "ne sera plus jamais affichée" in text(r)
    assert c.post("/v1/calls/check", json={}, headers=auth(secret)).status_code == 422  # in
    assert secret not in c.get("/console/cles").text  # once
    key_id = next(k["id"] for k in c.get(f"/v1/tenants/{tenant.id}/keys",
                                         headers=auth(tenant.admin)).json()
                  if k["label"] == "plateau 2")
    assert "plateau 2" in text(c.get("/console/cles")) and "Automate d'appel" in text(
        c.get("/console/cles"))
    # another tenant's keys: not listed, not revocable by id
    theirs = c.get(f"/v1/tenants/{other.id}/keys", headers=auth(other.admin)).json()
    page = c.get("/console/cles").text
    assert not [k for k in theirs if k["id"] in page]
    r = c.post(f"/console/cles/{theirs[0]['id']}/revoquer", data={"_csrf": csrf})
    assert r.status_code == 404
    assert c.get("/v1/campaigns", headers=auth(other.compliance)).status_code == 200
    r = c.post("/console/cles", data={"_csrf": csrf, "role": "operator"})
    assert r.status_code == 422 and "role" in text(r)
    r = c.post(f"/console/cles/{key_id}/revoquer", data={"_csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/console/cles?revoquee={key_id}"
    assert c.post("/v1/calls/check", json={}, headers=auth(secret)).status_code == 401
    assert "révoquée" in text(c.get("/console/cles"))


def test_revoking_the_key_of_ones_own_session_needs_a_clear_yes(tenant: Tenant) -> None:
    c = tenant.client
    csrf = admin(tenant)
    mine = next(k["id"] for k in c.get(f"/v1/tenants/{tenant.id}/keys",
                                       headers=auth(tenant.admin)).json() if k["role"] == "admin")
    page = text(c.get("/console/cles"))
    assert "clé de votre session" in page and "Je comprends que ma session se fermera" in page
    r = c.post(f"/console/cles/{mine}/revoquer", data={"_csrf": csrf})
    assert r.status_code == 422 and "celle de votre session" in text(r)
    assert c.get("/v1/campaigns", headers=auth(tenant.admin)).status_code == 200
    r = c.post(f"/console/cles/{mine}/revoquer", data={"_csrf": csrf, "la_mienne": "oui"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/connexion?fin=1"
    assert c.get("/v1/campaigns", headers=auth(tenant.admin)).status_code == 401
    assert c.get("/console/cles", follow_redirects=False).status_code == 303  # signed out


# ------------------------------------------------------------------------------ webhooks


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "https://169.254.169.254/latest",
                                 "https://10.1.2.3/hook", "ftp://198.51.101.7/"])
def test_a_webhook_to_a_private_target_is_refused_as_by_the_api(tenant: Tenant, url: str) -> None:
    c = tenant.client
    csrf = admin(tenant)
    r = c.post("/console/webhooks", data={"_csrf": csrf, "url": url})
    assert r.status_code == 422 and "Saisie refusée" in text(r)
    api = tenant.post("/v1/webhooks", {"url": url})
    assert api.status_code == 422
    assert c.get("/v1/webhooks", headers=auth(tenant.admin)).json() == []


def test_webhooks_create_test_log_and_delete(tenant: Tenant, other: Tenant) -> None:
    c = tenant.client
    csrf = admin(tenant)
    r = c.post("/console/webhooks", data={"_csrf": csrf, "url": PUBLIC_HOOK,
                                          "description": "SOC"})
    assert r.status_code == 201
    secret = r.text.split('data-testid="secret-webhook">')[1].split("<")[0]
    assert secret.startswith("whsec_") and secret not in c.get("/console/webhooks").text
    hook = c.get("/v1/webhooks", headers=auth(tenant.admin)).json()[0]
    r = c.post(f"/console/webhooks/{hook['id']}/test", data={"_csrf": csrf},
               follow_redirects=False)
    assert r.status_code == 303
    page = text(c.get(r.headers["location"]))
    assert "Envoi de test mis en file" in page and PUBLIC_HOOK in page
    log = page.split('data-testid="journal"')[1]
    assert "test" in log and ("en attente" in log or "échec" in log or "livrée" in log)
    theirs = other.post("/v1/webhooks", {"url": "https://198.51.101.8/x"}).json()
    assert "198.51.101.8" not in c.get("/console/webhooks").text
    assert c.post(f"/console/webhooks/{theirs['id']}/test",
                  data={"_csrf": csrf}).status_code == 404
    assert c.post(f"/console/webhooks/{theirs['id']}/supprimer",
                  data={"_csrf": csrf}).status_code == 404
    r = c.post(f"/console/webhooks/{hook['id']}/supprimer", data={"_csrf": csrf},
               follow_redirects=False)
    assert r.status_code == 303
    assert c.get("/v1/webhooks", headers=auth(tenant.admin)).json() == []
    assert len(c.get("/v1/webhooks", headers=auth(other.admin)).json()) == 1


# ------------------------------------------------------------------------------ policy


def _policy_form(page: str) -> dict[str, Any]:
    """The policy form as the browser would send it, unchanged."""
    import re

    form: dict[str, Any] = {"_csrf": csrf_of(page)}
    for name, value in re.findall(r'<input id="[pm]-[^"]*" name="([^"]+)"[^>]*value="([^"]*)"',
                                  page):
        form[name] = html.unescape(value)
    for name, body in re.findall(r'<select id="[pm]-[^"]*" name="([^"]+)"[^>]*>(.*?)</select>',
                                 page, re.S):
        chosen = re.search(r'<option value="([^"]+)" selected>', body)
        form[name] = chosen.group(1) if chosen else None
    return form


def test_the_policy_shows_values_defaults_and_the_operators_limits(tenant: Tenant) -> None:
    c = tenant.client
    admin(tenant)
    page = text(c.get("/console/politique"))
    api = tenant.get("/v1/policy", role="admin").json()
    assert f'value="{api["mobile_daily_cap"]}"' in page
    assert f"au moins {api['operator']['tariff']['denied_attempt_penalty_eur']} €" in page
    assert f"seuil ≤ {api['operator']['monitors']['denied_share']['threshold']}" in page
    form = _policy_form(c.get("/console/politique").text)
    assert form["mobile_daily_cap"] == "150" and form["denied_share.action"] == "throttle"
    r = c.post("/console/politique", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("ok=0")  # nothing changed
    assert tenant.get("/v1/policy", role="admin").json() == api


def test_the_policy_is_edited_within_the_operators_floors(tenant: Tenant) -> None:
    c = tenant.client
    admin(tenant)
    form = _policy_form(c.get("/console/politique").text)
    changed = form | {"mobile_daily_cap": "80", "consent_max_age_days": "180",
                      "denied_share.threshold": "0.3", "denied_share.action": "suspend",
                      "local_holidays": "oui"}
    r = c.post("/console/politique", data=changed, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("ok=1"), r.text
    api = tenant.get("/v1/policy", role="admin").json()
    assert (api["mobile_daily_cap"], api["consent_max_age_days"], api["local_holidays"]) == (
        80, 180, True)
    assert api["monitors"]["denied_share"] == {"threshold": 0.3, "action": "suspend",
                                               "min_events": 200, "window_s": 900}
    # weaker than the operator: refused with the service's explanation, nothing stored
    form = _policy_form(c.get("/console/politique").text)
    for change, words in (({"denied_attempt_penalty_eur": "0.01"}, "below the operator's"),
                          ({"denied_share.threshold": "0.95"}, "above the operator's"),
                          ({"attempts_per_minute.action": "notice"}, "weaker than"),
                          ({"mobile_daily_cap": "0"}, "mobile_daily_cap"),
                          ({"consent_max_age_days": "400"}, "consent_max_age_days"),
                          ({"mobile_daily_cap": "beaucoup"}, "n'est pas un nombre")):
        r = c.post("/console/politique", data=form | change)
        assert r.status_code == 422, (change, r.text[:300])
        page = text(r)
        assert "Réglage refusé" in page and words in page, change
        name, value = next(iter(change.items()))
        assert f'value="{value}"' in page or f'<option value="{value}" selected>' in page
    assert tenant.get("/v1/policy", role="admin").json() == api
