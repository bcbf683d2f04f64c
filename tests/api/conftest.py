"""Shared helpers for the API tests: a tenant built through the public API on a frozen clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from app.config import get_settings
from tests.factories import Tenant, make_tenant

#: Monday 23 November 2026, 10:30 in Paris: opt-in regime, inside the calling hours.
MONDAY = "2026-11-23T10:30:00+01:00"
#: Monday 15 June 2026, 10:30 in Paris: opt-out (BLOCTEL) regime.
OPT_OUT_MONDAY = "2026-06-15T10:30:00+02:00"

CONTRACT_DECISION_FIELDS = {
    "attempt_id": (str, type(None)),
    "decision": str,
    "callee": str,
    "callee_time_zone": str,
    "regime": str,
    "checked_at": str,
    "reasons": list,
    "penalty_eur": str,
    "next_allowed_at": (str, type(None)),
}


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set gateway settings (environment variables) for one test."""
    def set_(**env: Any) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))
        get_settings.cache_clear()
    yield set_
    get_settings.cache_clear()


@pytest.fixture
def tenant(client: Any, freeze: Callable[[str], None]) -> Tenant:
    """Tenant "Acme" (keys for every role, three caller IDs, campaign ``spring-2026``), with the
    service clock frozen on a Monday at 10:30 in Paris (tests may freeze it again)."""
    freeze(MONDAY)
    return make_tenant(client, "Acme")


@pytest.fixture
def other(tenant: Tenant) -> Tenant:
    """A second tenant on the same platform (same operator)."""
    return make_tenant(tenant.client, "Globex", operator=tenant.operator)


def codes(decision: dict[str, Any]) -> list[str]:
    return [r["code"] for r in decision["reasons"]]


def blocking(decision: dict[str, Any]) -> list[str]:
    return [r["code"] for r in decision["reasons"] if r["severity"] == "block"]


def aware(value: str) -> datetime:
    """An ISO 8601 instant that carries an offset (fails the test otherwise)."""
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value!r} has no offset"
    return parsed


def outcome(t: Tenant, attempt_id: str, status: str = "answered", **kw: Any) -> Any:
    body = {"status": status} | kw
    return t.post(f"/v1/calls/{attempt_id}/outcome", body, role="dialer")
