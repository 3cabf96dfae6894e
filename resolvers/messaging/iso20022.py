"""ISO 20022 at the service's edge: a pacs.008.001.08 document submitted as payments,
answered by a pacs.002.001.10 status report, and any payment rendered as a pacs.008
and its latest status as a pacs.002.

Each credit transfer transaction becomes a payment exactly as sendPayment would make
it (the network from the group header's SttlmInf/ClrSys, else the routing rule);
accounts are named by their global id in `Id/Othr/Id`. A transaction that cannot be
mapped, or that sendPayment refuses as no payment at all, is rejected alone: null in
the payments, RJCT with a reason code in the report, and an error naming its element.
A document the parser refuses (malformed, wrong namespace, a DTD or entity, too large)
is one error and changes nothing. Global ids are the API's: the caller passes how to
read and write them (`account_key`, `account_id`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.ledger import Account
from models.messaging import InterbankPayment, MessageType, PaymentEvent
from resolvers import reference
from resolvers.access import Action, Principal, require
from resolvers.errors import DomainError, ErrorCode
from resolvers.messaging import pacs002, pacs008, pacs009
from resolvers.messaging.posting import NewPayment
from resolvers.messaging.sending import PaymentOrder, PaymentRequest, send_payments
from resolvers.messaging.xml import XmlError
from resolvers.money import from_minor

HEADER = ["Document", pacs008.BODY, "GrpHdr"]
# sendPayment's input fields and the element of a transaction each comes from.
ELEMENTS = {
    "uetr": ["PmtId", "UETR"],
    "endToEndId": ["PmtId", "EndToEndId"],
    "instructionId": ["PmtId", "InstrId"],
    "amount": ["IntrBkSttlmAmt"],
    "currency": ["IntrBkSttlmAmt", "@Ccy"],
    "debtorAccountId": ["DbtrAcct", "Id", "Othr", "Id"],
    "creditorAccountId": ["CdtrAcct", "Id", "Othr", "Id"],
    "remittanceInformation": ["RmtInf", "Ustrd"],
}
NETWORK_ELEMENT = [*HEADER, "SttlmInf", "ClrSys", "Prtry"]
# The ISO 20022 reason code reported for a transaction refused with each error code.
REASONS = {
    ErrorCode.NOT_FOUND: "AC01",  # an account; a BIC is RC01 (below)
    ErrorCode.FORBIDDEN: "AG01",
    ErrorCode.NO_ROUTE: "AG03",
    ErrorCode.IDEMPOTENCY_CONFLICT: "DUPL",
    ErrorCode.SAME_ACCOUNT: "AC01",
    ErrorCode.UNSUPPORTED_CURRENCY: "AM11",
    ErrorCode.INVALID_INPUT: "FF01",
}
BIC_UNKNOWN = "RC01"
MESSAGE_NAME = "pacs.008.001.08"
# How each kind of payment is rendered, and the message name a status report answers.
RENDERERS = {MessageType.PACS_008: pacs008.render_pacs008, MessageType.PACS_009: pacs009.render_pacs009}
MESSAGE_NAMES = {MessageType.PACS_008: MESSAGE_NAME, MessageType.PACS_009: "pacs.009.001.08"}


@dataclass(frozen=True)
class Submitted:
    """What a submitted document gave: per transaction, in order, its payment or None;
    the errors of the transactions that made none; the pacs.002 answering it, assembled
    and rendered when first asked for: after the transaction that made the payments has
    committed, so that its account locks are not held while the report is written."""

    payments: list[InterbankPayment | NewPayment | None]
    errors: list[DomainError]
    document: pacs008.Document
    outcomes: list
    events: dict[int, Any]
    now: dt.datetime

    @cached_property
    def status_report(self) -> str:
        return pacs002.render_pacs002(_submission_report(self.document, self.outcomes, self.events, self.now))


def _request(transfer: pacs008.CreditTransfer, account_key: Callable[[str], int | None], path: list[str]):
    """The sendPayment request of a mapped transaction, or the XmlError of an account id that is no account's."""
    keys = []
    for name, text in (
        ("debtorAccountId", transfer.debtor_account_id),
        ("creditorAccountId", transfer.creditor_account_id),
    ):
        key = account_key(text)
        if key is None:
            raise XmlError([*path, *ELEMENTS[name]], f"{text!r} is not the id of an Account.", "AC01")
        keys.append(key)
    return PaymentRequest(
        uetr=transfer.uetr,
        network_code=transfer.network_code,
        message_type=MessageType.PACS_008,
        sender_bic=transfer.sender_bic,
        receiver_bic=transfer.receiver_bic,
        debtor_account_id=keys[0],
        creditor_account_id=keys[1],
        amount=transfer.amount,
        currency=transfer.currency,
        remittance_information=transfer.remittance_information,
        end_to_end_id=transfer.end_to_end_id,
        instruction_id=transfer.instruction_id,
    )


def _located(error: DomainError, transaction: pacs008.Transaction) -> tuple[DomainError, str]:
    """sendPayment's error about a transaction, on the element at fault, with its reason code."""
    field = (error.field or [None])[0]
    transfer = transaction.transfer
    if field == "networkCode":
        where = NETWORK_ELEMENT
    elif field in ("senderBic", "receiverBic"):  # the agent the BIC was read from
        where = list(transfer.sender_path if field == "senderBic" else transfer.receiver_path)
    else:
        where = [*transaction.path, *ELEMENTS.get(field, [])]
    reason = REASONS.get(error.code, "FF01")
    if error.code is ErrorCode.NOT_FOUND and field in ("senderBic", "receiverBic"):
        reason = BIC_UNKNOWN
    if error.code is ErrorCode.NOT_FOUND and field == "networkCode":
        reason = "FF01"  # the clearing system named is none of the service's
    if error.code is ErrorCode.INVALID_INPUT and field == "amount":
        reason = "AM12"
    return DomainError(error.code, error.message, ["xml", *where]), reason


async def _latest_events(session: AsyncSession, ids: set[int]) -> dict[int, Any]:
    """payment id -> its latest status event (a plain row: detail and at are what the report needs)."""
    if not ids:
        return {}
    events = PaymentEvent.__table__
    statement = (
        select(events.c.payment_id, events.c.detail, events.c.at)
        .where(events.c.payment_id.in_(ids))
        .order_by(events.c.id)
    )
    connection = await session.connection()
    return {event.payment_id: event for event in await connection.execute(statement)}


async def submit_document(
    session: AsyncSession,
    principal: Principal,
    xml: str,
    *,
    account_key: Callable[[str], int | None],
    now: dt.datetime,
) -> Submitted:
    """submitIso20022 (see the module)."""
    require(principal, Action.WRITE_OWN)
    try:
        document = pacs008.parse_pacs008(xml, await reference.minor_units(session))
    except XmlError as error:
        raise DomainError(ErrorCode.INVALID_INPUT, error.message, ["xml", *error.path]) from None
    # Per transaction: its payment, or (the error, the reason code of its RJCT).
    outcomes: list[InterbankPayment | NewPayment | tuple[DomainError, str] | None] = [None] * len(document.transactions)
    requests, positions = [], []
    for k, transaction in enumerate(document.transactions):
        try:
            if transaction.error is not None:
                raise transaction.error
            requests.append(_request(transaction.transfer, account_key, transaction.path))
            positions.append(k)
        except XmlError as error:
            outcomes[k] = (DomainError(ErrorCode.INVALID_INPUT, error.message, ["xml", *error.path]), error.reason)
    orders = [PaymentOrder(principal, request) for request in requests]
    if orders:
        await send_payments(session, orders, now=now)
    for k, result in zip(positions, (order.result for order in orders), strict=True):
        outcomes[k] = _located(result, document.transactions[k]) if isinstance(result, DomainError) else result
    # A payment this request made knows its latest event; one stored before is read.
    replays = {o.id for o in outcomes if not isinstance(o, tuple | NewPayment)}
    return Submitted(
        payments=[None if isinstance(o, tuple) else o for o in outcomes],
        errors=[o[0] for o in outcomes if isinstance(o, tuple)],
        document=document,
        outcomes=outcomes,
        events=await _latest_events(session, replays),
        now=now,
    )


def _submission_report(document: pacs008.Document, outcomes, events: dict[int, Any], now: dt.datetime):
    statuses = []
    for transaction, outcome in zip(document.transactions, outcomes, strict=True):
        transfer = transaction.transfer
        bics = (transfer.sender_bic, transfer.receiver_bic) if transfer is not None else (None, None)
        if not isinstance(outcome, tuple):
            event = outcome if isinstance(outcome, NewPayment) else events.get(outcome.id)
            status, code = outcome.iso_status, outcome.reason_code
            detail, at = (event.detail, event.at) if event is not None else (None, outcome.created_at)
        else:
            error, code = outcome
            status, detail, at = "RJCT", error.message, now
        statuses.append(
            pacs002.TransactionStatus(
                uetr=transaction.uetr,
                end_to_end_id=transaction.end_to_end_id,
                instruction_id=transaction.instruction_id,
                status=status,
                reason_code=code,
                detail=detail,
                sender_bic=bics[0],
                receiver_bic=bics[1],
                at=at,
            )
        )
    return pacs002.StatusReport(
        message_id=uuid.uuid4().hex,
        created_at=now,
        original_message_id=document.message_id,
        original_message_name=MESSAGE_NAME,
        transactions=statuses,
    )


# ---------------------------------------------------------------- rendering a payment


@dataclass(frozen=True)
class Parties:
    """What rendering a payment needs besides its row: its network's code, the BICs, the accounts."""

    network_code: str
    sender_bic: str
    receiver_bic: str
    debtor: Account
    creditor: Account


def render_payment(
    row: InterbankPayment | NewPayment, parties: Parties, units: dict[str, int], account_id: Callable[[int], str]
) -> str:
    """The payment as a pacs.008.001.08 of one transaction (MsgId: its UETR's 32 hex digits);
    a PACS_009 payment as a pacs.009.001.08."""
    instructed = None
    if row.debit_currency is not None and row.debit_currency != row.currency_code:
        instructed = (str(from_minor(row.debit_amount, units[row.debit_currency])), row.debit_currency)
    message = pacs008.PaymentMessage(
        message_id=row.uetr.hex,
        created_at=row.created_at,
        settlement_date=row.created_at.date(),
        uetr=row.uetr,
        end_to_end_id=row.end_to_end_id or pacs002.NOT_PROVIDED,
        instruction_id=row.instruction_id,
        network_code=parties.network_code,
        settlement_method="CLRG",
        amount=str(from_minor(row.amount, units[row.currency_code])),
        currency=row.currency_code,
        instructed=instructed,
        sender_bic=parties.sender_bic,
        receiver_bic=parties.receiver_bic,
        debtor_name=parties.debtor.name,
        debtor_account_id=account_id(parties.debtor.id),
        creditor_name=parties.creditor.name,
        creditor_account_id=account_id(parties.creditor.id),
        remittance_information=row.remittance_information,
    )
    return RENDERERS[row.message_type]([message])


def render_status(row: InterbankPayment | NewPayment, parties: Parties, latest: PaymentEvent) -> str:
    """The payment's latest status as a pacs.002.001.10, answering the message `render_payment` gives."""
    status = pacs002.TransactionStatus(
        uetr=row.uetr,
        end_to_end_id=row.end_to_end_id or pacs002.NOT_PROVIDED,
        instruction_id=row.instruction_id,
        status=latest.iso_status,
        reason_code=latest.reason_code,
        detail=latest.detail,
        sender_bic=parties.sender_bic,
        receiver_bic=parties.receiver_bic,
        at=latest.at,
    )
    report = pacs002.StatusReport(
        message_id=f"STS{row.uetr.hex}",
        created_at=latest.at,
        original_message_id=row.uetr.hex,
        original_message_name=MESSAGE_NAMES[row.message_type],
        transactions=[status],
    )
    return pacs002.render_pacs002(report)
