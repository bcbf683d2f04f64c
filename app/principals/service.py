"""The principals' public service: what other domains call (never this module's underscored
names). The API, the CLI and the check path's mandate cache are added here."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Forbidden
from app.principals.models import Mandate


def held_principals(s: Session, tenant_id: str) -> set[str]:
    """The principals ``tenant_id`` holds a mandate from (its own principal included)."""
    rows = s.scalars(select(Mandate.principal_id).where(Mandate.tenant_id == tenant_id))
    return set(rows) | {tenant_id}


def require_mandates(s: Session, tenant_id: str, principal_ids: Iterable[str]) -> list[str]:
    """``principal_ids`` without duplicates, in order; 403 ``forbidden`` naming those the
    tenant holds no mandate from (an unknown principal is one it holds no mandate from)."""
    wanted = list(dict.fromkeys(principal_ids))
    missing = [p for p in wanted if p not in held_principals(s, tenant_id)]
    if missing:
        raise Forbidden(
            f"no mandate from principal(s) {', '.join(missing)}: an operator grants mandates "
            "(POST /v1/principals/{id}/mandates)"
        )
    return wanted
