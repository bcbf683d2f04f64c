"""Principals and mandates (rules-fr.md §1: the professional is the principal), and what a
consent names (§5).

* ``principals`` (the professionals calls are made for) and ``mandates`` (tenant ↔ principal).
  Every existing tenant gets its own principal, whose id **is the tenant id**, and a mandate
  from it; ``consent_principals`` links each consent to the principals it names.
* ``principal_id`` on ``campaigns``, ``attempts``, ``contracts``, ``oppositions`` and
  ``refusals``, set to the tenant's own principal for every existing row: frequency, refusal
  cooldown, consents and oppositions are then decided per principal across tenants, with no
  change for a tenant calling only for itself. An index on attempts (callee, principal,
  checked_at) serves the frequency count and the number's history, replacing (tenant, callee,
  checked_at); the internal opposition list becomes unique per
  (tenant, principal, callee) (a call centre may hold one for each principal it calls for).
* ``campaigns.prerecorded`` (CPCE L34-5) and, on ``consents``, ``source`` ("own" or the
  partner/broker), ``notice_given`` and ``conditional_on_sale``: existing consents are "own",
  notice not recorded, not conditional on a sale — the readings that change no decision.

The ``principal_id`` columns are nullable in the schema only because SQLite cannot add a NOT NULL
column to a filled table without rebuilding it (and rebuilding ``attempts`` fights its foreign
keys); the application always writes them.

A downgrade drops all of it. Records made for another principal than the tenant's own stay, as
the tenant's (an opposition kept once per (tenant, callee): the oldest); consents lose the
principals they named and their evidence fields.

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WITH_PRINCIPAL = ('campaigns', 'attempts', 'contracts', 'oppositions', 'refusals')


def upgrade() -> None:
    op.create_table(
        'principals',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('siren', sa.String(length=9), nullable=True),
        sa.Column('tenant_id', sa.String(length=40), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_principals_tenant_id_tenants')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_principals')),
        sa.UniqueConstraint('siren', name=op.f('uq_principals_siren')),
        sa.UniqueConstraint('tenant_id', name=op.f('uq_principals_tenant_id')),
    )
    op.create_table(
        'mandates',
        sa.Column('principal_id', sa.String(length=40), nullable=False),
        sa.Column('tenant_id', sa.String(length=40), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['principal_id'], ['principals.id'],
                                name=op.f('fk_mandates_principal_id_principals')),
        sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'],
                                name=op.f('fk_mandates_tenant_id_tenants')),
        sa.PrimaryKeyConstraint('principal_id', 'tenant_id', name=op.f('pk_mandates')),
    )
    op.create_index('ix_mandates_tenant_id', 'mandates', ['tenant_id'], unique=False)
    op.create_table(
        'consent_principals',
        sa.Column('consent_id', sa.String(length=40), nullable=False),
        sa.Column('principal_id', sa.String(length=40), nullable=False),
        sa.Column('callee', sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(['consent_id'], ['consents.id'],
                                name=op.f('fk_consent_principals_consent_id_consents')),
        sa.ForeignKeyConstraint(['principal_id'], ['principals.id'],
                                name=op.f('fk_consent_principals_principal_id_principals')),
        sa.PrimaryKeyConstraint('consent_id', 'principal_id', name=op.f('pk_consent_principals')),
    )
    op.create_index('ix_consent_principals_principal_callee', 'consent_principals',
                    ['principal_id', 'callee'], unique=False)

    for table in _WITH_PRINCIPAL:
        op.add_column(table, sa.Column('principal_id', sa.String(length=40), nullable=True))
    op.add_column('campaigns', sa.Column('prerecorded', sa.Boolean(),
                                         server_default=sa.false(), nullable=False))
    op.add_column('consents', sa.Column('source', sa.String(length=200),
                                        server_default='own', nullable=False))
    op.add_column('consents', sa.Column('notice_given', sa.Boolean(), nullable=True))
    op.add_column('consents', sa.Column('conditional_on_sale', sa.Boolean(),
                                        server_default=sa.false(), nullable=False))

    # every tenant's own principal (id = tenant id) and its mandate; existing rows are its
    op.execute(
        "INSERT INTO principals (id, name, siren, tenant_id, created_at) "
        "SELECT id, name, NULL, id, created_at FROM tenants"
    )
    op.execute(
        "INSERT INTO mandates (principal_id, tenant_id, created_at) "
        "SELECT id, id, created_at FROM tenants"
    )
    for table in _WITH_PRINCIPAL:
        op.execute(f"UPDATE {table} SET principal_id = tenant_id")
    op.execute(
        "INSERT INTO consent_principals (consent_id, principal_id, callee) "
        "SELECT id, tenant_id, callee FROM consents"
    )

    # one index for the principal's frequency count and the (tenant, callee) history: it
    # replaces (tenant_id, callee, checked_at), so an insert maintains as many as before
    op.create_index('ix_attempts_callee_principal_checked', 'attempts',
                    ['callee', 'principal_id', 'checked_at'], unique=False)
    op.drop_index('ix_attempts_tenant_callee_checked', table_name='attempts')
    op.create_index('ix_refusals_principal_callee', 'refusals', ['principal_id', 'callee'],
                    unique=False)
    with op.batch_alter_table('oppositions') as batch_op:
        batch_op.drop_constraint('uq_oppositions_tenant_id_callee', type_='unique')
        batch_op.create_unique_constraint(
            'uq_oppositions_tenant_id_principal_id_callee', ['tenant_id', 'principal_id', 'callee']
        )
        batch_op.create_index('ix_oppositions_principal_callee', ['principal_id', 'callee'],
                              unique=False)


def downgrade() -> None:
    # one opposition per (tenant, callee) again: the oldest stays
    op.execute(
        "DELETE FROM oppositions WHERE EXISTS (SELECT 1 FROM oppositions o "
        "WHERE o.tenant_id = oppositions.tenant_id AND o.callee = oppositions.callee "
        "AND (o.created_at < oppositions.created_at "
        "OR (o.created_at = oppositions.created_at AND o.id < oppositions.id)))"
    )
    with op.batch_alter_table('oppositions') as batch_op:
        batch_op.drop_index('ix_oppositions_principal_callee')
        batch_op.drop_constraint('uq_oppositions_tenant_id_principal_id_callee', type_='unique')
        batch_op.create_unique_constraint('uq_oppositions_tenant_id_callee',
                                          ['tenant_id', 'callee'])
        batch_op.drop_column('principal_id')
    op.drop_index('ix_refusals_principal_callee', table_name='refusals')
    op.create_index('ix_attempts_tenant_callee_checked', 'attempts',
                    ['tenant_id', 'callee', 'checked_at'], unique=False)
    op.drop_index('ix_attempts_callee_principal_checked', table_name='attempts')
    for table in _WITH_PRINCIPAL:
        if table != 'oppositions':
            op.drop_column(table, 'principal_id')
    op.drop_column('consents', 'conditional_on_sale')
    op.drop_column('consents', 'notice_given')
    op.drop_column('consents', 'source')
    op.drop_column('campaigns', 'prerecorded')
    op.drop_index('ix_consent_principals_principal_callee', table_name='consent_principals')
    op.drop_table('consent_principals')
    op.drop_index('ix_mandates_tenant_id', table_name='mandates')
    op.drop_table('mandates')
    op.drop_table('principals')
