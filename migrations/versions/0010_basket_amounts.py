"""basket component amounts at six decimal places

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

PLACES = Decimal("0.000001")
WIDE = Context(prec=60)


def upgrade() -> None:
    # A basket's fixed amounts were stored at 12 significant digits ("433.800000001");
    # they are stated at six decimal places now, as new baskets store them (an amount
    # that would round to nothing keeps its digits).
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT basket_id, currency, amount FROM basket_component")).all()
    for basket_id, currency, amount in rows:
        rounded = Decimal(amount).quantize(PLACES, rounding=ROUND_HALF_EVEN, context=WIDE)
        if rounded != 0 and rounded != Decimal(amount):
            connection.execute(
                sa.text("UPDATE basket_component SET amount = :a WHERE basket_id = :b AND currency = :c"),
                {"a": format(rounded.normalize(WIDE), "f"), "b": basket_id, "c": currency},
            )


def downgrade() -> None:
    pass  # the digits dropped are not kept
