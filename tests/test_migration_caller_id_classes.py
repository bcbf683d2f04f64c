"""Migration 0012, on SQLite and PostgreSQL: stored caller IDs of kind "polyvalent" (09 37-09 39,
numbers for a technical platform, not verified numbers) become "platform", other kinds are
untouched, and a downgrade gives the old name back."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import text

from app.migrate import alembic_config, downgrade, upgrade
from rules_fr import NumberKind, classify
from tests.test_migration_caller_ids import add_tenant, connect

#: the revision just before 0012, whatever the chain grows into
BEFORE = ScriptDirectory.from_config(alembic_config()).get_revision("0012").down_revision
ROWS = {  # id: (number, kind stored before 0012)
    "cli_1": ("+33937000001", "polyvalent"),
    "cli_2": ("+33939000002", "polyvalent"),
    "cli_3": ("+33162000001", "canvassing"),
    "cli_4": ("+33950000001", "non_geographic"),
}


def kinds(url: str) -> dict[str, str]:
    with connect(url) as conn:
        return {r[0]: r[1] for r in conn.execute(text("SELECT id, kind FROM caller_ids"))}


def test_polyvalent_caller_ids_become_platform_and_back(fresh_url: str) -> None:
    upgrade(fresh_url, BEFORE)
    with connect(fresh_url) as conn:
        add_tenant(conn, "ten_a", "Acme")
        for row_id, (number, kind) in ROWS.items():
            conn.execute(text(
                "INSERT INTO caller_ids (id, tenant_id, number, kind, assigned_to, created_at) "
                "VALUES (:id, 'ten_a', :number, :kind, NULL, '2026-01-02 10:00:00')"),
                {"id": row_id, "number": number, "kind": kind})
    before = {row_id: kind for row_id, (_, kind) in ROWS.items()}
    assert kinds(fresh_url) == before

    upgrade(fresh_url)
    after = kinds(fresh_url)
    assert after == {**before, "cli_1": "platform", "cli_2": "platform"}
    for row_id, (number, _) in ROWS.items():  # what the classifier says today, and readable
        assert NumberKind(after[row_id]) is classify(number).kind

    downgrade(fresh_url, BEFORE)
    assert kinds(fresh_url) == before
