"""Consent evidence under legal hold after an erasure (rules-fr.md §5: the dated proof of a
consent is kept three years from its collection; GDPR art. 17(3)(b)).

* ``consent_holds``: the evidence of each erased consent whose three years have not run out,
  with the end of its hold; shown nowhere, sealed in the ledger (stream ``holds``) and purged by
  ``gateway audit purge`` when the hold ends.
* ``erasures.consents_held`` and ``erasures.legal_hold_until``: what each erasure put under
  hold, and until when (0 and NULL for erasures made before: their evidence is already gone).

A downgrade refuses while evidence is held: dropping it would destroy proof the law says to
keep (as 0003 refuses to drop tombstones). Purge the holds that ended, or wait.

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'consent_holds',
        sa.Column('consent_id', sa.String(length=40), nullable=False),
        sa.Column('tenant_id', sa.String(length=40), nullable=False),
        sa.Column('erasure_id', sa.String(length=40), nullable=False),
        sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('hold_until', sa.DateTime(timezone=True), nullable=False),
        sa.Column('evidence', sa.JSON(), nullable=False),
        sa.Column('evidence_sha256', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['consent_id'], ['consents.id'],
                                name=op.f('fk_consent_holds_consent_id_consents')),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_consent_holds_tenant_id_tenants')),
        sa.PrimaryKeyConstraint('consent_id', name=op.f('pk_consent_holds')),
    )
    op.create_index('ix_consent_holds_tenant_held', 'consent_holds', ['tenant_id', 'held_at'],
                    unique=False)
    op.add_column('erasures', sa.Column('consents_held', sa.Integer(), server_default='0',
                                        nullable=False))
    op.add_column('erasures', sa.Column('legal_hold_until', sa.DateTime(timezone=True),
                                        nullable=True))


def downgrade() -> None:
    held = op.get_bind().execute(sa.text("SELECT count(*) FROM consent_holds")).scalar_one()
    if held:
        raise RuntimeError(
            f"cannot downgrade below 0011: {held} consent evidence record(s) are under legal "
            "hold (kept 3 years from collection); dropping them would destroy proof the law "
            "says to keep — `gateway audit purge` removes the holds that ended"
        )
    with op.batch_alter_table('erasures') as batch_op:
        batch_op.drop_column('legal_hold_until')
        batch_op.drop_column('consents_held')
    op.drop_index('ix_consent_holds_tenant_held', table_name='consent_holds')
    op.drop_table('consent_holds')
