from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, Integer, LargeBinary, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class BloctelVersion(Base):
    """One import: a numbered version of the list.

    ``status``: ``loading`` (being imported), ``active`` (the list in force: at most one),
    ``superseded`` (was active), ``refused`` (too much garbage, empty, shrinking or older than
    the list in force, and not forced), ``failed`` (an error, or the import process died —
    found and marked by the next import).
    """

    __tablename__ = "bloctel_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    import_id: Mapped[str] = mapped_column(String(40), unique=True)
    mode: Mapped[str] = mapped_column(String(10))  # replace | add | remove
    status: Mapped[str] = mapped_column(String(10))
    as_of: Mapped[date] = mapped_column(Date)
    lines: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    blank: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    header: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejected_samples: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    sha256: Mapped[str] = mapped_column(String(64))
    file_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    file_format: Mapped[str | None] = mapped_column(String(200), nullable=True)
    total_numbers: Mapped[int] = mapped_column(BigInteger, default=0)
    added: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    removed: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    base_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    forced: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    imported_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class BloctelChunk(Base):
    """Part of a version's list: up to 2**20 numbers sharing ``bucket`` (the key's high 32
    bits), as zlib-compressed deltas of the sorted low 32 bits (``bloctel.index``)."""

    __tablename__ = "bloctel_chunks"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)
    first: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
