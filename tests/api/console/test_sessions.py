"""Console sign-in, sessions and CSRF over HTTP (in process, SQLite and PostgreSQL): who may
sign in, what the cookie is, what ends a session, and that no form works without its token."""

from __future__ import annotations

import hashlib
import html
from typing import Any

from sqlalchemy import select

from app.console.models import ConsoleSession
from app.db import session_scope
from tests.consolekit import csrf_of, sign_in, signed_in
from tests.factories import Tenant


def test_a_compliance_key_signs_in_and_the_cookie_is_a_session_not_the_key(
        tenant: Tenant) -> None:
    c = tenant.client
    r = sign_in(c, tenant.compliance)
    assert r.status_code == 303 and r.headers["location"] == "/console"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("gw_console=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http here (Secure when served over https)
    token = c.cookies.get("gw_console")
    assert tenant.compliance not in cookie and token != tenant.compliance
    with session_scope() as s:  # only the token's hash is stored; never the key
        row = s.scalars(select(ConsoleSession)).one()
        assert row.id == hashlib.sha256(token.encode()).hexdigest()
        assert tenant.compliance not in repr(row.__dict__)
    page = c.get("/console")
    assert page.status_code == 200
    assert "Acme" in page.text and "Conformité" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    assert page.headers["cache-control"] == "no-store"


def test_secure_cookie_over_https(tenant: Tenant) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(), base_url="https://testserver") as c:
        r = sign_in(c, tenant.admin)
        assert r.status_code == 303
        assert "Secure" in r.headers["set-cookie"]


def test_dialer_and_unknown_keys_cannot_sign_in(tenant: Tenant) -> None:
    c = tenant.client
    r = sign_in(c, tenant.dialer)
    assert r.status_code == 403
    assert "ne peut pas ouvrir la console" in r.text
    assert "gw_console=" not in r.headers.get("set-cookie", "")
    r = sign_in(c, "gw_not-a-key")
    assert r.status_code == 401 and "Clé inconnue ou révoquée" in r.text
    assert c.get("/console", follow_redirects=False).status_code == 303


def test_the_sign_in_form_needs_its_own_csrf_token(tenant: Tenant) -> None:
    c = tenant.client
    c.get("/console/connexion")
    r = c.post("/console/connexion", data={"cle": tenant.admin, "_csrf": "forged"},
               follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    assert "gw_console=" not in r.headers.get("set-cookie", "")


def test_pages_without_a_session_go_to_sign_in_and_come_back(tenant: Tenant) -> None:
    c = tenant.client
    r = c.get("/console/travaux/job_x?vue=1", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == (
        "/console/connexion?suite=%2Fconsole%2Ftravaux%2Fjob_x%3Fvue%3D1")
    r = sign_in(c, tenant.compliance, suite="/console/travaux/job_x?vue=1")
    assert r.headers["location"] == "/console/travaux/job_x?vue=1"
    # never another site
    c.cookies.clear()
    r2 = sign_in(c, tenant.compliance, suite="https://evil.example/")
    assert r2.headers["location"] == "/console"
    # an htmx fragment asks the whole page to go to the sign-in page
    c.cookies.clear()
    r = c.get("/console/partiels/scellement", headers={"HX-Request": "true"})
    assert r.status_code == 401 and r.headers["hx-redirect"].startswith("/console/connexion")


def test_sign_out_needs_the_token_and_ends_the_session(tenant: Tenant) -> None:
    c = tenant.client
    csrf = signed_in(c, tenant.compliance)
    token = c.cookies.get("gw_console")
    r = c.post("/console/deconnexion", data={}, follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    r = c.post("/console/deconnexion", data={"_csrf": "x" + csrf}, follow_redirects=False)
    assert r.status_code == 403
    assert c.get("/console").status_code == 200  # still signed in
    r = c.post("/console/deconnexion", data={"_csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/connexion?fin=1"
    # the old cookie, replayed, opens nothing
    c.cookies.set("gw_console", token, path="/console")
    assert c.get("/console", follow_redirects=False).status_code == 303


def test_revoking_the_key_ends_its_sessions(tenant: Tenant) -> None:
    c = tenant.client
    signed_in(c, tenant.compliance)
    keys = c.get(f"/v1/tenants/{tenant.id}/keys", headers={"Authorization":
                                                            f"Bearer {tenant.admin}"}).json()
    kid = next(k["id"] for k in keys if k["role"] == "compliance")
    r = c.delete(f"/v1/tenants/{tenant.id}/keys/{kid}",
                 headers={"Authorization": f"Bearer {tenant.admin}"})
    assert r.status_code == 200
    assert c.get("/console", follow_redirects=False).status_code == 303


def test_idle_and_absolute_expiry(tenant: Tenant, settings: Any, monkeypatch: Any) -> None:
    from datetime import timedelta

    from app.console import sessions

    c = tenant.client
    signed_in(c, tenant.compliance)
    real = sessions.wall_now()
    settings(GATEWAY_CONSOLE_IDLE_S=600, GATEWAY_CONSOLE_MAX_S=3600)
    monkeypatch.setattr(sessions, "wall_now", lambda: real + timedelta(seconds=590))
    assert c.get("/console").status_code == 200  # used: the idle clock starts again
    monkeypatch.setattr(sessions, "wall_now", lambda: real + timedelta(seconds=1180))
    assert c.get("/console").status_code == 200
    monkeypatch.setattr(sessions, "wall_now", lambda: real + timedelta(seconds=1800))
    assert c.get("/console", follow_redirects=False).status_code == 303  # idle 620 s
    signed_in(c, tenant.compliance)
    start = sessions.wall_now()
    for step in range(1, 8):  # used every 9 minutes: never idle, but 1 h at most
        monkeypatch.setattr(sessions, "wall_now",
                            lambda s=step: start + timedelta(seconds=540 * s))
        expected = 200 if 540 * step <= 3600 else 303
        assert c.get("/console", follow_redirects=False).status_code == expected, step


def test_roles_reach_only_their_pages(tenant: Tenant) -> None:
    c = tenant.client
    signed_in(c, tenant.compliance)
    r = c.get("/console/operateur")
    assert r.status_code == 403 and "réservée à l'opérateur" in html.unescape(r.text)
    c.cookies.clear()
    signed_in(c, tenant.operator)
    r = c.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/operateur"
    assert c.get("/console/partiels/scellement").status_code == 403  # the operator: no tenant


def test_console_errors_are_pages_and_the_api_keeps_its_envelope(tenant: Tenant) -> None:
    c = tenant.client
    signed_in(c, tenant.compliance)
    r = c.get("/console/nulle-part")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "Page introuvable" in r.text
    r = c.get("/v1/nulle-part", headers={"Authorization": f"Bearer {tenant.compliance}"})
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = c.get("/v1/reports/summary?from=2026-13-01",
              headers={"Authorization": f"Bearer {tenant.compliance}"})
    assert r.status_code == 422 and r.json()["error"] == "invalid"


def test_the_console_is_not_in_the_openapi(tenant: Tenant) -> None:
    paths = tenant.client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/console")]


def test_htmx_is_served_from_the_gateway_with_its_licence(tenant: Tenant) -> None:
    c = tenant.client
    js = c.get("/console/static/vendor/htmx.min.js")
    assert js.status_code == 200 and 'version:"2.0.11"' in js.text
    versions = c.get("/console/static/vendor/VERSIONS").text
    assert versions.startswith("htmx.org 2.0.11")
    assert "Zero-Clause BSD" in c.get("/console/static/vendor/htmx.LICENSE").text
    page = c.get("/console/connexion").text
    assert "/console/static/vendor/htmx.min.js" in page and "http" not in page.split(
        "<body")[0].replace('content="width', "")


def test_the_csrf_token_is_per_session(tenant: Tenant, other: Tenant) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app

    a = signed_in(tenant.client, tenant.compliance)
    with TestClient(create_app()) as c2:
        b = signed_in(c2, other.compliance)
        assert a != b
        # the other session's token does not sign this one out
        r = c2.post("/console/deconnexion", data={"_csrf": a}, follow_redirects=False)
        assert r.status_code == 403
        assert csrf_of(c2.get("/console").text) == b


def test_forms_without_a_file_are_small_and_say_their_length(tenant: Tenant) -> None:
    c = tenant.client
    c.get("/console/connexion")
    r = c.post("/console/connexion", content=b"cle=" + b"x" * 70_000,
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and "trop volumineux" in r.text

    def chunks():  # no declared length
        yield b"cle=abc"

    r = c.post("/console/connexion", content=chunks(),
               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert sign_in(c, tenant.compliance).status_code == 303  # a real form still signs in
