"""Migration 0008 (one tenant per caller ID), on SQLite and PostgreSQL: it refuses to upgrade
over numbers held by several tenants (listing them, changing nothing), upgrades once the
operator has chosen, and goes down again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from app import db as app_db
from app.cli import cli
from app.config import get_settings
from app.migrate import MigrationRefused, alembic_config, downgrade, upgrade

NUMBER = "+33162000001"
#: the revision just before 0008, whatever the chain grows into
BEFORE = ScriptDirectory.from_config(alembic_config()).get_revision("0008").down_revision


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    engine = app_db.make_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def add_tenant(conn: Connection, tenant_id: str, name: str) -> None:
    conn.execute(text(
        "INSERT INTO tenants (id, name, legal_form, status, policy, created_at) "
        "VALUES (:id, :name, 'legal_person', 'active', '{}', '2026-01-01 10:00:00')"),
        {"id": tenant_id, "name": name})


def add_caller_id(conn: Connection, row_id: str, tenant_id: str, number: str,
                  created_at: str = "2026-01-02 10:00:00") -> None:
    conn.execute(text(
        "INSERT INTO caller_ids (id, tenant_id, number, kind, assigned_to, created_at) "
        "VALUES (:id, :tenant, :number, 'canvassing', NULL, :created)"),
        {"id": row_id, "tenant": tenant_id, "number": number, "created": created_at})


def version(url: str) -> str:
    with connect(url) as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()


def holders(url: str) -> list[tuple[str, str]]:
    with connect(url) as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT number, tenant_id FROM caller_ids ORDER BY number, tenant_id"))]


def test_upgrade_refuses_cross_tenant_duplicates_then_goes_up_and_down(fresh_url: str) -> None:
    upgrade(fresh_url, BEFORE)
    with connect(fresh_url) as conn:
        add_tenant(conn, "ten_a", "Acme")
        add_tenant(conn, "ten_b", "Globex")
        add_caller_id(conn, "cli_1", "ten_a", NUMBER, "2026-01-02 10:00:00")
        add_caller_id(conn, "cli_2", "ten_b", NUMBER, "2026-01-03 10:00:00")
        add_caller_id(conn, "cli_3", "ten_b", "+33162000002")
    before, rows = version(fresh_url), holders(fresh_url)

    with pytest.raises(MigrationRefused) as refused:
        upgrade(fresh_url)
    message = str(refused.value)
    assert "0008 refused" in message and "Nothing was changed" in message
    assert f"{NUMBER}  tenant ten_a (Acme)" in message
    assert f"{NUMBER}  tenant ten_b (Globex)" in message
    assert "+33162000002" not in message  # held by one tenant: not a duplicate
    assert (version(fresh_url), holders(fresh_url)) == (before, rows)  # nothing changed

    with connect(fresh_url) as conn:  # the operator decided: Globex's registration goes
        conn.execute(text("DELETE FROM caller_ids WHERE id = 'cli_2'"))
    upgrade(fresh_url)
    assert holders(fresh_url) == [(NUMBER, "ten_a"), ("+33162000002", "ten_b")]
    with connect(fresh_url) as conn:  # existing numbers start unverified
        assert conn.execute(text("SELECT COUNT(*) FROM caller_ids "
                                 "WHERE verified_at IS NOT NULL")).scalar_one() == 0
    with pytest.raises(IntegrityError), connect(fresh_url) as conn:
        add_caller_id(conn, "cli_4", "ten_b", NUMBER)  # the database refuses a second holder

    downgrade(fresh_url, BEFORE)
    assert holders(fresh_url) == [(NUMBER, "ten_a"), ("+33162000002", "ten_b")]
    with connect(fresh_url) as conn:  # back to one registration per (tenant, number)
        add_caller_id(conn, "cli_5", "ten_b", NUMBER)
    with pytest.raises(IntegrityError), connect(fresh_url) as conn:
        add_caller_id(conn, "cli_6", "ten_b", NUMBER)


def test_gateway_db_upgrade_prints_the_refusal_and_exits_2(
    fresh_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade(fresh_url, BEFORE)
    with connect(fresh_url) as conn:
        add_tenant(conn, "ten_a", "Acme")
        add_tenant(conn, "ten_b", "Globex")
        add_caller_id(conn, "cli_1", "ten_a", NUMBER)
        add_caller_id(conn, "cli_2", "ten_b", NUMBER)
    monkeypatch.setenv("DATABASE_URL", fresh_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["db", "upgrade"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    err = " ".join(result.stderr.split())  # the console wraps long lines
    assert "0008 refused" in err and NUMBER in err and "ten_a" in err and "ten_b" in err
