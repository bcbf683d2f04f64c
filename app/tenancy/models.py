from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_form: Mapped[str] = mapped_column(String(20))  # legal_person | natural_person
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | suspended
    # overrides of rules_fr.model.Policy defaults; see app.tenancy.policy
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    suspended_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # the operator's sanctions for this tenant (tariff, monitor floors), over the platform's;
    # the tenant cannot write them. See app.tenancy.sanctions
    sanctions: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(
        ForeignKey("tenants.id"), nullable=True, index=True
    )
    role: Mapped[str] = mapped_column(String(20))  # operator | admin | compliance | dialer
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the key
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to recognise a key
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    label: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # set when a worker loads the key from the database (not on every request): see
    # app.tenancy.auth.LAST_USED_PRECISION_S
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
