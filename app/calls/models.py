from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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


class Attempt(Base):
    """One check of one call: the ledger row. Allowed or denied, every check is one."""

    __tablename__ = "attempts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_id"),
        # the attempts list's keyset (checked_at DESC, id DESC), the export's order (0015)
        Index("ix_attempts_tenant_checked", "tenant_id", "checked_at", "id"),
        Index("ix_attempts_tenant_caller_checked", "tenant_id", "caller_id", "checked_at"),
        Index("ix_attempts_tenant_outcome_at", "tenant_id", "outcome_at"),  # ledger seals
        # the frequency limit counts the principal's attempts across tenants; the number's
        # history (tenant, callee) seeks the callee too: one index for both, as many indexes
        # to maintain on each insert as before principals (migration 0009)
        Index("ix_attempts_callee_principal_checked", "callee", "principal_id", "checked_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    campaign_id: Mapped[str] = mapped_column(String(100))
    # the campaign's principal (app.principals); always written (nullable only for SQLite,
    # see app.registries.models.PRINCIPAL_NOTE)
    principal_id: Mapped[str | None] = mapped_column(
        String(40), nullable=True, default=own_principal
    )
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    callee: Mapped[str] = mapped_column(String(64))  # E.164, or the raw input when unparsable
    caller_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    agent_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    contract_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decision: Mapped[str] = mapped_column(String(10))  # allow | deny
    reason_codes: Mapped[str] = mapped_column(String(1000))  # space-separated, for filters
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    regime: Mapped[str] = mapped_column(String(10))
    ruleset_version: Mapped[str] = mapped_column(String(20))
    callee_time_zone: Mapped[str] = mapped_column(String(40))
    next_allowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    penalty_micros: Mapped[int] = mapped_column(BigInteger)  # euros × 10⁶, exact sums
    # allowed and not released by a not_dialed outcome: counts toward the frequency limit
    counted: Mapped[bool] = mapped_column(Boolean)
    outcome_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    sip_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    consumer_refused: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    consumer_opposed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # the département the dialer named (local holidays): part of what was judged
    callee_department: Mapped[str | None] = mapped_column(String(3), nullable=True)
    # sha256 of the normalised request (app.calls.idempotency), kept when external_id is set:
    # a replay with another request is 409 idempotency_conflict. NULL on rows stored before
    # revision 0006, which are compared column by column.
    request_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # rules-fr.md §7: an outcome other than not_dialed reported for a denied attempt
    dialled_despite_deny: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )


class PenaltyLine(Base):
    """A penalty the operator's tariff attaches to an attempt (denied, unassigned…)."""

    __tablename__ = "penalty_lines"
    # one line per (attempt, code): a penalty is charged once, whatever the concurrency
    __table_args__ = (
        Index("uq_penalty_lines_attempt_code", "attempt_id", "code", unique=True),
        Index("ix_penalty_lines_tenant_created", "tenant_id", "created_at"),  # per period (0015)
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"))
    attempt_id: Mapped[str] = mapped_column(ForeignKey("attempts.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))  # ILLEGITIMATE_ATTEMPT | CALLEE_UNASSIGNED
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
