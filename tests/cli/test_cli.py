"""The ``gateway`` command against the configured DATABASE_URL (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from app.cli import cli
from tests.factories import auth

GATEWAY = Path(sys.executable).with_name("gateway")


def gateway(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script the way an operator would, in a clean process."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("GATEWAY_FROZEN_NOW", "GATEWAY_URL", "GATEWAY_KEY")}
    env["DATABASE_URL"] = database_url
    return subprocess.run([str(GATEWAY), *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_keys_create_prints_an_operator_key_that_works(db: Any, client: Any) -> None:
    done = gateway("keys", "create", "--role", "operator", "--json", database_url=db.url)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)  # stdout is the JSON and nothing else
    assert set(out) == {"id", "key", "role", "tenant", "label"}
    assert (out["role"], out["tenant"]) == ("operator", None)
    assert out["id"] and out["key"]
    r = client.post("/v1/tenants", json={"name": "Bootstrap", "legal_form": "legal_person"},
                    headers=auth(out["key"]))
    assert r.status_code == 201, r.text
    assert client.get("/v1/tenants", headers=auth(out["key"])).json()[0]["name"] == "Bootstrap"
    # a second key is a different key
    again = CliRunner().invoke(cli, ["keys", "create", "--role", "operator", "--json"])
    assert json.loads(again.stdout)["key"] != out["key"]


def test_keys_create_for_a_tenant_and_its_errors(db: Any, client: Any) -> None:
    runner = CliRunner()
    op = json.loads(runner.invoke(cli, ["keys", "create", "--role", "operator", "--json"]).stdout)
    tenant = client.post("/v1/tenants", json={"name": "Acme"}, headers=auth(op["key"])).json()
    made = runner.invoke(cli, ["keys", "create", "--role", "admin", "--tenant", tenant["id"],
                               "--json"])
    assert made.exit_code == 0, made.output
    admin = json.loads(made.stdout)
    assert (admin["role"], admin["tenant"]) == ("admin", tenant["id"])
    assert client.get("/v1/policy", headers=auth(admin["key"])).status_code == 200
    for args in (["--role", "admin"], ["--role", "operator", "--tenant", tenant["id"]],
                 ["--role", "root"], ["--role", "dialer", "--tenant", "ten_nope"]):
        result = runner.invoke(cli, ["keys", "create", *args, "--json"])
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == ""  # no key printed
        assert result.stderr.strip()  # a message says why


def test_bloctel_import_activates_a_version(db: Any, client: Any, tmp_path: Path,
                                            freeze: Any) -> None:
    freeze("2026-11-23T10:30:00+01:00")
    listing = tmp_path / "bloctel.txt"
    listing.write_text("06 11 11 11 11\n0622222222\nnot a number\n0611111111\n")
    done = gateway("bloctel", "import", str(listing), "--mode", "replace",
                   "--as-of", "2026-11-20", "--max-rejected", "0.5", "--json",
                   database_url=db.url)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["version"], result["accepted"], result["duplicates"], result["rejected"],
            result["total_numbers"]) == (1, 2, 1, 1, 2)
    assert result["rejected_samples"][0]["line"] == 3

    runner = CliRunner()
    op = json.loads(runner.invoke(cli, ["keys", "create", "--role", "operator", "--json"]).stdout)
    status = client.get("/v1/bloctel", headers=auth(op["key"])).json()
    assert {k: status[k] for k in ("version", "total_numbers", "as_of", "age_days", "stale")} == {
        "version": 1, "total_numbers": 2, "as_of": "2026-11-20", "age_days": 3, "stale": False}
    history = client.get("/v1/bloctel/imports", headers=auth(op["key"])).json()
    assert [(h["version"], h["mode"]) for h in history] == [(1, "replace")]

    # the human-readable form, in process, adding to the active version
    more = tmp_path / "more.txt"
    more.write_text("0633333333\n")
    added = runner.invoke(cli, ["bloctel", "import", str(more), "--mode", "add",
                                "--as-of", "2026-11-21"])
    assert added.exit_code == 0, added.output
    status = client.get("/v1/bloctel", headers=auth(op["key"])).json()
    assert (status["version"], status["total_numbers"], status["as_of"]) == (2, 3, "2026-11-21")


def test_bloctel_import_rejects_bad_arguments(db: Any, client: Any, tmp_path: Path) -> None:
    listing = tmp_path / "bloctel.txt"
    listing.write_text("0611111111\n")
    runner = CliRunner()
    cases = {
        "slashes": ["--as-of", "20/11/2026"],
        "not a date": ["--as-of", "yesterday"],
        "impossible date": ["--as-of", "2026-02-30"],
        "bad mode": ["--as-of", "2026-11-20", "--mode", "merge"],
    }
    for name, args in cases.items():
        result = runner.invoke(cli, ["bloctel", "import", str(listing), *args])
        assert result.exit_code == 2, (name, result.output)
        assert ("as-of" in result.output or "mode" in result.output), (name, result.output)
    missing = runner.invoke(cli, ["bloctel", "import", str(tmp_path / "absent.txt"),
                                  "--as-of", "2026-11-20"])
    assert missing.exit_code == 2
    # nothing was imported
    op = json.loads(runner.invoke(cli, ["keys", "create", "--role", "operator", "--json"]).stdout)
    assert client.get("/v1/bloctel", headers=auth(op["key"])).json()["version"] is None
