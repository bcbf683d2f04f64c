"""The compliance officer's console pages, in process (SQLite and PostgreSQL): the attempts
list (every filter against the API's export, paging by cursor, bad input), its exports (the
API's bytes), the investigation of a number and its erasure (admins only), the period report
and its PDF, the alerts — and that none of them ever shows another tenant's data."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from html import unescape
from typing import Any

import pypdf
import pytest

from app.alerts.service import raise_alert
from app.db import write_transaction
from tests.api.conftest import outcome
from tests.consolekit import signed_in
from tests.factories import Tenant, add_campaign, add_consent

ROW = re.compile(r'<tr data-attempt="([^"]+)"')


def as_(client: Any, key: str) -> str:
    """Sign in afresh with ``key`` (the previous session's cookies dropped); the CSRF token."""
    client.cookies.clear()
    return signed_in(client, key)


def rows(html: str) -> list[str]:
    return ROW.findall(html)


def next_link(html: str) -> str | None:
    m = re.search(r'<a href="([^"]+)" data-testid="page-suivante"', html)
    return unescape(m.group(1)) if m else None


def export_ids(t: Tenant, **params: Any) -> list[str]:
    r = t.get("/v1/reports/attempts", params={"format": "jsonl"} | params)
    assert r.status_code == 200, r.text
    return [json.loads(line)["attempt_id"] for line in r.text.splitlines()]


def denied(t: Tenant, n: int, prefix: str = "+336123450") -> list[str]:
    """``n`` denied checks (no consent) to distinct numbers; their attempt ids."""
    out = []
    for i in range(n):
        r = t.check(callee=f"{prefix}{i:02d}")
        assert r.json()["decision"] == "deny", r.text
        out.append(r.json()["attempt_id"])
    return out


@pytest.fixture
def calls(tenant: Tenant, freeze: Callable[[str], None]) -> dict[str, Any]:
    """Acme: three denials at 09:00, two allowed calls at 10:00 (one answered 20 s, agent-1,
    the mobile caller ID) and one denial at 10:15 on a second campaign, on 2026-11-20; one
    denial on 2026-11-23."""
    add_campaign(tenant, "autumn", caller_ids=[tenant.mobile_cli])
    add_consent(tenant, "+33612345601")
    freeze("2026-11-20T09:00:00+01:00")
    early = denied(tenant, 3)
    freeze("2026-11-20T10:00:00+01:00")
    allowed = []
    for agent in (None, "agent-1"):
        body = {"callee": "+33612345601"} | ({"agent_id": agent} if agent else {})
        r = tenant.check(**body)
        assert r.json()["decision"] == "allow", r.text
        allowed.append(r.json()["attempt_id"])
    assert outcome(tenant, allowed[1], "answered", duration_s=20, sip_code=200).status_code in (
        200, 201)
    freeze("2026-11-20T10:15:00+01:00")
    r = tenant.check(callee="+33612345690", campaign="autumn", caller_id=tenant.mobile_cli)
    autumn = r.json()["attempt_id"]
    freeze("2026-11-23T10:30:00+01:00")
    late = denied(tenant, 1, prefix="+336123456")
    return {"early": early, "allowed": allowed, "autumn": autumn, "late": late}


# --- tentatives ---------------------------------------------------------------------------


def test_attempts_newest_first_with_reasons_bases_and_outcome(
        tenant: Tenant, calls: dict[str, Any]) -> None:
    c = tenant.client
    as_(c, tenant.compliance)
    page = c.get("/console/tentatives")
    assert page.status_code == 200
    shown = rows(page.text)
    assert shown == list(reversed(export_ids(tenant)))  # the export is oldest first
    assert shown[0] == calls["late"][0]
    text = unescape(page.text)
    assert "Consentement préalable absent" in text and "CONSENT_REQUIRED" in text
    assert "L223-1" in text  # a legal basis next to its reason
    assert "23/11/2026 10:30:00" in text and "20/11/2026 09:00:00" in text  # Paris time
    row = text.split(f'data-attempt="{calls["allowed"][1]}"')[1].split("</tr>")[0]
    assert "décroché" in row and "SIP 200" in row and "20 s" in row and "agent-1" in row
    assert 'data-testid="page-suivante"' not in page.text  # one page only
    assert 'data-testid="premiere-page"' not in page.text


@pytest.mark.parametrize("params", [
    {"decision": "deny"}, {"decision": "allow"}, {"reason": "OUTSIDE_HOURS"},
    {"campaign": "autumn"}, {"agent_id": "agent-1"}, {"from": "2026-11-21"},
    {"from": "2026-11-20", "to": "2026-11-20"}, {"to": "2026-11-20T10:00:00+01:00"},
    {"caller_id": "06 12 00 00 01"}, {"decision": "deny", "campaign": "spring-2026"},
])
def test_each_filter_shows_the_exports_attempts(
        tenant: Tenant, calls: dict[str, Any], params: dict[str, str]) -> None:
    c = tenant.client
    as_(c, tenant.compliance)
    page = c.get("/console/tentatives", params=params)
    assert page.status_code == 200, page.text
    expected = list(reversed(export_ids(tenant, **params)))
    assert expected, params  # each filter keeps something…
    assert rows(page.text) == expected
    assert len(expected) < 7  # …and drops something


def test_a_bound_given_as_an_instant_shows_in_its_field(tenant: Tenant,
                                                       calls: dict[str, Any]) -> None:
    """A date picker would show an ISO instant as an empty field while the filter applies (and
    sending the form again would drop it): such a bound gets a text field that keeps it."""
    c = tenant.client
    as_(c, tenant.compliance)
    instant = "2026-11-20T10:00:00+01:00"
    page = unescape(c.get("/console/tentatives", params={"from": "2026-11-01", "to": instant}).text)
    assert 'id="f-from" name="from" type="date" value="2026-11-01"' in page
    assert f'id="f-to" name="to" type="text" value="{instant}"' in page
    assert 'id="f-from" name="from" type="date" value=""' in c.get("/console/tentatives").text
    report = unescape(c.get("/console/rapports", params={"from": instant, "to": "2026-11-30"}).text)
    assert f'id="r-from" name="from" type="text" value="{instant}" required' in report
    assert 'id="r-to" name="to" type="date" value="2026-11-30" required' in report


def test_the_principal_filter_and_empty_fields(tenant: Tenant, calls: dict[str, Any]) -> None:
    c = tenant.client
    as_(c, tenant.compliance)
    # a form sends every field, empty ones too: no filter
    empty = {k: "" for k in ("from", "to", "campaign", "decision", "reason", "caller_id",
                             "agent_id", "principal")}
    assert len(rows(c.get("/console/tentatives", params=empty).text)) == 7
    assert len(rows(c.get("/console/tentatives", params={"principal": tenant.id}).text)) == 7
    assert rows(c.get("/console/tentatives", params={"principal": "prn_nobody"}).text) == []


@pytest.mark.parametrize("params, named", [
    ({"decision": "maybe"}, "decision"), ({"reason": "NOT_A_CODE"}, "reason"),
    ({"from": "23/11/2026"}, "from"), ({"from": "2026-11-23", "to": "2026-11-01"}, "from, to"),
    ({"apres": "att_nope"}, "after"), ({"campaign": " x"}, "campaign"),
])
def test_a_bad_filter_is_a_422_page_that_names_it(
        tenant: Tenant, params: dict[str, str], named: str) -> None:
    c = tenant.client
    as_(c, tenant.compliance)
    page = c.get("/console/tentatives", params=params)
    assert page.status_code == 422
    assert "text/html" in page.headers["content-type"]
    assert "Filtre invalide" in page.text and named in unescape(page.text)
    assert 'name="decision"' in page.text  # the form is still there to correct it


def test_paging_by_cursor_across_pages(tenant: Tenant, freeze: Callable[[str], None]) -> None:
    ids = []
    for minute in range(3):  # 53 attempts: some share an instant, some don't
        freeze(f"2026-11-23T10:{minute:02d}:00+01:00")
        ids += denied(tenant, 18 if minute < 2 else 17, prefix=f"+3361234{minute}")
    c = tenant.client
    as_(c, tenant.compliance)
    first = c.get("/console/tentatives", params={"decision": "deny"})
    one = rows(first.text)
    assert len(one) == 50
    link = next_link(first.text)
    assert link and "decision=deny" in link and "apres=" in link
    second = c.get(link)
    two = rows(second.text)
    assert len(two) == 3 and not set(one) & set(two)
    assert one + two == list(reversed(export_ids(tenant, decision="deny")))
    assert next_link(second.text) is None
    assert 'href="/console/tentatives?decision=deny" data-testid="premiere-page"' in second.text


@pytest.mark.parametrize("fmt, api", [
    ("csv", {"format": "csv"}), ("excel-fr", {"format": "csv", "dialect": "excel-fr"}),
    ("jsonl", {"format": "jsonl"}),
])
def test_exports_are_the_apis_bytes(tenant: Tenant, calls: dict[str, Any], fmt: str,
                                    api: dict[str, str]) -> None:
    c = tenant.client
    as_(c, tenant.compliance)
    page = c.get("/console/tentatives", params={"decision": "deny", "from": "2026-11-20"})
    link = unescape(re.search(rf'href="([^"]+)" data-testid="export-{fmt}"', page.text)[1])
    assert link.startswith("/console/tentatives/export?format=")
    mine = c.get(link)
    assert mine.status_code == 200
    theirs = tenant.get("/v1/reports/attempts",
                        params=api | {"decision": "deny", "from": "2026-11-20"})
    assert mine.content == theirs.content
    assert mine.content.count(b"\n") == 5 + (fmt != "jsonl")  # 5 denials, + the CSV header
    assert mine.headers["content-type"] == theirs.headers["content-type"]
    assert "attachment" in mine.headers["content-disposition"]


def test_export_bad_input(tenant: Tenant) -> None:
    c = tenant.client
    as_(c, tenant.compliance)
    r = c.get("/console/tentatives/export", params={"format": "xlsx"})
    assert r.status_code == 422 and "format" in r.text
    r = c.get("/console/tentatives/export", params={"format": "csv", "decision": "x"})
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]


# --- numéros --------------------------------------------------------------------------------


def test_the_search_form_goes_to_the_number_or_says_why_not(tenant: Tenant) -> None:
    c = tenant.client
    as_(c, tenant.compliance)
    assert c.get("/console/numeros").status_code == 200
    assert c.get("/console/numeros", params={"numero": " "}).status_code == 200  # empty
    r = c.get("/console/numeros", params={"numero": "06 12 34 56 01"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/numeros/%2B33612345601"
    r = c.get("/console/numeros", params={"numero": "12 pas un numéro"})
    assert r.status_code == 422 and "n&#39;est pas un numéro de téléphone valide" in r.text
    r = c.get("/console/numeros/0000")
    assert r.status_code == 422 and "pas un numéro de téléphone valide" in unescape(r.text)


def test_a_number_shows_its_story_consent_proof_and_next_window(
        tenant: Tenant, calls: dict[str, Any]) -> None:
    c = tenant.client
    as_(c, tenant.compliance)
    page = c.get("/console/numeros/0612345601")
    assert page.status_code == 200
    text = unescape(page.text)
    history = tenant.get("/v1/numbers/+33612345601/history").json()
    consent = history["consents"][0]
    assert f'data-consent="{consent["id"]}"' in text
    row = text.split(f'data-consent="{consent["id"]}"')[1].split("</tr>")[0]
    assert "valide" in row and "intacte" in row and consent["evidence_sha256"][:12] in row
    assert "01/09/2026 10:00:00" in row  # collected, in Paris time
    assert rows(text) == [a["attempt_id"] for a in history["attempts"]["items"]]
    # the next window per campaign, judged as GET /v1/numbers/{n}/next-window does
    for campaign, shown in (("spring-2026", "Appelable maintenant"), ("autumn", "Aucun créneau")):
        window = tenant.get("/v1/numbers/+33612345601/next-window",
                            params={"campaign": campaign}, role="admin").json()
        assert window["callable_now"] is (campaign == "spring-2026")
        page = c.get("/console/numeros/+33612345601", params={"campagne": campaign})
        assert f'value="{campaign}" selected' in page.text
        panel = unescape(page.text).split('data-testid="prochaine-fenetre"')[1]
        assert shown in panel.split('data-figure="fenetre"')[1].split("</p>")[0]
        for reason in window["blocking"]:
            assert reason["code"] in panel
    # a number without consent: not callable, and why
    page = unescape(c.get("/console/numeros/+33612345600").text)
    assert "Aucun créneau" in page and "CONSENT_REQUIRED" in page.split("prochaine-fenetre")[1]
    # an unknown campaign: a message, not an error page
    page = c.get("/console/numeros/+33612345601", params={"campagne": "nope"})
    assert page.status_code == 200 and "Campagne « nope » inconnue" in unescape(page.text)


def test_a_numbers_attempts_come_in_pages(tenant: Tenant) -> None:
    made = [tenant.check(callee="+33612345600").json()["attempt_id"] for _ in range(52)]
    c = tenant.client
    as_(c, tenant.compliance)
    page = c.get("/console/numeros/+33612345600", params={"campagne": "spring-2026"})
    first = rows(page.text)
    link = unescape(re.search(r'<a href="([^"]+)" rel="next">Tentatives suivantes', page.text)[1])
    assert "campagne=spring-2026" in link
    rest = rows(c.get(link).text)
    assert len(first) == 50 and len(rest) == 2 and sorted(first + rest) == sorted(made)
    assert 'data-figure="tentatives">52 ' in page.text  # the count covers every page


def test_erasure_is_for_admins_with_a_confirmation(tenant: Tenant) -> None:
    add_consent(tenant, "+33612345601")
    c = tenant.client
    csrf = as_(c, tenant.compliance)
    page = c.get("/console/numeros/+33612345601")
    assert 'data-testid="effacement"' not in page.text  # no button for compliance
    r = c.post("/console/numeros/+33612345601/effacement",
               data={"_csrf": csrf, "confirme": "oui"}, follow_redirects=False)
    assert r.status_code == 403 and "administrateurs" in unescape(r.text)
    assert tenant.get("/v1/numbers/+33612345601/history").json()["erasures"] == []

    csrf = as_(c, tenant.admin)
    page = c.get("/console/numeros/+33612345601")
    assert 'data-testid="effacement"' in page.text and 'data-confirm="' in page.text
    r = c.post("/console/numeros/+33612345601/effacement", data={"confirme": "oui"},
               follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text  # no token
    r = c.post("/console/numeros/+33612345601/effacement", data={"_csrf": csrf},
               follow_redirects=False)
    assert r.status_code == 422 and "Cochez « Je confirme »" in unescape(r.text)
    assert tenant.get("/v1/numbers/+33612345601/history").json()["erasures"] == []
    r = c.post("/console/numeros/0612345601/effacement",
               data={"_csrf": csrf, "confirme": "oui"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/console/numeros/%2B33612345601?efface=era_")
    done = c.get(r.headers["location"])
    message = unescape(done.text).split('data-testid="resultat-effacement">')[1].split("</p>")[0]
    assert "1 consentement(s)" in message and "opposition interne" in message
    erasures = tenant.get("/v1/erasures").json()
    assert len(erasures) == 1 and erasures[0]["erased"]["consents"] == 1


# --- rapports -------------------------------------------------------------------------------


def test_the_report_page_defaults_to_the_month_and_shows_the_summary(
        tenant: Tenant, calls: dict[str, Any]) -> None:
    c = tenant.client
    as_(c, tenant.compliance)
    page = c.get("/console/rapports")
    assert page.status_code == 200
    assert 'value="2026-11-01"' in page.text and 'value="2026-11-23"' in page.text
    s = tenant.get("/v1/reports/summary", params={"from": "2026-11-01", "to": "2026-11-23"}).json()
    text = unescape(page.text)
    for name in ("total", "allowed", "denied", "dialled_despite_deny"):
        assert f'data-figure="{name}">{s[name]}<' in text, name
    assert f'data-value="{s["penalty_eur"]}"' in text
    coverage = text.split('data-figure="consent_coverage">')[1].split("</dd>")[0]
    assert coverage.startswith("2 ") and "dont 2 sur consentement" in coverage
    assert s["consent_coverage"]["consent"] == 2
    assert "autumn" in text.split('data-testid="campagnes"')[1]
    assert "L223-1" in text.split('data-testid="motifs"')[1]
    assert s["ruleset_versions"][0]["version"] in text.split('data-testid="regles"')[1]
    assert 'href="/console/rapports/audit.pdf?from=2026-11-01&amp;to=2026-11-23"' in page.text
    page = c.get("/console/rapports", params={"from": "2026-11-21", "to": "2026-11-23"})
    assert 'data-figure="total">1<' in page.text
    page = c.get("/console/rapports", params={"from": "2026-11-23", "to": "2026-11-01"})
    assert page.status_code == 422 and "Période invalide" in page.text


def test_the_pdf_is_the_apis(tenant: Tenant, calls: dict[str, Any]) -> None:
    c = tenant.client
    as_(c, tenant.compliance)
    period = {"from": "2026-11-01", "to": "2026-11-23"}
    mine = c.get("/console/rapports/audit.pdf", params=period)
    theirs = tenant.get("/v1/reports/audit.pdf", params=period)
    assert mine.status_code == 200 and mine.content.startswith(b"%PDF")
    assert mine.headers["content-disposition"] == theirs.headers["content-disposition"]
    assert mine.headers["content-type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(mine.content)).pages)
    assert "1er novembre 2026" in text and "23 novembre 2026" in text
    assert c.get("/console/rapports/audit.pdf", params={"from": "2026-11-01"}).status_code == 422
    r = c.get("/console/rapports/audit.pdf", params={"from": "2026-11-23", "to": "2026-11-01"})
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]


# --- alertes --------------------------------------------------------------------------------


def _alert(tenant_id: str, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "monitor": "short_call_share", "scope": "tenant", "action": "notice", "value": 0.42,
        "threshold": 0.3, "window": "1h", "details": {"answered": 50, "short": 21},
    } | kw
    with write_transaction() as conn:
        return raise_alert(conn, tenant_id=tenant_id, **args)


def test_alerts_newest_first_paged_by_cursor(tenant: Tenant, other: Tenant,
                                             freeze: Callable[[str], None]) -> None:
    made = []
    for i in range(52):
        freeze(f"2026-11-23T09:{i:02d}:00+01:00")
        made.append(_alert(tenant.id, value=i)["id"])
    freeze("2026-11-23T10:00:00+01:00")
    made.append(_alert(tenant.id, monitor="attempts_per_minute", action="suspend",
                       scope="campaign:spring-2026")["id"])
    theirs = _alert(other.id, monitor="globex_monitor")["id"]
    c = tenant.client
    as_(c, tenant.compliance)
    page = c.get("/console/alertes")
    shown = re.findall(r'data-alert="([^"]+)"', page.text)
    assert shown == list(reversed(made))[:50]
    text = unescape(page.text)
    assert "suspension" in text and "campaign:spring-2026" in text and "attempts_per_minute" in text
    assert "23/11/2026 09:51:00" in text  # Paris time
    assert theirs not in page.text and "globex_monitor" not in page.text
    link = unescape(re.search(r'href="([^"]+)" data-testid="page-suivante"', page.text)[1])
    more = c.get(link)
    assert re.findall(r'data-alert="([^"]+)"', more.text) == list(reversed(made))[50:]
    assert 'data-testid="premiere-page"' in more.text
    r = c.get(f"/console/alertes?apres={theirs}")  # another tenant's alert is no cursor
    assert r.status_code == 422 and "Page invalide" in r.text and "globex_monitor" not in r.text


# --- who may see what -----------------------------------------------------------------------


PAGES = ["/console/tentatives", "/console/tentatives/export?format=csv", "/console/numeros",
         "/console/numeros/+33612345601", "/console/rapports",
         "/console/rapports/audit.pdf?from=2026-11-01&to=2026-11-23", "/console/alertes"]


def test_signed_out_dialer_and_operator(tenant: Tenant) -> None:
    c = tenant.client
    for path in PAGES:
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/console/connexion")
    as_(c, tenant.operator)
    for path in PAGES:
        r = c.get(path)
        assert r.status_code == 403, path
        assert "réservée aux clés d'un centre d'appels" in unescape(r.text)
    as_(c, tenant.admin)  # an admin is a compliance officer too
    for path in PAGES:
        assert c.get(path).status_code == 200, path


def test_no_page_shows_another_tenants_data(tenant: Tenant, other: Tenant,
                                            calls: dict[str, Any]) -> None:
    add_consent(other, "+33699999901")
    r = other.check(callee="+33699999901")
    assert r.json()["decision"] == "allow"
    theirs = r.json()["attempt_id"]
    other_denied = denied(other, 2, prefix="+336999998")
    c = tenant.client
    as_(c, tenant.compliance)
    for path in ("/console/tentatives", "/console/tentatives?decision=deny",
                 "/console/rapports", "/console/numeros/+33699999901",
                 "/console/numeros/+33612345601"):
        page = c.get(path)
        assert page.status_code == 200, path
        for leak in (theirs, *other_denied, other.canvassing_cli):
            assert leak not in page.text, (path, leak)
    page = unescape(c.get("/console/numeros/+33699999901").text)
    assert "Aucun consentement enregistré" in page and "Aucune tentative vers ce numéro" in page
    for fmt in ("csv", "jsonl"):
        body = c.get(f"/console/tentatives/export?format={fmt}").text
        assert theirs not in body and "+33699999901" not in body
        assert calls["late"][0] in body
    assert c.get(f"/console/tentatives?apres={theirs}").status_code == 422  # not its cursor
    s = tenant.get("/v1/reports/summary", params={"from": "2026-11-01", "to": "2026-11-23"})
    pdf = c.get("/console/rapports/audit.pdf?from=2026-11-01&to=2026-11-23").content
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "Globex" not in text and s.json()["total"] == 7
    # erasing in Acme touches nothing of Globex's
    csrf = as_(c, tenant.admin)
    r = c.post("/console/numeros/+33699999901/effacement",
               data={"_csrf": csrf, "confirme": "oui"}, follow_redirects=False)
    assert r.status_code == 303
    h = other.get("/v1/numbers/+33699999901/history").json()
    assert h["erasures"] == [] and not h["consents"][0]["erased"]
