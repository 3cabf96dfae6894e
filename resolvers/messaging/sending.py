"""Sending interbank payments (../shared/DESIGN.md, "Interbank payments").

A request that cannot be a payment at all (unknown BIC, account, network or currency,
an amount the currency cannot hold, no route) is an error and stores nothing. Any
other is received (RECEIVED), then checked in the design's order: both institutions
ACTIVE members of the network (else RR04), the currency settled on it (AM03), the
debtor account held by the sender and the creditor account by the receiver (AC01),
and of the kind the message moves (CUSTOMER for a pacs.008, the banks' SETTLEMENT
accounts for a pacs.009; AC01 too), then priced (a cross-currency conversion) and
posted, which checks the funds (AM04).
A rejection is stored with its reason code and moves nothing; an accepted payment is
ACCEPTED (ACSP) and SETTLED (ACCC) in the same transaction as its legs.

`uetr` is the idempotency key: the same request again returns the stored payment,
another request with the same UETR is IDEMPOTENCY_CONFLICT. A concurrent twin fails
on the UETR's unique index when it stores its payment, which rolls its whole
transaction back (legs included); the retry answers as a replay.

Several requests (sendPayment's group commit, the transactions of a pacs.008) are sent
together: each is decided as if alone and in order, but each stage reads or writes
all of them in one statement (a conversion aside: it is priced and posted alone, after
the payments before it).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.ledger import Account, AccountKind
from models.messaging import InterbankPayment, MessageType, PaymentStatus
from models.reference import Institution
from resolvers import reference
from resolvers.access import Action, Principal, may_act_for, require
from resolvers.errors import DomainError, ErrorCode, invalid, not_found
from resolvers.messaging.networks import Network
from resolvers.messaging.posting import ISO_STATUS, NewPayment, Received, Rejection, post, record
from resolvers.messaging.routing import NetworkMap, judge, network_map
from resolvers.messaging.xml import MAX35, MAX140, carried
from resolvers.money import parse_amount

# The accounts each kind of message moves, and its ISO 20022 name.
ACCOUNT_KIND = {MessageType.PACS_008: AccountKind.CUSTOMER, MessageType.PACS_009: AccountKind.SETTLEMENT}
MESSAGE_NAMES = {
    MessageType.PACS_008: "customer credit transfer (pacs.008)",
    MessageType.PACS_009: "financial institution credit transfer (pacs.009)",
}
AVOID_MAX = 20
WRONG_ACCOUNT = "AC01"


@dataclass(frozen=True)
class PaymentRequest:
    """A payment as the sender asked for it: through sendPayment, or one transaction of a
    pacs.008 (which also carries the sender's own references)."""

    uetr: uuid.UUID
    network_code: str | None
    message_type: MessageType
    sender_bic: str
    receiver_bic: str
    debtor_account_id: int
    creditor_account_id: int
    amount: Decimal
    currency: str
    remittance_information: str | None = None
    avoid_currencies: Sequence[str] = ()
    end_to_end_id: str | None = None
    instruction_id: str | None = None


@dataclass(frozen=True)
class World:
    """What a batch of requests reads before any is decided, one statement per kind: the
    institutions named (by BIC), the accounts, the networks and memberships, and the
    payments already stored under the UETRs (joined by those this batch makes)."""

    institutions: dict[str, Institution]
    accounts: dict[int, Account]
    networks: NetworkMap
    payments: dict[uuid.UUID, InterbankPayment | NewPayment]
    units: dict[str, int]


async def payment_by_uetr(session: AsyncSession, uetr: uuid.UUID) -> InterbankPayment | None:
    """The payment with this UETR (its idempotency key), or None."""
    return (await session.exec(select(InterbankPayment).where(InterbankPayment.uetr == uetr))).one_or_none()


async def load_world(session: AsyncSession, requests: Sequence[PaymentRequest]) -> World:
    bics = {reference.normalize_bic(bic) for r in requests for bic in (r.sender_bic, r.receiver_bic)}
    rows = await session.exec(select(Institution).where(Institution.bic.in_(bics)))
    institutions = {row.bic: row for row in rows}
    ids = {a for r in requests for a in (r.debtor_account_id, r.creditor_account_id)}
    accounts = {row.id: row for row in await session.exec(select(Account).where(Account.id.in_(ids)))}
    uetrs = {r.uetr for r in requests}
    stored = await session.exec(select(InterbankPayment).where(InterbankPayment.uetr.in_(uetrs)))
    networks = await network_map(session, {row.id for row in institutions.values()})
    return World(
        institutions, accounts, networks, {row.uetr: row for row in stored}, await reference.minor_units(session)
    )


# ---------------------------------------------------------------- one request


@dataclass(frozen=True)
class Checked:
    """A request that can be a payment: its parties, accounts, amount and network (None to route)."""

    request: PaymentRequest
    sender: Institution
    receiver: Institution
    debtor: Account
    creditor: Account
    currency: str
    amount: int
    remittance: str | None
    references: tuple[str | None, str | None]  # the sender's EndToEndId and InstrId
    avoid: tuple[str, ...]
    network: Network | None


def _institution(world: World, bic: str, field: str) -> Institution:
    found = world.institutions.get(reference.normalize_bic(bic))
    if found is None:
        raise not_found(f"No institution with BIC {bic.strip()[:20]!r}.", field)
    return found


def _account(world: World, account_id: int, field: str, principal: Principal, holder_id: int | None = None) -> Account:
    """The account, if the caller may see it or it is held by `holder_id` (the receiver)."""
    found = world.accounts.get(account_id)
    if found is None or not (may_act_for(principal, found.owner_id) or found.owner_id == holder_id):
        raise not_found("No such account.", field)
    return found


def _text(value: str | None, limit: int, field: str) -> str | None:
    """Free text stripped, None when empty, at most `limit` characters, all of which XML
    carries unchanged (`xml.carried`), so that the payment's pacs.008 reads back the same."""
    value = value.strip() if value else None
    if value and len(value) > limit:
        raise invalid(f"{field} is at most {limit} characters.", field)
    if value and not carried(value):
        raise invalid(f"{field} may hold no carriage return nor any character XML cannot carry.", field)
    return value or None


def _avoided(codes: Sequence[str], units: dict[str, int], own: dict[str, str]) -> tuple[str, ...]:
    """The currencies a conversion must avoid: known, and none of `own` (currency -> whose:
    the payment's and the debtor account's currencies cannot be avoided)."""
    if len(codes) > AVOID_MAX:
        raise invalid(f"Give at most {AVOID_MAX} currencies to avoid.", "avoidCurrencies")
    avoided = tuple(code.strip().upper() for code in codes)
    for index, code in enumerate(avoided):
        if code not in units:
            raise DomainError(
                ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {code!r}.", ["avoidCurrencies", str(index)]
            )
    for index, code in enumerate(avoided):
        if code in own:
            message = f"{code} is {own[code]} currency: a conversion cannot avoid it."
            raise invalid(message, "avoidCurrencies", str(index))
    return avoided


def check_request(world: World, principal: Principal, request: PaymentRequest) -> Checked:
    """The request's parties, accounts and amount, or the error that makes it no payment at all."""
    if request.uetr.version != 4:
        raise invalid("A UETR is a UUID version 4, such as 8a562c67-ca16-48ba-b074-65581be6f011.", "uetr")
    sender = _institution(world, request.sender_bic, "senderBic")
    if not may_act_for(principal, sender.id):
        raise DomainError(ErrorCode.FORBIDDEN, "A participant sends payments as its own BIC only.", ["senderBic"])
    receiver = _institution(world, request.receiver_bic, "receiverBic")
    if receiver.id == sender.id:
        raise invalid("An interbank payment is between two institutions: the receiver is the sender.", "receiverBic")
    # A participant names its own debtor account and a creditor account of the receiver: any
    # other account is, to it, no account (a stored rejection would show it).
    debtor = _account(world, request.debtor_account_id, "debtorAccountId", principal)
    creditor = _account(world, request.creditor_account_id, "creditorAccountId", principal, receiver.id)
    if debtor.id == creditor.id:
        raise DomainError(
            ErrorCode.SAME_ACCOUNT, "The debtor and creditor accounts are the same.", ["creditorAccountId"]
        )
    currency = request.currency.strip().upper()
    if currency not in world.units:
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {currency!r}.", ["currency"])
    amount = parse_amount(request.amount, currency, world.units[currency], "amount")
    remittance = _text(request.remittance_information, MAX140, "remittanceInformation")
    references = (
        _text(request.end_to_end_id, MAX35, "endToEndId"),
        _text(request.instruction_id, MAX35, "instructionId"),
    )
    own = {debtor.currency_code: "the debtor account's", currency: "the payment's"}
    avoid = _avoided(request.avoid_currencies or (), world.units, own)
    network = None
    if request.network_code is not None:
        network = world.networks.by_code(request.network_code.strip().upper())
        if network is None:
            raise not_found(f"No payment network {request.network_code[:30]!r}.", "networkCode")
    return Checked(
        request, sender, receiver, debtor, creditor, currency, amount, remittance, references, avoid, network
    )


def _same_request(row: InterbankPayment | NewPayment, checked: Checked) -> bool:
    """Whether a stored payment is this request again (a replay), not another reusing its UETR.
    A request that names no network matches a payment the service routed."""
    if checked.network is not None:
        same_network = row.network_id == checked.network.id
    else:
        same_network = not row.network_requested
    stored = (row.message_type, row.sender_id, row.receiver_id, row.debtor_account_id, row.creditor_account_id)
    asked = (
        checked.request.message_type,
        checked.sender.id,
        checked.receiver.id,
        checked.debtor.id,
        checked.creditor.id,
    )
    return (
        same_network
        and stored == asked
        and (row.amount, row.currency_code, row.remittance_information)
        == (checked.amount, checked.currency, checked.remittance)
    )


def replayed(world: World, checked: Checked) -> InterbankPayment | NewPayment | None:
    """The stored payment when this request was sent before, None for a new UETR;
    IDEMPOTENCY_CONFLICT for a UETR used by a different request."""
    existing = world.payments.get(checked.request.uetr)
    if existing is not None and not _same_request(existing, checked):
        raise DomainError(
            ErrorCode.IDEMPOTENCY_CONFLICT, "A payment with this UETR exists with different fields.", ["uetr"]
        )
    return existing


def receive(world: World, checked: Checked, now: dt.datetime) -> Received:
    """The payment RECEIVED on its network (named, or routed: NO_ROUTE when none qualifies),
    then checked: memberships and currency (RR04, AM03), then the accounts' holders (AC01)."""
    network = checked.network or world.networks.choose(checked.sender, checked.receiver, checked.currency)
    request = checked.request
    row = NewPayment(
        uetr=request.uetr,
        network_id=network.id,
        network_requested=checked.network is not None,
        message_type=request.message_type,
        sender_id=checked.sender.id,
        receiver_id=checked.receiver.id,
        debtor_account_id=checked.debtor.id,
        creditor_account_id=checked.creditor.id,
        amount=checked.amount,
        currency_code=checked.currency,
        remittance_information=checked.remittance,
        end_to_end_id=checked.references[0],
        instruction_id=checked.references[1],
        status=PaymentStatus.RECEIVED,
        iso_status=ISO_STATUS[PaymentStatus.RECEIVED],
        created_at=now,
    )
    item = Received(row, network, checked.debtor, checked.creditor, checked.avoid)
    item.move(PaymentStatus.RECEIVED, now)
    option = judge(network, checked.sender, checked.receiver, world.networks.memberships, checked.currency)
    if not option.qualifies:
        reasons = "; ".join(option.reasons)
        item.reject(Rejection(option.reason_code, reasons[0].upper() + reasons[1:] + "."), now)
    elif checked.debtor.owner_id != checked.sender.id:
        item.reject(
            Rejection(WRONG_ACCOUNT, f"The debtor account is not held by the sender {checked.sender.bic}."), now
        )
    elif checked.creditor.owner_id != checked.receiver.id:
        detail = f"The creditor account is not held by the receiver {checked.receiver.bic}."
        item.reject(Rejection(WRONG_ACCOUNT, detail), now)
    else:
        wrong = _wrong_kind(checked)
        if wrong is not None:
            item.reject(Rejection(WRONG_ACCOUNT, wrong), now)
    return item


def _wrong_kind(checked: Checked) -> str | None:
    """Why the accounts do not suit the message, or None: a customer credit transfer
    (pacs.008) moves CUSTOMER accounts, a financial institution credit transfer
    (pacs.009) the banks' own SETTLEMENT accounts."""
    message = checked.request.message_type
    kind = ACCOUNT_KIND[message]
    for side, account in (("debtor", checked.debtor), ("creditor", checked.creditor)):
        if account.kind is not kind:
            what = MESSAGE_NAMES[message]
            return f"The {side} account is a {account.kind.value} account; a {what} moves {kind.value} ones."
    return None


# ---------------------------------------------------------------- sending


@dataclass
class PaymentOrder:
    """One request to send a payment, by its caller: what `send_payments` decides, and
    its outcome (the payment, new, rejected or replayed; or the error that stored nothing)."""

    principal: Principal
    request: PaymentRequest
    result: InterbankPayment | NewPayment | DomainError | None = None


async def send_payments(session: AsyncSession, orders: Sequence[PaymentOrder], *, now: dt.datetime) -> None:
    """Send the payments in order, each as if alone (see the module), leaving each order's
    outcome on it. The callers: sendPayment's group commit (corridor/batcher.py), a
    submitted pacs.008, the demo."""
    world = await load_world(session, [order.request for order in orders])
    received: list[Received] = []
    for order in orders:
        try:
            require(order.principal, Action.WRITE_OWN)
            checked = check_request(world, order.principal, order.request)
            existing = replayed(world, checked)
            if existing is None:
                item = receive(world, checked, now)
                received.append(item)
                world.payments[order.request.uetr] = existing = item.row
        except DomainError as error:
            order.result = error
            continue
        order.result = existing
    live = [item for item in received if item.row.status is PaymentStatus.RECEIVED]
    transfers = await post(session, live, now)
    by_item = {id(item): posted for item, posted in zip(live, transfers, strict=True)}
    for item in live:
        if item.row.status is PaymentStatus.RECEIVED:
            item.move(PaymentStatus.ACCEPTED, now)
            item.move(PaymentStatus.SETTLED, now)
    if received:
        await record(session, received, [by_item.get(id(item), []) for item in received], now)
