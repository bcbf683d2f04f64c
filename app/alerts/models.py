"""Alerts, the tenant's webhooks, and one delivery row per (alert, webhook).

A monitor raises an alert inside its own transaction (``service.raise_alert``): the alert and
one ``pending`` delivery per active webhook are written there, nothing is sent. The deliverer
(``delivery.py``) claims due deliveries with ``claimed_until`` — an UPDATE guarded by the
previous state, checked by its row count — so that several threads, workers or replicas never
send the same delivery at the same time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_tenant_created", "tenant_id", "created_at"),
        Index("ix_alerts_tenant_action_until", "tenant_id", "action", "until"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # alr_…
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    monitor: Mapped[str] = mapped_column(String(40))  # short_call_share, attempts_per_minute…
    scope: Mapped[str] = mapped_column(String(120))  # tenant | campaign:<id> | caller_id:<E.164>
    action: Mapped[str] = mapped_column(String(10))  # notice | throttle | suspend
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    window: Mapped[str] = mapped_column(String(20))  # "1h", "1m", "24h"…
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: end of a throttle (or of any action that lasts); None: no end stated
    until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class Webhook(Base):
    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_tenant", "tenant_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # whk_…
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    url: Mapped[str] = mapped_column(String(2000))
    # the signing secret: shown once at creation, kept in clear because every delivery is
    # signed with it (HMAC needs the secret itself, unlike an API key's hash)
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    description: Mapped[str | None] = mapped_column(String(200), nullable=True)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_alert", "alert_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # whd_…
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id"))
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id"))
    tenant_id: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(12))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)  # HTTP status
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
