"""GraphQL types of the ledger: accounts, transfers, and the mutations that move money."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

import strawberry
from strawberry.types import Info

from models import ledger as models
from resolvers import ledger
from resolvers.errors import DomainError, ErrorCode
from resolvers.money import from_minor
from schema.base import (
    Money,
    Node,
    PageInfo,
    UserError,
    connection,
    context,
    decode_cursor,
    decode_id,
    global_id,
    install_plain_resolvers,
    mutate,
    now,
    principal,
    selected,
    user_errors,
)
from schema.loaders import account_page_loads, loaders, minor_units
from schema.reference import Currency, Institution

AccountKind = strawberry.enum(models.AccountKind, name="AccountKind")
TransferState = strawberry.enum(models.TransferState, name="TransferState")
T = TypeVar("T")


def money(minor: int, currency: str, units: dict[str, int]) -> Money:
    return Money(amount=from_minor(minor, units[currency]), currency=currency)


@strawberry.type
class Account(Node):
    id: strawberry.ID
    name: str
    kind: AccountKind
    created_at: dt.datetime
    _row: strawberry.Private[object]
    # (balances, minor units) if the page loaded them (`account_page`: an account the caller sees).
    _shown: strawberry.Private[tuple[ledger.Balances, int] | None] = None

    @classmethod
    def of(cls, row, shown: tuple[ledger.Balances, int] | None = None) -> Account:
        key = global_id("Account", row.id)
        return cls(id=key, name=row.name, kind=row.kind, created_at=row.created_at, _row=row, _shown=shown)

    @classmethod
    async def resolve_node(cls, info: Info, key: int) -> Account | None:
        """An account for its institution and the operator."""
        row = await loaders(info).account.load(key)
        if row is None or not ledger.may_see_account(principal(info), row):
            return None
        return cls.of(row)

    # The fields below answer at once when the page loaded what they need, else they return
    # an awaitable that loads it.
    @strawberry.field
    def owner(self, info: Info) -> Institution:
        return loaders(info).institution.then(self._row.owner_id, Institution.of)

    @strawberry.field
    def currency(self, info: Info) -> Currency:
        return loaders(info).currency.then(self._row.currency_code, Currency.of)

    def _show(self, info: Info, show: Callable[[ledger.Balances, int], T]) -> T | Awaitable[T]:
        """`show(balances, the currency's minor units)`, the balances with lapsed holds released."""
        if self._shown is not None:
            return show(*self._shown)
        return self._show_later(info, show)

    async def _show_later(self, info: Info, show: Callable[[ledger.Balances, int], T]) -> T:
        if not ledger.may_see_account(principal(info), self._row):
            raise DomainError(ErrorCode.FORBIDDEN, "Only the account's institution sees its balances.")
        lapsed = await loaders(info).lapsed.load(self._row.id)
        units = await minor_units(info)
        return show(ledger.effective_balances(self._row, lapsed), units[self._row.currency_code])

    def _money(self, minor: int, places: int) -> Money:
        return Money(amount=from_minor(minor, places), currency=self._row.currency_code)

    @strawberry.field
    def debits_pending(self, info: Info) -> Decimal:
        return self._show(info, lambda balances, places: from_minor(balances.debits_pending, places))

    @strawberry.field
    def debits_posted(self, info: Info) -> Decimal:
        return self._show(info, lambda balances, places: from_minor(balances.debits_posted, places))

    @strawberry.field
    def credits_pending(self, info: Info) -> Decimal:
        return self._show(info, lambda balances, places: from_minor(balances.credits_pending, places))

    @strawberry.field
    def credits_posted(self, info: Info) -> Decimal:
        return self._show(info, lambda balances, places: from_minor(balances.credits_posted, places))

    @strawberry.field(description="creditsPosted - debitsPosted.")
    def balance(self, info: Info) -> Money:
        return self._show(info, lambda balances, places: self._money(balances.balance, places))

    @strawberry.field(description="balance - debitsPending: what can still be debited.")
    def available(self, info: Info) -> Money:
        return self._show(info, lambda balances, places: self._money(balances.available, places))

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
        if selected(info, "edges", "node") & {"debitAccount", "creditAccount"}:  # one load for the page
            sides = {key for row in page.rows for key in (row.debit_account_id, row.credit_account_id)}
            await loaders(info).account.fill(sides)
        units, clock = await minor_units(info), now(info)
        return connection(TransferConnection, TransferEdge, page, lambda row: Transfer.of(row, units, clock))


async def account_page(info: Info, rows, fields: frozenset[str]) -> list[Account]:
    """The Accounts of a page of rows, what the fields the query selects of them (`fields`)
    need loaded for the page at once (schema.loaders.account_page_loads)."""
    caller = principal(info)
    shown = await account_page_loads(info, rows, fields, lambda row: ledger.may_see_account(caller, row))
    return [Account.of(row, shown.get(row.id)) for row in rows]


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

    @classmethod
    async def resolve_node(cls, info: Info, key: int) -> Transfer | None:
        return await visible_transfer(info, await loaders(info).transfer.load(key))

    @strawberry.field  # a transfer's accounts have no visibility of their own: the caller sees the transfer
    def debit_account(self, info: Info) -> Account:
        return loaders(info).account.then(self._row.debit_account_id, Account.of)

    @strawberry.field
    def credit_account(self, info: Info) -> Account:
        return loaders(info).account.then(self._row.credit_account_id, Account.of)


@strawberry.type
class TransferEdge:
    cursor: str
    node: Transfer


@strawberry.type
class TransferConnection:
    page_info: PageInfo
    edges: list[TransferEdge]


async def visible_transfer(info: Info, row) -> Transfer | None:
    """The transfer, if the caller sees it."""
    found = await visible_transfers(info, [row] if row is not None else [])
    return found[0] if found else None


async def visible_transfers(info: Info, rows) -> list[Transfer]:
    """The transfers of `rows` the caller sees, in order (their accounts load through the
    request's loader, in one batch): a flow's legs, each for those its accounts' owners."""
    accounts = await loaders(info).account.load_many(
        {a for r in rows for a in (r.debit_account_id, r.credit_account_id)}
    )
    owner = {account.id: account.owner_id for account in accounts}
    caller, units, clock = principal(info), await minor_units(info), now(info)
    return [
        Transfer.of(row, units, clock)
        for row in rows
        if ledger.may_see_transfer(caller, owner[row.debit_account_id], owner[row.credit_account_id])
    ]


async def institution_accounts(
    info: Info, owner, first: int | None, after: str | None, currency: str | None
) -> AccountConnection:
    """The accounts of `owner` (an Institution row), which is every row's owner."""
    after_key = decode_cursor(after, "after")
    page = await context(info).read(
        lambda session: ledger.list_accounts(
            session, principal(info), owner.id, first=first, after=after_key, currency=currency
        )
    )
    loaders(info).institution.keep(owner.id, owner)
    accounts = {a._row.id: a for a in await account_page(info, page.rows, selected(info, "edges", "node"))}
    return connection(AccountConnection, AccountEdge, page, lambda row: accounts[row.id])


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
    group = await ctx.batcher.submit(ledger.TransferGroup(ctx.principal, specs, bool(atomic)))
    if group.error is not None:  # the whole request refused (e.g. an ANALYST key)
        return CreateTransfersPayload(results=[TransferResult(errors=[UserError.of(group.error)]) for _ in transfers])
    outcomes = group.outcomes
    units = await minor_units(info)
    return CreateTransfersPayload(results=[_result(outcome, units, ctx.now, "transfers") for outcome in outcomes])


# What `create_transfers` reads of the field: its arguments, and of each TransferInput
# (by `_spec`), these fields. The fence below holds the declaration to them.
FAST_ARGUMENTS = {"transfers", "atomic"}
FAST_INPUT_FIELDS = {
    "transferId",
    "debitAccountId",
    "creditAccountId",
    "amount",
    "currency",
    "pending",
    "timeoutSeconds",
    "reference",
}


def install_fast_resolvers(schema) -> None:
    """Put `create_transfers` on the graphql-core field that LedgerMutation declares, after
    checking that nothing of the declaration would be skipped: the field takes exactly
    the arguments the fast resolver reads, each TransferInput exactly the fields `_spec`
    reads, and the declared field carries no extension and no permission class (which
    strawberry's resolver would run and the fast one would not)."""
    declared = schema.get_type_by_name("Mutation").get_field("create_transfers")
    assert not declared.extensions and not declared.permission_classes, "createTransfers: would be skipped"
    field = schema._schema.mutation_type.fields["createTransfers"]
    assert set(field.args) == FAST_ARGUMENTS, f"createTransfers takes {set(field.args)}, the fast resolver reads"
    assert set(schema._schema.type_map["TransferInput"].fields) == FAST_INPUT_FIELDS, "TransferInput changed"
    field.resolve = create_transfers
    # The reads' fields: graphql-core calls them directly (schema.base.install_plain_resolvers).
    balances = ("debits_pending", "debits_posted", "credits_pending", "credits_posted", "balance", "available")
    install_plain_resolvers(schema, "Account", "owner", "currency", *balances)
    install_plain_resolvers(schema, "Transfer", "debit_account", "credit_account")


def _result(outcome: ledger.TransferOutcome, units: dict[str, int], now: dt.datetime, *prefix: str) -> TransferResult:
    if outcome.error is not None:
        return TransferResult(errors=[UserError.of(outcome.error.under(*prefix))])
    return TransferResult(created=outcome.created, _row=outcome.transfer, _units=units, _now=now)


@strawberry.type
class LedgerQuery:
    @strawberry.field
    async def transfer(self, info: Info, transfer_id: uuid.UUID) -> Transfer | None:
        row = await context(info).read(lambda session: ledger.transfer_by_key(session, transfer_id))
        return await visible_transfer(info, row)


@strawberry.type
class LedgerMutation:
    @strawberry.mutation
    @user_errors(AccountPayload, "input")
    async def open_account(self, info: Info, input: OpenAccountInput) -> AccountPayload:
        owner_id = decode_id(input.owner_id, "Institution", "ownerId")
        row = await mutate(
            info, ledger.open_account, owner_id=owner_id, name=input.name, currency=input.currency, kind=input.kind
        )
        return AccountPayload(account=Account.of(row))

    @strawberry.mutation(
        description="Atomic: all transfers take effect or none does "
        "(each failing input gets its error, the others ATOMIC_BATCH_FAILED)."
    )
    async def create_transfers(
        self, info: Info, transfers: list[TransferInput], atomic: bool | None = False
    ) -> CreateTransfersPayload:
        """The declaration of the field. It does not run in the service: build_schema
        installs the module's `create_transfers` on the graphql-core field instead (same
        behaviour, without converting each input into a TransferInput object first), and
        `install_fast_resolvers` checks that this declaration adds nothing it would skip.
        It delegates to the same function, so that it answers alike if ever used."""
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
        return await _pending_result(info, ledger.post_transfer, transfer_id, amount)

    @strawberry.mutation
    async def void_transfer(self, info: Info, transfer_id: uuid.UUID) -> TransferResult:
        return await _pending_result(info, ledger.void_transfer, transfer_id)


async def _pending_result(info: Info, work, *args) -> TransferResult:
    """Post or void a hold (`work`), answered as a TransferResult."""
    try:
        transfer, created = await mutate(info, work, *args, now=now(info))
    except DomainError as error:
        return TransferResult(errors=[UserError.of(error)])
    return TransferResult(created=created, _row=transfer, _units=await minor_units(info), _now=now(info))
