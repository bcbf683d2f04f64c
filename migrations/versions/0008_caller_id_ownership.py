"""Caller IDs: one tenant per number platform-wide, and the operator's verification.

* ``caller_ids.number`` becomes unique on its own (``uq_caller_ids_number``), replacing the
  unique (tenant_id, number): a number is held by one tenant (Code de la consommation, art.
  L221-17: the presented number belongs to the professional; ARCEP decision 2025-2215). An
  index on ``tenant_id`` keeps a tenant's listing cheap.
* ``caller_ids.verified_at`` (nullable): when the operator verified the number. Existing
  numbers start unverified: a verification is the operator's act, never inferred.

Existing cross-tenant duplicates: the upgrade **refuses** and changes nothing, listing each
number with its holders (tenant id, name, registration time). Which tenant really holds a
number is a fact the gateway cannot know (the oldest registration may be the spoof), and
deleting a registration silently would turn another tenant's calls into denials or hand its
number to a spoofer. The operator decides, removes the wrong registrations (that tenant's
admin: ``DELETE /v1/caller-ids/{number}``, which also detaches it from its campaigns), and
runs the upgrade again.

A downgrade restores the unique (tenant_id, number) (always satisfiable) and drops
``verified_at``: the operator's verifications are lost.

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.migrate import MigrationRefused

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DUPLICATES = sa.text(
    "SELECT c.number, c.tenant_id, t.name, c.created_at FROM caller_ids c "
    "LEFT JOIN tenants t ON t.id = c.tenant_id "
    "WHERE c.number IN (SELECT number FROM caller_ids GROUP BY number HAVING COUNT(*) > 1) "
    "ORDER BY c.number, c.created_at, c.tenant_id"
)


class CallerIdDuplicates(MigrationRefused):
    """Numbers registered by several tenants: the operator must choose before upgrading."""


def duplicates_message(rows: Sequence[sa.Row[tuple[str, str, str | None, object]]]) -> str:
    lines = [
        "migration 0008 refused: these caller IDs are registered by several tenants, and a "
        "number may be held by one tenant only (L221-17). Nothing was changed. Decide which "
        "tenant holds each number, delete the other registrations (that tenant's admin: "
        "DELETE /v1/caller-ids/{number}), then upgrade again:"
    ]
    for number, tenant_id, name, created_at in rows:
        lines.append(f"  {number}  tenant {tenant_id} ({name or '?'}), registered {created_at}")
    return "\n".join(lines)


def upgrade() -> None:
    rows = op.get_bind().execute(_DUPLICATES).all()
    if rows:
        raise CallerIdDuplicates(duplicates_message(rows))
    with op.batch_alter_table('caller_ids', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint('uq_caller_ids_tenant_id_number', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_caller_ids_number'), ['number'])
        batch_op.create_index('ix_caller_ids_tenant_id', ['tenant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('caller_ids', schema=None) as batch_op:
        batch_op.drop_index('ix_caller_ids_tenant_id')
        batch_op.drop_constraint(batch_op.f('uq_caller_ids_number'), type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_caller_ids_tenant_id_number'), ['tenant_id', 'number']
        )
        batch_op.drop_column('verified_at')
