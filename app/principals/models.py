from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


def own_principal(context: Any) -> str | None:
    """The default of every ``principal_id`` column: the row's tenant's own principal (whose id
    is the tenant id), for writes that do not name one (rows written with the ORM or Core
    before principals existed, tests and benches that insert directly). The gateway's own
    writes always name it."""
    return context.get_current_parameters().get("tenant_id")


class Professional(Base):
    """A principal: the professional (advertiser) for whose account calls are made.

    A tenant's own principal has the tenant's id as its id and ``tenant_id`` set; principals
    the operator creates for advertisers have ``prn_…`` ids and no ``tenant_id``.
    """

    __tablename__ = "principals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    siren: Mapped[str | None] = mapped_column(String(9), nullable=True, unique=True)
    # set for a tenant's own principal (one per tenant)
    tenant_id: Mapped[str | None] = mapped_column(
        ForeignKey("tenants.id"), nullable=True, unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Mandate(Base):
    """The tenant (call centre) may call on behalf of the principal."""

    __tablename__ = "mandates"
    __table_args__ = (Index("ix_mandates_tenant_id", "tenant_id"),)

    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsentPrincipal(Base):
    """A principal a consent names (a consent may name several). ``callee`` repeats the
    consent's number so that the check path finds a principal's consents by one index."""

    __tablename__ = "consent_principals"
    __table_args__ = (Index("ix_consent_principals_principal_callee", "principal_id", "callee"),)

    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), primary_key=True)
    principal_id: Mapped[str] = mapped_column(ForeignKey("principals.id"), primary_key=True)
    callee: Mapped[str] = mapped_column(String(80))  # E.164 or tombstone, as consents.callee
