"""pacs.008.001.08 (FI to FI customer credit transfer), shaped as SWIFT's CBPR+ guidelines shape it.

`parse_pacs008` maps each credit transfer transaction (CdtTrfTxInf) of a document to a
`CreditTransfer`. The whole document is refused (XmlError) when it cannot be read as one
message: size, syntax, DTD or entities, root or namespace, group header (MsgId, CreDtTm,
NbOfTxs, SttlmInf/SttlmMtd), NbOfTxs differing from the number of transactions, none or more
than MAX_TRANSACTIONS of them. A problem inside one transaction marks only that
`Transaction` (its `error`), and the others map.

Mapping rules, each transaction:
- every element's text is stripped of surrounding whitespace before it is checked;
- the sender's BIC is the transaction's InstgAgt, else the group header's InstgAgt, else the
  transaction's DbtrAgt (FinInstnId/BICFI); the receiver's likewise with InstdAgt and CdtrAgt;
- the amount is kept at its currency's precision (Decimal("15") for "15.00" in JPY: trailing
  zeros are not extra places);
- the remittance information is the text of every RmtInf/Ustrd joined with "" (then
  stripped), at most 140 characters; absent or empty is None;
- elements not mapped (ChrgBr, InstdAmt, XchgRate, PstlAdr...) are ignored.

`render_pacs008` writes stored payments as one document, which parses back to the same
fields: parse(render(x)) == x for what a CreditTransfer holds.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from xml.etree.ElementTree import Element

from resolvers import money
from resolvers.messaging.xml import (
    MAX35,
    MAX140,
    Node,
    XmlError,
    add,
    document,
    iso_datetime,
    parse_datetime,
    parse_document,
    serialize,
)

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"
MAX_TRANSACTIONS = 5000
SETTLEMENT_METHODS = ("INDA", "INGA", "COVE", "CLRG")
UETR = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
UETR_EXAMPLE = "8a562c67-ca16-48ba-b074-65581be6f011"
BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")
AMOUNT_DIGITS = 18
ACCOUNT_MAX = 34
BODY = "FIToFICstmrCdtTrf"


@dataclass(frozen=True)
class CreditTransfer:
    """One CdtTrfTxInf, as the service needs it."""

    uetr: uuid.UUID
    end_to_end_id: str
    instruction_id: str | None
    amount: Decimal
    currency: str
    sender_bic: str
    receiver_bic: str
    debtor_account_id: str
    creditor_account_id: str
    network_code: str | None
    remittance_information: str | None
    debtor_name: str | None
    creditor_name: str | None
    # Where the BICs were read (InstgAgt, the group header's, or DbtrAgt...): for errors about them.
    sender_path: tuple[str, ...] = field(default=(), compare=False)
    receiver_path: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Transaction:
    """One CdtTrfTxInf of a document: its transfer, or why not (exactly one of the two is set).

    `uetr`, `end_to_end_id` and `instruction_id` are set whenever they could be read, even when
    something else is wrong, for the status report."""

    index: int
    path: list[str]
    transfer: CreditTransfer | None
    error: XmlError | None
    uetr: uuid.UUID | None
    end_to_end_id: str | None
    instruction_id: str | None


@dataclass(frozen=True)
class Document:
    """A readable pacs.008: its group header's MsgId and CreDtTm (tz-aware UTC) and its transactions."""

    message_id: str
    created_at: datetime
    transactions: list[Transaction]


@dataclass(frozen=True)
class PaymentMessage:
    """What rendering one stored payment as a CdtTrfTxInf needs (the first one also gives the group header)."""

    message_id: str
    created_at: datetime
    settlement_date: date
    uetr: uuid.UUID
    end_to_end_id: str
    instruction_id: str | None
    network_code: str
    settlement_method: str
    amount: str
    currency: str
    instructed: tuple[str, str] | None
    sender_bic: str
    receiver_bic: str
    debtor_name: str
    debtor_account_id: str
    creditor_name: str
    creditor_account_id: str
    remittance_information: str | None


@dataclass(frozen=True)
class _Header:
    network_code: str | None
    group: Node


def parse_pacs008(text: str, minor_units: Mapping[str, int]) -> Document:
    """The document's transactions, each mapped or marked; XmlError when the document itself is refused.

    `minor_units` gives, for each currency the network settles in, its number of decimal places."""
    root = Node.root(parse_document(text, NAMESPACE), NAMESPACE)
    body = root.find(BODY)
    if body is None:
        raise XmlError(root.at(BODY), f"The document must hold a {BODY} (an FI to FI customer credit transfer).")
    message_id, created_at, count, header = _header(body)
    nodes = body.all("CdtTrfTxInf")
    if not nodes:
        raise XmlError(body.at("CdtTrfTxInf"), "The document must hold at least one CdtTrfTxInf.")
    if len(nodes) > MAX_TRANSACTIONS:
        raise XmlError(body.at("CdtTrfTxInf"), f"A document holds at most {MAX_TRANSACTIONS} CdtTrfTxInf.")
    if count != len(nodes):
        message = f"NbOfTxs says {count} transactions but the document holds {len(nodes)} CdtTrfTxInf."
        raise XmlError(body.at("GrpHdr", "NbOfTxs"), message)
    transactions = [_transaction(node, index, header, minor_units) for index, node in enumerate(nodes)]
    return Document(message_id, created_at, transactions)


def _header(body: Node) -> tuple[str, datetime, int, _Header]:
    """MsgId, CreDtTm, NbOfTxs and what transactions take from the group header; XmlError when it is wrong."""
    group = body.find("GrpHdr")
    if group is None:
        raise XmlError(body.at("GrpHdr"), "The document must have a group header (GrpHdr).")
    message_id = _identifier(group, "MsgId")
    created_text = _required(group, "CreDtTm")
    created_at = parse_datetime(created_text)
    if created_at is None:
        raise XmlError(group.at("CreDtTm"), "CreDtTm must be an ISO date-time such as 2024-05-01T10:00:00+00:00.")
    count_text = _required(group, "NbOfTxs")
    if not re.fullmatch(r"[0-9]{1,15}", count_text):
        raise XmlError(group.at("NbOfTxs"), f"NbOfTxs must be a number of transactions, not {count_text!r}.")
    method = _required(group, "SttlmInf", "SttlmMtd")
    if method not in SETTLEMENT_METHODS:
        expected = ", ".join(SETTLEMENT_METHODS)
        raise XmlError(group.at("SttlmInf", "SttlmMtd"), f"SttlmMtd must be one of {expected}, not {method!r}.")
    network = group.text("SttlmInf", "ClrSys", "Prtry") or group.text("SttlmInf", "ClrSys", "Cd")
    return message_id, created_at, int(count_text), _Header(network.upper() if network else None, group)


def _required(node: Node, *names: str) -> str:
    """The stripped text of a required element; XmlError (FF01) when it is absent or empty."""
    text = node.text(*names)
    if not text:
        raise XmlError(node.at(*names), f"{names[-1]} is required and must not be empty.")
    return text


def _transaction(node: Node, index: int, header: _Header, minor_units: Mapping[str, int]) -> Transaction:
    """One CdtTrfTxInf: its transfer, or its first problem with the identifiers that could still be read."""
    uetr_text = (node.text("PmtId", "UETR") or "").lower()
    uetr = uuid.UUID(uetr_text) if UETR.fullmatch(uetr_text) else None
    end_to_end_id = _lenient(node.text("PmtId", "EndToEndId"))
    instruction_id = _lenient(node.text("PmtId", "InstrId"))
    try:
        transfer = _transfer(node, header, minor_units)
    except XmlError as error:
        return Transaction(index, list(node.path), None, error, uetr, end_to_end_id, instruction_id)
    return Transaction(index, list(node.path), transfer, None, uetr, end_to_end_id, instruction_id)


def _lenient(text: str | None) -> str | None:
    """An identifier as the status report can quote it (1 to 35 characters); None otherwise."""
    return text if text and len(text) <= MAX35 else None


def _transfer(node: Node, header: _Header, minor_units: Mapping[str, int]) -> CreditTransfer:
    """The CreditTransfer of one CdtTrfTxInf; XmlError at the first element at fault."""
    uetr = _uetr(node)
    end_to_end_id = _identifier(node, "PmtId", "EndToEndId")
    instruction_id = _identifier(node, "PmtId", "InstrId") if node.find("PmtId", "InstrId") is not None else None
    amount, currency = _amount(node, minor_units)
    sender_bic, sender_path = _bic(node, header, "InstgAgt", "DbtrAgt", "sending")
    receiver_bic, receiver_path = _bic(node, header, "InstdAgt", "CdtrAgt", "receiving")
    debtor_account_id = _account(node, "DbtrAcct", "debtor")
    creditor_account_id = _account(node, "CdtrAcct", "creditor")
    return CreditTransfer(
        uetr=uetr,
        end_to_end_id=end_to_end_id,
        instruction_id=instruction_id,
        amount=amount,
        currency=currency,
        sender_bic=sender_bic,
        receiver_bic=receiver_bic,
        debtor_account_id=debtor_account_id,
        creditor_account_id=creditor_account_id,
        network_code=header.network_code,
        remittance_information=_remittance(node),
        debtor_name=node.text("Dbtr", "Nm") or None,
        creditor_name=node.text("Cdtr", "Nm") or None,
        sender_path=sender_path,
        receiver_path=receiver_path,
    )


def _uetr(node: Node) -> uuid.UUID:
    """PmtId/UETR: a version 4 UUID in 8-4-4-4-12 form (upper case accepted); XmlError (FF01) otherwise."""
    text = node.text("PmtId", "UETR")
    if not text:
        raise XmlError(node.at("PmtId", "UETR"), f"UETR is required: a UUID such as {UETR_EXAMPLE}.")
    if not UETR.fullmatch(text.lower()):
        raise XmlError(node.at("PmtId", "UETR"), f"UETR must be a UUID such as {UETR_EXAMPLE}, not {text!r}.")
    return uuid.UUID(text.lower())


def _identifier(node: Node, *names: str) -> str:
    """An identifier of 1 to 35 characters; XmlError (FF01) otherwise."""
    text = node.text(*names)
    if not text:
        raise XmlError(node.at(*names), f"{names[-1]} is required: 1 to {MAX35} characters.")
    if len(text) > MAX35:
        raise XmlError(node.at(*names), f"{names[-1]} must be 1 to {MAX35} characters, not {len(text)}.")
    return text


def _amount(node: Node, minor_units: Mapping[str, int]) -> tuple[Decimal, str]:
    """IntrBkSttlmAmt and its Ccy: a plain positive decimal (AM12) in a currency the network settles in
    (AM11), with no more places than the currency has (AM12)."""
    element = node.find("IntrBkSttlmAmt")
    if element is None:
        raise XmlError(node.at("IntrBkSttlmAmt"), "IntrBkSttlmAmt (the amount to settle) is required.", "AM12")
    text = node.text("IntrBkSttlmAmt") or ""
    digits = sum(character.isdigit() for character in text)
    if not AMOUNT.fullmatch(text) or digits > AMOUNT_DIGITS:
        message = f"The amount must be a plain decimal such as 1500.00 (no sign, no exponent, at most {AMOUNT_DIGITS}"
        raise XmlError(element.at(), f"{message} digits), not {text[:40]!r}.", "AM12")
    amount = Decimal(text)
    if amount == 0:
        raise XmlError(element.at(), "The amount must be greater than zero.", "AM12")
    currency = element.attribute("Ccy")
    if not currency or currency not in minor_units:
        expected = ", ".join(sorted(minor_units))
        message = f"The currency {(currency or '(none)')[:10]!r} is unknown; Ccy is one of {expected}."
        raise XmlError(element.at("@Ccy"), message, "AM11")
    places = minor_units[currency]
    try:
        minor = money.to_minor(amount, places)
    except money.AmountError as error:
        raise XmlError(element.at(), f"{text} {currency} cannot be settled: {error}", "AM12") from None
    return money.from_minor(minor, places), currency


def _bic(node: Node, header: _Header, agent: str, party_agent: str, side: str) -> tuple[str, tuple[str, ...]]:
    """The first BICFI given of the transaction's `agent`, the group header's `agent` and the transaction's
    `party_agent`, and its element's path; XmlError (RC01) when none is given or the one given is malformed."""
    names = ("FinInstnId", "BICFI")
    for source, name in ((node, agent), (header.group, agent), (node, party_agent)):
        text = source.text(name, *names)
        if text is None:
            continue
        if not BIC.fullmatch(text):
            message = f"BICFI must be a BIC of 8 or 11 capital letters and digits, such as DEUTDEFF, not {text!r}."
            raise XmlError(source.at(name, *names), message, "RC01")
        return text, tuple(source.at(name, *names))
    message = f"The {side} bank's BIC is required: {agent}/FinInstnId/BICFI or {party_agent}/FinInstnId/BICFI."
    raise XmlError(node.at(agent, *names), message, "RC01")


def _account(node: Node, name: str, party: str) -> str:
    """The account's Id/Othr/Id (the network's account id, 1 to 34 characters); XmlError (AC01) otherwise."""
    names = (name, "Id", "Othr", "Id")
    text = node.text(*names)
    if not text or len(text) > ACCOUNT_MAX:
        message = (
            f"The {party} account must be given as {name}/Id/Othr/Id: its account id, 1 to {ACCOUNT_MAX} characters."
        )
        raise XmlError(node.at(*names), message, "AC01")
    return text


def _remittance(node: Node) -> str | None:
    """Every RmtInf/Ustrd joined with "" and stripped, at most 140 characters (XmlError FF01); None when empty."""
    information = node.find("RmtInf")
    if information is None:
        return None
    text = "".join(piece.element.text or "" for piece in information.all("Ustrd")).strip()
    if len(text) > MAX140:
        message = f"The remittance information (RmtInf/Ustrd) is {len(text)} characters; at most {MAX140}."
        raise XmlError(information.at("Ustrd"), message)
    return text or None


def render_pacs008(messages: Sequence[PaymentMessage]) -> str:
    """One pacs.008 document with one CdtTrfTxInf per message, in order; the group header (MsgId,
    CreDtTm, NbOfTxs, SttlmInf) comes from the first. Elements follow the XSD's sequence."""
    return render_credit_transfers(NAMESPACE, BODY, messages, _render_transaction)


def render_credit_transfers(
    namespace: str,
    body_name: str,
    messages: Sequence[PaymentMessage],
    transaction: Callable[[Element, PaymentMessage], None],
) -> str:
    """A pacs.008 or pacs.009 document (they share its shape): the group header from the
    first message, then one CdtTrfTxInf per message rendered by `transaction`."""
    if not messages:
        raise ValueError("A credit transfer document needs at least one payment.")
    root = document(namespace)
    body = add(root, body_name)
    _group_header(body, messages)
    for message in messages:
        transaction(add(body, "CdtTrfTxInf"), message)
    return serialize(root)


def _group_header(body: Element, messages: Sequence[PaymentMessage]) -> None:
    """GrpHdr (GroupHeader93, as pacs.008 and pacs.009 share it): MsgId, CreDtTm, NbOfTxs,
    SttlmInf (SttlmMtd, ClrSys/Prtry), from the first message."""
    first = messages[0]
    if not 1 <= len(first.message_id) <= MAX35:
        raise ValueError(f"A message id has 1 to {MAX35} characters: {first.message_id!r}.")
    group = add(body, "GrpHdr")
    add(group, "MsgId", text=first.message_id)
    add(group, "CreDtTm", text=iso_datetime(first.created_at))
    add(group, "NbOfTxs", text=str(len(messages)))
    settlement = add(group, "SttlmInf")
    add(settlement, "SttlmMtd", text=first.settlement_method)
    add(settlement, "ClrSys", "Prtry", text=first.network_code)


def _render_transaction(parent: Element, message: PaymentMessage) -> None:
    """A CdtTrfTxInf in CreditTransferTransaction39's order: PmtId, IntrBkSttlmAmt, IntrBkSttlmDt, InstdAmt?,
    ChrgBr, InstgAgt, InstdAgt, Dbtr, DbtrAcct, DbtrAgt, CdtrAgt, Cdtr, CdtrAcct, RmtInf?."""
    identification = add(parent, "PmtId")
    if message.instruction_id:
        add(identification, "InstrId", text=message.instruction_id)
    add(identification, "EndToEndId", text=message.end_to_end_id)
    add(identification, "UETR", text=str(message.uetr))
    add(parent, "IntrBkSttlmAmt", text=message.amount, attributes={"Ccy": message.currency})
    add(parent, "IntrBkSttlmDt", text=message.settlement_date.isoformat())
    if message.instructed is not None:
        amount, currency = message.instructed
        add(parent, "InstdAmt", text=amount, attributes={"Ccy": currency})
    add(parent, "ChrgBr", text="SHAR")
    add(parent, "InstgAgt", "FinInstnId", "BICFI", text=message.sender_bic)
    add(parent, "InstdAgt", "FinInstnId", "BICFI", text=message.receiver_bic)
    _render_party(parent, "Dbtr", message.debtor_name, message.debtor_account_id)
    add(parent, "DbtrAgt", "FinInstnId", "BICFI", text=message.sender_bic)
    add(parent, "CdtrAgt", "FinInstnId", "BICFI", text=message.receiver_bic)
    _render_party(parent, "Cdtr", message.creditor_name, message.creditor_account_id)
    if message.remittance_information:
        add(parent, "RmtInf", "Ustrd", text=message.remittance_information)


def _render_party(parent: Element, name: str, party_name: str, account_id: str) -> None:
    """The party (its Nm when it has one) then its account, {name}Acct/Id/Othr/Id."""
    party = add(parent, name)
    if party_name:
        add(party, "Nm", text=party_name)
    add(parent, f"{name}Acct", "Id", "Othr", "Id", text=account_id)
