"""GraphQL types of interbank payments: sending, the gpi tracker, ISO 20022 messages."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import strawberry
from strawberry.types import Info

from models import messaging as models
from resolvers import messaging
from resolvers.errors import DomainError
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
    mutate,
    node_key,
    now,
    principal,
    user_errors,
)
from schema.ledger import Account, Transfer, money, visible_transfers
from schema.loaders import loaders, minor_units
from schema.messaging.networks import PaymentNetwork
from schema.reference import Institution

MessageType = strawberry.enum(models.MessageType, name="MessageType")
PaymentStatus = strawberry.enum(models.PaymentStatus, name="PaymentStatus")


@strawberry.type
class PaymentEvent:
    status: PaymentStatus
    iso_status: str = strawberry.field(description="ISO 20022 transaction status: RCVD, ACSP, ACCC or RJCT.")
    reason_code: str | None = strawberry.field(description="ISO 20022 reason code on rejection, e.g. AC04, AM04, RR04.")
    detail: str | None
    at: dt.datetime

    @classmethod
    def of(cls, row: models.PaymentEvent) -> PaymentEvent:
        return cls(
            status=row.status, iso_status=row.iso_status, reason_code=row.reason_code, detail=row.detail, at=row.at
        )


def account_key(text: str) -> int | None:
    """The key of an Account's global id (how a pacs.008 names accounts), or None."""
    found = node_key(text)
    return found[1] if found is not None and found[0] == "Account" else None


def account_id(key: int) -> str:
    return global_id("Account", key)


@strawberry.type
class InterbankPayment(Node):
    id: strawberry.ID
    uetr: uuid.UUID = strawberry.field(
        description="Unique end-to-end transaction reference (UUID v4), as in SWIFT gpi."
    )
    message_type: MessageType
    amount: Money = strawberry.field(description="The instructed amount, credited to the creditor.")
    debit_amount: Money | None = strawberry.field(description="What the debtor paid, in the debtor account's currency.")
    remittance_information: str | None
    status: PaymentStatus
    iso_status: str
    reason_code: str | None
    created_at: dt.datetime
    _row: strawberry.Private[models.InterbankPayment]

    @classmethod
    def of(cls, row: models.InterbankPayment, units: dict[str, int]) -> InterbankPayment:
        debit = row.debit_amount
        return cls(
            id=global_id("InterbankPayment", row.id),
            uetr=row.uetr,
            message_type=row.message_type,
            amount=money(row.amount, row.currency_code, units),
            debit_amount=money(debit, row.debit_currency, units) if debit is not None else None,
            remittance_information=row.remittance_information,
            status=row.status,
            iso_status=row.iso_status,
            reason_code=row.reason_code,
            created_at=row.created_at,
            _row=row,
        )

    @classmethod
    async def resolve_node(cls, info: Info, key: int) -> InterbankPayment | None:
        return await visible_payment(info, await loaders(info).interbank_payment.load(key))

    @strawberry.field
    async def network(self, info: Info) -> PaymentNetwork:
        return await PaymentNetwork.resolve_node(info, self._row.network_id)

    @strawberry.field
    async def sender(self, info: Info) -> Institution:
        return await Institution.resolve_node(info, self._row.sender_id)

    @strawberry.field
    async def receiver(self, info: Info) -> Institution:
        return await Institution.resolve_node(info, self._row.receiver_id)

    @strawberry.field(description="The sender's account; its balances are for its institution only.")
    async def debtor_account(self, info: Info) -> Account:
        return Account.of(await loaders(info).account.load(self._row.debtor_account_id))

    @strawberry.field(description="The receiver's account; its balances are for its institution only.")
    async def creditor_account(self, info: Info) -> Account:
        return Account.of(await loaders(info).account.load(self._row.creditor_account_id))

    @strawberry.field(description="The tracker: every status change, oldest first.")
    async def events(self, info: Info) -> list[PaymentEvent]:
        return [PaymentEvent.of(row) for row in await loaders(info).payment_events.load(self._row.id)]

    @strawberry.field(
        description="Its ledger transfers: the customer legs (with FX), then the RTGS interbank leg; each for "
        "those who see it (a participant, the legs its institution is on)."
    )
    async def transfers(self, info: Info) -> list[Transfer]:
        return await visible_transfers(info, await loaders(info).interbank_transfers.load(self._row.id))

    async def _parties(self, info: Info) -> messaging.Parties:
        load = loaders(info)
        row = self._row
        network = await load.payment_network.load(row.network_id)
        sender, receiver = await load.institution.load_many([row.sender_id, row.receiver_id])
        debtor, creditor = await load.account.load_many([row.debtor_account_id, row.creditor_account_id])
        return messaging.Parties(network.code, sender.bic, receiver.bic, debtor, creditor)

    @strawberry.field(
        description="The payment as an ISO 20022 pacs.008.001.08 document (a PACS_009 payment: a pacs.009.001.08)."
    )
    async def iso20022(self, info: Info) -> str:
        parties = await self._parties(info)
        return messaging.render_payment(self._row, parties, await minor_units(info), account_id)

    @strawberry.field(description="Its latest status as an ISO 20022 pacs.002.001.10 document.")
    async def status_report(self, info: Info) -> str:
        parties = await self._parties(info)
        events = await loaders(info).payment_events.load(self._row.id)
        return messaging.render_status(self._row, parties, events[-1])


async def visible_payment(info: Info, row: models.InterbankPayment | None) -> InterbankPayment | None:
    """The payment, for the operator and the sender's or receiver's participant."""
    if row is None or not messaging.may_see_payment(principal(info), row):
        return None
    return InterbankPayment.of(row, await minor_units(info))


@strawberry.type
class InterbankPaymentEdge:
    cursor: str
    node: InterbankPayment


@strawberry.type
class InterbankPaymentConnection:
    page_info: PageInfo
    edges: list[InterbankPaymentEdge]


@strawberry.input
class SendPaymentInput:
    uetr: uuid.UUID
    network_code: str | None = strawberry.field(
        default=None,
        description="A network code; null lets the service choose a network on which both institutions are active "
        "members and that settles the currency.",
    )
    message_type: MessageType | None = models.MessageType.PACS_008
    sender_bic: str
    receiver_bic: str
    debtor_account_id: strawberry.ID
    creditor_account_id: strawberry.ID
    amount: Decimal
    currency: str
    remittance_information: str | None = None
    avoid_currencies: list[str] | None = strawberry.field(
        default=None, description="Currencies an FX conversion must not pass through."
    )


@strawberry.type
class PaymentPayload:
    payment: InterbankPayment | None = strawberry.field(
        default=None,
        description="A payment that was received and then rejected is returned with status REJECTED, not as an error.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Iso20022Payload:
    payments: list[InterbankPayment | None] = strawberry.field(
        default_factory=list,
        description="One per credit transfer transaction of the document, in its order; null where a transaction "
        "could not be mapped to a payment.",
    )
    status_report: str | None = strawberry.field(
        default=None,
        description="The pacs.002.001.10 status report answering the document (one transaction status per "
        "original transaction).",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PaymentQuery:
    @strawberry.field(description="The tracker: look a payment up by its UETR.")
    async def payment(self, info: Info, uetr: uuid.UUID) -> InterbankPayment | None:
        row = await context(info).read(lambda session: messaging.payment_by_uetr(session, uetr))
        return await visible_payment(info, row)

    @strawberry.field(description="Payments the caller sees, newest first; since inclusive, until exclusive.")
    async def payments(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        network_code: str | None = None,
        status: PaymentStatus | None = None,
        sender_bic: str | None = None,
        receiver_bic: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> InterbankPaymentConnection:
        after_key = decode_cursor(after, "after")
        filters = dict(
            network_code=network_code,
            status=status,
            sender_bic=sender_bic,
            receiver_bic=receiver_bic,
            since=since,
            until=until,
        )
        page = await context(info).read(
            lambda session: messaging.list_payments(session, principal(info), first=first, after=after_key, **filters)
        )
        units = await minor_units(info)
        return connection(
            InterbankPaymentConnection, InterbankPaymentEdge, page, lambda row: InterbankPayment.of(row, units)
        )


@strawberry.type
class PaymentMutation:
    @strawberry.mutation
    @user_errors(PaymentPayload, "input")
    async def send_payment(self, info: Info, input: SendPaymentInput) -> PaymentPayload:
        request = messaging.PaymentRequest(
            uetr=input.uetr,
            network_code=input.network_code,
            message_type=input.message_type or models.MessageType.PACS_008,
            sender_bic=input.sender_bic,
            receiver_bic=input.receiver_bic,
            debtor_account_id=decode_id(input.debtor_account_id, "Account", "debtorAccountId"),
            creditor_account_id=decode_id(input.creditor_account_id, "Account", "creditorAccountId"),
            amount=input.amount,
            currency=input.currency,
            remittance_information=input.remittance_information,
            avoid_currencies=input.avoid_currencies or (),
        )
        ctx = context(info)
        await ctx.release()  # the group commit writes on a connection of its own
        order = await ctx.payments.submit(messaging.PaymentOrder(principal(info), request))
        if isinstance(order.result, DomainError):
            raise order.result
        return PaymentPayload(payment=InterbankPayment.of(order.result, await minor_units(info)))

    @strawberry.mutation(
        description="Submit an ISO 20022 pacs.008.001.08 document; each credit transfer transaction becomes a payment."
    )
    @user_errors(Iso20022Payload)
    async def submit_iso20022(self, info: Info, xml: str) -> Iso20022Payload:
        submitted = await mutate(info, messaging.submit_document, xml, account_key=account_key, now=now(info))
        units = await minor_units(info)
        return Iso20022Payload(
            payments=[InterbankPayment.of(row, units) if row is not None else None for row in submitted.payments],
            status_report=submitted.status_report,
            errors=[UserError.of(error) for error in submitted.errors],
        )
