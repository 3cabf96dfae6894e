"""GraphQL types of the ledger: accounts, transfers, and the mutations that move money."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import strawberry
from strawberry.types import Info

from corridor.money import from_minor
from models import ledger as models
from models.base import utcnow
from resolvers import ledger
from resolvers.errors import DomainError, ErrorCode
from schema.base import (
    Money,
    Node,
    PageInfo,
    UserError,
    context,
    cursor,
    decode_cursor,
    decode_id,
    global_id,
    page_info,
    principal,
    user_errors,
)
from schema.loaders import loaders, minor_units
from schema.node import register_node
from schema.reference import Currency, Institution, load_institution

AccountKind = strawberry.enum(models.AccountKind, name="AccountKind")
TransferState = strawberry.enum(models.TransferState, name="TransferState")


def money(minor: int, currency: str, units: dict[str, int]) -> Money:
    return Money(amount=from_minor(minor, units[currency]), currency=currency)


@strawberry.type
class Account(Node):
    id: strawberry.ID
    name: str
    kind: AccountKind
    created_at: dt.datetime
    _row: strawberry.Private[object]

    @classmethod
    def of(cls, row) -> Account:
        return cls(id=global_id("Account", row.id), name=row.name, kind=row.kind, created_at=row.created_at, _row=row)

    @strawberry.field
    async def owner(self, info: Info) -> Institution:
        return await load_institution(info, self._row.owner_id)

    @strawberry.field
    async def currency(self, info: Info) -> Currency:
        return Currency.of(await loaders(info).currency.load(self._row.currency_code))

    async def _balances(self, info: Info) -> tuple[ledger.Balances, dict[str, int]]:
        if not ledger.may_see_account(principal(info), self._row):
            raise DomainError(ErrorCode.FORBIDDEN, "Only the account's institution sees its balances.")
        lapsed = await loaders(info).lapsed.load(self._row.id)
        return ledger.effective_balances(self._row, lapsed), await minor_units(info)

    async def _amount(self, info: Info, column: str) -> Decimal:
        balances, units = await self._balances(info)
        return from_minor(getattr(balances, column), units[self._row.currency_code])

    @strawberry.field
    async def debits_pending(self, info: Info) -> Decimal:
        return await self._amount(info, "debits_pending")

    @strawberry.field
    async def debits_posted(self, info: Info) -> Decimal:
        return await self._amount(info, "debits_posted")

    @strawberry.field
    async def credits_pending(self, info: Info) -> Decimal:
        return await self._amount(info, "credits_pending")

    @strawberry.field
    async def credits_posted(self, info: Info) -> Decimal:
        return await self._amount(info, "credits_posted")

    @strawberry.field(description="creditsPosted - debitsPosted.")
    async def balance(self, info: Info) -> Money:
        balances, units = await self._balances(info)
        return money(balances.balance, self._row.currency_code, units)

    @strawberry.field(description="balance - debitsPending: what can still be debited.")
    async def available(self, info: Info) -> Money:
        balances, units = await self._balances(info)
        return money(balances.available, self._row.currency_code, units)

    @strawberry.field(description="Transfers debiting or crediting the account, newest first.")
    async def transfers(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> TransferConnection:
        if not ledger.may_see_account(principal(info), self._row):
            raise DomainError(ErrorCode.FORBIDDEN, "Only the account's institution sees its transfers.")
        after_key, before_key = decode_cursor(after, "after"), decode_cursor(before, "before")
        page = await context(info).read(
            lambda session: ledger.account_transfers(
                session, self._row.id, first=first, after=after_key, last=last, before=before_key
            )
        )
        units = await minor_units(info)
        now = utcnow()
        return TransferConnection(
            page_info=page_info(page, lambda row: row.id),
            edges=[TransferEdge(cursor=cursor(row.id), node=Transfer.of(row, units, now)) for row in page.rows],
        )


async def load_account(info: Info, account_id: int) -> Account | None:
    row = await loaders(info).account.load(account_id)
    if row is None or not ledger.may_see_account(principal(info), row):
        return None
    return Account.of(row)


@strawberry.type
class AccountEdge:
    cursor: str
    node: Account


@strawberry.type
class AccountConnection:
    page_info: PageInfo
    edges: list[AccountEdge]


@strawberry.type
class Transfer(Node):
    id: strawberry.ID
    transfer_id: uuid.UUID = strawberry.field(description="The client-chosen idempotency key.")
    amount: Money
    state: TransferState
    pending: bool = strawberry.field(description="Whether it was created as a hold (two-phase).")
    posted_amount: Money | None = strawberry.field(
        description="What was posted: the amount, or less for a partial post."
    )
    reference: str | None
    expires_at: dt.datetime | None = strawberry.field(description="When a pending transfer's hold lapses.")
    created_at: dt.datetime
    _row: strawberry.Private[object]

    @classmethod
    def of(cls, row, units: dict[str, int], now: dt.datetime) -> Transfer:
        code = row.currency_code
        return cls(
            id=global_id("Transfer", row.id),
            transfer_id=row.transfer_id,
            amount=money(row.amount, code, units),
            state=ledger.effective_state(row, now),
            pending=bool(row.pending),
            posted_amount=money(row.posted_amount, code, units) if row.posted_amount is not None else None,
            reference=row.reference,
            expires_at=row.expires_at,
            created_at=row.created_at,
            _row=row,
        )

    @strawberry.field
    async def debit_account(self, info: Info) -> Account:
        return Account.of(await loaders(info).account.load(self._row.debit_account_id))

    @strawberry.field
    async def credit_account(self, info: Info) -> Account:
        return Account.of(await loaders(info).account.load(self._row.credit_account_id))


@strawberry.type
class TransferEdge:
    cursor: str
    node: Transfer


@strawberry.type
class TransferConnection:
    page_info: PageInfo
    edges: list[TransferEdge]


async def load_transfer(info: Info, transfer_id: int) -> Transfer | None:
    caller = principal(info)

    async def fetch(session):
        (row,) = await ledger.transfers_by_id(session, [transfer_id])
        if row is None or not await ledger.may_see_transfer(session, caller, row):
            return None
        return row

    row = await context(info).read(fetch)
    return Transfer.of(row, await minor_units(info), utcnow()) if row is not None else None


register_node("Account", load_account)
register_node("Transfer", load_transfer)


async def institution_accounts(
    info: Info, owner_id: int, first: int | None, after: str | None, currency: str | None
) -> AccountConnection:
    after_key = decode_cursor(after, "after")
    page = await context(info).read(
        lambda session: ledger.list_accounts(
            session, principal(info), owner_id, first=first, after=after_key, currency=currency
        )
    )
    return AccountConnection(
        page_info=page_info(page, lambda row: row.id),
        edges=[AccountEdge(cursor=cursor(row.id), node=Account.of(row)) for row in page.rows],
    )


# ---------------------------------------------------------------- inputs and payloads


@strawberry.input
class OpenAccountInput:
    owner_id: strawberry.ID
    name: str
    currency: str
    kind: AccountKind


@strawberry.type
class AccountPayload:
    account: Account | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class TransferInput:
    transfer_id: uuid.UUID
    debit_account_id: strawberry.ID
    credit_account_id: strawberry.ID
    amount: Decimal
    currency: str = strawberry.field(description="Must equal both accounts' currency.")
    pending: bool | None = strawberry.field(
        default=False,
        description="Reserve the amount now (debitsPending/creditsPending); post or void it later.",
    )
    timeout_seconds: int | None = strawberry.field(
        default=None,
        description="For a pending transfer: seconds until the hold lapses and the transfer becomes EXPIRED.",
    )
    reference: str | None = None


@strawberry.type
class TransferResult:
    created: bool = strawberry.field(
        default=False,
        description="False when the transfer already existed with the same content (an idempotent replay).",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)
    # The transfer is built only when the client selects it (a batch client often
    # asks for `created` and `errors` alone).
    _row: strawberry.Private[object] = None
    _units: strawberry.Private[dict | None] = None
    _now: strawberry.Private[dt.datetime | None] = None

    @strawberry.field
    def transfer(self) -> Transfer | None:
        if self._row is None:
            return None
        return Transfer.of(self._row, self._units, self._now)


@strawberry.type
class CreateTransfersPayload:
    results: list[TransferResult] = strawberry.field(description="One result for each input, in the same order.")


def _spec(item: dict) -> ledger.TransferSpec:
    """A TransferInput, as graphql-core coerced it (camelCase keys, parsed scalars)."""
    problem = None
    try:
        debit = decode_id(item["debitAccountId"], "Account", "debitAccountId")
        credit = decode_id(item["creditAccountId"], "Account", "creditAccountId")
    except DomainError as error:
        problem, debit, credit = error, 0, 0
    return ledger.TransferSpec(
        transfer_id=item["transferId"],
        debit_account_id=debit,
        credit_account_id=credit,
        amount=item["amount"],
        currency=item["currency"].strip().upper(),
        pending=bool(item.get("pending")),
        timeout_seconds=item.get("timeoutSeconds"),
        reference=item.get("reference"),
        problem=problem,
    )


async def create_transfers(_root, info, transfers: list[dict], atomic: bool | None = False) -> CreateTransfersPayload:
    """The resolver of Mutation.createTransfers, installed on the graphql-core field by
    `install_fast_resolvers`: it takes the inputs as graphql-core coerced them, skipping
    strawberry's conversion of each field of each TransferInput into an object, which
    was the largest single cost of a 1,000-transfer request."""
    specs = [_spec(item) for item in transfers]
    ctx = info.context
    await ctx.release()
    try:
        outcomes = await ctx.batcher.submit(ctx.principal, specs, bool(atomic))
    except DomainError as error:  # the whole request refused (e.g. an ANALYST key)
        return CreateTransfersPayload(results=[TransferResult(errors=[UserError.of(error)]) for _ in transfers])
    now = utcnow()
    units = await minor_units(info)
    return CreateTransfersPayload(results=[_result(outcome, units, now, "transfers") for outcome in outcomes])


def install_fast_resolvers(graphql_schema) -> None:
    """Put `create_transfers` on the graphql-core field that LedgerMutation declares."""
    field = graphql_schema.mutation_type.fields["createTransfers"]
    field.resolve = create_transfers


def _result(outcome: ledger.TransferOutcome, units: dict[str, int], now: dt.datetime, *prefix: str) -> TransferResult:
    if outcome.error is not None:
        return TransferResult(errors=[UserError.of(outcome.error.under(*prefix))])
    return TransferResult(created=outcome.created, _row=outcome.transfer, _units=units, _now=now)


@strawberry.type
class LedgerQuery:
    @strawberry.field
    async def transfer(self, info: Info, transfer_id: uuid.UUID) -> Transfer | None:
        caller = principal(info)

        async def fetch(session):
            row = await ledger.transfer_by_key(session, transfer_id)
            if row is None or not await ledger.may_see_transfer(session, caller, row):
                return None
            return row

        row = await context(info).read(fetch)
        return Transfer.of(row, await minor_units(info), utcnow()) if row is not None else None


@strawberry.type
class LedgerMutation:
    @strawberry.mutation
    @user_errors(AccountPayload, "input")
    async def open_account(self, info: Info, input: OpenAccountInput) -> AccountPayload:
        owner_id = decode_id(input.owner_id, "Institution", "ownerId")

        async def work(session):
            return await ledger.open_account(
                session, principal(info), owner_id=owner_id, name=input.name, currency=input.currency, kind=input.kind
            )

        return AccountPayload(account=Account.of(await context(info).write(work)))

    @strawberry.mutation(
        description="Atomic: all transfers take effect or none does "
        "(each failing input gets its error, the others ATOMIC_BATCH_FAILED)."
    )
    async def create_transfers(
        self, info: Info, transfers: list[TransferInput], atomic: bool | None = False
    ) -> CreateTransfersPayload:
        # The declaration of the field; the resolver that runs is the module's
        # `create_transfers`, installed by `install_fast_resolvers` (same behaviour,
        # without converting each input into a TransferInput object first).
        raw = [strawberry.asdict(item) for item in transfers]
        keys = {
            "transfer_id": "transferId",
            "debit_account_id": "debitAccountId",
            "credit_account_id": "creditAccountId",
            "timeout_seconds": "timeoutSeconds",
        }
        return await create_transfers(None, info, [{keys.get(k, k): v for k, v in r.items()} for r in raw], atomic)

    @strawberry.mutation(
        description="Post a pending transfer, in full or for a smaller amount (the rest of the hold is released)."
    )
    async def post_transfer(self, info: Info, transfer_id: uuid.UUID, amount: Decimal | None = None) -> TransferResult:
        now = utcnow()

        async def work(session):
            return await ledger.post_transfer(session, principal(info), transfer_id, amount, now=now)

        return await _pending_result(info, work, now)

    @strawberry.mutation
    async def void_transfer(self, info: Info, transfer_id: uuid.UUID) -> TransferResult:
        now = utcnow()

        async def work(session):
            return await ledger.void_transfer(session, principal(info), transfer_id, now=now)

        return await _pending_result(info, work, now)


async def _pending_result(info: Info, work, now: dt.datetime) -> TransferResult:
    try:
        transfer, created = await context(info).write(work)
    except DomainError as error:
        return TransferResult(errors=[UserError.of(error)])
    return TransferResult(created=created, _row=transfer, _units=await minor_units(info), _now=now)
