"""Alembic migrations build exactly the schema the models declare, on SQLite and PostgreSQL,
and go down to nothing and up again."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app import db as app_db
from app.migrate import downgrade, upgrade
from app.models import Base


def drift(url: str) -> list[Any]:
    engine = app_db.make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = app_db.make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_head_matches_the_models_and_downgrade_round_trips(fresh_url: str) -> None:
    expected = set(Base.metadata.tables)
    assert {"tenants", "api_keys", "attempts", "consents", "bloctel_chunks"} <= expected

    upgrade(fresh_url)
    assert tables(fresh_url) == expected | {"alembic_version"}
    assert drift(fresh_url) == []

    downgrade(fresh_url, "base")
    assert tables(fresh_url) <= {"alembic_version"}
    assert len(drift(fresh_url)) >= len(expected)  # the comparison does see a missing schema

    upgrade(fresh_url)
    assert tables(fresh_url) == expected | {"alembic_version"}
    assert drift(fresh_url) == []


def test_the_bloctel_list_in_force_survives_the_move_to_chunks_and_back(fresh_url: str) -> None:
    """0002 converts the numbers of the list in force (one row each before) into chunks: an
    upgrade loses no number, an older duplicate 'active' version becomes 'superseded', and a
    downgrade gives the rows back."""
    from sqlalchemy import text

    from app.bloctel import store

    upgrade(fresh_url, "0001")
    numbers = [33_612_345_678, 33_700_000_001, 262_692_123_456, 590_690_000_000]
    engine = app_db.make_engine(fresh_url)
    try:
        with engine.begin() as conn:
            for v in (1, 2):
                conn.execute(text(
                    "INSERT INTO bloctel_versions (version, import_id, mode, status, as_of, "
                    "lines, accepted, duplicates, rejected, rejected_samples, sha256, "
                    "total_numbers, created_at) VALUES (:v, :i, 'replace', 'active', "
                    "'2026-06-01', 4, 4, 0, 0, '[]', '', 4, '2026-06-01 10:00:00')"),
                    {"v": v, "i": f"blk_{v}"})
            conn.execute(text("INSERT INTO bloctel_numbers (version, number) VALUES (1, 1)"))
            for n in numbers:
                conn.execute(text(
                    "INSERT INTO bloctel_numbers (version, number) VALUES (2, :n)"), {"n": n})
    finally:
        engine.dispose()

    upgrade(fresh_url)
    engine = app_db.make_engine(fresh_url)
    try:
        index = store.load(engine)
        assert (index.version, index.import_id, index.keys().tolist()) == (
            2, "blk_2", sorted(numbers))
        with engine.connect() as conn:
            statuses = conn.execute(
                text("SELECT version, status FROM bloctel_versions ORDER BY version")).all()
        assert [tuple(r) for r in statuses] == [(1, "superseded"), (2, "active")]
    finally:
        engine.dispose()

    downgrade(fresh_url, "0001")
    engine = app_db.make_engine(fresh_url)
    try:
        with engine.connect() as conn:
            back = conn.execute(text(
                "SELECT number FROM bloctel_numbers WHERE version = 2 ORDER BY number")).all()
        assert [r[0] for r in back] == sorted(numbers)
    finally:
        engine.dispose()
