"""``gateway principals create|list|mandate|unmandate`` on the configured DATABASE_URL (SQLite
and PostgreSQL): what an operator does from the shell to set a call centre up."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from app.cli import cli
from app.db import session_scope
from app.tenancy.service import create_tenant

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(cli, list(args))


def tenant(name: str) -> str:
    with session_scope(write=True) as s:
        return create_tenant(s, name, "legal_person").id


def test_an_operator_sets_a_call_centre_up_from_the_shell(db: Any) -> None:
    bpo = tenant("BPO Lyon")
    r = invoke("principals", "create", "--name", "Énergie Verte", "--siren", "732829320",
               "--json")
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    pid = created["id"]
    assert created["siren"] == "732829320" and created["own_tenant"] is None
    assert invoke("principals", "create", "--name", "X", "--siren", "732829320").exit_code == 1
    bad = invoke("principals", "create", "--name", "X", "--siren", "123456789")
    assert bad.exit_code == 2 and "SIREN" in bad.output

    r = invoke("principals", "mandate", pid, bpo, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) | {"created_at": None} == {
        "principal": pid, "tenant": bpo, "tenant_name": "BPO Lyon", "created_at": None}
    assert invoke("principals", "mandate", pid, bpo).exit_code == 1  # already held
    assert invoke("principals", "mandate", pid, "ten_nope").exit_code == 1

    listed = json.loads(invoke("principals", "list", "--json").stdout)
    by_id = {p["id"]: p for p in listed}
    assert by_id[pid]["mandates"] == [bpo] and by_id[bpo]["mandates"] == [bpo]
    mine = json.loads(invoke("principals", "list", "--tenant", bpo, "--json").stdout)
    assert sorted(p["id"] for p in mine) == sorted([pid, bpo])
    table = invoke("principals", "list")
    assert table.exit_code == 0 and "Énergie" in table.stdout and pid in table.stdout

    r = invoke("principals", "unmandate", pid, bpo, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["revoked"] is True, r.output
    assert invoke("principals", "unmandate", pid, bpo).exit_code == 1  # none left
    assert invoke("principals", "unmandate", bpo, bpo).exit_code == 1  # its own stays
    left = json.loads(invoke("principals", "list", "--tenant", bpo, "--json").stdout)
    assert [p["id"] for p in left] == [bpo]
