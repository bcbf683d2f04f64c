"""Erasure (GDPR art. 17): registry ``callee`` columns wide enough for a tombstone key, and the
``erasures`` record of each request.

An erased number is replaced in consents, contracts, oppositions, refusals and quarantines by
``erased:<sha256 hex>`` (71 characters; ``app.registries.tombstones``), so ``callee`` grows from 20 to
80 characters. A downgrade narrows it back only when no tombstone is stored: an erased number
cannot be given back, and dropping its rows would unblock it, so it refuses instead.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REGISTRIES = ('consents', 'contracts', 'oppositions', 'refusals', 'quarantines')
NARROW, WIDE = 20, 80


def upgrade() -> None:
    for table in REGISTRIES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('callee', existing_type=sa.String(length=NARROW),
                                  type_=sa.String(length=WIDE), existing_nullable=False)
    op.create_table('erasures',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('tenant_id', sa.String(length=40), nullable=False),
    sa.Column('tombstone', sa.String(length=WIDE), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requested_by', sa.String(length=40), nullable=False),
    sa.Column('consents', sa.Integer(), nullable=False),
    sa.Column('contracts', sa.Integer(), nullable=False),
    sa.Column('refusals', sa.Integer(), nullable=False),
    sa.Column('quarantines', sa.Integer(), nullable=False),
    sa.Column('oppositions', sa.Integer(), nullable=False),
    sa.Column('opposition_added', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                            name=op.f('fk_erasures_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasures'))
    )
    with op.batch_alter_table('erasures', schema=None) as batch_op:
        batch_op.create_index('ix_erasures_tenant_tombstone', ['tenant_id', 'tombstone'],
                              unique=False)


def downgrade() -> None:
    conn = op.get_bind()
    for table in REGISTRIES:
        wide = conn.execute(
            sa.text(f"SELECT count(*) FROM {table} WHERE length(callee) > {NARROW}")
        ).scalar_one()
        if wide:
            raise RuntimeError(
                f"cannot downgrade below 0003: {table} holds {wide} erased number(s) (tombstone "
                "keys); an erasure cannot be undone and dropping them would unblock the numbers"
            )
    with op.batch_alter_table('erasures', schema=None) as batch_op:
        batch_op.drop_index('ix_erasures_tenant_tombstone')
    op.drop_table('erasures')
    for table in REGISTRIES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('callee', existing_type=sa.String(length=WIDE),
                                  type_=sa.String(length=NARROW), existing_nullable=False)
