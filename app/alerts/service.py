"""Alerts and webhooks.

``raise_alert`` is what a monitor calls, inside its own write transaction: it writes the alert
and one ``pending`` delivery per active webhook of the tenant, due at once, and does no network
I/O — the deliverer (``app.alerts.delivery``) sends it after the transaction has committed, so
an alert rolled back with its transaction is never sent.

Instants are read through ``app.clock.now()`` only and shown as ISO 8601 in UTC.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from app.alerts import targets
from app.alerts.models import Alert, Webhook, WebhookDelivery
from app.clock import iso
from app.clock import now as clock_now
from app.db import get_engine, write_transaction
from app.errors import NotFound, Unprocessable
from app.ids import new_id

ACTIONS = ("notice", "throttle", "suspend")
DEFAULT_PAGE, MAX_PAGE = 50, 500
TEST_MONITOR = "test"
log = logging.getLogger("gateway.alerts")

_a = Alert.__table__
_w = Webhook.__table__
_d = WebhookDelivery.__table__


def _iso(value: datetime | None) -> str | None:
    return iso(value)


def alert_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """The public shape of an alert (API answers and webhook bodies) from its columns."""
    return {
        "id": row["id"], "tenant": row["tenant_id"], "monitor": row["monitor"],
        "scope": row["scope"], "action": row["action"], "value": row["value"],
        "threshold": row["threshold"], "window": row["window"],
        "created_at": _iso(row["created_at"]), "until": _iso(row["until"]),
        "details": row["details"] or {},
    }


def _delivery_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"], "webhook_id": row["webhook_id"], "state": row["state"],
        "attempts": row["attempts"], "last_status": row["last_status"],
        "last_error": row["last_error"], "next_attempt_at": _iso(row["next_attempt_at"]),
        "delivered_at": _iso(row["delivered_at"]), "created_at": _iso(row["created_at"]),
    }


def _webhook_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "url": row["url"], "description": row["description"],
            "active": row["active"], "created_at": _iso(row["created_at"])}


def _text(name: str, value: str, width: int) -> str:
    if not isinstance(value, str) or not value or len(value) > width or "\x00" in value:
        raise ValueError(f"{name} must be a non-empty string of at most {width} characters")
    return value


def _number(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, not {value!r}")
    return float(value)


def raise_alert(
    conn: Connection, *, tenant_id: str, monitor: str, scope: str, action: str,
    value: float, threshold: float, window: str, until: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record an alert and queue it for every active webhook of the tenant.

    ``conn`` is the caller's connection, in its write transaction (``write_transaction()``):
    the alert and its deliveries commit or roll back with the caller's work. Nothing is sent
    here. ``scope`` is ``tenant``, ``campaign:<id>`` or ``caller_id:<E.164>``; ``action`` is
    ``notice``, ``throttle`` or ``suspend``; ``until`` (aware) ends a throttle. Returns the
    alert in its public JSON shape. Bad arguments raise ``ValueError`` (a programming error,
    not a client's).
    """
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    if until is not None:
        if until.tzinfo is None:
            raise ValueError("until must be an aware datetime")
        until = until.astimezone(UTC)
    details = dict(details or {})
    json.dumps(details, allow_nan=False)  # ValueError/TypeError now, not in the deliverer
    created = clock_now()
    row = {
        "id": new_id("alr"), "tenant_id": tenant_id, "monitor": _text("monitor", monitor, 40),
        "scope": _text("scope", scope, 120), "action": action,
        "value": _number("value", value), "threshold": _number("threshold", threshold),
        "window": _text("window", window, 20), "created_at": created, "until": until,
        "details": details,
    }
    conn.execute(insert(_a).values(**row))
    hooks = conn.execute(
        select(_w.c.id).where(_w.c.tenant_id == tenant_id, _w.c.active.is_(True))
    ).scalars().all()
    if hooks:
        conn.execute(insert(_d), [_new_delivery(row["id"], h, tenant_id, created) for h in hooks])
    return alert_json(row)


def _new_delivery(alert_id: str, webhook_id: str, tenant_id: str, at: datetime) -> dict[str, Any]:
    return {
        "id": new_id("whd"), "alert_id": alert_id, "webhook_id": webhook_id,
        "tenant_id": tenant_id, "state": "pending", "attempts": 0, "next_attempt_at": at,
        "last_status": None, "last_error": None, "delivered_at": None, "created_at": at,
        "claimed_until": None,
    }


# --- reading alerts -------------------------------------------------------------------------


def list_alerts(
    tenant_id: str, since: datetime | None = None, limit: int | None = None,
    cursor: str | None = None, *, monitor: str | None = None, action: str | None = None,
) -> dict[str, Any]:
    """The tenant's alerts, newest first, one keyset page: ``{"items", "limit",
    "next_cursor"}``; ``cursor`` is the ``next_cursor`` of the previous page (an alert id)."""
    size = DEFAULT_PAGE if limit is None else limit
    if not 1 <= size <= MAX_PAGE:
        raise Unprocessable(f"limit must be between 1 and {MAX_PAGE}", code="invalid_limit")
    q = select(_a).where(_a.c.tenant_id == tenant_id)
    if since is not None:
        q = q.where(_a.c.created_at >= since)
    if monitor is not None:
        q = q.where(_a.c.monitor == monitor)
    if action is not None:
        q = q.where(_a.c.action == action)
    with get_engine().connect() as conn:
        if cursor:
            mark = conn.execute(
                select(_a.c.created_at).where(_a.c.id == cursor, _a.c.tenant_id == tenant_id)
            ).scalar()
            if mark is None:
                raise Unprocessable(f"cursor={cursor!r} is not an alert of this list",
                                    code="invalid_cursor")
            q = q.where(or_(_a.c.created_at < mark,
                            and_(_a.c.created_at == mark, _a.c.id < cursor)))
        rows = conn.execute(
            q.order_by(_a.c.created_at.desc(), _a.c.id.desc()).limit(size + 1)
        ).all()
    more = len(rows) > size
    rows = rows[:size]
    return {"items": [alert_json(r._mapping) for r in rows], "limit": size,
            "next_cursor": rows[-1].id if more else None}


def get_alert(tenant_id: str, alert_id: str) -> dict[str, Any]:
    """One alert of the tenant with its deliveries (oldest first); another tenant's: 404."""
    with get_engine().connect() as conn:
        row = conn.execute(
            select(_a).where(_a.c.id == alert_id, _a.c.tenant_id == tenant_id)
        ).first()
        if row is None:
            raise NotFound(f"no alert {alert_id}")
        deliveries = conn.execute(
            select(_d).where(_d.c.alert_id == alert_id, _d.c.tenant_id == tenant_id)
            .order_by(_d.c.created_at, _d.c.id)
        ).all()
    return alert_json(row._mapping) | {
        "deliveries": [_delivery_json(d._mapping) for d in deliveries]}


def recent_deliveries(tenant_id: str, alerts: int = 20) -> list[tuple[dict[str, Any],
                                                                    dict[str, Any]]]:
    """The deliveries of the tenant's ``alerts`` latest alerts, each with its alert: the
    newest alert first, its deliveries oldest first (``get_alert`` of each, in one query)."""
    latest = (select(_a.c.id).where(_a.c.tenant_id == tenant_id)
              .order_by(_a.c.created_at.desc(), _a.c.id.desc()).limit(alerts).subquery())
    with get_engine().connect() as conn:
        rows = conn.execute(
            select(_a, _d).join(_d, and_(_d.c.alert_id == _a.c.id,
                                         _d.c.tenant_id == _a.c.tenant_id))
            .where(_a.c.id.in_(select(latest.c.id)), _a.c.tenant_id == tenant_id)
            .order_by(_a.c.created_at.desc(), _a.c.id.desc(), _d.c.created_at, _d.c.id)
        ).all()
    out = []
    for r in rows:
        m = r._mapping
        alert = alert_json({c.name: m[c] for c in _a.c})
        delivery = _delivery_json({c.name: m[c] for c in _d.c})
        out.append((alert, delivery))
    return out


# --- webhooks -------------------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def create_webhook(tenant_id: str, url: str, description: str | None = None) -> dict[str, Any]:
    """A new active webhook; the answer carries its signing ``secret``, shown this once.
    A target the rules of ``app.alerts.targets`` refuse (not https, not public once
    resolved, not allowed by the operator) is a 422 naming ``url``; the delivery checks it
    again each time."""
    try:
        targets.check(url)
    except targets.Refused as exc:
        log.info("webhook of tenant %s refused at registration: %s (%s)", tenant_id, url, exc)
        raise Unprocessable(f"url: {exc}", code="invalid", extra={"field": "url"}) from None
    row = {"id": new_id("whk"), "tenant_id": tenant_id, "url": url, "secret": new_secret(),
           "active": True, "created_at": clock_now(), "description": description}
    with write_transaction() as conn:
        conn.execute(insert(_w).values(**row))
    return _webhook_json(row) | {"secret": row["secret"]}


def list_webhooks(tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's active webhooks (no secrets), oldest first."""
    with get_engine().connect() as conn:
        rows = conn.execute(
            select(_w).where(_w.c.tenant_id == tenant_id, _w.c.active.is_(True))
            .order_by(_w.c.created_at, _w.c.id)
        ).all()
    return [_webhook_json(r._mapping) for r in rows]


def _active_webhook(conn: Connection, tenant_id: str, webhook_id: str) -> Any:
    row = conn.execute(
        select(_w).where(_w.c.id == webhook_id, _w.c.tenant_id == tenant_id,
                         _w.c.active.is_(True))
    ).first()
    if row is None:
        raise NotFound(f"no webhook {webhook_id}")
    return row


def delete_webhook(tenant_id: str, webhook_id: str) -> None:
    """Deactivate a webhook (its delivery log stays, referring to it) and fail its pending
    deliveries that no deliverer holds; one a deliverer holds fails when it is next claimed."""
    at = clock_now()
    with write_transaction() as conn:
        _active_webhook(conn, tenant_id, webhook_id)
        conn.execute(update(_w).where(_w.c.id == webhook_id).values(active=False))
        conn.execute(
            update(_d).where(
                _d.c.webhook_id == webhook_id, _d.c.state == "pending",
                or_(_d.c.claimed_until.is_(None), _d.c.claimed_until < at),
            ).values(state="failed", next_attempt_at=None, last_error="webhook deleted")
        )


def queue_test_delivery(tenant_id: str, webhook_id: str) -> dict[str, Any]:
    """Queue a synthetic alert (monitor ``test``, action ``notice``) to this webhook only; it
    is recorded like any alert, so its delivery log can be read at ``GET /v1/alerts/{id}``."""
    created = clock_now()
    with write_transaction() as conn:
        _active_webhook(conn, tenant_id, webhook_id)
        row = {
            "id": new_id("alr"), "tenant_id": tenant_id, "monitor": TEST_MONITOR,
            "scope": "tenant", "action": "notice", "value": 0.0, "threshold": 0.0,
            "window": "0s", "created_at": created, "until": None,
            "details": {"test": True, "webhook_id": webhook_id,
                        "message": "a test delivery requested by an admin"},
        }
        conn.execute(insert(_a).values(**row))
        delivery = _new_delivery(row["id"], webhook_id, tenant_id, created)
        conn.execute(insert(_d).values(**delivery))
    return {"alert": alert_json(row), "delivery_id": delivery["id"]}
