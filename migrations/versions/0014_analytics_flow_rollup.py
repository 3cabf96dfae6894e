"""analytics: the flows' rollup by corridor, currency, UTC day and rate epoch, built from
the flows already stored

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('flow_rollup',
    sa.Column('source_country', sa.String(length=2), nullable=False),
    sa.Column('target_country', sa.String(length=2), nullable=False),
    sa.Column('currency_code', sa.String(length=3), nullable=False),
    sa.Column('day', sa.DateTime(timezone=True), nullable=False),
    sa.Column('epoch', sa.DateTime(timezone=True), nullable=False),
    sa.Column('flows', sa.BigInteger(), nullable=False),
    sa.Column('minor_high', sa.BigInteger(), nullable=False),
    sa.Column('minor_low', sa.BigInteger(), nullable=False),
    sa.Column('first_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['currency_code'], ['currency.code'], name=op.f('fk_flow_rollup_currency_code_currency')),
    sa.ForeignKeyConstraint(['source_country'], ['country.code'], name=op.f('fk_flow_rollup_source_country_country')),
    sa.ForeignKeyConstraint(['target_country'], ['country.code'], name=op.f('fk_flow_rollup_target_country_country')),
    sa.PrimaryKeyConstraint('source_country', 'target_country', 'currency_code', 'day', 'epoch', name=op.f('pk_flow_rollup'))
    )
    op.create_index('ix_exchange_rate_as_of', 'exchange_rate', ['as_of'], unique=False)
    # The flows stored so far, rolled up by the statements the service keeps the rollup
    # with (resolvers/analytics/rollup.py), so that the two can never disagree.
    from resolvers.analytics import rollup

    connection = op.get_bind()
    for statement in rollup.backfill(connection.dialect.name):
        connection.execute(statement)


def downgrade() -> None:
    op.drop_index('ix_exchange_rate_as_of', table_name='exchange_rate')
    op.drop_table('flow_rollup')
