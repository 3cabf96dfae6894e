"""ISO 20022 messages without a database: pacs.008 parsed into credit transfers (the whole document
refused, or one transaction marked), stored payments rendered as pacs.008 and parsed back to the same
fields, and pacs.002 status reports rendered in the XSD's order."""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from resolvers.messaging import pacs002, pacs008
from resolvers.messaging.pacs002 import StatusReport, TransactionStatus, render_pacs002
from resolvers.messaging.pacs008 import CreditTransfer, PaymentMessage, parse_pacs008, render_pacs008
from resolvers.messaging.xml import XML_MAX, XmlError

MINOR = {"CNY": 2, "RUB": 2, "USD": 2, "JPY": 0}
NS = pacs008.NAMESPACE
TX = ["Document", "FIToFICstmrCdtTrf", "CdtTrfTxInf"]
TX2 = [*TX, "1"]
UETR_1 = "8a562c67-ca16-48ba-b074-65581be6f011"
UETR_2 = "e3b0c442-98fc-4c14-9afb-f4c8996fb924"

TRANSACTION_1 = f"""
    <CdtTrfTxInf>
      <PmtId><InstrId>INSTR-1</InstrId><EndToEndId>E2E-1</EndToEndId><UETR>{UETR_1}</UETR></PmtId>
      <PmtTpInf><InstrPrty>NORM</InstrPrty></PmtTpInf>
      <IntrBkSttlmAmt Ccy="CNY"> 1500.50 </IntrBkSttlmAmt>
      <IntrBkSttlmDt>2024-05-01</IntrBkSttlmDt>
      <InstdAmt Ccy="RUB">19000.00</InstdAmt>
      <XchgRate>0.079</XchgRate>
      <ChrgBr>SHAR</ChrgBr>
      <InstgAgt><FinInstnId><BICFI>SABRRUMM</BICFI></FinInstnId></InstgAgt>
      <InstdAgt><FinInstnId><BICFI>BKCHCNBJXXX</BICFI></FinInstnId></InstdAgt>
      <Dbtr><Nm>Ivan Petrov</Nm><PstlAdr><TwnNm>Moscow</TwnNm><Ctry>RU</Ctry></PstlAdr></Dbtr>
      <DbtrAcct><Id><Othr><Id>acct-ivan</Id></Othr></Id></DbtrAcct>
      <DbtrAgt><FinInstnId><BICFI>SABRRUMM</BICFI></FinInstnId></DbtrAgt>
      <CdtrAgt><FinInstnId><BICFI>BKCHCNBJXXX</BICFI></FinInstnId></CdtrAgt>
      <Cdtr><Nm>Li Wei</Nm></Cdtr>
      <CdtrAcct><Id><Othr><Id>acct-li</Id></Othr></Id></CdtrAcct>
      <RmtInf><Ustrd>Invoice 42</Ustrd></RmtInf>
    </CdtTrfTxInf>"""

TRANSACTION_2 = f"""
    <CdtTrfTxInf>
      <PmtId><EndToEndId>E2E-2</EndToEndId><UETR>{UETR_2.upper()}</UETR></PmtId>
      <IntrBkSttlmAmt Ccy="JPY">15</IntrBkSttlmAmt>
      <ChrgBr>DEBT</ChrgBr>
      <Dbtr><Nm>Anna</Nm></Dbtr>
      <DbtrAcct><Id><Othr><Id>acct-anna</Id></Othr></Id></DbtrAcct>
      <DbtrAgt><FinInstnId><BICFI>SABRRUMMXXX</BICFI></FinInstnId></DbtrAgt>
      <CdtrAgt><FinInstnId><BICFI>MHCBJPJT</BICFI></FinInstnId></CdtrAgt>
      <Cdtr/>
      <CdtrAcct><Id><Othr><Id>acct-taro</Id></Othr></Id></CdtrAcct>
    </CdtTrfTxInf>"""


def sample(*transactions: str, count: int | None = None, header: str = "") -> str:
    """A CBPR+-shaped pacs.008 holding `transactions` (the two sample ones by default)."""
    transactions = transactions or (TRANSACTION_1, TRANSACTION_2)
    number = len(transactions) if count is None else count
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{NS}">
  <FIToFICstmrCdtTrf>
    <GrpHdr>
      <MsgId>MSG-2024-0001</MsgId>
      <CreDtTm>2024-05-01T12:30:00+02:00</CreDtTm>
      <NbOfTxs>{number}</NbOfTxs>
      <SttlmInf><SttlmMtd>CLRG</SttlmMtd><ClrSys><Prtry>corridor</Prtry></ClrSys></SttlmInf>
      {header}
    </GrpHdr>{"".join(transactions)}
  </FIToFICstmrCdtTrf>
</Document>"""


def refusal(text: str) -> XmlError:
    with pytest.raises(XmlError) as caught:
        parse_pacs008(text, MINOR)
    return caught.value


def only_error(text: str, index: int = 0) -> XmlError:
    """The error of transaction `index`, checking that every other transaction mapped."""
    transactions = parse_pacs008(text, MINOR).transactions
    for transaction in transactions:
        if transaction.index != index:
            assert transaction.error is None and transaction.transfer is not None
    wrong = transactions[index]
    assert wrong.transfer is None and wrong.error is not None
    return wrong.error


def test_a_cbpr_document_maps_each_transaction_to_a_credit_transfer():
    document = parse_pacs008(sample(), MINOR)
    assert (document.message_id, document.created_at) == ("MSG-2024-0001", datetime(2024, 5, 1, 10, 30, tzinfo=UTC))
    first, second = document.transactions
    assert first.path == [*TX, "0"] and second.path == [*TX, "1"]
    assert first.transfer == CreditTransfer(
        uetr=uuid.UUID(UETR_1),
        end_to_end_id="E2E-1",
        instruction_id="INSTR-1",
        amount=Decimal("1500.50"),
        currency="CNY",
        sender_bic="SABRRUMM",
        receiver_bic="BKCHCNBJXXX",
        debtor_account_id="acct-ivan",
        creditor_account_id="acct-li",
        network_code="CORRIDOR",
        remittance_information="Invoice 42",
        debtor_name="Ivan Petrov",
        creditor_name="Li Wei",
    )
    assert (first.uetr, first.end_to_end_id, first.instruction_id) == (uuid.UUID(UETR_1), "E2E-1", "INSTR-1")


def test_without_instructing_agents_the_bics_come_from_the_debtor_and_creditor_agents():
    transfer = parse_pacs008(sample(), MINOR).transactions[1].transfer
    assert (transfer.sender_bic, transfer.receiver_bic) == ("SABRRUMMXXX", "MHCBJPJT")
    assert transfer.uetr == uuid.UUID(UETR_2)  # given in upper case
    assert (transfer.amount, transfer.currency) == (Decimal("15"), "JPY")
    assert (transfer.instruction_id, transfer.remittance_information, transfer.creditor_name) == (None, None, None)


def test_the_group_headers_agents_come_before_the_debtor_and_creditor_agents():
    header = """<InstgAgt><FinInstnId><BICFI>CBRFRUMM</BICFI></FinInstnId></InstgAgt>
      <InstdAgt><FinInstnId><BICFI>PBOCCNBJ</BICFI></FinInstnId></InstdAgt>"""
    first, second = parse_pacs008(sample(header=header), MINOR).transactions
    assert (first.transfer.sender_bic, first.transfer.receiver_bic) == ("SABRRUMM", "BKCHCNBJXXX")
    assert (second.transfer.sender_bic, second.transfer.receiver_bic) == ("CBRFRUMM", "PBOCCNBJ")


def test_several_ustrd_are_joined_without_separator_and_trailing_zeros_are_no_extra_places():
    text = TRANSACTION_2.replace(">15<", ">15.00<")
    text = text.replace("</CdtrAcct>", "</CdtrAcct><RmtInf><Ustrd>Invoice </Ustrd><Ustrd>42, May</Ustrd></RmtInf>")
    transfer = parse_pacs008(sample(text), MINOR).transactions[0].transfer
    assert transfer.remittance_information == "Invoice 42, May"
    assert transfer.amount == Decimal("15") and str(transfer.amount) == "15"


def message(**changes) -> PaymentMessage:
    fields = {
        "message_id": "CORRIDOR-000123",
        "created_at": datetime(2024, 5, 1, 10, 30, 15, tzinfo=UTC),
        "settlement_date": date(2024, 5, 1),
        "uetr": uuid.UUID(UETR_1),
        "end_to_end_id": "E2E-1",
        "instruction_id": "INSTR-1",
        "network_code": "CORRIDOR",
        "settlement_method": "CLRG",
        "amount": "1500.00",
        "currency": "CNY",
        "instructed": ("19000.00", "RUB"),
        "sender_bic": "SABRRUMM",
        "receiver_bic": "BKCHCNBJXXX",
        "debtor_name": "Ivan & Sons <Moscow>",
        "debtor_account_id": "acct-ivan",
        "creditor_name": "Li Wei",
        "creditor_account_id": "acct-li",
        "remittance_information": "Invoice \"42\" & 'more'",
    }
    return PaymentMessage(**{**fields, **changes})


def expected(payment: PaymentMessage) -> CreditTransfer:
    """The CreditTransfer a rendered payment must parse back to."""
    return CreditTransfer(
        uetr=payment.uetr,
        end_to_end_id=payment.end_to_end_id,
        instruction_id=payment.instruction_id,
        amount=Decimal(payment.amount),
        currency=payment.currency,
        sender_bic=payment.sender_bic,
        receiver_bic=payment.receiver_bic,
        debtor_account_id=payment.debtor_account_id,
        creditor_account_id=payment.creditor_account_id,
        network_code=payment.network_code,
        remittance_information=payment.remittance_information,
        debtor_name=payment.debtor_name,
        creditor_name=payment.creditor_name,
    )


def test_a_rendered_pacs008_parses_back_to_the_same_fields():
    yen = message(
        uetr=uuid.UUID(UETR_2),
        end_to_end_id="E2E-2",
        instruction_id=None,
        amount="15",
        currency="JPY",
        instructed=None,
        receiver_bic="MHCBJPJT",
        remittance_information=None,
    )
    payments = [message(), yen]
    document = parse_pacs008(render_pacs008(payments), MINOR)
    assert (document.message_id, document.created_at) == ("CORRIDOR-000123", payments[0].created_at)
    assert [transaction.transfer for transaction in document.transactions] == [expected(p) for p in payments]
    assert str(document.transactions[1].transfer.amount) == "15"


def test_a_rendered_creation_time_keeps_its_microseconds_and_its_offset():
    moment = datetime(2024, 5, 1, 13, 30, 15, 250000, tzinfo=timezone(timedelta(hours=3)))
    text = render_pacs008([message(created_at=moment)])
    assert "<CreDtTm>2024-05-01T10:30:15.250000+00:00</CreDtTm>" in text
    assert parse_pacs008(text, MINOR).created_at == moment


def test_a_rendered_pacs008_is_well_formed_in_the_default_namespace_in_xsd_order():
    text = render_pacs008([message()])
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="' + NS + '">')
    assert "ns0:" not in text and "&amp; Sons &lt;Moscow&gt;" in text
    root = ET.fromstring(text)
    body = root.find(f"{{{NS}}}FIToFICstmrCdtTrf")
    group, transaction = list(body)
    assert local_names(group) == ["MsgId", "CreDtTm", "NbOfTxs", "SttlmInf"]
    assert local_names(group.find(f"{{{NS}}}SttlmInf")) == ["SttlmMtd", "ClrSys"]
    order = "PmtId IntrBkSttlmAmt IntrBkSttlmDt InstdAmt ChrgBr InstgAgt InstdAgt Dbtr DbtrAcct DbtrAgt CdtrAgt Cdtr"
    assert local_names(transaction) == [*order.split(), "CdtrAcct", "RmtInf"]
    assert local_names(transaction.find(f"{{{NS}}}PmtId")) == ["InstrId", "EndToEndId", "UETR"]
    assert transaction.find(f"{{{NS}}}InstdAmt").attrib == {"Ccy": "RUB"}
    assert transaction.find(f"{{{NS}}}IntrBkSttlmDt").text == "2024-05-01"


def local_names(element: ET.Element) -> list[str]:
    return [child.tag.split("}", 1)[1] for child in element]


def test_text_xml_cannot_carry_is_replaced_so_the_output_stays_well_formed():
    text = render_pacs008([message(debtor_name="Ivan\x00\x1b Petrov")])
    assert ET.fromstring(text) is not None
    assert parse_pacs008(text, MINOR).transactions[0].transfer.debtor_name == "Ivan\ufffd\ufffd Petrov"


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        (sample().replace("</Dbtr>", "", 1), [], "line"),
        (sample().replace(NS, "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.09"), ["Document"], NS),
        ("<Document/>", ["Document"], NS),
        (sample(count=3), [*TX[:2], "GrpHdr", "NbOfTxs"], "NbOfTxs says 3"),
        (sample().replace("<MsgId>MSG-2024-0001</MsgId>", ""), [*TX[:2], "GrpHdr", "MsgId"], "MsgId"),
        (sample().replace("2024-05-01T12:30:00+02:00", "yesterday"), [*TX[:2], "GrpHdr", "CreDtTm"], "ISO"),
        (sample().replace(">CLRG<", ">CASH<"), [*TX[:2], "GrpHdr", "SttlmInf", "SttlmMtd"], "CLRG"),
        (sample().replace("<SttlmMtd>CLRG</SttlmMtd>", ""), [*TX[:2], "GrpHdr", "SttlmInf", "SttlmMtd"], "required"),
        (sample(TRANSACTION_1, count=1).replace(TRANSACTION_1, ""), [*TX], "at least one"),
        (f'<Document xmlns="{NS}"><Other/></Document>', TX[:2], "FIToFICstmrCdtTrf"),
    ],
    ids=["unclosed", "namespace", "no-namespace", "count", "msgid", "time", "method", "no-method", "empty", "body"],
)
def test_a_document_that_cannot_be_read_as_one_message_is_refused_with_its_path(text, path, words):
    error = refusal(text)
    assert error.path == path
    assert words in error.message


def test_a_syntax_error_names_its_line_and_column():
    error = refusal("<Document>\n  <FIToFICstmrCdtTrf>\n</Document>")
    assert "line 3, column" in error.message and error.reason == "FF01"


BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE Document [
  <!ENTITY lol "lol">
  {"".join(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10 if n > 1 else "&lol;" * 10}">' for n in range(1, 10))}
]>
<Document xmlns="{NS}"><FIToFICstmrCdtTrf>&lol9;</FIToFICstmrCdtTrf></Document>"""


def test_nested_entities_are_refused_quickly_and_never_expanded():
    started = time.perf_counter()
    error = refusal(BILLION_LAUGHS)
    assert time.perf_counter() - started < 1
    assert error.path == [] and "DOCTYPE" in error.message and "lol" not in error.message


def test_an_external_entity_is_refused():
    text = f"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Document xmlns="{NS}"><FIToFICstmrCdtTrf>&secret;</FIToFICstmrCdtTrf></Document>"""
    error = refusal(text)
    assert error.path == [] and "not accepted" in error.message and "root:" not in error.message


def test_an_oversize_document_is_refused_before_it_is_parsed():
    error = refusal("<" * (XML_MAX + 1))
    assert error.path == [] and str(XML_MAX) in error.message


def test_more_transactions_than_the_limit_are_refused(monkeypatch):
    monkeypatch.setattr(pacs008, "MAX_TRANSACTIONS", 1)
    assert "at most 1" in refusal(sample()).message


def broken(old: str, new: str) -> str:
    """The sample with its second transaction changed: the first must still map."""
    assert old in TRANSACTION_2
    return sample(TRANSACTION_1, TRANSACTION_2.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "path", "reason"),
    [
        (f"<UETR>{UETR_2.upper()}</UETR>", "", [*TX2, "PmtId", "UETR"], "FF01"),
        (UETR_2.upper(), "not-a-uuid", [*TX2, "PmtId", "UETR"], "FF01"),
        (UETR_2.upper(), "e3b0c442-98fc-1c14-9afb-f4c8996fb924", [*TX2, "PmtId", "UETR"], "FF01"),
        ("<EndToEndId>E2E-2</EndToEndId>", "", [*TX2, "PmtId", "EndToEndId"], "FF01"),
        ("E2E-2", "E" * 36, [*TX2, "PmtId", "EndToEndId"], "FF01"),
        ("<EndToEndId>", "<InstrId> </InstrId><EndToEndId>", [*TX2, "PmtId", "InstrId"], "FF01"),
        ('<IntrBkSttlmAmt Ccy="JPY">15</IntrBkSttlmAmt>', "", [*TX2, "IntrBkSttlmAmt"], "AM12"),
        ('Ccy="JPY">15<', 'Ccy="JPY">-15<', [*TX2, "IntrBkSttlmAmt"], "AM12"),
        ('Ccy="JPY">15<', 'Ccy="JPY">0<', [*TX2, "IntrBkSttlmAmt"], "AM12"),
        ('Ccy="JPY">15<', 'Ccy="JPY">1.5E1<', [*TX2, "IntrBkSttlmAmt"], "AM12"),
        ('Ccy="JPY">15<', 'Ccy="JPY">1' + "0" * 18 + "<", [*TX2, "IntrBkSttlmAmt"], "AM12"),
        ('Ccy="JPY">15<', 'Ccy="JPY">15.5<', [*TX2, "IntrBkSttlmAmt"], "AM12"),
        ('Ccy="JPY">15<', 'Ccy="CNY">10.001<', [*TX2, "IntrBkSttlmAmt"], "AM12"),
        ('Ccy="JPY"', 'Ccy="XXX"', [*TX2, "IntrBkSttlmAmt", "@Ccy"], "AM11"),
        (' Ccy="JPY"', "", [*TX2, "IntrBkSttlmAmt", "@Ccy"], "AM11"),
        ("SABRRUMMXXX", "SABR-RUMM", [*TX2, "DbtrAgt", "FinInstnId", "BICFI"], "RC01"),
        ("MHCBJPJT", "mhcbjpjt", [*TX2, "CdtrAgt", "FinInstnId", "BICFI"], "RC01"),
        ("<BICFI>SABRRUMMXXX</BICFI>", "<LEI>X</LEI>", [*TX2, "InstgAgt", "FinInstnId", "BICFI"], "RC01"),
        ("<Id>acct-anna</Id>", "", [*TX2, "DbtrAcct", "Id", "Othr", "Id"], "AC01"),
        ("<Othr><Id>acct-taro</Id></Othr>", "<IBAN>DE89</IBAN>", [*TX2, "CdtrAcct", "Id", "Othr", "Id"], "AC01"),
        (
            "</CdtrAcct>",
            "</CdtrAcct><RmtInf><Ustrd>" + "x" * 141 + "</Ustrd></RmtInf>",
            [*TX2, "RmtInf", "Ustrd"],
            "FF01",
        ),
    ],
    ids=(
        "no-uetr bad-uetr uetr-not-v4 no-e2e long-e2e empty-instrid no-amount negative zero exponent 19-digits "
        "places-jpy places-cny unknown-currency no-currency bad-bic lower-bic no-bic no-debtor-account iban "
        "long-remittance"
    ).split(),
)
def test_a_problem_in_one_transaction_marks_only_that_one(old, new, path, reason):
    error = only_error(broken(old, new), index=1)
    assert error.path == path
    assert error.reason == reason
    assert error.message.endswith(".") and len(error.message) > 20


def test_a_marked_transaction_keeps_the_identifiers_that_could_be_read():
    transaction = parse_pacs008(broken('Ccy="JPY"', 'Ccy="XXX"'), MINOR).transactions[1]
    assert (transaction.uetr, transaction.end_to_end_id) == (uuid.UUID(UETR_2), "E2E-2")
    assert "XXX" in transaction.error.message and "JPY" in transaction.error.message
    bad = parse_pacs008(broken(UETR_2.upper(), "nope"), MINOR).transactions[1]
    assert bad.uetr is None and bad.end_to_end_id == "E2E-2"
    assert f"such as {pacs008.UETR_EXAMPLE}" in bad.error.message


def read_status_report(text: str) -> dict:
    """What a reader of a pacs.002 sees: the group fields and, per TxInfAndSts, its child order and values."""
    ns = {"p": pacs002.NAMESPACE}
    root = ET.fromstring(text)
    report = root.find("p:FIToFIPmtStsRpt", ns)
    transactions = []
    for info in report.findall("p:TxInfAndSts", ns):
        transactions.append(
            {
                "order": local_names(info),
                "uetr": info.findtext("p:OrgnlUETR", None, ns),
                "end_to_end_id": info.findtext("p:OrgnlEndToEndId", None, ns),
                "status": info.findtext("p:TxSts", None, ns),
                "reason": info.findtext("p:StsRsnInf/p:Rsn/p:Cd", None, ns),
                "detail": [piece.text for piece in info.findall("p:StsRsnInf/p:AddtlInf", ns)],
                "accepted": info.findtext("p:AccptncDtTm", None, ns),
                "instructing": info.findtext("p:InstgAgt/p:FinInstnId/p:BICFI", None, ns),
                "instructed": info.findtext("p:InstdAgt/p:FinInstnId/p:BICFI", None, ns),
            }
        )
    return {
        "message_id": report.findtext("p:GrpHdr/p:MsgId", None, ns),
        "original": report.findtext("p:OrgnlGrpInfAndSts/p:OrgnlMsgId", None, ns),
        "name": report.findtext("p:OrgnlGrpInfAndSts/p:OrgnlMsgNmId", None, ns),
        "transactions": transactions,
    }


def status(**changes) -> TransactionStatus:
    fields = {
        "uetr": uuid.UUID(UETR_1),
        "end_to_end_id": "E2E-1",
        "instruction_id": "INSTR-1",
        "status": "ACCC",
        "reason_code": None,
        "detail": None,
        "sender_bic": "CRDRXXXX",
        "receiver_bic": "SABRRUMM",
        "at": datetime(2024, 5, 1, 10, 31, tzinfo=UTC),
    }
    return TransactionStatus(**{**fields, **changes})


def test_a_status_report_renders_accepted_and_rejected_transactions_in_xsd_order():
    long_detail = "The amount has more decimal places than the currency has. " * 5
    rejected = status(
        uetr=uuid.UUID(UETR_2),
        end_to_end_id="E2E-2",
        instruction_id=None,
        status="RJCT",
        reason_code="AM12",
        detail=long_detail,
    )
    moment = datetime(2024, 5, 1, 10, 31, tzinfo=UTC)
    text = render_pacs002(StatusReport("CORRIDOR-STS-1", moment, "MSG-1", "pacs.008.001.08", [status(), rejected]))
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="' + pacs002.NAMESPACE + '">')
    assert "ns0:" not in text
    read = read_status_report(text)
    assert (read["message_id"], read["original"], read["name"]) == ("CORRIDOR-STS-1", "MSG-1", "pacs.008.001.08")
    accepted, refused = read["transactions"]
    assert accepted["order"] == "OrgnlInstrId OrgnlEndToEndId OrgnlUETR TxSts AccptncDtTm InstgAgt InstdAgt".split()
    assert (accepted["uetr"], accepted["status"], accepted["accepted"]) == (UETR_1, "ACCC", "2024-05-01T10:31:00+00:00")
    assert (accepted["instructing"], accepted["instructed"]) == ("SABRRUMM", "CRDRXXXX")  # back to the sender
    assert refused["order"] == ["OrgnlEndToEndId", "OrgnlUETR", "TxSts", "StsRsnInf", "InstgAgt", "InstdAgt"]
    assert (refused["uetr"], refused["status"], refused["reason"]) == (UETR_2, "RJCT", "AM12")
    first, second = refused["detail"]
    assert len(first) == 105 and len(second) == 105 and second.endswith("...")
    assert first + second[:-3] == long_detail[:207]


def test_a_short_detail_is_one_piece():
    assert pacs002.detail_pieces("x" * 105) == ["x" * 105]
    assert pacs002.detail_pieces("x" * 106) == ["x" * 105, "x"]
    assert pacs002.detail_pieces(None) == []


def test_an_unknown_status_is_a_programming_error():
    report = StatusReport("S", datetime(2024, 5, 1, tzinfo=UTC), "M", "pacs.008.001.08", [status(status="DONE")])
    with pytest.raises(ValueError, match="RCVD, ACSP, ACCC, RJCT"):
        render_pacs002(report)


def test_an_amount_or_a_count_in_other_scripts_digits_is_refused():
    arabic = "\u0661\u0665\u0660\u0660.\u0665\u0660"  # 1500.50 in Arabic-Indic digits
    arabic = sample(TRANSACTION_1.replace(" 1500.50 ", arabic), TRANSACTION_2)
    error = only_error(arabic, 0)
    assert (error.path, error.reason) == ([*TX, "0", "IntrBkSttlmAmt"], "AM12")
    error = refusal(sample().replace("<NbOfTxs>2<", "<NbOfTxs>\u0662<"))
    assert error.path == ["Document", "FIToFICstmrCdtTrf", "GrpHdr", "NbOfTxs"]


def test_a_pacs009_renders_the_banks_as_debtor_and_creditor_without_a_charge_bearer():
    from resolvers.messaging import pacs009

    message = pacs008.PaymentMessage(
        message_id="M-009",
        created_at=datetime(2024, 5, 1, 10, 30, tzinfo=UTC),
        settlement_date=datetime(2024, 5, 1).date(),
        uetr=uuid.UUID(UETR_1),
        end_to_end_id="E2E-9",
        instruction_id=None,
        network_code="CIPS",
        settlement_method="CLRG",
        amount="300.00",
        currency="CNY",
        instructed=None,
        sender_bic="SABRRUMM",
        receiver_bic="BKCHCNBJ",
        debtor_name="Sberbank",
        debtor_account_id="acct-sber",
        creditor_name="Bank of China",
        creditor_account_id="acct-boc",
        remittance_information=None,
    )
    root = ET.fromstring(pacs009.render_pacs009([message]))
    ns = {"p": pacs009.NAMESPACE}
    (transaction,) = root.findall("p:FICdtTrf/p:CdtTrfTxInf", ns)
    assert local_names(transaction) == [
        "PmtId", "IntrBkSttlmAmt", "IntrBkSttlmDt", "InstgAgt", "InstdAgt", "Dbtr", "DbtrAcct", "Cdtr", "CdtrAcct"
    ]  # fmt: skip
    assert transaction.findtext("p:Dbtr/p:FinInstnId/p:BICFI", None, ns) == "SABRRUMM"
    assert transaction.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", None, ns) == "acct-boc"
    assert root.findtext("p:FICdtTrf/p:GrpHdr/p:SttlmInf/p:ClrSys/p:Prtry", None, ns) == "CIPS"
