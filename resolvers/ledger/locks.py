"""The ledger's write core: its tables and prebuilt statements, and the accounts a
transaction touches with their columns as it leaves them.

Locking (PostgreSQL; SQLite's writers hold the database's write lock): the accounts a
transaction touches are locked up front, in id order, in one statement with the reads,
FOR NO KEY UPDATE (the lock an UPDATE of the balance columns takes, which lets the
foreign-key checks of a concurrent transfer insert through). Their net changes are
written at the end in one statement, in the same order.

Statements are built once: building SQLAlchemy expressions costs more CPU per request
than running them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import BigInteger, Uuid, and_, any_, bindparam, func, insert, literal_column, update
from sqlalchemy.dialects.postgresql import ARRAY
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
# PostgreSQL: membership in an array parameter, so that a statement's text (and asyncpg's
# prepared statement) is the same whatever the number of accounts or keys.
_ID_ARRAY = ARRAY(BigInteger)


def among_ids(column, postgresql: bool):
    """`column` is one of the parameter `ids`: `= ANY(array)` on PostgreSQL, an expanding
    IN (one statement text per number of ids) elsewhere."""
    return column == any_(bindparam("ids", type_=_ID_ARRAY)) if postgresql else column.in_(_IDS)


def lapsed_sums(side, postgresql: bool):
    """(account id, lapsed pending total) on one side (the transfers' debit or credit
    account column) for the accounts `ids` at `now`."""
    return (
        select(side, func.sum(TRANSFERS.c.amount))
        .where(LAPSING, TRANSFERS.c.expires_at <= _NOW, among_ids(side, postgresql))
        .group_by(side)
    )


# The accounts a write touches, in id order, with their lapsed pending debits (holds
# past expiry not yet swept, which no longer limit `available`).
_COLUMNS = (
    ACCOUNTS.c.id,
    ACCOUNTS.c.owner_id,
    ACCOUNTS.c.currency_code,
    ACCOUNTS.c.kind,
    ACCOUNTS.c.debits_pending,
    ACCOUNTS.c.debits_posted,
    ACCOUNTS.c.credits_pending,
    ACCOUNTS.c.credits_posted,
)
_LAPSED = (
    select(func.coalesce(func.sum(TRANSFERS.c.amount), 0))
    .where(LAPSING, TRANSFERS.c.expires_at <= _NOW, TRANSFERS.c.debit_account_id == ACCOUNTS.c.id)
    .scalar_subquery()
    .label("lapsed_debits")
)
_LOCK = select(*_COLUMNS, _LAPSED).where(ACCOUNTS.c.id.in_(_IDS)).order_by(ACCOUNTS.c.id)
# PostgreSQL: the ids as an array (among_ids); locked FOR NO KEY UPDATE, the lock an
# UPDATE of the balance columns takes: unlike FOR UPDATE, it lets the foreign-key checks
# of a concurrent insert of a transfer (FOR KEY SHARE on both accounts) through, so an
# insert never waits on an account another writer holds.
_LOCK_FOR_UPDATE = (
    select(*_COLUMNS, _LAPSED)
    .where(among_ids(ACCOUNTS.c.id, postgresql=True))
    .order_by(ACCOUNTS.c.id)
    .with_for_update(of=ACCOUNTS, key_share=True)
)
KNOWN = select(TRANSFERS).where(TRANSFERS.c.transfer_id.in_(bindparam("keys", expanding=True)))
_PG_KNOWN = select(TRANSFERS).where(TRANSFERS.c.transfer_id == any_(bindparam("keys", type_=ARRAY(Uuid))))
BY_KEY = select(TRANSFERS).where(TRANSFERS.c.transfer_id == bindparam("key"))
_INSERT_TRANSFERS = insert(TRANSFERS)
_LAST_IDS = select(
    func.last_insert_rowid(),
    select(TRANSFERS.c.transfer_id)
    .where(TRANSFERS.c.id == func.last_insert_rowid() - bindparam("count") + 1)
    .scalar_subquery(),
)
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
# PostgreSQL, at the driver (no per-row work in SQLAlchemy): all new transfers in one
# INSERT from arrays, and all accounts' net changes in one UPDATE from arrays (their rows
# already locked, in id order, by lock_accounts).
_PG_INSERT_TRANSFERS = """
INSERT INTO transfer (transfer_id, debit_account_id, credit_account_id, amount, currency_code, state,
                      timeout_seconds, expires_at, posted_amount, pending, reference, created_at)
SELECT k, d, c, a, cur, st, t, e, p, pend, r, $12::timestamptz
FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::varchar[], $6::varchar[],
            $7::integer[], $8::timestamptz[], $9::bigint[], $10::boolean[], $11::varchar[])
     AS n(k, d, c, a, cur, st, t, e, p, pend, r)
RETURNING id, transfer_id
"""
_PG_ADD_TO_ACCOUNTS = """
WITH change(id, dpend, dpost, cpend, cpost) AS (
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[])
)
UPDATE account SET debits_pending = account.debits_pending + change.dpend,
                   debits_posted = account.debits_posted + change.dpost,
                   credits_pending = account.credits_pending + change.cpend,
                   credits_posted = account.credits_posted + change.cpost
FROM change WHERE account.id = change.id
"""


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
    values = {"ids": ordered, "now": now}
    held: dict[int, Held] = {}
    for row in (await connection.execute(statement, values)).all():
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
    """Add each changed account's net change, in id order, in one statement."""
    changed = sorted((account for account in held if account.changed), key=lambda a: a.id)
    if not changed:
        return
    changes = [
        (
            account.id,
            account.debits_pending - account.start[0],
            account.debits_posted - account.start[1],
            account.credits_pending - account.start[2],
            account.credits_posted - account.start[3],
        )
        for account in changed
    ]
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        await connection.execute(_ADD_TO_ACCOUNT, [dict(zip(_CHANGE_KEYS, change, strict=True)) for change in changes])
        return
    await connection.exec_driver_sql(_PG_ADD_TO_ACCOUNTS, tuple(map(list, zip(*changes, strict=True))))


_CHANGE_KEYS = ("key", "d_dpend", "d_dpost", "d_cpend", "d_cpost")


async def known_transfers(connection, keys: Iterable) -> list:
    """The stored transfers with these transferIds, in one statement."""
    keys = list(keys)
    if not keys:
        return []
    statement = _PG_KNOWN if connection.dialect.name == "postgresql" else KNOWN
    return (await connection.execute(statement, {"keys": keys})).all()


async def insert_transfers(session: AsyncSession, new: list) -> None:
    """Insert new transfers (rows of the transfer table not yet stored) in one statement,
    and give each its row id."""
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        columns = [
            [t.transfer_id for t in new],
            [t.debit_account_id for t in new],
            [t.credit_account_id for t in new],
            [t.amount for t in new],
            [t.currency_code for t in new],
            [t.state.value for t in new],
            [t.timeout_seconds for t in new],
            [t.expires_at for t in new],
            [t.posted_amount for t in new],
            [t.pending for t in new],
            [t.reference for t in new],
        ]
        created = {t.created_at for t in new}
        assert len(created) == 1, "one transaction's transfers are created at one time"
        result = await connection.exec_driver_sql(_PG_INSERT_TRANSFERS, (*columns, created.pop()))
        ids = {key: row_id for row_id, key in result.all()}
        for transfer in new:
            transfer.id = ids[transfer.transfer_id]
        return
    # SQLite: a plain executemany (no RETURNING, which makes SQLAlchemy render and process
    # the rows as multi-row VALUES). Under the database's write lock, rows without an
    # explicit id get the largest id plus one, in order (the table has no AUTOINCREMENT
    # and never nears the largest id), so the last id gives them all; checked by the key.
    rows = [{column: getattr(t, column) for column in _TRANSFER_COLUMNS} for t in new]
    await connection.execute(_INSERT_TRANSFERS, rows)
    last, first_key = (await connection.execute(_LAST_IDS, {"count": len(new)})).one()
    assert first_key == new[0].transfer_id, "transfer ids are assigned in order"
    for offset, transfer in enumerate(new, start=last - len(new) + 1):
        transfer.id = offset


_TRANSFER_COLUMNS = [column.name for column in TRANSFERS.columns if column.name != "id"]
