"""Seals of the attempt ledger (see ``app.audit.service`` for the scheme)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class LedgerSeal(Base):
    """One link of the chain: a seal of every attempt checked, and every outcome recorded, in
    ``[covers_from, covers_to)`` (kind ``seal``), or a sealed purge (kind ``purge``)."""

    __tablename__ = "ledger_seals"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(10))  # seal | purge
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    covers_from: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    covers_to: Mapped[datetime] = mapped_column(UTCDateTime())
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LedgerPart(Base):
    """A seal's digest of one tenant's rows of one stream (``attempts`` or ``outcomes``)."""

    __tablename__ = "ledger_parts"
    __table_args__ = (Index("ix_ledger_parts_tenant", "tenant_id", "seq"),)

    seq: Mapped[int] = mapped_column(ForeignKey("ledger_seals.seq"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    stream: Mapped[str] = mapped_column(String(10), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))
