"""Transfers as they read: their effective state, lookups, who sees them, an account's
history."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.ledger import TransferState
from resolvers.access import Principal, visible_institution
from resolvers.ledger.locks import BY_KEY, TRANSFERS
from resolvers.pagination import Page, cut_page, page_size
from resolvers.rows import table_rows_by_id


def effective_state(transfer, now: dt.datetime) -> TransferState:
    """A pending transfer past its expiry reads as EXPIRED before the sweeper gets to it."""
    if transfer.state is TransferState.PENDING and transfer.expires_at is not None and transfer.expires_at <= now:
        return TransferState.EXPIRED
    return transfer.state


async def transfer_by_key(session: AsyncSession, transfer_id: uuid.UUID):
    connection = await session.connection()
    return (await connection.execute(BY_KEY, {"key": transfer_id})).first()


def may_see_transfer(principal: Principal, debit_owner_id: int, credit_owner_id: int) -> bool:
    """Whether the caller sees a transfer between accounts of these institutions: the
    operator, and a participant on either side."""
    institution = visible_institution(principal)
    return institution is None or institution in (debit_owner_id, credit_owner_id)


async def account_transfers(
    session: AsyncSession,
    account_id: int,
    *,
    first: int | None = None,
    after: int | None = None,
    last: int | None = None,
    before: int | None = None,
) -> Page:
    """Transfers debiting or crediting an account, newest first.

    Each side is read along its own (account, id) index and the two are merged, so a
    page costs the page, not the account's whole history.
    """
    size, backwards = page_size(first, last)

    def side(column):
        statement = select(TRANSFERS.c.id).where(column == account_id)
        if after is not None:
            statement = statement.where(TRANSFERS.c.id < after)
        if before is not None:
            statement = statement.where(TRANSFERS.c.id > before)
        order = TRANSFERS.c.id.asc() if backwards else TRANSFERS.c.id.desc()
        return statement.order_by(order).limit(size + 1).subquery()

    debit_side, credit_side = side(TRANSFERS.c.debit_account_id), side(TRANSFERS.c.credit_account_id)
    merged = select(debit_side.c.id).union(select(credit_side.c.id)).subquery()
    order = merged.c.id.asc() if backwards else merged.c.id.desc()
    connection = await session.connection()
    ids = [row[0] for row in await connection.execute(select(merged.c.id).order_by(order).limit(size + 1))]
    page = cut_page(ids, size, backwards, after=after, before=before)
    rows = [row for row in await table_rows_by_id(session, TRANSFERS, page.rows) if row is not None]
    return Page(rows=rows, has_next=page.has_next, has_previous=page.has_previous)
