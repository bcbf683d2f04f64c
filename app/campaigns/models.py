from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.principals.models import own_principal


class CallerId(Base):
    """A number the tenant registered as its own (presenting another's number is spoofing).

    A number is held by one tenant platform-wide (L221-17: the presented number belongs to the
    professional): the database enforces it (``uq_caller_ids_number``), so two tenants
    registering the same number at once get one 201 and one 409.
    """

    __tablename__ = "caller_ids"
    __table_args__ = (
        UniqueConstraint("number"),
        Index("ix_caller_ids_tenant_id", "tenant_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    number: Mapped[str] = mapped_column(String(20))  # E.164
    kind: Mapped[str] = mapped_column(String(20))  # rules_fr.model.NumberKind value
    assigned_to: Mapped[str | None] = mapped_column(String(100), nullable=True)  # agent id
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: when the operator verified the number is the tenant's (``POST /v1/caller-ids/{n}/verify``);
    #: None: not verified (usable only while ``GATEWAY_CALLER_ID_VERIFICATION`` is ``off``)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Campaign(Base):
    __tablename__ = "campaigns"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # chosen by the tenant
    purpose: Mapped[str] = mapped_column(String(20))  # commercial | non_commercial
    audience: Mapped[str] = mapped_column(String(20))  # consumers | professionals
    sector: Mapped[str] = mapped_column(String(40))
    automated: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # the principal the campaign calls for (app.principals; the tenant's own by default);
    # always written (nullable only for SQLite, see app.registries.models.PRINCIPAL_NOTE)
    principal_id: Mapped[str | None] = mapped_column(
        String(40), nullable=True, default=own_principal
    )
    # a prerecorded message (no human operator): consent in both regimes (CPCE L34-5)
    prerecorded: Mapped[bool] = mapped_column(Boolean, server_default=false())


class CampaignCallerId(Base):
    __tablename__ = "campaign_caller_ids"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "campaign_id"], ["campaigns.tenant_id", "campaigns.id"]
        ),
    )

    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    number: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
