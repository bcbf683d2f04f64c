"""BLOCTEL at national scale: lists stored as compressed chunks, richer import records.

One row per number (``bloctel_numbers``) made a 15-million-number import write 15 million rows;
a version is now a dozen ``bloctel_chunks`` (``bloctel.index`` format). The list in force is
converted (streamed), so an upgrade loses nothing; older duplicate ``active`` rows become
``superseded`` (there is now exactly one active version).

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence

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
        sa.Column('added', sa.BigInteger(), nullable=True),
        sa.Column('removed', sa.BigInteger(), nullable=True),
        sa.Column('base_version', sa.Integer(), nullable=True),
        sa.Column('forced', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    )


# The chunk format as of this revision (``bloctel.index``), copied so that a later format
# change cannot change what this migration writes or reads.
CHUNK = 1 << 20


def _chunks(keys: np.ndarray) -> Iterator[tuple[int, int, int, bytes]]:
    """Sorted unique int64 keys → (bucket, count, first, data) rows."""
    highs = keys >> 32
    for h in np.unique(highs).tolist():
        lo, hi = np.searchsorted(highs, [h, h + 1])
        lows = (keys[lo:hi] & np.int64(0xFFFFFFFF)).astype(np.uint32)
        for start in range(0, len(lows), CHUNK):
            part = lows[start:start + CHUNK]
            deltas = np.diff(part, prepend=np.uint32(0))
            yield int(h), len(part), int(part[0]), zlib.compress(deltas.tobytes(), 1)


def _keys(rows: list[tuple[int, bytes]]) -> np.ndarray:
    """(bucket, data) rows in order → sorted int64 keys."""
    parts = [
        (np.int64(b) << 32) | np.cumsum(np.frombuffer(zlib.decompress(d), np.uint32),
                                        dtype=np.uint32).astype(np.int64)
        for b, d in rows
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def upgrade() -> None:
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
    for v in active[:1]:  # the list in force (older versions' numbers are not needed)
        total = conn.execute(sa.text(
            "SELECT count(*) FROM bloctel_numbers WHERE version = :v"), {"v": v}).scalar()
        rows = conn.execute(
            sa.text("SELECT number FROM bloctel_numbers WHERE version = :v ORDER BY number")
            .execution_options(stream_results=True, yield_per=100_000), {"v": v})
        keys = np.fromiter(rows.scalars(), dtype=np.int64, count=total)
        rows.close()  # PostgreSQL: the server-side cursor, before the table is dropped
        for seq, (bucket, count, first, data) in enumerate(_chunks(keys)):
            conn.execute(chunks.insert().values(
                version=v, seq=seq, bucket=bucket, count=count, first=first, data=data))
        conn.execute(sa.text(
            "UPDATE bloctel_versions SET total_numbers = :n WHERE version = :v"),
            {"n": total, "v": v})
    op.drop_table('bloctel_numbers')


def downgrade() -> None:
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
            "SELECT bucket, data FROM bloctel_chunks WHERE version = :v ORDER BY seq"),
            {"v": v}).all()
        keys = _keys([(r.bucket, bytes(r.data)) for r in rows])
        for start in range(0, len(keys), 10_000):
            conn.execute(numbers.insert(), [
                {"version": v, "number": int(k)} for k in keys[start:start + 10_000].tolist()])
    conn.execute(sa.text(
        "UPDATE bloctel_versions SET status = 'failed' WHERE status NOT IN "
        "('loading', 'active', 'failed')"))
    with op.batch_alter_table('bloctel_versions') as batch:
        for column in reversed(_new_columns()):
            batch.drop_column(column.name)
    op.drop_table('bloctel_chunks')
