"""analytics: an index on the card payments' resolution time, by which the flows of a
period's partial days are found (as the interbank payments' are by creation time)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_card_authorization_resolved_at', 'card_authorization', ['resolved_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_card_authorization_resolved_at', table_name='card_authorization')
