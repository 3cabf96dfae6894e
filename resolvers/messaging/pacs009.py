"""ISO 20022 pacs.009.001.08, the financial institution credit transfer: how a PACS_009
payment (one bank paying another from its own SETTLEMENT account) is rendered. It shares
pacs.008's group header; its debtor and creditor are the banks themselves (FinInstnId),
and it carries no charge bearer. (submitIso20022 takes pacs.008 documents only.)"""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree.ElementTree import Element

from resolvers.messaging.pacs008 import PaymentMessage, render_credit_transfers
from resolvers.messaging.xml import add

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pacs.009.001.08"
BODY = "FICdtTrf"


def render_pacs009(messages: Sequence[PaymentMessage]) -> str:
    """One pacs.009 document with one CdtTrfTxInf per message, in order."""
    return render_credit_transfers(NAMESPACE, BODY, messages, _render_transaction)


def _render_transaction(parent: Element, message: PaymentMessage) -> None:
    """A CdtTrfTxInf in CreditTransferTransaction36's order: PmtId, IntrBkSttlmAmt, IntrBkSttlmDt,
    InstgAgt, InstdAgt, Dbtr, DbtrAcct, Cdtr, CdtrAcct, RmtInf?."""
    identification = add(parent, "PmtId")
    if message.instruction_id:
        add(identification, "InstrId", text=message.instruction_id)
    add(identification, "EndToEndId", text=message.end_to_end_id)
    add(identification, "UETR", text=str(message.uetr))
    add(parent, "IntrBkSttlmAmt", text=message.amount, attributes={"Ccy": message.currency})
    add(parent, "IntrBkSttlmDt", text=message.settlement_date.isoformat())
    add(parent, "InstgAgt", "FinInstnId", "BICFI", text=message.sender_bic)
    add(parent, "InstdAgt", "FinInstnId", "BICFI", text=message.receiver_bic)
    add(parent, "Dbtr", "FinInstnId", "BICFI", text=message.sender_bic)
    add(parent, "DbtrAcct", "Id", "Othr", "Id", text=message.debtor_account_id)
    add(parent, "Cdtr", "FinInstnId", "BICFI", text=message.receiver_bic)
    add(parent, "CdtrAcct", "Id", "Othr", "Id", text=message.creditor_account_id)
    if message.remittance_information:
        add(parent, "RmtInf", "Ustrd", text=message.remittance_information)
