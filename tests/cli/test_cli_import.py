"""``gateway import consents|contracts|oppositions``: locally against the configured database
(SQLite and PostgreSQL), remotely through a real server, and an import killed half-way (a real
process, SIGKILL) that leaves the registry consistent and is completed by running it again."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from app.db import get_engine, session_scope
from app.principals.models import Professional
from app.registries import bulk
from app.registries.models import Consent, Opposition
from app.registries.service import evidence_sha256
from app.tenancy.models import Tenant
from app.tenancy.service import create_key
from tests.factories import auth, make_tenant, operator_key
from tests.integration.conftest import Server, live, server  # noqa: F401  (remote-mode test)

MONDAY = "2026-11-23T10:30:00+01:00"


def gateway(*args: str) -> Result:
    from app.cli import cli

    return CliRunner().invoke(cli, ["import", *args])


@pytest.fixture
def local(db: Any, freeze: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Local mode, a tenant ``t-acme`` in the database; returns its id."""
    monkeypatch.delenv("GATEWAY_URL", raising=False)
    monkeypatch.delenv("GATEWAY_KEY", raising=False)
    freeze(MONDAY)
    from app.clock import now

    with session_scope(write=True) as s:
        s.add(Tenant(id="t-acme", name="Acme", legal_form="legal_person", status="active",
                     policy={}, created_at=now()))
        s.add(Tenant(id="t-other", name="Other", legal_form="legal_person", status="active",
                     policy={}, created_at=now()))
        s.flush()  # their own principals, as create_tenant makes them (consents name them)
        for t in ("t-acme", "t-other"):
            s.add(Professional(id=t, name=t, tenant_id=t, created_at=now()))
    return "t-acme"


def consents_file(path: Path, n: int, start: int = 0) -> Path:
    path.write_text("Numéro;Date consentement;Canal;Preuve\n" + "".join(
        f"06{i:08d};2026-09-01T10:00:00+02:00;web;{{\"form\": \"v{i % 3}\"}}\n"
        for i in range(start, start + n)))
    return path


def count(model: Any, tenant: str = "t-acme") -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(model).where(model.tenant_id == tenant))


def test_local_import_with_summary_and_json(local: str, tmp_path: Path) -> None:
    path = consents_file(tmp_path / "c.csv", 50)
    with path.open("a") as f:
        f.write("not a number;2026-09-01;web;\n")
    done = gateway("consents", str(path), "--tenant", local)
    assert done.exit_code == 0, done.output
    assert "Import of consents" in done.stdout and "Rejected lines" in done.stdout
    assert count(Consent) == 50 and count(Consent, "t-other") == 0
    again = gateway("consents", str(path), "--tenant", local, "--json")
    assert again.exit_code == 0, again.output
    body = json.loads(again.stdout)
    assert (body["created"], body["unchanged"], body["rejected"]) == (0, 50, 1)
    assert body["rejected_samples"] == [
        {"line": 52, "value": "not a number;2026-09-01;web;", "error": body["rejected_samples"]
         [0]["error"]}]
    opp = tmp_path / "o.csv"
    opp.write_text("telephone,source\n+33 6 12 34 56 78,crm\n")
    assert gateway("oppositions", str(opp), "-t", local, "-q").exit_code == 0
    assert count(Opposition) == 1


def test_local_import_errors(local: str, tmp_path: Path) -> None:
    path = consents_file(tmp_path / "c.csv", 3)
    no_tenant = gateway("consents", str(path))
    assert no_tenant.exit_code == 2
    unknown = gateway("consents", str(path), "--tenant", "t-nobody", "--json")
    assert unknown.exit_code == 1 and json.loads(unknown.stdout)["error"] == "not_found"
    bad = tmp_path / "bad.csv"
    bad.write_text("name;given_at\nDupont;2026-09-01\n")
    refused = gateway("consents", str(bad), "--tenant", local, "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["error"] == "import_invalid"
    assert "Traceback" not in refused.output
    assert count(Consent) == 0


def test_one_import_per_tenant_at_a_time(local: str, tmp_path: Path) -> None:
    data = consents_file(tmp_path / "c.csv", 3).read_bytes()
    with bulk.tenant_lock(get_engine(), local):
        with pytest.raises(bulk.ImportBusy):
            bulk.import_csv(get_engine(), io.BytesIO(data), kind="consents", tenant_id=local)
        busy = gateway("consents", str(tmp_path / "c.csv"), "--tenant", local, "--json")
        assert busy.exit_code == 1 and json.loads(busy.stdout)["error"] == "import_running"
        # another tenant is not held up
        other = bulk.import_csv(get_engine(), io.BytesIO(data), kind="consents",
                                tenant_id="t-other")
        assert other["created"] == 3
    assert bulk.import_csv(get_engine(), io.BytesIO(data), kind="consents",
                           tenant_id=local)["created"] == 3


CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from app.db import make_engine
    from app.registries.bulk import import_csv

    url, path, tenant = sys.argv[1:4]
    batches = 0

    def on_batch(report):
        global batches
        batches += 1
        if batches == 3:
            print(f"PAUSED {report.created}", flush=True)
            while True:
                time.sleep(60)

    with Path(path).open("rb") as f:
        import_csv(make_engine(url), f, kind="consents", tenant_id=tenant, batch=1000,
                   on_batch=on_batch)
    print("FINISHED", flush=True)
""")


def test_an_import_killed_midway_leaves_whole_rows_and_a_rerun_completes_it(
    local: str, tmp_path: Path, db: Any
) -> None:
    n = 10_000
    path = consents_file(tmp_path / "big.csv", n)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db.url, str(path), local],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2], env=os.environ | {"DATABASE_URL": db.url},
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.startswith("PAUSED"), (line, child.stderr.read() if child.stderr else "")
        committed = int(line.split()[1])
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert committed == 3000
    # whole batches, whole rows: every stored consent complete and hashed
    with session_scope() as s:
        rows = list(s.scalars(select(Consent).where(Consent.tenant_id == local)))
    assert len(rows) == committed
    assert all(r.evidence_sha256 == evidence_sha256(r.evidence) and r.channel == "web"
               and r.given_at is not None for r in rows)
    # the re-run needs no clean-up (the lock died with the process) and completes the import
    done = gateway("consents", str(path), "--tenant", local, "--json")
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert (body["created"], body["unchanged"], body["rejected"]) == (n - committed, committed, 0)
    assert count(Consent) == n


def test_remote_import_through_a_running_gateway(live: Server, tmp_path: Path) -> None:  # noqa: F811
    with httpx.Client(base_url=live.base_url) as http:
        t = make_tenant(http, "Acme", operator=operator_key())
        path = consents_file(tmp_path / "c.csv", 20)
        done = gateway("consents", str(path), "--url", live.base_url, "--key", t.admin)
        assert done.exit_code == 0, done.output
        assert "Import of consents" in done.stdout
        listed = http.get("/v1/consents", headers=auth(t.compliance)).json()
        assert len(listed) == 20
        again = gateway("consents", str(path), "--url", live.base_url, "--key", t.admin,
                        "--json")
        assert json.loads(again.stdout)["unchanged"] == 20
        dialer = gateway("consents", str(path), "--url", live.base_url, "--key", t.dialer)
        assert dialer.exit_code == 1 and "403" in dialer.stderr
    with session_scope(write=True) as s:  # keys of no tenant (operator) cannot import either
        key = create_key(s, "operator", None)[1]
    assert gateway("consents", str(path), "--url", live.base_url, "--key", key).exit_code == 1


def junk_file(path: Path, good: int, junk: int) -> Path:
    consents_file(path, good)
    with path.open("a") as f:
        f.write("pas un numéro;hier;web;\n" * junk)
    return path


def test_a_mostly_rejected_file_stops_unless_forced(local: str, tmp_path: Path) -> None:
    """Locally too: past the first 1,000 rows, more than 5 % rejected stops the import, exit 1,
    nothing written, the summary and samples shown, ``--force`` named; ``--force`` imports."""
    path = junk_file(tmp_path / "c.csv", 900, 5000)
    refused = gateway("consents", str(path), "--tenant", local)
    assert refused.exit_code == 1, refused.output
    assert "Rejected lines" in refused.stdout and "--force" in refused.stderr
    assert count(Consent) == 0
    as_json = gateway("consents", str(path), "--tenant", local, "--json")
    body = json.loads(as_json.stdout)
    assert body["error"] == "import_refused"
    assert body["import"]["rejected_samples"][0]["line"] == 902
    forced = gateway("consents", str(path), "--tenant", local, "--force", "--json")
    assert forced.exit_code == 0, forced.output
    assert (json.loads(forced.stdout)["created"], count(Consent)) == (900, 900)


def test_remote_force(live: Server, tmp_path: Path) -> None:  # noqa: F811
    with httpx.Client(base_url=live.base_url) as http:
        t = make_tenant(http, "Acme", operator=operator_key())
    path = junk_file(tmp_path / "c.csv", 900, 5000)
    refused = gateway("consents", str(path), "--url", live.base_url, "--key", t.admin)
    assert refused.exit_code == 1, refused.output
    assert "Rejected lines" in refused.stdout and "--force" in refused.stderr
    forced = gateway("consents", str(path), "--url", live.base_url, "--key", t.admin,
                     "--force", "--json")
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["rejected"] == 5000
