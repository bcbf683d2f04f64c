"""Indexes for the console's pages at a million attempts (issue 16), none added on the check
path's writes: each replaces one it covers.

* ``ix_attempts_tenant_checked`` becomes (tenant_id, checked_at, id): the attempts list pages
  by keyset on (checked_at DESC, id DESC) and the export streams in (checked_at, id) order —
  both read the index in order with no sort; every query the old index served, it serves.
* ``ix_penalty_lines_tenant_id`` becomes ``ix_penalty_lines_tenant_created``
  (tenant_id, created_at): the summary and the dashboard sum the lines created in a period
  (before, a scan of the tenant's lines).

Revision ID: 0015
Revises: 0014
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index('ix_attempts_tenant_checked', table_name='attempts')
    op.create_index('ix_attempts_tenant_checked', 'attempts', ['tenant_id', 'checked_at', 'id'],
                    unique=False)
    op.drop_index('ix_penalty_lines_tenant_id', table_name='penalty_lines')
    op.create_index('ix_penalty_lines_tenant_created', 'penalty_lines',
                    ['tenant_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_penalty_lines_tenant_created', table_name='penalty_lines')
    op.create_index('ix_penalty_lines_tenant_id', 'penalty_lines', ['tenant_id'], unique=False)
    op.drop_index('ix_attempts_tenant_checked', table_name='attempts')
    op.create_index('ix_attempts_tenant_checked', 'attempts', ['tenant_id', 'checked_at'],
                    unique=False)
