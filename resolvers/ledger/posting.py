"""Creating transfers: a request's batch (applied in order, atomically or not), several
requests' batches in one transaction (group commit), and the service's own legs."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from models.ledger import TransferState
from resolvers import reference
from resolvers.access import SYSTEM, Action, Principal, may_act_for, require
from resolvers.errors import DomainError, ErrorCode, invalid, not_found
from resolvers.ledger.locks import Held, insert_transfers, known_transfers, lock_accounts, write_accounts
from resolvers.money import fits, parse_amount

MAX_BATCH = 8189
REFERENCE_MAX = 140
TIMEOUT_MAX = 2_147_483_647  # seconds (about 68 years): the column is a 32-bit integer


@dataclass(frozen=True)
class TransferSpec:
    """One transfer as the client asked for it (`amount` a Decimal of the API), or as the
    service makes it (`minor` set: minor units, checked by its maker). `problem` is an
    error the caller already found in the input (such as an id that is not an account's)
    to report at its index."""

    transfer_id: uuid.UUID
    debit_account_id: int
    credit_account_id: int
    amount: Decimal | None
    currency: str
    pending: bool = False
    timeout_seconds: int | None = None
    reference: str | None = None
    problem: DomainError | None = None
    minor: int | None = None
    fresh: bool = False  # a key the service just drew (uuid4): no stored transfer has it, none is looked up


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


def _check_spec(spec: TransferSpec, minor_units: dict[str, int]) -> int:
    """The amount in minor units, after the checks that need no database."""
    if spec.problem is not None:
        raise spec.problem
    units = minor_units.get(spec.currency)
    if units is None:
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {spec.currency!r}.", ["currency"])
    amount = spec.minor if spec.minor is not None else parse_amount(spec.amount, spec.currency, units, "amount")
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
    live = [(group, index, amount) for group in groups for index, amount in _checked(group, units)]
    specs = [group.specs[index] for group, index, _ in live]
    # Known keys are looked up before the accounts are locked, so that the locks are held
    # for less: a transfer with one of these keys committed in between makes the insert
    # fail on the unique key, and the transaction is retried (it then finds it).
    known = await _known(session, {g.specs[i].transfer_id for g, i, _ in live if not g.specs[i].fresh})
    held = await lock_accounts(session, (a for s in specs for a in (s.debit_account_id, s.credit_account_id)), now)
    entries: dict[int, list[tuple[int, int]]] = {}
    for group, index, amount in live:
        entries.setdefault(id(group), []).append((index, amount))
    new: list[NewTransfer] = []
    for group in groups:
        new.extend(_apply_group(group, entries.get(id(group), []), held, known, now))
    if new:
        await insert_transfers(session, new)
        await write_accounts(session, held.values())


def _accounts_of(spec: TransferSpec) -> tuple[int, int]:
    return spec.debit_account_id, spec.credit_account_id


def _checked(group: TransferGroup, units: dict[str, int]) -> list[tuple[int, int]]:
    """(index, minor units) of the group's inputs that pass the checks needing no
    database; the others get their errors, or the group its refusal as a whole."""
    group.outcomes = [TransferOutcome() for _ in group.specs]
    group.error = None
    try:
        require(group.principal, Action.WRITE_OWN)
        if len(group.specs) > MAX_BATCH:
            raise invalid(f"At most {MAX_BATCH} transfers in one request.")
    except DomainError as error:
        group.error = error
        return []
    passed = []
    for index, spec in enumerate(group.specs):
        try:
            passed.append((index, _check_spec(spec, units)))
        except DomainError as error:
            group.outcomes[index].error = error.under(str(index))
    return passed


async def _known(session: AsyncSession, keys: set[uuid.UUID]) -> dict:
    """The stored transfers with these keys (transferId), by key."""
    connection = await session.connection()
    return {row.transfer_id: row for row in await known_transfers(connection, keys)}


def _apply_group(
    group: TransferGroup, entries: list[tuple[int, int]], held: dict[int, Held], known: dict, now: dt.datetime
) -> list[NewTransfer]:
    """Apply one group's checked inputs to the locked accounts in memory, in order; the
    transfers it adds. An atomic group with any failure adds none and leaves the
    accounts and the known keys as it found them."""
    saved = {}
    if group.atomic:
        touched = {a for index, _ in entries for a in _accounts_of(group.specs[index])}
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
    if not group.atomic or all(outcome.error is None for outcome in group.outcomes):
        return added
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
    return []


def _apply(
    principal: Principal,
    spec: TransferSpec,
    amount: int,
    held: dict[int, Held],
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
        if not fits(debit.debits_pending + amount, credit.credits_pending + amount):
            raise invalid("The amount would overflow the accounts' pending totals.", "amount")
        debit.debits_pending += amount
        credit.credits_pending += amount
    else:
        if not fits(debit.debits_posted + amount, credit.credits_posted + amount):
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


# ---------------------------------------------------------------- the service's own legs


@dataclass(frozen=True)
class Leg:
    """One transfer a flow of the service makes (a card hold, an exchange leg, a
    settlement position): in minor units, of a positive amount. `key` is its transferId
    when the flow derives one (the demo, so that loading again replays); None for a
    fresh one. `reference`, when set, is the leg's own (else the call's)."""

    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: str
    key: uuid.UUID | None = None
    reference: str | None = None


class LegRefused(Exception):
    """The ledger refused leg `index` of a `post_legs` call: nothing of the call took
    effect. `code` is the ledger's error code (INSUFFICIENT_FUNDS, SAME_ACCOUNT, ...),
    for the flow to say what it means for it."""

    def __init__(self, index: int, error: DomainError) -> None:
        super().__init__(f"leg {index}: {error.message}")
        self.index = index
        self.code = error.code
        self.message = error.message


async def post_legs(
    session: AsyncSession,
    legs: Sequence[Leg],
    *,
    pending: bool = False,
    timeout_seconds: int | None = None,
    reference: str | None = None,
    now: dt.datetime,
) -> list[NewTransfer]:
    """Post the legs atomically in the caller's transaction (as the service itself, so no
    participant rule applies). A leg without a key gets a fresh one: the flow's own
    record (the claimed authorization, quote or window) is what makes a replay; a leg
    with a key is replayed if it exists with the same content. The transfers in leg
    order, or LegRefused for the first leg the ledger refused (IDEMPOTENCY_CONFLICT for a
    key taken by other content)."""
    (posted,) = await post_leg_groups(
        session, [legs], pending=pending, timeout_seconds=timeout_seconds, references=[reference], now=now
    )
    if isinstance(posted, LegRefused):
        raise posted
    return posted


def fresh_keys(count: int) -> Iterator[uuid.UUID]:
    """`count` new random transferIds (UUID version 4), from one read of the OS's randomness."""
    data = os.urandom(16 * count)
    return (uuid.UUID(bytes=data[k : k + 16], version=4) for k in range(0, 16 * count, 16))


async def post_leg_groups(
    session: AsyncSession,
    groups: Sequence[Sequence[Leg]],
    *,
    pending: bool = False,
    timeout_seconds: int | None = None,
    references: Sequence[str | None],
    now: dt.datetime,
) -> list[list[NewTransfer] | LegRefused]:
    """Post several flows' legs at once (group commit), as `post_legs` posts one flow's:
    each group atomically and as if alone, in order (a group sees the effects of those
    before it), with `references[k]` for group k's legs. Per group: its transfers in leg
    order, or the LegRefused that left it without effect."""
    assert len(references) == len(groups), "one reference per group"
    assert all(legs and all(leg.amount > 0 for leg in legs) for legs in groups), "legs move positive amounts"
    keys = fresh_keys(sum(leg.key is None for legs in groups for leg in legs))
    transfer_groups = [
        TransferGroup(
            SYSTEM,
            [
                TransferSpec(
                    leg.key or next(keys),
                    leg.debit_account_id,
                    leg.credit_account_id,
                    None,
                    leg.currency,
                    pending=pending,
                    timeout_seconds=timeout_seconds,
                    reference=leg.reference or reference,
                    minor=leg.amount,
                    fresh=leg.key is None,
                )
                for leg in legs
            ],
            atomic=True,
        )
        for legs, reference in zip(groups, references, strict=True)
    ]
    await create_transfer_groups(session, transfer_groups, now=now)
    results: list[list[NewTransfer] | LegRefused] = []
    for group, legs in zip(transfer_groups, groups, strict=True):
        assert group.error is None, "the service may post any legs"
        refused = next(
            (
                LegRefused(index, outcome.error)
                for index, outcome in enumerate(group.outcomes)
                if outcome.error is not None and outcome.error.code is not ErrorCode.ATOMIC_BATCH_FAILED
            ),
            None,
        )
        if refused is not None:
            results.append(refused)
            continue
        assert all(o.created for o, leg in zip(group.outcomes, legs, strict=True) if leg.key is None), "fresh keys"
        results.append([outcome.transfer for outcome in group.outcomes])
    return results
