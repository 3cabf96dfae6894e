"""Transfers as they read: their effective state, lookups, who sees them, an account's
history."""

from __future__ import annotations

import datetime as dt
import functools
import uuid

from sqlalchemy import Integer, Select, bindparam, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.ledger import TransferState
from resolvers.access import Principal, visible_institution
from resolvers.ledger.locks import BY_KEY, TRANSFERS
from resolvers.pagination import Page, cut_page, page_size


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
    page costs the page, not the account's whole history: one statement, built once for
    each shape of page.
    """
    size, backwards = page_size(first, last)
    statement = _history(after is not None, before is not None, backwards)
    params = {"account": account_id, "after": after, "before": before, "size": size + 1}
    connection = await session.connection()
    rows = list(await connection.execute(statement, {k: v for k, v in params.items() if v is not None}))
    return cut_page(rows, size, backwards, after=after, before=before)


@functools.cache
def _history(after: bool, before: bool, backwards: bool) -> Select:
    """An account's transfers, a page of them plus one (size+1 rows, parameter `size`) in
    page order: each side along its own index, merged (a transfer is never on both sides
    of one account, its accounts differ: UNION ALL loses nothing and repeats nothing)."""
    order = TRANSFERS.c.id.asc() if backwards else TRANSFERS.c.id.desc()

    def side(column):
        statement = select(TRANSFERS).where(column == bindparam("account"))
        if after:
            statement = statement.where(TRANSFERS.c.id < bindparam("after"))
        if before:
            statement = statement.where(TRANSFERS.c.id > bindparam("before"))
        return statement.order_by(order).limit(bindparam("size", type_=Integer)).subquery()

    debit_side, credit_side = side(TRANSFERS.c.debit_account_id), side(TRANSFERS.c.credit_account_id)
    merged = select(debit_side).union_all(select(credit_side)).subquery()
    along = merged.c.id.asc() if backwards else merged.c.id.desc()
    return select(merged).order_by(along).limit(bindparam("size", type_=Integer))
