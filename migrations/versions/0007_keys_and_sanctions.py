"""Keys and sanctions: ``api_keys.label`` (what a key is for, e.g. ``demo``) and
``api_keys.last_used_at`` (set when a worker loads the key, to within a minute); and
``tenants.sanctions``, the operator's tariff and monitor floors for one tenant (``null``: the
platform-wide ones), which the tenant cannot change.

A downgrade drops the three columns: labels, last-use times and per-tenant sanctions are lost
(tenants fall back to the platform-wide tariff and floors).

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD/DROP COLUMN, not batch mode: on SQLite a batch rebuild of `tenants` drops the
    # table, which its foreign keys refuse as soon as any row refers to a tenant
    op.add_column('api_keys', sa.Column('label', sa.String(length=100), nullable=True))
    op.add_column('api_keys', sa.Column('last_used_at', sa.DateTime(timezone=True),
                                        nullable=True))
    op.add_column('tenants', sa.Column('sanctions', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('tenants', 'sanctions')
    op.drop_column('api_keys', 'last_used_at')
    op.drop_column('api_keys', 'label')
