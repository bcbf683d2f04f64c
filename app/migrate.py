"""Run Alembic from code (``gateway db upgrade``, tests, ``make run``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from app.config import get_settings, normalise_database_url

ROOT = Path(__file__).resolve().parent.parent


class MigrationRefused(RuntimeError):
    """A migration found data it must not change on its own (its message says what to do);
    nothing was changed. ``gateway db upgrade`` prints the message and exits with 2."""


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option(
        "sqlalchemy.url", normalise_database_url(url or get_settings().database_url)
    )
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
    analyze(url)


def analyze(url: str | None = None) -> None:
    """Refresh the planner's statistics: on a fresh PostgreSQL database the check path's
    attempts look-up otherwise picks the wrong index until autovacuum's first analyze."""
    from sqlalchemy import text

    from app.db import make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
