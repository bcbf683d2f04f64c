"""Signing in and out of the console in a real browser, and the dashboard's figures against
``GET /v1/reports/summary`` (the live server's clock: Monday 2026-11-23, 10:30 Paris)."""

from __future__ import annotations

import httpx

from tests.factories import Tenant, add_consent, auth
from tests.integration.console.conftest import Console


def _calls(t: Tenant) -> None:
    """Two allowed checks (a consent), three denied (none), one reported answered 20 s."""
    add_consent(t, "+33612345601")
    for _ in range(2):
        r = t.check(callee="+33612345601")
        assert r.json()["decision"] == "allow", r.text
    attempt = r.json()["attempt_id"]
    r = t.post(f"/v1/calls/{attempt}/outcome", {"status": "answered", "duration_s": 20},
               role="dialer")
    assert r.status_code in (200, 201), r.text
    for n in range(3):
        r = t.check(callee=f"+3361234570{n}")
        assert r.json()["decision"] == "deny", r.text


def test_a_compliance_officer_signs_in_and_sees_the_summarys_figures(
        console: Console, acme: Tenant, api: httpx.Client) -> None:
    _calls(acme)
    console.sign_in(acme.compliance)
    page = console.page
    assert page.url == console.url("/console")
    assert page.get_by_test_id("centre").inner_text() == "Acme"
    assert page.get_by_test_id("role").inner_text() == "Conformité"
    for key, first, last in (("jour", "2026-11-23", "2026-11-23"),
                             ("semaine", "2026-11-17", "2026-11-23"),
                             ("mois", "2026-11-01", "2026-11-23")):
        s = api.get("/v1/reports/summary", params={"from": first, "to": last},
                    headers=auth(acme.compliance)).json()
        assert s["total"] == 5 and s["denied"] == 3  # what the page must show
        for name in ("total", "allowed", "denied", "dialled_despite_deny"):
            assert console.figure(f"periode-{key}", name) == str(s[name]), (key, name)
        shown = page.locator(f'[data-testid="periode-{key}"] [data-figure="penalty_eur"]')
        assert shown.get_attribute("data-value") == s["penalty_eur"]
        assert console.figure(f"periode-{key}", "short").startswith(
            str(s["short_calls"]["short"]))
    reasons = page.get_by_test_id("motifs")
    assert "Consentement préalable absent" in reasons.inner_text()
    assert "L223-1" in reasons.inner_text()  # its legal basis
    page.get_by_text("aucun sceau encore").wait_for()  # the ledger panel loaded (htmx)
    console.shot("tableau-de-bord")


def test_a_dialer_key_cannot_sign_in(console: Console, acme: Tenant) -> None:
    console.sign_in(acme.dialer)
    assert "/console/connexion" in console.page.url
    assert "ne peut pas ouvrir la console" in console.page.get_by_test_id("erreur").inner_text()
    console.shot("connexion-refusee")
    console.goto("/console")
    assert "/console/connexion" in console.page.url  # no session was opened
    console.errors.clear()  # the 403 of the refused sign-in


def test_sign_out_ends_the_session(console: Console, acme: Tenant) -> None:
    console.sign_in(acme.admin)
    assert console.page.get_by_test_id("role").inner_text() == "Administrateur"
    cookies = console.page.context.cookies()
    assert [c for c in cookies if c["name"] == "gw_console" and c["httpOnly"]
            and c["sameSite"] == "Strict"]
    console.sign_out()
    assert "Vous êtes déconnecté" in console.page.content()
    # the old cookie put back: the session is over on the server too
    console.page.context.add_cookies([c for c in cookies if c["name"] == "gw_console"])
    console.goto("/console")
    assert "/console/connexion" in console.page.url
