"""Obligations: for every posted leg between accounts of two different institutions, the
debited account's institution owes the credited account's institution the amount, in
the OPEN window of the leg's scope (the card scheme the payment ran on, the
DEFERRED_NET network) and currency. Written in the caller's transaction, with the legs.

The fence with closing: a writer takes the OPEN window's row FOR SHARE (PostgreSQL) and
a close takes it FOR UPDATE, so a close waits for the obligations being written into
the window to commit, and a writer that arrives during a close waits for it, then
finds the window CLOSED and writes into the next one. Every obligation lands in
exactly one window, and a CLOSED window never takes another. (SQLite has one writer
at a time: the fence holds by itself.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import UTCDateTime
from models.ledger import Account, Transfer, TransferState
from models.settlement import Obligation, SettlementWindow, WindowState
from resolvers.events import Change, Kind, changed

OBLIGATIONS = Obligation.__table__
ACCOUNTS = Account.__table__
TRANSFERS = Transfer.__table__


WINDOWS = SettlementWindow.__table__
_OPEN_WINDOW = sa.select(WINDOWS.c.id).where(
    WINDOWS.c.scope == sa.bindparam("scope"),
    WINDOWS.c.currency_code == sa.bindparam("currency"),
    WINDOWS.c.state == WindowState.OPEN,
)
_OPEN_WINDOW_SHARED = _OPEN_WINDOW.with_for_update(read=True)  # where the database has row locks


async def open_window(session: AsyncSession, scope: str, currency: str, now: dt.datetime) -> int:
    """The id of the OPEN window of (scope, currency), opened on first need, held FOR
    SHARE (read as a plain row: a writer of obligations needs only the id). Two requests
    opening it at once: one insert wins the unique index, the other's transaction fails
    and is tried again (and then finds it)."""
    connection = await session.connection()
    statement = _OPEN_WINDOW_SHARED if connection.dialect.name == "postgresql" else _OPEN_WINDOW
    for _ in range(2):  # none, or a close took it while we waited: the close's next window is committed now
        found = (await connection.execute(statement, {"scope": scope, "currency": currency})).scalar()
        if found is not None:
            return found
    window = SettlementWindow(scope=scope, currency_code=currency, state=WindowState.OPEN, opened_at=now)
    session.add(window)
    await session.flush()
    noted(session, window)
    return window.id


def noted(session: AsyncSession, window: SettlementWindow) -> None:
    """The window's new state, for the live updates once the transaction commits."""
    changed(session, Change(Kind.WINDOW, window.id, window.state.value, window.scope))


async def record_obligations(session: AsyncSession, scope: str, legs: Sequence, *, now: dt.datetime) -> int:
    """The obligations of these posted legs (each with `id` and `currency_code`: ledger
    transfer rows or NewTransfers) in `scope`'s OPEN windows: one per leg between accounts
    of two institutions, for what it posted; how many. Per currency, two statements: the
    window's row, and one INSERT ... SELECT that reads the accounts' institutions."""
    by_currency: dict[str, list[int]] = {}
    for leg in legs:
        by_currency.setdefault(leg.currency_code, []).append(leg.id)
    connection, written = await session.connection(), 0
    for currency in sorted(by_currency):  # one order: no lock cycle between writers
        window = await open_window(session, scope, currency, now)
        result = await connection.execute(_INSERT, {"window": window, "ids": by_currency[currency], "now": now})
        written += result.rowcount
    return written


def _insert_obligations():
    """INSERT INTO settlement_obligation ... SELECT from the posted transfers and their
    accounts, for the transfers between two institutions."""
    debit, credit = ACCOUNTS.alias("debit"), ACCOUNTS.alias("credit")
    rows = (
        sa.select(
            sa.bindparam("window", type_=sa.BigInteger),
            debit.c.owner_id,
            credit.c.owner_id,
            TRANSFERS.c.posted_amount,
            TRANSFERS.c.id,
            sa.bindparam("now", type_=UTCDateTime),
        )
        .join(debit, debit.c.id == TRANSFERS.c.debit_account_id)
        .join(credit, credit.c.id == TRANSFERS.c.credit_account_id)
        .where(
            TRANSFERS.c.id.in_(sa.bindparam("ids", expanding=True)),
            TRANSFERS.c.state == TransferState.POSTED,
            debit.c.owner_id != credit.c.owner_id,
        )
    )
    columns = ["window_id", "payer_id", "payee_id", "amount", "transfer_id", "created_at"]
    return sa.insert(OBLIGATIONS).from_select(columns, rows)


_INSERT = _insert_obligations()
