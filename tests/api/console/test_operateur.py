"""The operator's console pages over HTTP (in process, SQLite and PostgreSQL): call centres,
BLOCTEL, principals and mandates, caller-ID verification, the operator's keys — each action
against the API's own view of it, the French messages for wrong input, CSRF, and 403 for every
tenant key on every operator route."""

from __future__ import annotations

import gzip
import html
import re
import time
from typing import Any

import pytest

from app.console import jobs
from tests.api.conftest import codes
from tests.consolekit import csrf_of, sign_in, signed_in
from tests.factories import Tenant, auth

SIREN = "732829320"  # a valid SIREN (Luhn key)
NUMBERS = b"".join(b"06%08d\n" % n for n in range(10_000, 13_000))  # 3,000 mobiles


def _operator(t: Tenant) -> str:
    return signed_in(t.client, t.operator)


def _text(r: Any) -> str:
    return html.unescape(r.text)


def _reasons(t: Tenant) -> list[str]:
    """The reason codes of a check by the tenant's dialer."""
    r = t.check(callee="+33612345601")
    assert r.status_code == 200, r.text
    return codes(r.json())


def _wait(job_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.get(job_id, None)
        assert job is not None
        if not job["running"]:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still running")


def _upload(t: Tenant, csrf: str, content: bytes, *, as_of: str = "2026-11-20",
            mode: str = "replace", force: bool = False, htmx: bool = True) -> Any:
    data = {"_csrf": csrf, "as_of": as_of, "mode": mode}
    if force:
        data["forcer"] = "oui"
    return t.client.post("/console/operateur/bloctel/import", data=data,
                         files={"fichier": ("liste.txt", content, "text/plain")},
                         headers={"HX-Request": "true"} if htmx else {},
                         follow_redirects=False)


def _job_id(r: Any) -> str:
    found = re.search(r'id="travail-(job_[^"]+)"', r.text)
    assert found, r.text
    return found.group(1)


# ------------------------------------------------------------------------------ access


OPERATOR_GETS = ["/console/operateur", "/console/operateur/centres/{tenant}",
                 "/console/operateur/bloctel", "/console/operateur/bloctel/etat",
                 "/console/operateur/mandants", "/console/operateur/numeros-presentes",
                 "/console/operateur/cles"]
OPERATOR_POSTS = ["/console/operateur/centres", "/console/operateur/centres/{tenant}/cles",
                  "/console/operateur/centres/{tenant}/cles/{key}/revoquer",
                  "/console/operateur/centres/{tenant}/suspendre",
                  "/console/operateur/centres/{tenant}/sanctions",
                  "/console/operateur/centres/{tenant}/reactiver",
                  "/console/operateur/bloctel/import", "/console/operateur/mandants",
                  "/console/operateur/mandants/{tenant}/mandats",
                  "/console/operateur/mandants/{tenant}/mandats/{tenant}/retirer",
                  "/console/operateur/numeros-presentes/{cli}/verifier",
                  "/console/operateur/numeros-presentes/{cli}/retirer",
                  "/console/operateur/cles", "/console/operateur/cles/key_x/revoquer"]


@pytest.mark.parametrize("role", ["admin", "compliance"])
def test_tenant_keys_get_403_on_every_operator_route(tenant: Tenant, role: str) -> None:
    c = tenant.client
    csrf = signed_in(c, getattr(tenant, role))
    keys = c.get(f"/v1/tenants/{tenant.id}/keys", headers=auth(tenant.admin)).json()
    fill = {"tenant": tenant.id, "cli": tenant.mobile_cli.replace("+", "%2B"),
            "key": next(k["id"] for k in keys if k["role"] == "dialer")}
    for path in OPERATOR_GETS:
        r = c.get(path.format(**fill))
        assert r.status_code == 403, path
        assert "réservée à l'opérateur de la plateforme" in _text(r), path
    for path in OPERATOR_POSTS:
        r = c.post(path.format(**fill), data={"_csrf": csrf, "nom": "X", "motif": "x",
                                               "siren": SIREN, "centre": tenant.id},
                   follow_redirects=False)
        assert r.status_code == 403, path
    # and nothing happened: the tenant still active, no principal, no key made
    op = auth(tenant.operator)
    assert [t["status"] for t in c.get("/v1/tenants", headers=op).json()] == ["active"]
    assert c.get(f"/v1/caller-ids/all?tenant={tenant.id}",
                 headers=op).json()[0]["verified_at"] is None
    assert [p["id"] for p in c.get("/v1/principals", headers=op).json()] == [tenant.id]
    assert tenant.check(callee="+33612345601").status_code == 200  # the dialer key works


def test_operator_forms_need_their_csrf_token(tenant: Tenant) -> None:
    c = tenant.client
    csrf = _operator(tenant)
    url = f"/console/operateur/centres/{tenant.id}/suspendre"
    for data in ({"motif": "impayés"}, {"motif": "impayés", "_csrf": csrf + "x"}):
        r = c.post(url, data=data, follow_redirects=False)
        assert r.status_code == 403 and "CSRF" in r.text
    r = c.post("/console/operateur/centres", data={"nom": "Sans jeton"}, follow_redirects=False)
    assert r.status_code == 403
    tenants = c.get("/v1/tenants", headers=auth(tenant.operator)).json()
    assert [(t["name"], t["status"]) for t in tenants] == [("Acme", "active")]


# ------------------------------------------------------------------------------ centres


def test_operator_creates_a_call_centre_and_its_first_admin_key(tenant: Tenant) -> None:
    c = tenant.client
    csrf = _operator(tenant)
    page = c.get("/console/operateur")
    assert page.status_code == 200 and "Acme" in page.text and tenant.id in page.text
    r = c.post("/console/operateur/centres",
               data={"_csrf": csrf, "nom": "Initech", "forme": "natural_person"},
               follow_redirects=False)
    assert r.status_code == 303
    new_id = r.headers["location"].split("/")[-1].split("?")[0]
    created = {t["id"]: t for t in c.get("/v1/tenants", headers=auth(tenant.operator)).json()}
    assert created[new_id] == {"id": new_id, "name": "Initech",
                               "legal_form": "natural_person", "status": "active"}
    page = c.get(r.headers["location"])
    assert "Créez maintenant sa première clé d'administrateur" in _text(page)
    assert "Créer sa première clé d'administrateur" in _text(page)
    r = c.post(f"/console/operateur/centres/{new_id}/cles",
               data={"_csrf": csrf, "role": "admin", "libelle": "premier admin"})
    assert r.status_code == 200
    secret = re.search(r'<div class="secret" data-testid="secret">([^<]+)</div>', r.text)
    assert secret
    # the key works: the new centre's admin reads its policy
    policy = c.get("/v1/policy", headers=auth(secret.group(1)))
    assert policy.status_code == 200, policy.text
    # never shown again
    assert secret.group(1) not in c.get(f"/console/operateur/centres/{new_id}").text


def test_create_tenant_and_key_validation_in_french(tenant: Tenant) -> None:
    c = tenant.client
    csrf = _operator(tenant)
    r = c.post("/console/operateur/centres", data={"_csrf": csrf, "nom": "  "})
    assert r.status_code == 422 and "Saisissez le nom du centre d'appels." in _text(r)
    r = c.post("/console/operateur/centres", data={"_csrf": csrf, "nom": "X", "forme": "sarl"})
    assert r.status_code == 422 and "Choisissez la forme juridique" in _text(r)
    r = c.post("/console/operateur/centres", data={"_csrf": csrf, "nom": "N" * 201})
    assert r.status_code == 422 and "au plus 200 caractères" in _text(r)
    r = c.post(f"/console/operateur/centres/{tenant.id}/cles",
               data={"_csrf": csrf, "role": "operator"})
    assert r.status_code == 422 and "Choisissez le rôle de la clé" in _text(r)
    r = c.get("/console/operateur/centres/ten_nope")
    assert r.status_code == 404
    assert len(c.get("/v1/tenants", headers=auth(tenant.operator)).json()) == 1


def test_suspend_with_a_reason_then_reactivate(tenant: Tenant) -> None:
    c = tenant.client
    csrf = _operator(tenant)
    url = f"/console/operateur/centres/{tenant.id}"
    r = c.post(f"{url}/suspendre", data={"_csrf": csrf, "motif": ""})
    assert r.status_code == 422 and "Indiquez le motif de la suspension." in _text(r)
    assert "TENANT_SUSPENDED" not in _reasons(tenant)
    r = c.post(f"{url}/suspendre", data={"_csrf": csrf, "motif": "Plainte DGCCRF"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == url
    # effective at once in the API (set_status invalidates the principals)
    assert "TENANT_SUSPENDED" in _reasons(tenant)
    listing = _text(c.get("/console/operateur"))
    assert "suspendu" in listing and "Plainte DGCCRF" in listing
    page = _text(c.get(url))
    assert "Réactiver" in page and 'data-confirm="Réactiver' in page
    r = c.post(f"{url}/reactiver", data={"_csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert "TENANT_SUSPENDED" not in _reasons(tenant)
    assert [t["status"] for t in c.get("/v1/tenants", headers=auth(tenant.operator)).json()
            ] == ["active"]


def test_the_tenant_page_shows_the_sanctions_in_force(tenant: Tenant) -> None:
    c = tenant.client
    _operator(tenant)
    r = c.put(f"/v1/tenants/{tenant.id}/sanctions",
              json={"tariff": {"denied_attempt_penalty_eur": "0.07"}},
              headers=auth(tenant.operator))
    assert r.status_code == 200, r.text
    in_force = r.json()["in_force"]
    page = _text(c.get(f"/console/operateur/centres/{tenant.id}"))
    sanctions = page.split('data-testid="sanctions"')[1]
    assert "0,07" in sanctions and "(propre)" in sanctions
    for name in in_force["monitors"]:
        assert name in page


def test_the_operator_sets_a_centres_tariff_and_keeps_its_floors(tenant: Tenant) -> None:
    c = tenant.client
    csrf = _operator(tenant)
    op = auth(tenant.operator)
    floors = {"denied_share": {"threshold": 0.5}}
    r = c.put(f"/v1/tenants/{tenant.id}/sanctions", json={"monitors": floors}, headers=op)
    assert r.status_code == 200, r.text
    url = f"/console/operateur/centres/{tenant.id}/sanctions"
    r = c.post(url, data={"_csrf": csrf, "denied_attempt_penalty_eur": "0,005"})
    assert r.status_code == 422 and "au centime près" in _text(r) and "0,005" in _text(r)
    r = c.post(url, data={"_csrf": csrf, "unassigned_penalty_eur": "2000"})
    assert r.status_code == 422 and "par numéro non attribué" in _text(r)
    r = c.post(url, data={"_csrf": csrf, "denied_attempt_penalty_eur": "0,25",
                          "unassigned_penalty_eur": ""}, follow_redirects=False)
    assert r.status_code == 303
    got = c.get(f"/v1/tenants/{tenant.id}/sanctions", headers=op).json()
    assert got["tariff"]["denied_attempt_penalty_eur"] == "0.25"
    assert got["tariff"]["unassigned_penalty_eur"] is None
    assert got["in_force"]["tariff"]["denied_attempt_penalty_eur"] == "0.25"
    assert got["monitors"]["denied_share"]["threshold"] == 0.5  # the floors kept
    # the tenant's policy in force follows (the principals' cache was invalidated)
    policy = c.get("/v1/policy", headers=auth(tenant.admin)).json()
    assert policy["operator"]["tariff"]["denied_attempt_penalty_eur"] == "0.25"
    # emptied: the platform's again
    r = c.post(url, data={"_csrf": csrf, "denied_attempt_penalty_eur": ""},
               follow_redirects=False)
    assert r.status_code == 303
    got = c.get(f"/v1/tenants/{tenant.id}/sanctions", headers=op).json()
    assert got["tariff"]["denied_attempt_penalty_eur"] is None
    assert got["monitors"]["denied_share"]["threshold"] == 0.5


def test_the_operator_revokes_a_centres_key(tenant: Tenant, other: Tenant) -> None:
    c = tenant.client
    csrf = _operator(tenant)
    keys = c.get(f"/v1/tenants/{tenant.id}/keys", headers=auth(tenant.operator)).json()
    dialer = next(k["id"] for k in keys if k["role"] == "dialer")
    page = _text(c.get(f"/console/operateur/centres/{tenant.id}"))
    assert f'data-testid="cle-{dialer}"' in page
    # not through another centre's page
    r = c.post(f"/console/operateur/centres/{other.id}/cles/{dialer}/revoquer",
               data={"_csrf": csrf})
    assert r.status_code == 404 and "Cette clé n'existe pas." in _text(r)
    assert tenant.check(callee="+33612345601").status_code == 200
    r = c.post(f"/console/operateur/centres/{tenant.id}/cles/{dialer}/revoquer",
               data={"_csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert tenant.check(callee="+33612345601").status_code == 401
    row = _text(c.get(f"/console/operateur/centres/{tenant.id}")).split(
        f'data-testid="cle-{dialer}"')[1].split("</tr>")[0]
    assert "révoquée le" in row and "Révoquer" not in row


# ------------------------------------------------------------------------------ BLOCTEL


def test_bloctel_upload_runs_as_a_job_and_becomes_the_list_in_force(tenant: Tenant) -> None:
    c = tenant.client
    csrf = _operator(tenant)
    page = _text(c.get("/console/operateur/bloctel"))
    assert "Aucune liste BLOCTEL n'est chargée" in page
    assert 'hx-post="/console/operateur/bloctel/import"' in page
    assert '<progress class="envoi" max="100" value="0"' in page
    r = _upload(tenant, csrf, NUMBERS)
    assert r.status_code == 202, r.text
    assert 'hx-trigger="every 500ms"' in r.text  # the fragment polls its own progress
    job = _wait(_job_id(r))
    assert job["status"] == "done", job
    api = c.get("/v1/bloctel", headers=auth(tenant.operator)).json()
    assert api["version"] == 1 and api["total_numbers"] == 3000 and api["as_of"] == "2026-11-20"
    fragment = _text(c.get(f"/console/travaux/{job['id']}"))
    assert "Version 1 en vigueur" in fragment and "3\u00a0000 numéros" in fragment
    # the fragment reloads the status panel; the panel and the page say the new version
    assert 'hx-get="/console/operateur/bloctel/etat"' in fragment
    panel = _text(c.get("/console/operateur/bloctel/etat"))
    assert 'data-figure="version">1<' in panel and 'data-value="2026-11-20"' in panel
    assert "3 jours" in panel and "à jour" in panel
    history = c.get("/v1/bloctel/imports", headers=auth(tenant.operator)).json()
    assert [v["version"] for v in history] == [1]
    assert 'data-testid="version-1"' in panel


def test_a_refused_bloctel_file_shows_its_report(tenant: Tenant, settings: Any) -> None:
    c = tenant.client
    csrf = _operator(tenant)
    bad = b"".join(NUMBERS.splitlines(keepends=True)[:20]) + b"pas-un-numero\n" * 100
    job = _wait(_job_id(_upload(tenant, csrf, bad)))
    assert job["status"] == "refused"
    fragment = _text(c.get(f"/console/travaux/{job['id']}"))
    assert "Trop de lignes rejetées : 100 sur 120" in fragment
    assert "Cochez « forcer »" in fragment
    assert 'data-testid="lignes-rejetees"' in fragment and "pas-un-numero" in fragment
    assert "caractères inattendus" in fragment  # why, in French
    assert "non : la liste en vigueur est inchangée" in fragment
    assert c.get("/v1/bloctel", headers=auth(tenant.operator)).json()["version"] is None
    # forced, the same file goes in
    job = _wait(_job_id(_upload(tenant, csrf, bad, force=True)))
    assert job["status"] == "done"
    assert c.get("/v1/bloctel", headers=auth(tenant.operator)).json()["total_numbers"] == 20
    # an older list than the one in force is refused, in French
    job = _wait(_job_id(_upload(tenant, csrf, NUMBERS, as_of="2026-11-01")))
    assert job["status"] == "refused"
    assert "antérieure à celle de la liste en vigueur" in _text(
        c.get(f"/console/travaux/{job['id']}"))
    # a gzip that grows past GATEWAY_BLOCTEL_MAX_BYTES once decompressed
    settings(GATEWAY_BLOCTEL_MAX_BYTES=20_000)
    job = _wait(_job_id(_upload(tenant, csrf, gzip.compress(NUMBERS), as_of="2026-11-22")))
    assert job["status"] == "refused"
    assert "Fichier trop volumineux une fois décompressé" in _text(
        c.get(f"/console/travaux/{job['id']}"))
    assert c.get("/v1/bloctel", headers=auth(tenant.operator)).json()["total_numbers"] == 20


def test_bloctel_upload_validation_in_french(tenant: Tenant, settings: Any) -> None:
    c = tenant.client
    csrf = _operator(tenant)
    r = _upload(tenant, csrf, NUMBERS, as_of="2026-11-24", htmx=False)  # tomorrow in Paris
    assert r.status_code == 422 and "est dans le futur" in _text(r)
    r = _upload(tenant, csrf, NUMBERS, as_of="", htmx=False)
    assert r.status_code == 422 and "Indiquez la date de la liste" in _text(r)
    r = _upload(tenant, csrf, NUMBERS, as_of="20/11/2026", htmx=False)
    assert r.status_code == 422 and "n'est pas une date" in _text(r)
    r = _upload(tenant, csrf, NUMBERS, mode="merge", htmx=False)
    assert r.status_code == 422 and "Choisissez le mode" in _text(r)
    r = c.post("/console/operateur/bloctel/import",
               data={"_csrf": csrf, "as_of": "2026-11-20", "mode": "replace"})
    assert r.status_code == 422 and "Choisissez le fichier" in _text(r)
    # sent by htmx: the message comes back as the fragment put where the job would go
    r = _upload(tenant, csrf, NUMBERS, as_of="2026-11-24")
    assert r.status_code == 200 and 'role="alert"' in r.text and "futur" in _text(r)
    assert jobs.recent(None, ("bloctel",)) == []
    assert c.get("/v1/bloctel/imports", headers=auth(tenant.operator)).json() == []
    # larger than GATEWAY_BLOCTEL_MAX_BYTES: refused as the API's 413, nothing imported
    settings(GATEWAY_BLOCTEL_MAX_BYTES=1000)
    r = _upload(tenant, csrf, NUMBERS, htmx=False)
    assert r.status_code == 413 and "Fichier trop volumineux" in _text(r)
    assert jobs.recent(None, ("bloctel",)) == []
    settings(GATEWAY_BLOCTEL_MAX_BYTES=1 << 30)
    # without htmx, a good upload goes back to the page
    r = _upload(tenant, csrf, NUMBERS, htmx=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/operateur/bloctel"
    _wait(jobs.recent(None, ("bloctel",))[0]["id"])


# ------------------------------------------------------------------------------ mandants


def test_principals_and_mandates(tenant: Tenant, other: Tenant) -> None:
    c = tenant.client
    csrf = _operator(tenant)
    op = auth(tenant.operator)
    r = c.post("/console/operateur/mandants", data={"_csrf": csrf, "nom": "Énergie Plus",
                                                    "siren": "123456789"})
    assert r.status_code == 422 and "Le SIREN doit compter 9 chiffres" in _text(r)
    assert "Énergie Plus" in _text(r)  # the form keeps what was typed
    r = c.post("/console/operateur/mandants",
               data={"_csrf": csrf, "nom": "Énergie Plus", "siren": "732 829 320"},
               follow_redirects=False)
    assert r.status_code == 303
    made = [p for p in c.get("/v1/principals", headers=op).json() if p["siren"] == SIREN]
    assert len(made) == 1
    pid = made[0]["id"]
    r = c.post("/console/operateur/mandants", data={"_csrf": csrf, "nom": "Bis",
                                                    "siren": SIREN})
    assert r.status_code == 409 and "Un mandant porte déjà ce SIREN." in _text(r)
    r = c.post(f"/console/operateur/mandants/{pid}/mandats",
               data={"_csrf": csrf, "centre": other.id}, follow_redirects=False)
    assert r.status_code == 303
    assert [m["tenant"] for m in c.get(f"/v1/principals/{pid}/mandates", headers=op).json()
            ] == [other.id]
    page = _text(c.get("/console/operateur/mandants"))
    assert "Énergie Plus" in page and f'data-testid="mandat-{other.id}"' in page
    r = c.post(f"/console/operateur/mandants/{pid}/mandats",
               data={"_csrf": csrf, "centre": other.id})
    assert r.status_code == 409 and "détient déjà ce mandat" in _text(r)
    # the tenant's own principal keeps its own mandate
    r = c.post(f"/console/operateur/mandants/{tenant.id}/mandats/{tenant.id}/retirer",
               data={"_csrf": csrf})
    assert r.status_code == 409
    r = c.post(f"/console/operateur/mandants/{pid}/mandats/{other.id}/retirer",
               data={"_csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert c.get(f"/v1/principals/{pid}/mandates", headers=op).json() == []


# ------------------------------------------------------------------------------ numéros


def test_caller_id_verification(tenant: Tenant, other: Tenant, settings: Any) -> None:
    c = tenant.client
    csrf = _operator(tenant)
    page = _text(c.get("/console/operateur/numeros-presentes"))
    assert "est <strong>désactivée</strong>" in page
    waiting = page.split('data-testid="en-attente"')[1].split("</table>")[0]
    for number in (tenant.mobile_cli, other.mobile_cli):  # every centre's numbers
        assert number in waiting
    quoted = tenant.mobile_cli.replace("+", "%2B")
    r = c.post(f"/console/operateur/numeros-presentes/{quoted}/verifier", data={"_csrf": csrf},
               follow_redirects=False)
    assert r.status_code == 303
    rows = {r["number"]: r for r in c.get("/v1/caller-ids/all",
                                          headers=auth(tenant.operator)).json()}
    assert rows[tenant.mobile_cli]["verified_at"] is not None
    assert rows[other.mobile_cli]["verified_at"] is None
    settings(GATEWAY_CALLER_ID_VERIFICATION="required")
    page = _text(c.get("/console/operateur/numeros-presentes"))
    assert "est <strong>exigée</strong>" in page
    verified = page.split('data-testid="verifies"')[1].split("</table>")[0]
    assert tenant.mobile_cli in verified and other.mobile_cli not in verified
    r = c.post(f"/console/operateur/numeros-presentes/{quoted}/retirer", data={"_csrf": csrf},
               follow_redirects=False)
    assert r.status_code == 303
    rows = {r["number"]: r for r in c.get("/v1/caller-ids/all",
                                          headers=auth(tenant.operator)).json()}
    assert rows[tenant.mobile_cli]["verified_at"] is None
    r = c.post("/console/operateur/numeros-presentes/%2B33699999999/verifier",
               data={"_csrf": csrf})
    assert r.status_code == 404 and "Aucun centre d'appels ne détient ce numéro." in _text(r)


# ------------------------------------------------------------------------------ clés


def test_operator_keys_create_and_revoke(tenant: Tenant) -> None:
    c = tenant.client
    csrf = _operator(tenant)
    r = c.post("/console/operateur/cles", data={"_csrf": csrf, "libelle": "supervision"})
    assert r.status_code == 200
    secret = re.search(r'<div class="secret" data-testid="secret">([^<]+)</div>', r.text)
    assert secret
    new_key = secret.group(1)
    listed = c.get("/v1/keys", headers=auth(new_key))
    assert listed.status_code == 200
    new_id = next(k["id"] for k in listed.json() if k["label"] == "supervision")
    page = c.get("/console/operateur/cles")
    assert new_key not in page.text and "supervision" in page.text
    assert "(votre session)" in page.text
    r = c.post(f"/console/operateur/cles/{new_id}/revoquer", data={"_csrf": csrf},
               follow_redirects=False)
    assert r.status_code == 303
    assert c.get("/v1/keys", headers=auth(new_key)).status_code == 401
    r = c.post("/console/operateur/cles", data={"_csrf": csrf, "libelle": "a\x01b"})
    assert r.status_code == 422 and "sans caractère de contrôle" in _text(r)
    r = c.post("/console/operateur/cles/key_nope/revoquer", data={"_csrf": csrf})
    assert r.status_code == 404 and "Cette clé n'existe pas." in _text(r)
    # a tenant's key is not the operator's: not revoked from here
    tenant_key = c.get(f"/v1/tenants/{tenant.id}/keys",
                       headers=auth(tenant.operator)).json()[0]["id"]
    r = c.post(f"/console/operateur/cles/{tenant_key}/revoquer", data={"_csrf": csrf})
    assert r.status_code == 404


def test_revoking_the_sessions_own_key_needs_a_confirmation(tenant: Tenant) -> None:
    c = tenant.client
    csrf = _operator(tenant)
    own = next(k["id"] for k in c.get("/v1/keys", headers=auth(tenant.operator)).json())
    r = c.post(f"/console/operateur/cles/{own}/revoquer", data={"_csrf": csrf})
    assert r.status_code == 422 and "C'est la clé de votre session" in _text(r)
    assert c.get("/v1/keys", headers=auth(tenant.operator)).status_code == 200
    r = c.post(f"/console/operateur/cles/{own}/revoquer",
               data={"_csrf": csrf, "confirmer": "oui"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/connexion?fin=1"
    assert c.get("/v1/keys", headers=auth(tenant.operator)).status_code == 401
    assert c.get("/console/operateur", follow_redirects=False).status_code == 303
    assert sign_in(c, tenant.operator).status_code == 401


def test_the_operator_home_lists_every_centre(tenant: Tenant, other: Tenant) -> None:
    c = tenant.client
    _operator(tenant)
    r = c.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/operateur"
    page = c.get("/console/operateur")
    assert csrf_of(page.text)
    for t in (tenant, other):  # each with its three active keys (admin, dialer, compliance)
        row = page.text.split(f'data-testid="centre-{t.id}"')[1].split("</tr>")[0]
        assert '<td class="nombre" data-figure="cles">3</td>' in row
