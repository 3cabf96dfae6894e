"""pacs.002.001.10 (FI to FI payment status report): the answer to a pacs.008, one TxInfAndSts per transaction.

Rules:
- a transaction's status is RCVD, ACSP, ACCC or RJCT (anything else is a programming error);
- StsRsnInf is written when there is a reason code or a detail: Rsn/Cd for the code, and the
  detail as AddtlInf pieces of at most 105 characters (the XSD's Max105Text), at most two of
  them: a longer detail is cut, its second piece ending with "...";
- AccptncDtTm is written only for a status other than RJCT;
- the group may carry its own status (OrgnlGrpInfAndSts/GrpSts and StsRsnInf) when the whole
  original message is answered at once, e.g. refused;
- an empty original message id is written "NOTPROVIDED" (the CBPR+ convention);
- elements follow the XSD's sequence.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element

from resolvers.messaging.xml import MAX35, add, document, iso_datetime, serialize

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"
STATUSES = ("RCVD", "ACSP", "ACCC", "RJCT")
DETAIL_PIECE = 105
DETAIL_PIECES = 2
NOT_PROVIDED = "NOTPROVIDED"


@dataclass(frozen=True)
class TransactionStatus:
    """The status of one original transaction, with its sender's and receiver's BICs (the
    report's instructing agent is the original receiver, its instructed agent the sender)."""

    uetr: uuid.UUID | None
    end_to_end_id: str | None
    instruction_id: str | None
    status: str
    reason_code: str | None
    detail: str | None
    sender_bic: str | None
    receiver_bic: str | None
    at: datetime | None


@dataclass(frozen=True)
class StatusReport:
    """A status report about one original message, a status per original transaction."""

    message_id: str
    created_at: datetime
    original_message_id: str
    original_message_name: str
    transactions: Sequence[TransactionStatus]


def render_pacs002(report: StatusReport) -> str:
    """The report as a pacs.002.001.10 document; ValueError for a status that is not one of STATUSES."""
    if not 1 <= len(report.message_id) <= MAX35:
        raise ValueError(f"A message id has 1 to {MAX35} characters: {report.message_id!r}.")
    root = document(NAMESPACE)
    body = add(root, "FIToFIPmtStsRpt")
    group = add(body, "GrpHdr")
    add(group, "MsgId", text=report.message_id)
    add(group, "CreDtTm", text=iso_datetime(report.created_at))
    original = add(body, "OrgnlGrpInfAndSts")
    add(original, "OrgnlMsgId", text=report.original_message_id or NOT_PROVIDED)
    add(original, "OrgnlMsgNmId", text=report.original_message_name)
    for transaction in report.transactions:
        _render_transaction(add(body, "TxInfAndSts"), transaction)
    return serialize(root)


def _render_transaction(parent: Element, transaction: TransactionStatus) -> None:
    """A TxInfAndSts in PaymentTransaction110's order: OrgnlInstrId?, OrgnlEndToEndId?, OrgnlUETR?, TxSts,
    StsRsnInf?, AccptncDtTm?, InstgAgt?, InstdAgt?."""
    if transaction.status not in STATUSES:
        raise ValueError(f"A transaction status is one of {', '.join(STATUSES)}: {transaction.status!r}.")
    if transaction.instruction_id:
        add(parent, "OrgnlInstrId", text=transaction.instruction_id)
    if transaction.end_to_end_id:
        add(parent, "OrgnlEndToEndId", text=transaction.end_to_end_id)
    if transaction.uetr is not None:
        add(parent, "OrgnlUETR", text=str(transaction.uetr))
    add(parent, "TxSts", text=transaction.status)
    _render_reason(parent, transaction.reason_code, transaction.detail)
    if transaction.at is not None and transaction.status != "RJCT":
        add(parent, "AccptncDtTm", text=iso_datetime(transaction.at))
    # The report goes back the other way: from the agent the payment was instructed to,
    # to the one that instructed it.
    if transaction.receiver_bic:
        add(parent, "InstgAgt", "FinInstnId", "BICFI", text=transaction.receiver_bic)
    if transaction.sender_bic:
        add(parent, "InstdAgt", "FinInstnId", "BICFI", text=transaction.sender_bic)


def _render_reason(parent: Element, code: str | None, detail: str | None) -> None:
    """StsRsnInf (Rsn/Cd, then AddtlInf pieces) when there is a code or a detail."""
    pieces = detail_pieces(detail)
    if not code and not pieces:
        return
    reason = add(parent, "StsRsnInf")
    if code:
        add(reason, "Rsn", "Cd", text=code)
    for piece in pieces:
        add(reason, "AddtlInf", text=piece)


def detail_pieces(detail: str | None) -> list[str]:
    """A detail in pieces of at most 105 characters, at most two: what does not fit is cut, ending "..."."""
    if not detail:
        return []
    limit = DETAIL_PIECE * DETAIL_PIECES
    if len(detail) > limit:
        detail = detail[: limit - 3] + "..."
    return [detail[start : start + DETAIL_PIECE] for start in range(0, len(detail), DETAIL_PIECE)]
