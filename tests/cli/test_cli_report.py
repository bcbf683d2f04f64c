"""``gateway report audit``: on the configured database (SQLite and PostgreSQL), and through a
running gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from app.cli import cli
from tests.api.test_reports_pdf import ink, pdf_pages, pdf_text, render_pypdfium2
from tests.factories import CALLEE, Tenant, add_consent, make_tenant, operator_key
from tests.integration.conftest import Server, live, server  # noqa: F401  (remote-mode test)

MONDAY = "2026-11-23T10:30:00+01:00"
PERIOD = "du 23 novembre 2026 au 29 novembre 2026"


def report(*args: str) -> Result:
    return CliRunner().invoke(cli, ["report", "audit", *args])


@pytest.fixture
def tenant(client: Any, freeze: Any, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    """Acme with three attempts on Monday 23 November (one allowed, two denied)."""
    monkeypatch.delenv("GATEWAY_URL", raising=False)
    monkeypatch.delenv("GATEWAY_KEY", raising=False)
    freeze(MONDAY)
    t = make_tenant(client, "Acme")
    add_consent(t)
    for callee in (CALLEE, "+33611223344", "garbage"):
        assert t.check(callee=callee).status_code == 200
    return t


def test_local_report_writes_the_pdf(tenant: Tenant, tmp_path: Path) -> None:
    out = tmp_path / "audit.pdf"
    done = report("--from", "2026-11-23", "--to", "2026-11-29", "--tenant", tenant.id,
                  "-o", str(out))
    assert done.exit_code == 0, done.output
    said = "".join(done.stderr.split())  # Rich wraps lines at the terminal's width
    content = out.read_bytes()
    pages = pdf_pages(content)
    assert f"wrote{out}:{len(pages)}pages" in said
    text = " ".join(pages)
    assert "Acme" in text and f"Période {PERIOD} (heure de Paris)" in text
    assert "Tentatives Autorisées Refusées Pénalités 3 1 (33,3 %) 2 (66,7 %) 0,04 €" in text
    assert "spring-2026" in text
    assert ink(render_pypdfium2(content, 1, tmp_path)) > 0.02
    assert list(tmp_path.glob("*.part")) == []
    # an empty period, quietly, over the same file
    quiet = report("--from", "2026-12-01", "--to", "2026-12-31", "-t", tenant.id, "-q",
                   "-o", str(out))
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert "Aucune tentative sur la période" in pdf_text(out.read_bytes())


def test_default_file_name_in_the_current_directory(tenant: Tenant, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    done = report("--from", "2026-12-01", "--to", "2026-12-31", "-t", tenant.id, "-q")
    assert done.exit_code == 0, done.output
    assert done.stderr == ""
    written = tmp_path / "audit-acme-2026-12-01_2026-12-31.pdf"
    assert "Aucune tentative sur la période" in pdf_text(written.read_bytes())


def test_local_errors(tenant: Tenant, tmp_path: Path) -> None:
    out = tmp_path / "audit.pdf"
    week = ("--from", "2026-11-23", "--to", "2026-11-29")
    unknown = report(*week, "--tenant", "nope", "-o", str(out))
    assert unknown.exit_code == 1 and "no tenant 'nope'" in unknown.stderr
    for args in (("--from", "2026-11-31", "--to", "2026-12-01"),
                 ("--from", "23/11/2026", "--to", "2026-12-01"),
                 ("--from", "2026-11-29", "--to", "2026-11-23")):
        bad = report(*args, "--tenant", tenant.id, "-o", str(out))
        assert bad.exit_code == 2, (args, bad.output)
    no_tenant = report(*week, "-o", str(out))
    assert no_tenant.exit_code == 2 and "--tenant" in no_tenant.output
    unwritable = report(*week, "--tenant", tenant.id, "-o", str(tmp_path / "no" / "dir.pdf"))
    assert unwritable.exit_code == 1 and "cannot write" in unwritable.stderr
    assert not out.exists()


def test_remote_report_through_a_running_gateway(live: Server, tmp_path: Path,  # noqa: F811
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with httpx.Client(base_url=live.base_url) as http:
        t = make_tenant(http, "Acme", operator=operator_key())
        other = make_tenant(http, "Globex", operator=t.operator)
        add_consent(t)
        assert t.check(callee=CALLEE).json()["decision"] == "allow"
        assert other.check(callee=CALLEE).json()["decision"] == "deny"
    week = ("--from", "2026-11-23", "--to", "2026-11-29", "--url", live.base_url)
    done = report(*week, "--key", t.compliance)
    assert done.exit_code == 0, done.output
    text = pdf_text((tmp_path / "audit-acme-2026-11-23_2026-11-29.pdf").read_bytes())
    assert f"Acme — période : {PERIOD}" in text and "Globex" not in text
    assert "Tentatives Autorisées Refusées Pénalités 1 1 (100,0 %) 0 (0,0 %) 0,00 €" in text
    dialer = report(*week, "--key", t.dialer, "-o", str(tmp_path / "x.pdf"))
    assert dialer.exit_code == 1 and "403" in dialer.stderr
    wrong = report(*week, "--key", "gw_not-a-key", "-o", str(tmp_path / "x.pdf"))
    assert wrong.exit_code == 1 and "401" in wrong.stderr
    assert not (tmp_path / "x.pdf").exists()
    no_key = report("--from", "2026-11-23", "--to", "2026-11-29", "--url", live.base_url)
    assert no_key.exit_code == 2
    down = report(*week[:4], "--url", "http://127.0.0.1:9", "--key", t.compliance)
    assert down.exit_code == 1 and "cannot reach the gateway" in down.stderr
