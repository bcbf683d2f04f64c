"""BLOCTEL at national scale: lists stored as compressed chunks, richer import records.

One row per number (``bloctel_numbers``) made a 15-million-number import write 15 million rows;
a version is now a dozen ``bloctel_chunks`` (``bloctel.index`` format). The active list (and the
previous one, if its numbers are still there) is converted, so an upgrade loses nothing; older
duplicate ``active`` rows become ``superseded`` (there is now exactly one active version).

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

def _new_columns() -> tuple[sa.Column, ...]:
    return (
        sa.Column('blank', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('header', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('file_bytes', sa.BigInteger(), nullable=False, server_default='0'),
        sa.Column('file_format', sa.String(length=200), nullable=True),
        sa.Column('added', sa.BigInteger(), nullable=False, server_default='0'),
        sa.Column('removed', sa.BigInteger(), nullable=False, server_default='0'),
        sa.Column('base_version', sa.Integer(), nullable=True),
        sa.Column('forced', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    )


def upgrade() -> None:
    from bloctel.index import encode_bucket, split

    op.create_table(
        'bloctel_chunks',
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('bucket', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('first', sa.BigInteger(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('version', 'seq', name=op.f('pk_bloctel_chunks')),
    )
    with op.batch_alter_table('bloctel_versions') as batch:
        for column in _new_columns():
            batch.add_column(column)

    conn = op.get_bind()
    versions = conn.execute(sa.text(
        "SELECT version, status FROM bloctel_versions ORDER BY version DESC")).all()
    active = [v for v, s in versions if s == 'active']
    for v in active[1:]:
        conn.execute(sa.text(
            "UPDATE bloctel_versions SET status = 'superseded' WHERE version = :v"), {"v": v})
    chunks = sa.table(
        'bloctel_chunks', sa.column('version'), sa.column('seq'), sa.column('bucket'),
        sa.column('count'), sa.column('first'), sa.column('data'),
    )
    for v in active[:2]:
        numbers = conn.execute(sa.text(
            "SELECT number FROM bloctel_numbers WHERE version = :v ORDER BY number"),
            {"v": v}).scalars().all()
        keys = np.array(numbers, dtype=np.int64)
        seq = 0
        for bucket, lows in split(keys).items():
            for c in encode_bucket(bucket, lows):
                conn.execute(chunks.insert().values(
                    version=v, seq=seq, bucket=c.bucket, count=c.count, first=c.first,
                    data=c.data))
                seq += 1
    op.drop_table('bloctel_numbers')


def downgrade() -> None:
    from bloctel.index import Chunk, decode

    op.create_table(
        'bloctel_numbers',
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('number', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('version', 'number', name=op.f('pk_bloctel_numbers')),
    )
    conn = op.get_bind()
    numbers = sa.table('bloctel_numbers', sa.column('version'), sa.column('number'))
    for (v,) in conn.execute(sa.text(
            "SELECT version FROM bloctel_versions WHERE status = 'active'")).all():
        rows = conn.execute(sa.text(
            "SELECT bucket, count, first, data FROM bloctel_chunks WHERE version = :v "
            "ORDER BY seq"), {"v": v}).all()
        buckets = decode(Chunk(r.bucket, r.count, r.first, bytes(r.data)) for r in rows)
        for bucket, lows in buckets.items():
            keys = (np.int64(bucket) << 32) | lows.astype(np.int64)
            for start in range(0, len(keys), 10_000):
                conn.execute(numbers.insert(), [
                    {"version": v, "number": int(k)} for k in keys[start:start + 10_000]])
    conn.execute(sa.text(
        "UPDATE bloctel_versions SET status = 'failed' WHERE status NOT IN "
        "('loading', 'active', 'failed')"))
    with op.batch_alter_table('bloctel_versions') as batch:
        for column in reversed(_new_columns()):
            batch.drop_column(column.name)
    op.drop_table('bloctel_chunks')
