"""The BLOCTEL look-up the check path calls: ``default_lookup().lookup(conn, e164)``.

This first implementation asks the database (primary-key look-up in the active version). It
sits behind the ``BloctelLookup`` protocol so that an in-process index can replace it without
the check path or the rules noticing.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

from sqlalchemy import Connection, select

from app.cache import cache
from bloctel.models import BloctelNumber, BloctelVersion
from rules_fr.model import BloctelFacts

_versions = BloctelVersion.__table__
_numbers = BloctelNumber.__table__


def number_key(e164: str) -> int:
    """``+33612345678`` → ``33612345678`` (how numbers are stored)."""
    return int(e164.lstrip("+"))


class BloctelLookup(Protocol):
    def lookup(self, conn: Connection, e164: str) -> BloctelFacts: ...


def active_version(conn: Connection) -> tuple[int, date] | None:
    v = _versions.c
    row = conn.execute(
        select(v.version, v.as_of).where(v.status == "active").order_by(v.version.desc()).limit(1)
    ).first()
    return (row.version, row.as_of) if row else None


_active = cache()


class DatabaseLookup:
    def lookup(self, conn: Connection, e164: str) -> BloctelFacts:
        active = _active.get_or_load("active", lambda: active_version(conn))
        if active is None:
            return BloctelFacts(listed=False, as_of=None, version=None)
        version, as_of = active
        n = _numbers.c
        listed = (
            conn.execute(
                select(n.number).where(n.version == version, n.number == number_key(e164))
            ).first()
            is not None
        )
        return BloctelFacts(listed=listed, as_of=as_of, version=version)


def invalidate() -> None:
    _active.invalidate()


_default = DatabaseLookup()


def default_lookup() -> BloctelLookup:
    return _default
