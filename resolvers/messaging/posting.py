"""Posting received interbank payments on the ledger, in the caller's transaction, and
recording them with their status events.

The customer legs: the debtor account pays the creditor the instructed amount (through
FX providers when the debtor account is in another currency, avoiding the currencies
asked; the debtor pays the side rounded up). Between the banks: on an RTGS network the
sender's SETTLEMENT account in the payment's currency pays the receiver's, in the same
group of legs; on a DEFERRED_NET network each leg between two institutions is an
obligation in the network's open settlement window (resolvers.settlement). The legs of the payments of a request
post through the ledger's `post_leg_groups`, each payment's all or none, in one call
for a run of same-currency payments (a conversion is priced and posted alone, after
those before it); a refusal is a Rejection with its ISO 20022 reason code.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from sqlmodel.ext.asyncio.session import AsyncSession

from models.ledger import Account
from models.messaging import (
    InterbankPayment,
    MessageType,
    PaymentEvent,
    PaymentLeg,
    PaymentStatus,
    PaymentTransfer,
    SettlementMode,
)
from resolvers import analytics, fx, ledger, settlement
from resolvers.errors import DomainError, ErrorCode
from resolvers.events import Change, Kind, changed
from resolvers.messaging.networks import Network
from resolvers.rows import insert_all

NO_FUNDS = "AM04"  # insufficient funds
NO_CONVERSION = "AM03"  # the amount cannot be processed in the debtor account's currency
BAD_AMOUNT = "AM12"  # an amount the conversion or the accounts cannot hold
WRONG_CURRENCY = "CURR"  # the creditor account is in another currency than the payment
NO_SETTLEMENT = "ED05"  # settlement cannot take place: a bank has no SETTLEMENT account
DETAIL_MAX = 300
PAYMENTS = InterbankPayment.__table__
PAYMENT_COLUMNS = tuple(column.name for column in PAYMENTS.columns if column.name != "id")
PAYMENT_VALUES = attrgetter(*PAYMENT_COLUMNS)  # a payment's values of PAYMENT_COLUMNS, in order
EVENT_COLUMNS = ("status", "iso_status", "reason_code", "detail", "at")  # what `move` records
LINK_COLUMNS = ("payment_id", "position", "transfer_id", "leg")

# The ISO 20022 transaction status of each payment status.
ISO_STATUS = {
    PaymentStatus.RECEIVED: "RCVD",
    PaymentStatus.ACCEPTED: "ACSP",
    PaymentStatus.SETTLED: "ACCC",
    PaymentStatus.REJECTED: "RJCT",
}


@dataclass(slots=True)
class NewPayment:
    """A payment received by this request, shaped like a row of the interbank_payment
    table (what the API reads of a payment), stored by `record` in one statement with
    the others of the request."""

    uetr: uuid.UUID
    network_id: int
    network_requested: bool
    message_type: MessageType
    sender_id: int
    receiver_id: int
    debtor_account_id: int
    creditor_account_id: int
    amount: int
    currency_code: str
    remittance_information: str | None
    end_to_end_id: str | None
    instruction_id: str | None
    status: PaymentStatus
    iso_status: str
    created_at: dt.datetime
    reason_code: str | None = None
    debit_amount: int | None = None
    debit_currency: str | None = None
    id: int | None = None
    # Its latest event's detail and time (not columns): what the request's status report says.
    detail: str | None = None
    at: dt.datetime | None = None


class Rejection(Exception):
    """A received payment refused with an ISO 20022 reason code: stored, not an error."""

    def __init__(self, code: str, detail: str) -> None:
        assert len(code) == 4, code
        super().__init__(detail)
        self.code = code
        self.detail = detail if len(detail) <= DETAIL_MAX else detail[: DETAIL_MAX - 3] + "..."


@dataclass
class Received:
    """A payment received in this request, not yet stored: its row (in its final state
    once decided), network, accounts, the currencies to avoid, its legs, and its
    status events in order."""

    row: NewPayment
    network: Network
    debtor: Account
    creditor: Account
    avoid: tuple[str, ...]
    legs: list[tuple[PaymentLeg, ledger.Leg]] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)  # the values of EVENT_COLUMNS, each change

    def move(self, status: PaymentStatus, now: dt.datetime, code: str | None = None, detail: str | None = None):
        """Move the payment to `status` and record the change: the one way a payment changes status."""
        self.row.status, self.row.iso_status, self.row.reason_code = status, ISO_STATUS[status], code
        self.row.detail, self.row.at = detail, now
        self.events.append((status, ISO_STATUS[status], code, detail, now))  # EVENT_COLUMNS

    def reject(self, rejection: Rejection, now: dt.datetime) -> None:
        """REJECTED with its reason: no legs, and so nothing debited."""
        self.legs = []
        self.row.debit_amount = self.row.debit_currency = None
        self.move(PaymentStatus.REJECTED, now, rejection.code, rejection.detail)


# ---------------------------------------------------------------- the legs


async def _customer_legs(
    session: AsyncSession, item: Received, now: dt.datetime
) -> list[tuple[PaymentLeg, ledger.Leg]]:
    """The legs that take the debit from the debtor and credit the creditor the amount;
    sets what the debtor pays on the row."""
    row, debtor, creditor = item.row, item.debtor, item.creditor
    currency = row.currency_code
    if creditor.currency_code != currency:
        raise Rejection(WRONG_CURRENCY, f"The creditor account holds {creditor.currency_code}, not {currency}.")
    if debtor.currency_code == currency:
        row.debit_amount, row.debit_currency = row.amount, currency
        return [(PaymentLeg.DEBTOR, ledger.Leg(debtor.id, creditor.id, row.amount, currency))]
    sell, avoid = debtor.currency_code, item.avoid
    try:
        conversion = await fx.price_conversion(
            session,
            sell=sell,
            buy=currency,
            sell_minor=None,
            buy_minor=row.amount,
            avoid=avoid,
            now=now,
            field="amount",
        )
    except DomainError as error:
        if error.code is ErrorCode.NO_RATE:
            raise Rejection(
                NO_CONVERSION, f"No conversion from {sell} to {currency} avoiding {list(avoid) or 'nothing'}."
            ) from None
        if error.code is ErrorCode.INSUFFICIENT_LIQUIDITY:
            raise Rejection(NO_FUNDS, "No FX provider has the liquidity to convert the amount.") from None
        if error.code is ErrorCode.INVALID_INPUT:  # a leg rounds to zero, or the amount is too large
            raise Rejection(BAD_AMOUNT, error.message) from None
        raise
    row.debit_amount, row.debit_currency = conversion.sell_amount, sell
    steps = [ledger.Leg(*step) for step in conversion.legs(debtor.id, creditor.id)]
    kinds = [PaymentLeg.DEBTOR] + [PaymentLeg.FX] * (len(steps) - 2) + [PaymentLeg.CREDITOR]
    return list(zip(kinds, steps, strict=True))


def _interbank_leg(row: NewPayment, accounts: dict[tuple[int, str], int]) -> tuple[PaymentLeg, ledger.Leg]:
    """RTGS: the sender's SETTLEMENT account pays the receiver's the amount."""
    found = []
    for role, institution_id in (("sender", row.sender_id), ("receiver", row.receiver_id)):
        account = accounts.get((institution_id, row.currency_code))
        if account is None:
            raise Rejection(NO_SETTLEMENT, f"The {role} has no {row.currency_code} SETTLEMENT account to settle gross.")
        found.append(account)
    return PaymentLeg.INTERBANK, ledger.Leg(found[0], found[1], row.amount, row.currency_code)


def _rtgs(item: Received) -> bool:
    """Whether the banks settle the payment gross with an interbank leg: a customer credit
    transfer on an RTGS network. (A pacs.009 moves the banks' own SETTLEMENT accounts: it
    is its own interbank settlement, on any network.)"""
    return item.network.row.settlement_mode is SettlementMode.RTGS and item.row.message_type is MessageType.PACS_008


def _deferred(item: Received) -> bool:
    """Whether the payment leaves an obligation for the settlement window: a customer credit
    transfer on a DEFERRED_NET network."""
    mode = item.network.row.settlement_mode
    return mode is SettlementMode.DEFERRED_NET and item.row.message_type is MessageType.PACS_008


def _refusal(refused: ledger.LegRefused, kinds: list[PaymentLeg]) -> Rejection:
    """What the ledger's refusal of a leg means for the payment."""
    kind = kinds[refused.index]
    if refused.code is ErrorCode.INSUFFICIENT_FUNDS:
        if kind is PaymentLeg.DEBTOR:
            return Rejection(NO_FUNDS, "The debtor account has too little available.")
        if kind is PaymentLeg.INTERBANK:
            return Rejection(NO_FUNDS, "The sender's SETTLEMENT account has too little available to settle gross.")
        return Rejection(NO_FUNDS, "An FX provider's position can no longer pay the conversion.")
    if refused.code is ErrorCode.INVALID_INPUT:  # an amount the accounts' totals cannot hold
        return Rejection(BAD_AMOUNT, refused.message)
    if refused.code is ErrorCode.SAME_ACCOUNT:
        return Rejection(NO_SETTLEMENT, "The sender and receiver share one SETTLEMENT account.")
    raise AssertionError(f"an interbank leg failed unexpectedly: {refused.code}: {refused.message}") from refused


async def _legs(session: AsyncSession, item: Received, accounts: dict, now: dt.datetime) -> None:
    """The payment's legs, or its rejection (a creditor account in another currency, no
    conversion, no SETTLEMENT account to settle gross)."""
    try:
        item.legs = await _customer_legs(session, item, now)
        if _rtgs(item):
            item.legs.append(_interbank_leg(item.row, accounts))
    except Rejection as rejection:
        item.reject(rejection, now)


async def _post_group(session: AsyncSession, items: Sequence[Received], transfers: dict, now: dt.datetime) -> None:
    """Post the priced payments' legs in one call, each payment all or none; a payment the
    ledger refuses is rejected. `transfers` gets each posted one's transfers."""
    priced = [item for item in items if item.legs]
    if not priced:
        return
    posted = await ledger.post_leg_groups(
        session,
        [[leg for _, leg in item.legs] for item in priced],
        references=[f"payment {i.row.uetr} on {i.network.code}" for i in priced],
        now=now,
    )
    for item, outcome in zip(priced, posted, strict=True):
        if isinstance(outcome, ledger.LegRefused):
            item.reject(_refusal(outcome, [kind for kind, _ in item.legs]), now)
        else:
            transfers[id(item)] = outcome


async def post(session: AsyncSession, items: Sequence[Received], now: dt.datetime) -> list[list]:
    """Price and post the payments in order, each as if alone: per item, its transfers
    (empty for a rejection). Same-currency payments post together, in one call; a
    conversion is priced against the FX positions as the payments before it left them,
    so the payments gathered before it post first, and it posts alone."""
    rtgs = [i.row for i in items if _rtgs(i)]
    found = await ledger.settlement_accounts(
        session, {b for row in rtgs for b in (row.sender_id, row.receiver_id)}, {row.currency_code for row in rtgs}
    )
    accounts = {key: account.id for key, account in found.items()}
    transfers: dict[int, list] = {}
    gathered: list[Received] = []
    for item in items:
        if item.debtor.currency_code != item.row.currency_code:
            await _post_group(session, gathered, transfers, now)
            gathered = []
            await _legs(session, item, accounts, now)
            await _post_group(session, [item], transfers, now)
        else:
            await _legs(session, item, accounts, now)
            gathered.append(item)
    await _post_group(session, gathered, transfers, now)
    return [transfers.get(id(item), []) for item in items]


# ---------------------------------------------------------------- recording


def _change(row: InterbankPayment) -> Change:
    """The payment's new state, for the live updates once the transaction commits."""
    parties = (row.sender_id, row.receiver_id)
    return Change(Kind.PAYMENT, row.id, row.status.value, row.network_id, parties, str(row.uetr))


async def record(session: AsyncSession, items: Sequence[Received], transfers: Sequence[list], now: dt.datetime) -> None:
    """Store the payments in their final state, then their events and transfer links (one
    statement each, whatever the number of payments), and on a DEFERRED_NET network the
    obligations of their legs in the network's settlement windows."""
    connection = await session.connection()
    payments = [PAYMENT_VALUES(item.row) for item in items]
    returned = await insert_all(connection, PAYMENTS, PAYMENT_COLUMNS, payments, ("id", "uetr"))
    ids = {uetr: new_id for new_id, uetr in returned}
    for item in items:
        item.row.id = ids[item.row.uetr]
    events = [(item.row.id, *event) for item in items for event in item.events]
    await insert_all(connection, PaymentEvent.__table__, ("payment_id", *EVENT_COLUMNS), events)
    links = [
        (item.row.id, k, transfer.id, kind)
        for item, posted in zip(items, transfers, strict=True)
        for k, ((kind, _), transfer) in enumerate(zip(item.legs, posted, strict=True))
    ]
    await insert_all(connection, PaymentTransfer.__table__, LINK_COLUMNS, links)
    changed(session, *(_change(item.row) for item in items))
    deferred: dict[str, list] = {}  # network code -> the legs of its payments, for its settlement windows
    for item, posted in zip(items, transfers, strict=True):
        if posted and _deferred(item):
            deferred.setdefault(item.network.code, []).extend(posted)
    for scope, legs in deferred.items():
        await settlement.record_obligations(session, scope, legs, now=now)
    await analytics.roll_up_payments(session, [item.row.id for item in items])
