"""Two-phase transfers after their creation: posting (in full or for less), voiding,
several holds resolved together, and the sweep of lapsed holds."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, text, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.ledger import TransferState
from resolvers import reference
from resolvers.access import Action, Principal, may_act_for, require
from resolvers.errors import DomainError, ErrorCode, invalid, not_found
from resolvers.ledger.locks import LAPSING, TRANSFERS, Held, known_transfers, lock_accounts, write_accounts
from resolvers.ledger.transfers import effective_state, transfer_by_key
from resolvers.money import fits, parse_amount


async def _locked_pending(session: AsyncSession, principal: Principal, transfer_id: uuid.UUID, now: dt.datetime):
    """The transfer with its two accounts locked, after the access check."""
    found = await transfer_by_key(session, transfer_id)
    if found is None:
        raise not_found("No transfer with this transferId.", "transferId")
    held = await lock_accounts(session, (found.debit_account_id, found.credit_account_id), now)
    transfer = await transfer_by_key(session, transfer_id)  # as it stands under the locks
    debit, credit = held[transfer.debit_account_id], held[transfer.credit_account_id]
    if not may_act_for(principal, debit.owner_id):
        if may_act_for(principal, credit.owner_id):
            raise DomainError(
                ErrorCode.FORBIDDEN, "Only the debit account's institution posts or voids a hold.", ["transferId"]
            )
        raise not_found("No transfer with this transferId.", "transferId")
    return transfer, debit, credit


async def post_transfer(
    session: AsyncSession,
    principal: Principal,
    transfer_id: uuid.UUID,
    amount: Decimal | None,
    *,
    now: dt.datetime,
) -> tuple[object, bool]:
    """Post a pending transfer for `amount` (default: all of it) and release the rest.
    Posting again for the same amount is a replay: (transfer, False)."""
    require(principal, Action.WRITE_OWN)
    transfer, debit, credit = await _locked_pending(session, principal, transfer_id, now)
    post = transfer.amount
    if amount is not None:
        units = (await reference.minor_units(session))[transfer.currency_code]
        post = parse_amount(amount, transfer.currency_code, units, "amount")
    state = effective_state(transfer, now)
    if state is TransferState.POSTED and transfer.pending and post == transfer.posted_amount:
        return transfer, False
    if state is TransferState.EXPIRED:
        raise DomainError(ErrorCode.TRANSFER_EXPIRED, "The hold has expired.", ["transferId"])
    if state is not TransferState.PENDING:
        raise DomainError(ErrorCode.TRANSFER_NOT_PENDING, f"The transfer is {state.value}.", ["transferId"])
    if post > transfer.amount:
        raise DomainError(ErrorCode.AMOUNT_EXCEEDS_PENDING, "The amount exceeds the pending amount.", ["amount"])
    _release(transfer, debit, credit, post)
    return await _resolve(session, transfer, TransferState.POSTED, post, (debit, credit), now), True


async def void_transfer(
    session: AsyncSession, principal: Principal, transfer_id: uuid.UUID, *, now: dt.datetime
) -> tuple[object, bool]:
    """Release a pending transfer's hold. Voiding again is a replay: (transfer, False)."""
    require(principal, Action.WRITE_OWN)
    transfer, debit, credit = await _locked_pending(session, principal, transfer_id, now)
    state = effective_state(transfer, now)
    if state is TransferState.VOIDED:
        return transfer, False
    if state is TransferState.EXPIRED:
        raise DomainError(ErrorCode.TRANSFER_EXPIRED, "The hold has expired.", ["transferId"])
    if state is not TransferState.PENDING:
        raise DomainError(ErrorCode.TRANSFER_NOT_PENDING, f"The transfer is {state.value}.", ["transferId"])
    _release(transfer, debit, credit, None)
    return await _resolve(session, transfer, TransferState.VOIDED, None, (debit, credit), now), True


def _release(transfer, debit: Held, credit: Held, post: int | None) -> None:
    """Take a pending transfer's hold off its locked accounts and post `post` of it
    (None voids it). The caller has checked that it is pending and 0 < post <= amount."""
    if post is not None and not fits(debit.debits_posted + post, credit.credits_posted + post):
        raise invalid("The amount would overflow the accounts' posted totals.", "amount")
    debit.debits_pending -= transfer.amount
    credit.credits_pending -= transfer.amount
    if post is not None:
        debit.debits_posted += post
        credit.credits_posted += post
    debit.changed = credit.changed = True


async def _mark_resolved(session: AsyncSession, transfer, state: TransferState, posted: int | None, now) -> None:
    connection = await session.connection()
    result = await connection.execute(
        update(TRANSFERS)
        .where(TRANSFERS.c.id == transfer.id, TRANSFERS.c.state == TransferState.PENDING)
        .values(state=state, posted_amount=posted, resolved_at=now)
    )
    assert result.rowcount == 1, "a pending transfer changed under its accounts' locks"


# PostgreSQL, at the driver: the transfers that `resolve_holds` resolves, in one UPDATE from
# arrays (their accounts locked, each transfer read PENDING under those locks).
_PG_MARK_RESOLVED = (
    text(
        "WITH change(id, state, posted) AS"
        " (SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:states AS varchar[]), CAST(:posted AS bigint[])))"
        " UPDATE transfer SET state = change.state, posted_amount = change.posted, resolved_at = :now"
        " FROM change WHERE transfer.id = change.id AND transfer.state = 'PENDING'"
        f" RETURNING {', '.join(f'transfer.{column.name}' for column in TRANSFERS.columns)}"
    )
    .bindparams(bindparam("now", type_=TRANSFERS.c.resolved_at.type))
    .columns(*TRANSFERS.columns)  # the rows typed as a read of the table types them
)


async def _mark_all_resolved(session: AsyncSession, marks: Sequence[tuple], now: dt.datetime) -> dict:
    """`_mark_resolved` for each (transfer, state, posted), and the transfers as they are
    then, by key: in one statement on PostgreSQL (its RETURNING), one each and a read on
    SQLite (in-process: no round trip to save)."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql":
        for transfer, state, posted in marks:
            await _mark_resolved(session, transfer, state, posted, now)
        keys = [transfer.transfer_id for transfer, _, _ in marks]
        return {row.transfer_id: row for row in await known_transfers(connection, keys)}
    columns = {
        "ids": [t.id for t, _, _ in marks],
        "states": [s.value for _, s, _ in marks],
        "posted": [p for _, _, p in marks],
        "now": now,
    }
    rows = (await connection.execute(_PG_MARK_RESOLVED, columns)).all()
    assert len(rows) == len(marks), "a pending transfer changed under its accounts' locks"
    return {row.transfer_id: row for row in rows}


async def _resolve(session: AsyncSession, transfer, state: TransferState, posted: int | None, held, now):
    await _mark_resolved(session, transfer, state, posted, now)
    await write_accounts(session, held)
    return await transfer_by_key(session, transfer.transfer_id)


@dataclass(frozen=True)
class HoldChange:
    """Post `post` minor units of a pending transfer (at most its amount), or void it
    (None); `accounts`: its (debit, credit) account ids when the caller has read them."""

    transfer_id: uuid.UUID
    post: int | None
    accounts: tuple[int, int] | None = None


async def resolve_holds(session: AsyncSession, changes: Sequence[HoldChange], *, now: dt.datetime) -> list:
    """Post or void several pending transfers together, all or none, their accounts locked
    in one statement (so two such calls never deadlock). For the service's own flows (a
    card payment's capture or reversal): the caller has checked who may do it. Raises
    NOT_FOUND, TRANSFER_EXPIRED, TRANSFER_NOT_PENDING or AMOUNT_EXCEEDS_PENDING; the
    caller's transaction then rolls back whatever was written."""
    keys = [change.transfer_id for change in changes]
    assert len(set(keys)) == len(keys), "each hold once"
    connection = await session.connection()
    accounts = [change.accounts for change in changes]  # a transfer's accounts never change
    if any(pair is None for pair in accounts):
        found = await known_transfers(connection, keys)
        accounts = [(t.debit_account_id, t.credit_account_id) for t in found]
    held = await lock_accounts(session, (a for pair in accounts for a in pair), now)
    transfers = {row.transfer_id: row for row in await known_transfers(connection, keys)}  # under the locks
    if len(transfers) != len(keys):
        raise not_found("No transfer with this transferId.", "transferId")
    marks = []
    for change in changes:
        transfer = transfers[change.transfer_id]
        state = effective_state(transfer, now)
        if state is TransferState.EXPIRED:
            raise DomainError(ErrorCode.TRANSFER_EXPIRED, "The hold has expired.", ["transferId"])
        if state is not TransferState.PENDING:
            raise DomainError(ErrorCode.TRANSFER_NOT_PENDING, f"The transfer is {state.value}.", ["transferId"])
        if change.post is not None and not 0 < change.post <= transfer.amount:
            raise DomainError(ErrorCode.AMOUNT_EXCEEDS_PENDING, "The amount exceeds the pending amount.", ["amount"])
        _release(transfer, held[transfer.debit_account_id], held[transfer.credit_account_id], change.post)
        marks.append((transfer, TransferState.VOIDED if change.post is None else TransferState.POSTED, change.post))
    rows = await _mark_all_resolved(session, marks, now)
    await write_accounts(session, held.values())
    return [rows[key] for key in keys]


async def expire_lapsed(session: AsyncSession, now: dt.datetime, limit: int = 500) -> int:
    """Release up to `limit` holds past their expiry (state EXPIRED); how many were released."""
    connection = await session.connection()
    due = (
        await connection.execute(
            select(TRANSFERS.c.id, TRANSFERS.c.debit_account_id, TRANSFERS.c.credit_account_id)
            .where(LAPSING, TRANSFERS.c.expires_at <= now)
            .order_by(TRANSFERS.c.expires_at)
            .limit(limit)
        )
    ).all()
    if not due:
        return 0
    held = await lock_accounts(session, (a for row in due for a in (row.debit_account_id, row.credit_account_id)), now)
    released = await connection.execute(
        update(TRANSFERS)
        .where(TRANSFERS.c.id.in_([row.id for row in due]), TRANSFERS.c.state == TransferState.PENDING)
        .values(state=TransferState.EXPIRED, resolved_at=now)
        .returning(TRANSFERS.c.debit_account_id, TRANSFERS.c.credit_account_id, TRANSFERS.c.amount)
    )
    count = 0
    for debit_id, credit_id, amount in released:
        held[debit_id].debits_pending -= amount
        held[credit_id].credits_pending -= amount
        held[debit_id].changed = held[credit_id].changed = True
        count += 1
    await write_accounts(session, held.values())
    return count
