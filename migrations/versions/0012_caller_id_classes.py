"""Caller IDs: the kind of 09 37-09 39 numbers is ``platform``, no longer ``polyvalent``.

09 37, 09 38 and 09 39 are the numbers ARCEP reserves for exchanges with a technical platform
(plan national de numérotation, § 2.3.9), not numéros polyvalents vérifiés (NPV): the old kind
name ("polyvalent", shown as "polyvalent verified") said the opposite of the rule. The stored
``caller_ids.kind`` values follow ``rules_fr.model.NumberKind.PLATFORM``; a downgrade gives the
old name back. Data only: the schema does not change.

Revision ID: 0012
Revises: 0011
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RENAME = sa.text("UPDATE caller_ids SET kind = :new WHERE kind = :old")


def upgrade() -> None:
    op.get_bind().execute(_RENAME, {"old": "polyvalent", "new": "platform"})


def downgrade() -> None:
    op.get_bind().execute(_RENAME, {"old": "platform", "new": "polyvalent"})
