"""Test fixtures: every test that touches the database runs on SQLite AND PostgreSQL.

* ``database`` (session scope, parametrised ``sqlite`` / ``postgresql``) creates a fresh
  database — a temporary SQLite file, or a new PostgreSQL database that is dropped at the end —
  and migrates it with Alembic.
* ``db`` points the application at it for one test and empties every table afterwards.
* PostgreSQL is found at ``TEST_POSTGRES_URL`` (default: the local server). When it cannot be
  reached the PostgreSQL half is skipped — except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import cache as app_cache
from app import db as app_db
from app.config import get_settings, normalise_database_url

PG_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


# The server's ledger sealer and monitors (background processes) would act behind the tests'
# frozen clocks; tests that need them start them (tests/api/test_audit.py, test_monitors.py).
os.environ.setdefault("GATEWAY_SEAL_INTERVAL_S", "0")
os.environ.setdefault("GATEWAY_MONITOR_INTERVAL_S", "0")  # likewise the abuse monitors

# `make test` spreads the in-process tests over the machine's cores (pytest-xdist), then runs
# the ``serial`` ones one at a time: those that start real processes (servers, HAProxy, Kamailio,
# sipp, Chromium: every ``integration`` test) or assert on elapsed time, so that no timing-bound
# assertion shares the CPU with another test.
TESTS = Path(__file__).resolve().parent
LIVE_DIRS = {"integration", "sip", "cluster", "deploy"}
LIVE_FILES = {"test_readme_tour.py", "test_bench_sip.py", "test_bench_console.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        rel = item.path.relative_to(TESTS)
        if rel.parts[0] in LIVE_DIRS or rel.name in LIVE_FILES:
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.serial)


def _pg_admin_url() -> str:
    return normalise_database_url(PG_URL)


def _pg_create() -> str:
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"gw_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)


def _pg_drop(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def use_database(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    app_db.reset_engine()
    app_cache.clear_all()


@dataclass
class Database:
    backend: str
    url: str


@pytest.fixture(scope="session")
def _databases() -> Iterator[dict[str, Database]]:
    """Each backend's test database, made once per session and dropped at its end.

    pytest cannot keep every test of one parameter together (module-scoped fixtures and
    parametrised tests interleave them), so the ``database`` parameter switches back and forth
    dozens of times in a run; without this cache each switch dropped the database, created and
    migrated a new one and restarted the live server. Tests leave no rows behind (``db``,
    ``live`` empty every table), so the same database serves every switch."""
    made: dict[str, Database] = {}
    yield made
    app_db.reset_engine()
    for d in made.values():
        if d.backend == "postgresql":
            _pg_drop(d.url)


@pytest.fixture(scope="session")
def _servers() -> Iterator[tuple[dict[str, Any], contextlib.ExitStack]]:
    """Each backend's live server, started once per session and stopped at its end (the
    ``database`` parameter switches back and forth: see ``tests.conftest._databases``)."""
    with contextlib.ExitStack() as stack:
        yield {}, stack


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, _databases: dict[str, Database],
             tmp_path_factory: pytest.TempPathFactory) -> Database:
    from app.migrate import upgrade

    if request.param in _databases:
        return _databases[request.param]
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'gateway.db'}"
    else:
        try:
            url = _pg_create()
        except Exception as exc:  # server down, auth refused…
            message = f"PostgreSQL unreachable at {PG_URL}: {exc}"
            if IN_CI:
                pytest.fail(message + " (CI=true: the PostgreSQL suite is required)")
            pytest.skip(message)
    try:
        upgrade(url)
    except BaseException:
        if request.param == "postgresql":
            _pg_drop(url)
        raise
    _databases[request.param] = Database(request.param, url)
    return _databases[request.param]


@pytest.fixture
def fresh_url(database: Database, tmp_path: Any) -> Iterator[str]:
    """An empty database of the same backend as ``database`` (never the shared one)."""
    if database.backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    url = _pg_create()
    try:
        yield url
    finally:
        _pg_drop(url)


def truncate_all(url: str) -> None:
    from app.models import Base

    engine = app_db.make_engine(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:  # DELETE: far cheaper than TRUNCATE on tiny tables
        for name in tables:
            conn.execute(text(f"DELETE FROM {name}"))
    engine.dispose()


@pytest.fixture
def db(database: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.delenv("GATEWAY_FROZEN_NOW", raising=False)
    use_database(database.url)
    yield database
    app_db.reset_engine()
    truncate_all(database.url)
    app_cache.clear_all()


@pytest.fixture
def freeze(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``freeze("2026-11-23T10:30:00+01:00")`` sets the service clock."""

    def _freeze(instant: str) -> None:
        monkeypatch.setenv("GATEWAY_FROZEN_NOW", instant)
        get_settings.cache_clear()

    return _freeze


@pytest.fixture
def client(db: Database) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c
