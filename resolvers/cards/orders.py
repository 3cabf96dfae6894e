"""Card requests written together (the card group commit, corridor/batcher.py): each
order an authorization or a capture, each decided as if alone. The orders arrived
concurrently, so any order of them is one they could have run in: the authorizations
first (`authorize_payments`), then the captures (`capture_payments`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from models.cards import CardScheme, SchemeMembership
from resolvers.cards.authorization import AuthorizeOrder, authorize_payments
from resolvers.cards.lifecycle import CaptureOrder, capture_payments
from resolvers.rows import kept

CardOrder = AuthorizeOrder | CaptureOrder


async def write_card_orders(
    session: AsyncSession, orders: Sequence[CardOrder], *, secret: str, hold_seconds: int, now: dt.datetime
) -> None:
    """Decide every order in the session's transaction, leaving each outcome on its order.
    The schemes and memberships the orders look up are read once for all of them."""
    with kept(session, CardScheme, SchemeMembership):
        authorizations = [order for order in orders if isinstance(order, AuthorizeOrder)]
        if authorizations:
            await authorize_payments(session, authorizations, secret=secret, hold_seconds=hold_seconds, now=now)
        captures = [order for order in orders if isinstance(order, CaptureOrder)]
        if captures:
            await capture_payments(session, captures, now=now)
