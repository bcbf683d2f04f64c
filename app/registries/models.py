from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.principals.models import own_principal

#: ``principal_id`` columns (contracts, oppositions, refusals; ``attempts``, ``campaigns``): the
#: principal (app.principals) the record belongs to. Nullable in the schema only because SQLite
#: cannot add a NOT NULL column to a filled table without rebuilding it; every write sets it,
#: and migration 0009 set it to the tenant's own principal (the tenant id) for older rows.
PRINCIPAL_NOTE = "principal_id"

#: Width of ``callee`` in the registries: an E.164 number (≤ 16 characters) or, once the number
#: is erased (GDPR art. 17), its tombstone key ``erased:<sha256 hex>`` (71; see
#: app.registries.tombstones).
CALLEE_LENGTH = 80


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_tenant_callee", "tenant_id", "callee"),)
    # the principals it names: app.principals.models.ConsentPrincipal

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    callee: Mapped[str] = mapped_column(String(CALLEE_LENGTH))  # E.164 or tombstone
    scope: Mapped[str] = mapped_column(String(20))  # canvassing | outside_hours
    given_at: Mapped[datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(String(100))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoke_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # what a valid consent names (rules-fr.md §5): "own" form or the partner/broker's name;
    # whether the information notice was given (None: not recorded); a condition of a sale
    source: Mapped[str] = mapped_column(String(200), server_default="own")
    notice_given: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    conditional_on_sale: Mapped[bool] = mapped_column(Boolean, server_default=false())


class Contract(Base):
    __tablename__ = "contracts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "reference"),
        Index("ix_contracts_tenant_callee", "tenant_id", "callee"),
        # the check path finds a principal's contracts across tenants (migration 0013)
        Index("ix_contracts_principal_callee", "principal_id", "callee"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    callee: Mapped[str] = mapped_column(String(CALLEE_LENGTH))
    reference: Mapped[str] = mapped_column(String(200))
    sector: Mapped[str] = mapped_column(String(40))
    # the principal the contract is with (app.principals); always written, see PRINCIPAL_NOTE
    principal_id: Mapped[str | None] = mapped_column(
        String(40), nullable=True, default=own_principal
    )
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Opposition(Base):
    """The tenant's internal do-not-call list (in both regimes, for every campaign)."""

    __tablename__ = "oppositions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "principal_id", "callee"),
        Index("ix_oppositions_principal_callee", "principal_id", "callee"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    callee: Mapped[str] = mapped_column(String(CALLEE_LENGTH))
    # the principal asked never to call again (rules-fr.md §5); see PRINCIPAL_NOTE
    principal_id: Mapped[str | None] = mapped_column(
        String(40), nullable=True, default=own_principal
    )
    source: Mapped[str] = mapped_column(String(200))
    attempt_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Refusal(Base):
    """The consumer refused during a conversation (60-day cooldown; withdraws consent)."""

    __tablename__ = "refusals"
    __table_args__ = (
        Index("ix_refusals_tenant_callee", "tenant_id", "callee"),
        Index("uq_refusals_attempt", "attempt_id", unique=True),  # one per attempt's outcome
        Index("ix_refusals_principal_callee", "principal_id", "callee"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    callee: Mapped[str] = mapped_column(String(CALLEE_LENGTH))
    # the principal of the campaign the consumer refused; see PRINCIPAL_NOTE
    principal_id: Mapped[str | None] = mapped_column(
        String(40), nullable=True, default=own_principal
    )
    refused_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempt_id: Mapped[str | None] = mapped_column(String(40), nullable=True)


class Quarantine(Base):
    """A number reported unassigned (SIP 404/410/484/604): not to be called until ``until``."""

    __tablename__ = "quarantines"
    __table_args__ = (
        Index("ix_quarantines_tenant_callee", "tenant_id", "callee"),
        Index("uq_quarantines_attempt", "attempt_id", unique=True),  # one per attempt's outcome
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    callee: Mapped[str] = mapped_column(String(CALLEE_LENGTH))
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    attempt_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Erasure(Base):
    """One erasure request (GDPR art. 17) and what it erased, without the number.

    ``tombstone`` is the key that replaced the number in the registries (app.registries.tombstones);
    the counts say how many records of each registry lost their personal data then.
    """

    __tablename__ = "erasures"
    __table_args__ = (Index("ix_erasures_tenant_tombstone", "tenant_id", "tombstone"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    tombstone: Mapped[str] = mapped_column(String(CALLEE_LENGTH))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by: Mapped[str] = mapped_column(String(40))  # API key id, not a person
    consents: Mapped[int] = mapped_column(Integer)
    contracts: Mapped[int] = mapped_column(Integer)
    refusals: Mapped[int] = mapped_column(Integer)
    quarantines: Mapped[int] = mapped_column(Integer)
    oppositions: Mapped[int] = mapped_column(Integer)
    opposition_added: Mapped[bool] = mapped_column(Boolean)
    # consents whose evidence the erasure kept under legal hold (ConsentHold), and the end of
    # the longest hold (None: nothing held)
    consents_held: Mapped[int] = mapped_column(Integer, server_default="0")
    legal_hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ConsentHold(Base):
    """The evidence of an erased consent, kept under legal hold until ``hold_until`` (collection
    + 3 years: rules-fr.md §5, GDPR art. 17(3)(b)) and shown nowhere: sealed in the ledger
    (stream ``holds``, by ``held_at``) and deleted by ``gateway audit purge`` once the hold ends
    (app.audit.service). Without the number: a tombstone key finds it (app.erasure)."""

    __tablename__ = "consent_holds"
    __table_args__ = (Index("ix_consent_holds_tenant_held", "tenant_id", "held_at"),)

    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    erasure_id: Mapped[str] = mapped_column(String(40))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime())
    hold_until: Mapped[datetime] = mapped_column(UTCDateTime())
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    evidence_sha256: Mapped[str] = mapped_column(String(64))
