"""``gateway scrub FILE --campaign …``: on the configured database, or through a running gateway."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from app.cli import cli
from tests.factories import Tenant, add_consent, make_tenant
from tests.integration.conftest import Server, live, server  # noqa: F401  (remote-mode test)

MONDAY = "2026-11-23T10:30:00+01:00"  # opt-in regime, inside the hours


def scrub(*args: str) -> Result:
    return CliRunner().invoke(cli, ["scrub", *args])


def prospects(path: Path, n: int = 50) -> Path:
    lines = ["nom;telephone"] + [f"Client {i};06{i:08d}" for i in range(n)]
    lines.append("Garbage;not a number")
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


@pytest.fixture
def tenant(client: Any, freeze: Any, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    monkeypatch.delenv("GATEWAY_URL", raising=False)
    monkeypatch.delenv("GATEWAY_KEY", raising=False)
    freeze(MONDAY)
    t = make_tenant(client)
    add_consent(t, "+33600000007")
    return t


def test_local_scrub_writes_the_annotated_file(tenant: Tenant, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    done = scrub(str(prospects(tmp_path / "in.csv.gz")), "--campaign", "spring-2026",
                 "--tenant", tenant.id, "-o", str(out))
    assert done.exit_code == 0, done.output
    assert "51 rows: 1 callable now, 1 invalid numbers" in done.stderr
    rows = list(csv.reader(io.StringIO(out.read_text()), delimiter=";"))
    assert rows[0] == ["nom", "telephone", "e164", "callable_now", "blocking_reasons",
                       "next_allowed_at"]
    assert len(rows) == 52
    assert rows[8][:4] == ["Client 7", "0600000007", "+33600000007", "true"]
    assert rows[1][3] == "false" and rows[1][4] == "CONSENT_REQUIRED"
    assert rows[-1][:4] == ["Garbage", "not a number", "", "false"]


def test_local_scrub_to_stdout_and_errors(tenant: Tenant, tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text("0600000007\n")
    done = scrub(str(path), "--campaign", "spring-2026", "--tenant", tenant.id, "-q")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("0600000007,+33600000007,true,")
    unknown = scrub(str(path), "--campaign", "nope", "--tenant", tenant.id)
    assert unknown.exit_code == 1 and "no campaign 'nope'" in unknown.stderr
    nobody = scrub(str(path), "--campaign", "spring-2026", "--tenant", "ten_nobody")
    assert nobody.exit_code == 1 and "no tenant" in nobody.stderr
    assert scrub(str(path), "--campaign", "spring-2026").exit_code == 2  # --tenant needed


def test_remote_scrub_through_a_running_gateway(live: Server, tmp_path: Path) -> None:  # noqa: F811
    with httpx.Client(base_url=live.base_url) as http:
        t = make_tenant(http)
        add_consent(t, "+33600000007")
        out = tmp_path / "out.csv"
        n = 40_000  # an answer larger than the socket buffers, through uvicorn
        done = scrub(str(prospects(tmp_path / "in.csv.gz", n)), "--campaign", "spring-2026",
                     "--url", live.base_url, "--key", t.dialer, "-o", str(out))
        assert done.exit_code == 0, done.output
        rows = list(csv.reader(io.StringIO(out.read_text()), delimiter=";"))
        assert len(rows) == n + 2 and f"{n + 1:,} rows" in done.stderr
        assert [r[1] for r in rows if r[3] == "true"] == ["0600000007"]
        assert [r[0] for r in rows[1:-1]] == [f"Client {i}" for i in range(n)]
        wrong = scrub(str(out), "--campaign", "nope", "--url", live.base_url, "--key", t.dialer)
        assert wrong.exit_code == 1 and "404" in wrong.stderr


def test_a_file_of_junk_stops_unless_forced(tenant: Tenant, tmp_path: Path) -> None:
    path = tmp_path / "junk.csv"
    path.write_text("telephone\n" + "0600000007\n" * 100 + "n/a\n" * 5000)
    refused = scrub(str(path), "--campaign", "spring-2026", "--tenant", tenant.id, "-q")
    assert refused.exit_code == 1, refused.output
    assert "GATEWAY_SCRUB_MAX_INVALID" in refused.stderr and "--force" in refused.stderr
    forced = scrub(str(path), "--campaign", "spring-2026", "--tenant", tenant.id, "-q",
                   "--force")
    assert forced.exit_code == 0, forced.output
    assert len(forced.stdout.splitlines()) == 5101
