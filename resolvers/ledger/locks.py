"""The ledger's write core: its tables and prebuilt statements, and the accounts a
transaction locks (in id order, in one statement) with their columns as it leaves them.

Statements are built once: building SQLAlchemy expressions costs more CPU per request
than running them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, func, insert, literal_column, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.ledger import Account, AccountKind, Transfer

ACCOUNTS = Account.__table__
TRANSFERS = Transfer.__table__

# Statements are built once: building SQLAlchemy expressions costs more CPU per request
# than running them. "Lapsing" (pending with an expiry) is spelled with literals, not
# parameters, so the planners of both engines can use the partial indexes on it.
LAPSING = and_(TRANSFERS.c.state == literal_column("'PENDING'"), TRANSFERS.c.expires_at.is_not(None))
_IDS = bindparam("ids", expanding=True)
_NOW = bindparam("now", type_=TRANSFERS.c.expires_at.type)

LAPSED_DEBITS = (
    select(TRANSFERS.c.debit_account_id, func.sum(TRANSFERS.c.amount))
    .where(LAPSING, TRANSFERS.c.expires_at <= _NOW, TRANSFERS.c.debit_account_id.in_(_IDS))
    .group_by(TRANSFERS.c.debit_account_id)
)
LAPSED_CREDITS = (
    select(TRANSFERS.c.credit_account_id, func.sum(TRANSFERS.c.amount))
    .where(LAPSING, TRANSFERS.c.expires_at <= _NOW, TRANSFERS.c.credit_account_id.in_(_IDS))
    .group_by(TRANSFERS.c.credit_account_id)
)
# The accounts a write touches, in id order, with their lapsed pending debits (holds
# past expiry not yet swept, which no longer limit `available`).
_LOCK = (
    select(
        ACCOUNTS.c.id,
        ACCOUNTS.c.owner_id,
        ACCOUNTS.c.currency_code,
        ACCOUNTS.c.kind,
        ACCOUNTS.c.debits_pending,
        ACCOUNTS.c.debits_posted,
        ACCOUNTS.c.credits_pending,
        ACCOUNTS.c.credits_posted,
        select(func.coalesce(func.sum(TRANSFERS.c.amount), 0))
        .where(LAPSING, TRANSFERS.c.expires_at <= _NOW, TRANSFERS.c.debit_account_id == ACCOUNTS.c.id)
        .scalar_subquery()
        .label("lapsed_debits"),
    )
    .where(ACCOUNTS.c.id.in_(_IDS))
    .order_by(ACCOUNTS.c.id)
)
_LOCK_FOR_UPDATE = _LOCK.with_for_update(of=ACCOUNTS)
KNOWN = select(TRANSFERS).where(TRANSFERS.c.transfer_id.in_(bindparam("keys", expanding=True)))
BY_KEY = select(TRANSFERS).where(TRANSFERS.c.transfer_id == bindparam("key"))
INSERT_TRANSFERS = insert(TRANSFERS).returning(TRANSFERS.c.id, sort_by_parameter_order=True)
_ADD_TO_ACCOUNT = (
    update(ACCOUNTS)
    .where(ACCOUNTS.c.id == bindparam("key"))
    .values(
        debits_pending=ACCOUNTS.c.debits_pending + bindparam("d_dpend"),
        debits_posted=ACCOUNTS.c.debits_posted + bindparam("d_dpost"),
        credits_pending=ACCOUNTS.c.credits_pending + bindparam("d_cpend"),
        credits_posted=ACCOUNTS.c.credits_posted + bindparam("d_cpost"),
    )
)


@dataclass(slots=True)
class Held:
    """An account locked by this transaction: its columns as this batch leaves them."""

    id: int
    owner_id: int
    currency: str
    issuance: bool
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int
    lapsed_debits: int = 0
    changed: bool = False
    start: tuple[int, int, int, int] = field(default=(0, 0, 0, 0))

    @property
    def available(self) -> int:
        return self.credits_posted - self.debits_posted - (self.debits_pending - self.lapsed_debits)

    def snapshot(self) -> tuple[int, int, int, int, bool]:
        return (self.debits_pending, self.debits_posted, self.credits_pending, self.credits_posted, self.changed)

    def restore(self, snapshot: tuple[int, int, int, int, bool]) -> None:
        (self.debits_pending, self.debits_posted, self.credits_pending, self.credits_posted, self.changed) = snapshot


async def lock_accounts(session: AsyncSession, ids: Iterable[int], now: dt.datetime) -> dict[int, Held]:
    """Lock the accounts in id order, in one statement, and read their columns and lapsed holds."""
    ordered = sorted(set(ids))
    if not ordered:
        return {}
    connection = await session.connection()
    statement = _LOCK_FOR_UPDATE if connection.dialect.name == "postgresql" else _LOCK
    held: dict[int, Held] = {}
    for row in await connection.execute(statement, {"ids": ordered, "now": now}):
        columns = (row.debits_pending, row.debits_posted, row.credits_pending, row.credits_posted)
        held[row.id] = Held(
            row.id,
            row.owner_id,
            row.currency_code,
            row.kind is AccountKind.ISSUANCE,
            *columns,
            lapsed_debits=int(row.lapsed_debits),
            start=columns,
        )
    return held


async def write_accounts(session: AsyncSession, held: Iterable[Held]) -> None:
    """Add each changed account's net change, in one executemany."""
    changes = [
        {
            "key": account.id,
            "d_dpend": account.debits_pending - account.start[0],
            "d_dpost": account.debits_posted - account.start[1],
            "d_cpend": account.credits_pending - account.start[2],
            "d_cpost": account.credits_posted - account.start[3],
        }
        for account in sorted(held, key=lambda a: a.id)
        if account.changed
    ]
    if not changes:
        return
    connection = await session.connection()
    await connection.execute(_ADD_TO_ACCOUNT, changes)
