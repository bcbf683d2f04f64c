"""Creating and revoking an API key, as the console's three key pages do it (the admin's own
keys, a call centre's keys for the operator, the operator's keys): the services the API's key
routes call, in one write transaction. Blocking: call them through ``run_in_threadpool``."""

from __future__ import annotations

from typing import Any

from app.db import session_scope
from app.tenancy import service as tenancy


def create(role: str, tenant_id: str | None, label: str | None) -> dict[str, Any]:
    """A new key (``tenant_id`` None: an operator key), its secret in the answer only."""
    with session_scope(write=True) as s:
        row, key = tenancy.create_key(s, role, tenant_id, label)
        return {"id": row.id, "role": row.role, "label": row.label, "key": key}


def revoke(key_id: str, tenant_id: str | None) -> None:
    """Revoke one of ``tenant_id``'s keys (another's: the service's 404); the service
    invalidates this worker's principals."""
    with session_scope(write=True) as s:
        tenancy.revoke_key(s, tenancy.get_key(s, key_id, tenant_id))
