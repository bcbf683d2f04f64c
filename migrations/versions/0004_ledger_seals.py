"""The sealed attempt ledger: ``ledger_seals`` (the hash chain) and ``ledger_parts`` (each
seal's digest of one tenant's attempts or outcomes), plus an index on (tenant, outcome_at) for
the sealer to find the outcomes recorded in a period.

A downgrade drops the chain: the ledger is then no longer tamper-evident (nothing else is lost).

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('ledger_seals',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('sealed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('covers_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('covers_to', sa.DateTime(timezone=True), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_ledger_seals'))
    )
    op.create_table('ledger_parts',
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('stream', sa.String(length=10), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['seq'], ['ledger_seals.seq'],
                            name=op.f('fk_ledger_parts_seq_ledger_seals')),
    sa.PrimaryKeyConstraint('seq', 'tenant_id', 'stream', name=op.f('pk_ledger_parts'))
    )
    with op.batch_alter_table('ledger_parts', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_parts_tenant', ['tenant_id', 'seq'], unique=False)
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.create_index('ix_attempts_tenant_outcome_at', ['tenant_id', 'outcome_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_attempts_tenant_outcome_at')
    with op.batch_alter_table('ledger_parts', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_parts_tenant')
    op.drop_table('ledger_parts')
    op.drop_table('ledger_seals')
