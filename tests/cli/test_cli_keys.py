"""``gateway keys list|revoke|rotate`` and ``gateway demo seed`` (what ``make run`` runs), on the
configured DATABASE_URL (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from typing import Any

from rich.console import Console
from typer.testing import CliRunner

from app.cli import cli
from tests.factories import auth

runner = CliRunner()
KEY = re.compile(r"gw_[A-Za-z0-9_-]{43}")


def invoke(*args: str) -> Any:
    result = runner.invoke(cli, list(args))
    return result


def works(client: Any, key: str) -> int:
    return client.get("/v1/bloctel", headers=auth(key)).status_code


def seed() -> dict[str, str]:
    """Run ``gateway demo seed``; the keys it printed, by role."""
    result = invoke("demo", "seed")
    assert result.exit_code == 0, result.output
    text = result.output
    keys = {}
    for role in ("admin", "compliance", "dialer", "operator"):
        match = re.search(rf"{role}\s+key: ({KEY.pattern})", text)
        assert match, (role, text)
        keys[role] = match.group(1)
    return keys


def test_demo_seed_revokes_the_keys_of_an_earlier_seed(db: Any, client: Any) -> None:
    first = seed()
    assert all(works(client, k) == 200 for k in first.values())
    # the operator key works for what the README does with it (BLOCTEL, tenants)
    assert client.get("/v1/bloctel/imports", headers=auth(first["operator"])).status_code == 200
    second = seed()
    assert set(second.values()).isdisjoint(first.values())
    assert {role: works(client, k) for role, k in first.items()} == dict.fromkeys(first, 401)
    assert all(works(client, k) == 200 for k in second.values())
    # labelled, and listed as such: 4 alive, 4 revoked
    listed = json.loads(invoke("keys", "list", "--json").stdout)
    assert sorted((k["label"], k["role"], k["revoked_at"] is None) for k in listed) == sorted(
        [("demo", r, alive) for r in ("admin", "compliance", "dialer") for alive in (0, 1)]
        + [("demo-operator", "operator", alive) for alive in (0, 1)])
    # a key created by hand for the demo tenant is not the seed's: it survives a seed
    tenant = next(k["tenant"] for k in listed if k["tenant"])
    mine = json.loads(invoke("keys", "create", "--role", "dialer", "--tenant", tenant,
                             "--json").stdout)
    own_op = json.loads(invoke("keys", "create", "--role", "operator", "--json").stdout)
    seed()
    assert works(client, mine["key"]) == 200 and works(client, own_op["key"]) == 200


def test_keys_list_revoke_rotate(db: Any, client: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("app.tenancy.cli.out", Console(width=200))  # a wide terminal
    op = json.loads(invoke("keys", "create", "--role", "operator", "--label", "ops",
                           "--json").stdout)
    assert op["label"] == "ops"
    tenant = client.post("/v1/tenants", json={"name": "Acme"}, headers=auth(op["key"])).json()
    dialer = json.loads(invoke("keys", "create", "--role", "dialer", "--tenant", tenant["id"],
                               "--json").stdout)
    listed = json.loads(invoke("keys", "list", "--json").stdout)
    assert [(k["id"], k["role"], k["tenant"]) for k in listed] == [
        (op["id"], "operator", None), (dialer["id"], "dialer", tenant["id"])]
    assert op["key"] not in json.dumps(listed) and dialer["key"] not in json.dumps(listed)
    assert [k["id"] for k in json.loads(invoke("keys", "list", "--tenant", tenant["id"],
                                               "--json").stdout)] == [dialer["id"]]
    assert [k["id"] for k in json.loads(invoke("keys", "list", "--tenant", "operator",
                                               "--json").stdout)] == [op["id"]]
    table = invoke("keys", "list")
    assert table.exit_code == 0 and dialer["id"] in table.stdout and "never" in table.stdout
    assert dialer["key"] not in table.stdout

    revoked = invoke("keys", "revoke", dialer["id"], "--json")
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(revoked.stdout)["revoked_at"]
    assert works(client, dialer["key"]) == 401
    assert [k["id"] for k in json.loads(invoke("keys", "list", "--active", "--json").stdout)
            ] == [op["id"]]

    rotated = invoke("keys", "rotate", op["id"], "--json")
    assert rotated.exit_code == 0, rotated.output
    new = json.loads(rotated.stdout)
    assert (new["role"], new["label"], new["replaces"]) == ("operator", "ops", op["id"])
    assert works(client, op["key"]) == 401 and works(client, new["key"]) == 200

    for args in (("revoke", "key_nope"), ("rotate", "key_nope"), ("rotate", dialer["id"]),
                 ("list", "--tenant", "ten_nope")):
        failed = invoke("keys", *args)
        assert failed.exit_code == 1, (args, failed.output)
        assert failed.stderr.strip()
