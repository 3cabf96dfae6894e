"""The ledger: accounts and double-entry transfers, with two-phase holds.

Rules (../shared/DESIGN.md, "The ledger"; TigerBeetle's semantics):
- balance = credits_posted - debits_posted; available = balance - debits_pending.
  A debit may not take `available` below zero, except on an ISSUANCE account.
- A posted transfer moves its amount at once; a pending one holds it in the
  `_pending` columns until it is posted (in full or for less), voided, or lapses.
- A hold whose `expires_at` has passed no longer limits `available` and can no
  longer be posted, at once: reads and writes subtract lapsed holds that the
  sweeper (`expire_lapsed`) has not reached yet.
- `transfer_id` is the client's idempotency key: the same content again returns
  the stored transfer (created False), other content is IDEMPOTENCY_CONFLICT.

Concurrency: every write locks the accounts it touches, in id order, in a single
statement (SELECT ... ORDER BY id FOR UPDATE on PostgreSQL; SQLite's writers
hold the database's write lock from BEGIN IMMEDIATE). Every change to a
transfer's state happens under its accounts' locks, so no two writers change the
same transfer, and locks are always taken in one order (no deadlock cycle).

The batch path uses SQLAlchemy Core, not ORM objects: one statement each for the
locks, the lapsed holds, the known ids, the insert of all new transfers and the
update of all touched accounts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import and_, bindparam, func, insert, literal_column, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.money import MAX_MINOR, AmountError, to_minor
from models.ledger import Account, AccountKind, Transfer, TransferState
from models.reference import Country, Institution, InstitutionKind
from resolvers import reference
from resolvers.access import Action, Principal, may_act_for, require, visible_institution
from resolvers.errors import DomainError, ErrorCode, invalid, not_found
from resolvers.pagination import Page, cut_page, in_key_order, keyset_page, page_size

MAX_BATCH = 8189
NAME_MAX = 100
REFERENCE_MAX = 140
TIMEOUT_MAX = 2_147_483_647  # seconds (about 68 years): the column is a 32-bit integer

ACCOUNTS = Account.__table__
TRANSFERS = Transfer.__table__

# Statements are built once: building SQLAlchemy expressions costs more CPU per request
# than running them. "Lapsing" (pending with an expiry) is spelled with literals, not
# parameters, so the planners of both engines can use the partial indexes on it.
LAPSING = and_(TRANSFERS.c.state == literal_column("'PENDING'"), TRANSFERS.c.expires_at.is_not(None))
_IDS = bindparam("ids", expanding=True)
_NOW = bindparam("now", type_=TRANSFERS.c.expires_at.type)

_LAPSED_DEBITS = (
    select(TRANSFERS.c.debit_account_id, func.sum(TRANSFERS.c.amount))
    .where(LAPSING, TRANSFERS.c.expires_at <= _NOW, TRANSFERS.c.debit_account_id.in_(_IDS))
    .group_by(TRANSFERS.c.debit_account_id)
)
_LAPSED_CREDITS = (
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
_KNOWN = select(TRANSFERS).where(TRANSFERS.c.transfer_id.in_(bindparam("keys", expanding=True)))
_BY_KEY = select(TRANSFERS).where(TRANSFERS.c.transfer_id == bindparam("key"))
_INSERT = insert(TRANSFERS).returning(TRANSFERS.c.id, sort_by_parameter_order=True)
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


# ---------------------------------------------------------------- accounts


async def open_account(
    session: AsyncSession,
    principal: Principal,
    *,
    owner_id: int,
    name: str,
    currency: str,
    kind: AccountKind,
) -> Account:
    """A new account. ISSUANCE only for a central bank in its country's currency (one
    each); FX_POSITION only for an FX provider. A participant opens its own accounts."""
    require(principal, Action.WRITE_OWN)
    owner = await session.get(Institution, owner_id)
    if owner is None:
        raise not_found("No such institution.", "ownerId")
    if not may_act_for(principal, owner_id):
        raise DomainError(
            ErrorCode.FORBIDDEN, "A participant opens accounts only for its own institution.", ["ownerId"]
        )
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise invalid(f"name must be 1 to {NAME_MAX} characters.", "name")
    currency = currency.strip().upper()
    if currency not in await reference.minor_units(session):
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {currency!r} (ISO 4217).", ["currency"])
    if kind is AccountKind.ISSUANCE:
        if owner.kind is not InstitutionKind.CENTRAL_BANK:
            raise invalid("Only a central bank holds an ISSUANCE account.", "kind")
        country = await session.get(Country, owner.country_code)
        if country is None or country.currency_code != currency:
            raise DomainError(
                ErrorCode.CURRENCY_MISMATCH,
                f"A central bank issues only its country's currency ({country.currency_code if country else '?'}).",
                ["currency"],
            )
        taken = await session.exec(
            select(Account.id).where(
                Account.owner_id == owner_id, Account.currency_code == currency, Account.kind == AccountKind.ISSUANCE
            )
        )
        if taken.first() is not None:
            raise DomainError(ErrorCode.ALREADY_EXISTS, f"{owner.name} already has an ISSUANCE account.", ["kind"])
    if kind is AccountKind.FX_POSITION and owner.kind is not InstitutionKind.FX_PROVIDER:
        raise invalid("Only an FX provider holds FX_POSITION accounts.", "kind")
    account = Account(owner_id=owner_id, name=name, currency_code=currency, kind=kind)
    session.add(account)
    await session.flush()
    return account


async def accounts_by_id(session: AsyncSession, ids: Sequence[int]) -> list[Account | None]:
    rows = await session.exec(select(Account).where(Account.id.in_(set(ids))))
    return in_key_order(rows, ids, lambda row: row.id)


async def list_accounts(
    session: AsyncSession,
    principal: Principal,
    owner_id: int,
    *,
    first: int | None = None,
    after: int | None = None,
    currency: str | None = None,
) -> Page[Account]:
    """An institution's accounts, oldest first; empty for a caller who may not see them."""
    if not may_act_for(principal, owner_id):
        page_size(first, None)
        return Page(rows=[], has_next=False, has_previous=after is not None)
    statement = select(Account).where(Account.owner_id == owner_id)
    if currency is not None:
        statement = statement.where(Account.currency_code == currency.strip().upper())
    return await keyset_page(session, statement, Account.id, first=first, after=after)


async def lapsed_holds(session: AsyncSession, account_ids: Iterable[int], now: dt.datetime) -> dict[int, list[int]]:
    """account id -> [lapsed pending debits, lapsed pending credits]: holds past their
    expiry that the sweeper has not released yet. Accounts with none are absent."""
    ids = list(set(account_ids))
    if not ids:
        return {}
    params = {"ids": ids, "now": now}
    connection = await session.connection()
    result: dict[int, list[int]] = {}
    for account_id, total in await connection.execute(_LAPSED_DEBITS, params):
        result.setdefault(account_id, [0, 0])[0] = int(total)
    for account_id, total in await connection.execute(_LAPSED_CREDITS, params):
        result.setdefault(account_id, [0, 0])[1] = int(total)
    return result


@dataclass(frozen=True)
class Balances:
    """An account's four columns as they stand now, lapsed holds released."""

    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int

    @property
    def balance(self) -> int:
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        return self.balance - self.debits_pending


def effective_balances(account, lapsed: Sequence[int] | None) -> Balances:
    lapsed_debits, lapsed_credits = lapsed or (0, 0)
    return Balances(
        debits_pending=account.debits_pending - lapsed_debits,
        debits_posted=account.debits_posted,
        credits_pending=account.credits_pending - lapsed_credits,
        credits_posted=account.credits_posted,
    )


def may_see_account(principal: Principal, account) -> bool:
    return may_act_for(principal, account.owner_id)


# ---------------------------------------------------------------- transfers: reading


def effective_state(transfer, now: dt.datetime) -> TransferState:
    """A pending transfer past its expiry reads as EXPIRED before the sweeper gets to it."""
    if transfer.state is TransferState.PENDING and transfer.expires_at is not None and transfer.expires_at <= now:
        return TransferState.EXPIRED
    return transfer.state


async def transfers_by_id(session: AsyncSession, ids: Sequence[int]) -> list:
    connection = await session.connection()
    rows = await connection.execute(select(TRANSFERS).where(TRANSFERS.c.id.in_(set(ids))))
    return in_key_order(rows, ids, lambda row: row.id)


async def transfer_by_key(session: AsyncSession, transfer_id: uuid.UUID):
    connection = await session.connection()
    return (await connection.execute(_BY_KEY, {"key": transfer_id})).first()


async def may_see_transfer(session: AsyncSession, principal: Principal, transfer) -> bool:
    institution = visible_institution(principal)
    if institution is None:
        return True
    owners = await session.exec(
        select(Account.owner_id).where(Account.id.in_([transfer.debit_account_id, transfer.credit_account_id]))
    )
    return institution in set(owners)


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
    rows = [row for row in await transfers_by_id(session, page.rows) if row is not None]
    return Page(rows=rows, has_next=page.has_next, has_previous=page.has_previous)


# ---------------------------------------------------------------- transfers: writing


@dataclass(frozen=True)
class TransferSpec:
    """One transfer as the client asked for it. `problem` is an error the caller already
    found in the input (such as an id that is not an account's) to report at its index."""

    transfer_id: uuid.UUID
    debit_account_id: int
    credit_account_id: int
    amount: Decimal
    currency: str
    pending: bool = False
    timeout_seconds: int | None = None
    reference: str | None = None
    problem: DomainError | None = None


@dataclass
class TransferOutcome:
    """What happened to one input: the transfer (new or replayed) or the error."""

    transfer: object | None = None
    created: bool = False
    error: DomainError | None = None


@dataclass(slots=True)
class NewTransfer:
    """A transfer written by this request, shaped like a row of the transfer table."""

    id: int | None
    transfer_id: uuid.UUID
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency_code: str
    state: TransferState
    timeout_seconds: int | None
    expires_at: dt.datetime | None
    posted_amount: int | None
    pending: bool
    reference: str | None
    created_at: dt.datetime
    resolved_at: dt.datetime | None = None


@dataclass(slots=True)
class _Held:
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


async def _lock_accounts(session: AsyncSession, ids: Iterable[int], now: dt.datetime) -> dict[int, _Held]:
    """Lock the accounts in id order, in one statement, and read their columns and lapsed holds."""
    ordered = sorted(set(ids))
    if not ordered:
        return {}
    connection = await session.connection()
    statement = _LOCK_FOR_UPDATE if connection.dialect.name == "postgresql" else _LOCK
    held: dict[int, _Held] = {}
    for row in await connection.execute(statement, {"ids": ordered, "now": now}):
        columns = (row.debits_pending, row.debits_posted, row.credits_pending, row.credits_posted)
        held[row.id] = _Held(
            row.id,
            row.owner_id,
            row.currency_code,
            row.kind is AccountKind.ISSUANCE,
            *columns,
            lapsed_debits=int(row.lapsed_debits),
            start=columns,
        )
    return held


async def _write_accounts(session: AsyncSession, held: Iterable[_Held]) -> None:
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


def _check_spec(spec: TransferSpec, minor_units: dict[str, int]) -> int:
    """The amount in minor units, after the checks that need no database."""
    if spec.problem is not None:
        raise spec.problem
    units = minor_units.get(spec.currency)
    if units is None:
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {spec.currency!r}.", ["currency"])
    try:
        amount = to_minor(spec.amount, units)
    except AmountError as error:
        raise invalid(f"{error} ({spec.currency} has {units} decimal places.)", "amount") from None
    if amount <= 0:
        raise invalid("The amount must be positive.", "amount")
    if spec.debit_account_id == spec.credit_account_id:
        raise DomainError(ErrorCode.SAME_ACCOUNT, "Debit and credit accounts must differ.", ["creditAccountId"])
    if spec.timeout_seconds is not None:
        if not spec.pending:
            raise invalid("timeoutSeconds applies only to a pending transfer.", "timeoutSeconds")
        if not 1 <= spec.timeout_seconds <= TIMEOUT_MAX:
            raise invalid(f"timeoutSeconds must be between 1 and {TIMEOUT_MAX}.", "timeoutSeconds")
    if spec.reference is not None and len(spec.reference) > REFERENCE_MAX:
        raise invalid(f"reference must be at most {REFERENCE_MAX} characters.", "reference")
    return amount


def _same_content(stored, spec: TransferSpec, amount: int) -> bool:
    return (
        stored.debit_account_id == spec.debit_account_id
        and stored.credit_account_id == spec.credit_account_id
        and stored.amount == amount
        and stored.currency_code == spec.currency
        and bool(stored.pending) == spec.pending
        and stored.timeout_seconds == spec.timeout_seconds
        and stored.reference == spec.reference
    )


def _fits(*values: int) -> bool:
    return all(value <= MAX_MINOR for value in values)


@dataclass
class TransferGroup:
    """One request's transfers: applied in order, atomically or not, as its caller may.
    `create_transfer_groups` fills in `outcomes` (one per spec) or `error` (the whole
    request refused, such as a key that may not move money)."""

    principal: Principal
    specs: Sequence[TransferSpec]
    atomic: bool = False
    outcomes: list[TransferOutcome] = field(default_factory=list)
    error: DomainError | None = None


async def create_transfers(
    session: AsyncSession,
    principal: Principal,
    specs: Sequence[TransferSpec],
    *,
    atomic: bool,
    now: dt.datetime,
) -> list[TransferOutcome]:
    """Apply the transfers in order, in the caller's transaction; one outcome each.

    Non-atomic: each input stands alone. Atomic: if any input fails, none takes
    effect: each failing input has its error, the others ATOMIC_BATCH_FAILED.
    Error fields are relative to the list: ["<index>", "amount"].
    """
    group = TransferGroup(principal, specs, atomic)
    await create_transfer_groups(session, [group], now=now)
    if group.error is not None:
        raise group.error
    return group.outcomes


async def create_transfer_groups(session: AsyncSession, groups: Sequence[TransferGroup], *, now: dt.datetime) -> None:
    """Apply several requests' transfers in one transaction, each group as if alone, in
    order: a group sees the effects of the groups before it, and an atomic group that
    fails leaves no trace. One lock statement, one lookup of known ids, one insert and
    one account update serve them all (group commit)."""
    units = await reference.minor_units(session)
    amounts: list[list[int | None]] = []
    for group in groups:
        group.outcomes = [TransferOutcome() for _ in group.specs]
        group_amounts: list[int | None] = [None] * len(group.specs)
        amounts.append(group_amounts)
        try:
            require(group.principal, Action.WRITE_OWN)
            if len(group.specs) > MAX_BATCH:
                raise invalid(f"At most {MAX_BATCH} transfers in one request.")
        except DomainError as error:
            group.error = error
            continue
        for index, spec in enumerate(group.specs):
            try:
                group_amounts[index] = _check_spec(spec, units)
            except DomainError as error:
                group.outcomes[index].error = error.under(str(index))

    live = [
        (group, index, amount)
        for group, group_amounts in zip(groups, amounts, strict=True)
        if group.error is None
        for index, amount in enumerate(group_amounts)
        if amount is not None
    ]
    held = await _lock_accounts(
        session, (a for g, i, _ in live for a in (g.specs[i].debit_account_id, g.specs[i].credit_account_id)), now
    )
    known: dict = {}
    if live:
        connection = await session.connection()
        keys = list({g.specs[i].transfer_id for g, i, _ in live})
        for row in await connection.execute(_KNOWN, {"keys": keys}):
            known[row.transfer_id] = row

    new: list[NewTransfer] = []
    by_group: dict[int, list[tuple[int, int]]] = {}
    for group, index, amount in live:
        by_group.setdefault(id(group), []).append((index, amount))
    for group in groups:
        entries = by_group.get(id(group), [])
        saved = {}
        if group.atomic:
            touched = {
                a for i, _ in entries for a in (group.specs[i].debit_account_id, group.specs[i].credit_account_id)
            }
            saved = {a: held[a].snapshot() for a in touched if a in held}
        added: list[NewTransfer] = []
        for index, amount in entries:
            spec, outcome = group.specs[index], group.outcomes[index]
            try:
                outcome.transfer, outcome.created = _apply(group.principal, spec, amount, held, known, now)
            except DomainError as error:
                outcome.error = error.under(str(index))
                continue
            if outcome.created:
                known[spec.transfer_id] = outcome.transfer
                added.append(outcome.transfer)
        if group.atomic and any(outcome.error is not None for outcome in group.outcomes):
            for account_id, snapshot in saved.items():
                held[account_id].restore(snapshot)
            for transfer in added:
                del known[transfer.transfer_id]
            for outcome in group.outcomes:
                if outcome.error is None:
                    outcome.transfer, outcome.created = None, False
                    outcome.error = DomainError(
                        ErrorCode.ATOMIC_BATCH_FAILED, "Not applied: another transfer in the atomic batch failed."
                    )
            continue
        new.extend(added)

    if new:
        rows = [
            {
                "transfer_id": t.transfer_id,
                "debit_account_id": t.debit_account_id,
                "credit_account_id": t.credit_account_id,
                "amount": t.amount,
                "currency_code": t.currency_code,
                "state": t.state,
                "timeout_seconds": t.timeout_seconds,
                "expires_at": t.expires_at,
                "posted_amount": t.posted_amount,
                "pending": t.pending,
                "reference": t.reference,
                "created_at": t.created_at,
                "resolved_at": None,
            }
            for t in new
        ]
        connection = await session.connection()
        result = await connection.execute(_INSERT, rows)
        for transfer, (new_id,) in zip(new, result.all(), strict=True):
            transfer.id = new_id
        await _write_accounts(session, held.values())


def _apply(
    principal: Principal,
    spec: TransferSpec,
    amount: int,
    held: dict[int, _Held],
    known: dict,
    now: dt.datetime,
) -> tuple[object, bool]:
    """Check one transfer against the locked accounts and apply it to them in memory.
    Returns (transfer, created); raises DomainError and changes nothing on failure."""
    debit = held.get(spec.debit_account_id)
    if debit is None:
        raise not_found("No such account.", "debitAccountId")
    credit = held.get(spec.credit_account_id)
    if credit is None:
        raise not_found("No such account.", "creditAccountId")
    if not may_act_for(principal, debit.owner_id):
        raise DomainError(
            ErrorCode.FORBIDDEN, "A participant debits only its own institution's accounts.", ["debitAccountId"]
        )
    stored = known.get(spec.transfer_id)
    if stored is not None:
        if _same_content(stored, spec, amount):
            return stored, False
        raise DomainError(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            "A transfer with this transferId exists with different fields.",
            ["transferId"],
        )
    if spec.currency != debit.currency or spec.currency != credit.currency:
        raise DomainError(
            ErrorCode.CURRENCY_MISMATCH,
            f"The transfer is in {spec.currency}; the accounts are in {debit.currency} and {credit.currency}.",
            ["currency"],
        )
    if not debit.issuance and amount > debit.available:
        raise DomainError(ErrorCode.INSUFFICIENT_FUNDS, "The debit account's available balance is too low.", ["amount"])
    if spec.pending:
        if not _fits(debit.debits_pending + amount, credit.credits_pending + amount):
            raise invalid("The amount would overflow the accounts' pending totals.", "amount")
        debit.debits_pending += amount
        credit.credits_pending += amount
    else:
        if not _fits(debit.debits_posted + amount, credit.credits_posted + amount):
            raise invalid("The amount would overflow the accounts' posted totals.", "amount")
        debit.debits_posted += amount
        credit.credits_posted += amount
    debit.changed = credit.changed = True
    expires_at = now + dt.timedelta(seconds=spec.timeout_seconds) if spec.timeout_seconds else None
    transfer = NewTransfer(
        id=None,
        transfer_id=spec.transfer_id,
        debit_account_id=spec.debit_account_id,
        credit_account_id=spec.credit_account_id,
        amount=amount,
        currency_code=spec.currency,
        state=TransferState.PENDING if spec.pending else TransferState.POSTED,
        timeout_seconds=spec.timeout_seconds,
        expires_at=expires_at,
        posted_amount=None if spec.pending else amount,
        pending=spec.pending,
        reference=spec.reference,
        created_at=now,
    )
    return transfer, True


async def _locked_pending(session: AsyncSession, principal: Principal, transfer_id: uuid.UUID, now: dt.datetime):
    """The transfer with its two accounts locked, after the access check."""
    found = await transfer_by_key(session, transfer_id)
    if found is None:
        raise not_found("No transfer with this transferId.", "transferId")
    held = await _lock_accounts(session, (found.debit_account_id, found.credit_account_id), now)
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
        try:
            post = to_minor(amount, units)
        except AmountError as error:
            raise invalid(f"{error} ({transfer.currency_code} has {units} decimal places.)", "amount") from None
        if post <= 0:
            raise invalid("The amount must be positive.", "amount")
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


def _release(transfer, debit: _Held, credit: _Held, post: int | None) -> None:
    """Take a pending transfer's hold off its locked accounts and post `post` of it
    (None voids it). The caller has checked that it is pending and 0 < post <= amount."""
    if post is not None and not _fits(debit.debits_posted + post, credit.credits_posted + post):
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


async def _resolve(session: AsyncSession, transfer, state: TransferState, posted: int | None, held, now):
    await _mark_resolved(session, transfer, state, posted, now)
    await _write_accounts(session, held)
    return await transfer_by_key(session, transfer.transfer_id)


@dataclass(frozen=True)
class HoldChange:
    """Post `post` minor units of a pending transfer (at most its amount), or void it (None)."""

    transfer_id: uuid.UUID
    post: int | None


async def resolve_holds(session: AsyncSession, changes: Sequence[HoldChange], *, now: dt.datetime) -> list:
    """Post or void several pending transfers together, all or none, their accounts locked
    in one statement (so two such calls never deadlock). For the service's own flows (a
    card payment's capture or reversal): the caller has checked who may do it. Raises
    NOT_FOUND, TRANSFER_EXPIRED, TRANSFER_NOT_PENDING or AMOUNT_EXCEEDS_PENDING; the
    caller's transaction then rolls back whatever was written."""
    keys = [change.transfer_id for change in changes]
    assert len(set(keys)) == len(keys), "each hold once"
    connection = await session.connection()
    found = (await connection.execute(_KNOWN, {"keys": keys})).all()
    if len(found) != len(keys):
        raise not_found("No transfer with this transferId.", "transferId")
    held = await _lock_accounts(session, (a for t in found for a in (t.debit_account_id, t.credit_account_id)), now)
    transfers = {row.transfer_id: row for row in await connection.execute(_KNOWN, {"keys": keys})}  # under the locks
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
        posted_state = TransferState.VOIDED if change.post is None else TransferState.POSTED
        await _mark_resolved(session, transfer, posted_state, change.post, now)
    await _write_accounts(session, held.values())
    rows = {row.transfer_id: row for row in await connection.execute(_KNOWN, {"keys": keys})}
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
    held = await _lock_accounts(session, (a for row in due for a in (row.debit_account_id, row.credit_account_id)), now)
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
    await _write_accounts(session, held.values())
    return count
