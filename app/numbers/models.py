"""What migration 0010 (one line, one key) changed, kept so that a downgrade restores it.

Each row is one stored number the upgrade re-keyed to its canonical E.164 (``table_name``,
``row_key`` — the row's id, or its primary key as a JSON array —, ``column_name``,
``old_value`` → ``new_value``), or one row it merged away on a unique key (``merged``: the row
as it was, JSON), or one change of a stored BLOCTEL version (``table_name`` ``bloctel``).

The table is also read at head: a re-keyed attempt was sealed in the ledger with its old key,
so ``app.audit`` hashes it with ``old_value`` (the seal still verifies). An erasure deletes the
rows of the erased number's registry records, a retention purge those of the purged attempts:
no number outlives its record here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class NumberRekey(Base):
    __tablename__ = "number_rekeys"
    __table_args__ = (
        Index("ix_number_rekeys_row", "table_name", "row_key", "column_name"),
        Index("ix_number_rekeys_tenant_new", "tenant_id", "new_value"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    table_name: Mapped[str] = mapped_column(String(40))
    row_key: Mapped[str] = mapped_column(String(300))
    column_name: Mapped[str | None] = mapped_column(String(40), nullable=True)
    old_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    new_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    merged: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
