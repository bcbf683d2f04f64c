"""An index on contracts (principal_id, callee): the check path finds the contracts of the
campaign's principal across every tenant holding its mandate (rules-fr.md §1), as it finds its
oppositions, refusals and attempts (indexes of 0009).

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_contracts_principal_callee', 'contracts', ['principal_id', 'callee'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_contracts_principal_callee', table_name='contracts')
