"""Outcomes exactly once, idempotency by request, and the dialled-despite-deny breach.

* ``attempts`` gains ``callee_department`` (what the check was judged with),
  ``request_fingerprint`` (sha256 of the normalised request, ``app.calls.idempotency``) and
  ``dialled_despite_deny`` (rules-fr.md §7). The flag is back-filled: an attempt the gateway
  denied that already carries an outcome other than ``not_dialed`` was dialled anyway. Rows
  stored before this revision have no fingerprint and are compared column by column.
* One penalty line per (attempt, code), one quarantine and one refusal per attempt, as unique
  indexes. Before 0006 concurrent outcomes on PostgreSQL could record several: the duplicates
  (all but the first line of each (attempt, code); all but the first quarantine and refusal of
  each attempt) are deleted first — they over-charged the tenant and repeated one quarantine.

A downgrade drops the indexes and the three columns (fingerprints and flags are lost; the
deleted duplicates are not restored).

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNIQUE = (
    ('penalty_lines', 'uq_penalty_lines_attempt_code', ['attempt_id', 'code']),
    ('quarantines', 'uq_quarantines_attempt', ['attempt_id']),
    ('refusals', 'uq_refusals_attempt', ['attempt_id']),
)


def upgrade() -> None:
    # plain ALTER TABLE … ADD COLUMN on both databases: a batch copy of ``attempts`` would drop
    # the table that penalty lines refer to, which SQLite's foreign keys refuse
    op.add_column('attempts', sa.Column('callee_department', sa.String(length=3),
                                        nullable=True))
    op.add_column('attempts', sa.Column('request_fingerprint', sa.String(length=64),
                                        nullable=True))
    op.add_column('attempts', sa.Column('dialled_despite_deny', sa.Boolean(), nullable=False,
                                        server_default=sa.false()))
    op.execute(
        "UPDATE attempts SET dialled_despite_deny = "
        + ("TRUE" if op.get_bind().dialect.name == "postgresql" else "1")
        + " WHERE decision = 'deny' AND outcome_status IS NOT NULL"
        " AND outcome_status <> 'not_dialed'"
    )
    # keep the first row of each group, delete the repeats
    op.execute(
        "DELETE FROM penalty_lines WHERE id NOT IN "
        "(SELECT MIN(id) FROM penalty_lines GROUP BY attempt_id, code)"  # ids are sequential
    )
    for table, at in (('quarantines', 'created_at'), ('refusals', 'refused_at')):
        op.execute(
            f"DELETE FROM {table} WHERE attempt_id IS NOT NULL AND EXISTS ("
            f"SELECT 1 FROM {table} k WHERE k.attempt_id = {table}.attempt_id"
            f" AND (k.{at} < {table}.{at} OR (k.{at} = {table}.{at} AND k.id < {table}.id)))"
        )
    for table, name, columns in _UNIQUE:
        op.create_index(name, table, columns, unique=True)


def downgrade() -> None:
    for table, name, _ in reversed(_UNIQUE):
        op.drop_index(name, table_name=table)
    # plain ALTER TABLE … DROP COLUMN (SQLite >= 3.35), as in upgrade()
    for column in ('dialled_despite_deny', 'request_fingerprint', 'callee_department'):
        op.drop_column('attempts', column)
