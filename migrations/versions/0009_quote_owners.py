"""quote owners and exchange legs

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_quote_owner_id_institution'), 'institution', ['owner_id'], ['id'])
    op.create_table('exchange_leg',
    sa.Column('quote_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['quote_id'], ['quote.id'], name=op.f('fk_exchange_leg_quote_id_quote')),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfer.id'], name=op.f('fk_exchange_leg_transfer_id_transfer')),
    sa.PrimaryKeyConstraint('quote_id', 'position', name=op.f('pk_exchange_leg')),
    sa.UniqueConstraint('transfer_id', name=op.f('uq_exchange_leg_transfer_id'))
    )
    # Quotes from before owners and legs were recorded: an executed one belongs to the
    # institution whose account its first leg debited, and its legs are the transfers
    # with the ids derived from its exchange's transferId (uuid5 "exchange leg k"); an
    # open one cannot be told apart, so it lapses now (a new quote is one request away).
    connection = op.get_bind()
    _record_legacy_exchanges(connection)
    now = dt.datetime.now(dt.UTC)
    if connection.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # stored as naive UTC there (models.base.UTCDateTime)
    connection.execute(
        sa.text("UPDATE quote SET expires_at = :now WHERE state = 'OPEN' AND owner_id IS NULL"), {"now": now}
    )


def _record_legacy_exchanges(connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    quotes = connection.execute(sa.text("SELECT id, used_by FROM quote WHERE used_by IS NOT NULL")).all()
    for quote_id, used_by in quotes:
        key = used_by if isinstance(used_by, uuid.UUID) else uuid.UUID(str(used_by))
        for position in range(64):
            leg = uuid.uuid5(key, f"exchange leg {position}")
            found = connection.execute(
                sa.text(
                    "SELECT transfer.id, account.owner_id FROM transfer "
                    "JOIN account ON account.id = transfer.debit_account_id WHERE transfer.transfer_id = :key"
                ),
                {"key": leg.hex if sqlite else leg},
            ).first()
            if found is None:
                break
            connection.execute(
                sa.text("INSERT INTO exchange_leg (quote_id, position, transfer_id) VALUES (:q, :p, :t)"),
                {"q": quote_id, "p": position, "t": found[0]},
            )
            if position == 0:
                connection.execute(
                    sa.text("UPDATE quote SET owner_id = :owner WHERE id = :q"), {"owner": found[1], "q": quote_id}
                )


def downgrade() -> None:
    op.drop_table('exchange_leg')
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_quote_owner_id_institution'), type_='foreignkey')
        batch_op.drop_column('owner_id')
