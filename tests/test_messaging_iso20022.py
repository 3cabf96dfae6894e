"""ISO 20022 through the endpoint (both engines): a pacs.008.001.08 submitted with
submitIso20022 becomes payments as sendPayment would make them, answered by a
pacs.002.001.10; a refused transaction is rejected alone; a document the parser
refuses changes nothing; a payment's own pacs.008 submitted again is a replay; and
InterbankPayment.iso20022 / statusReport are well-formed CBPR+-shaped documents.

The helpers here (a pacs.008 builder, a pacs.002 reader, ledger snapshots) are used by
tests/test_messaging_properties.py and tests/test_messaging_concurrency.py too."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from models.access import Role
from schema.base import global_id
from tests.ledger_world import pk
from tests.messaging_world import SUBMIT, TRACK, build, payment, send_payment

NS008 = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"
NS002 = "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"
BICS = {"sber": "SABRRUMM", "vtb": "VTBRRUMM", "boc": "BKCHCNBJ", "melli": "MELIIRTH", "citi": "CITIUS33"}
TX = ["xml", "Document", "FIToFICstmrCdtTrf", "CdtTrfTxInf"]
MESSAGES = (
    "query($uetr: UUID!) { payment(uetr: $uetr) { id status reasonCode iso20022 statusReport events { status } } }"
)
SUBMIT_SHORT = """
mutation($xml: String!) {
  submitIso20022(xml: $xml) { payments { id uetr status reasonCode } statusReport errors { code message field } }
}
"""


# ---------------------------------------------------------------- building a pacs.008


@dataclass
class Tx:
    """One CdtTrfTxInf: its parties by world name, accounts by global id."""

    sender: str
    receiver: str
    amount: str
    currency: str
    debtor: str
    creditor: str
    uetr: str = field(default_factory=lambda: str(uuid.uuid4()))
    remittance: str | None = None
    agents: str = "instructing"  # "instructing": InstgAgt/InstdAgt (and party agents); "party": DbtrAgt/CdtrAgt only
    sender_bic: str | None = None  # overrides the sender's BIC as written

    def xml(self) -> str:
        sender = self.sender_bic or BICS[self.sender]
        receiver = BICS[self.receiver]
        agents = ""
        if self.agents == "instructing":
            agents = f"<InstgAgt>{bic(sender)}</InstgAgt><InstdAgt>{bic(receiver)}</InstdAgt>"
        remittance = f"<RmtInf><Ustrd>{self.remittance}</Ustrd></RmtInf>" if self.remittance else ""
        return f"""
    <CdtTrfTxInf>
      <PmtId><InstrId>I-{self.uetr[:8]}</InstrId><EndToEndId>E-{self.uetr[:8]}</EndToEndId>
        <UETR>{self.uetr}</UETR></PmtId>
      <IntrBkSttlmAmt Ccy="{self.currency}">{self.amount}</IntrBkSttlmAmt>
      <IntrBkSttlmDt>2024-05-01</IntrBkSttlmDt>
      <ChrgBr>SHAR</ChrgBr>
      {agents}
      <Dbtr><Nm>Debtor of {self.sender}</Nm></Dbtr>
      <DbtrAcct><Id><Othr><Id>{self.debtor}</Id></Othr></Id></DbtrAcct>
      <DbtrAgt>{bic(sender)}</DbtrAgt>
      <CdtrAgt>{bic(receiver)}</CdtrAgt>
      <Cdtr><Nm>Creditor at {self.receiver}</Nm></Cdtr>
      <CdtrAcct><Id><Othr><Id>{self.creditor}</Id></Othr></Id></CdtrAcct>
      {remittance}
    </CdtTrfTxInf>"""


def bic(code: str) -> str:
    return f"<FinInstnId><BICFI>{code}</BICFI></FinInstnId>"


def credit_transfer(ids: dict, sender: str, receiver: str, amount: str, currency: str, **extra) -> Tx:
    """A transaction from `sender`'s customer account in `currency` (or `debtor`) to `receiver`'s (or `creditor`)."""
    debtor = extra.pop("debtor", None) or ids[f"{sender}_{currency.lower()}"]
    creditor = extra.pop("creditor", None) or ids[f"{receiver}_{currency.lower()}"]
    return Tx(sender, receiver, amount, currency, debtor, creditor, **extra)


def pacs008(*transactions: Tx | str, network: str | None = None, count: int | None = None) -> str:
    """A CBPR+-shaped pacs.008.001.08; SttlmInf/ClrSys/Prtry names `network` (absent: the service routes)."""
    body = "".join(t if isinstance(t, str) else t.xml() for t in transactions)
    clearing = f"<ClrSys><Prtry>{network}</Prtry></ClrSys>" if network else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{NS008}">
  <FIToFICstmrCdtTrf>
    <GrpHdr>
      <MsgId>MSG-{uuid.uuid4().hex[:20]}</MsgId>
      <CreDtTm>2024-05-01T12:30:00+02:00</CreDtTm>
      <NbOfTxs>{len(transactions) if count is None else count}</NbOfTxs>
      <SttlmInf><SttlmMtd>CLRG</SttlmMtd>{clearing}</SttlmInf>
    </GrpHdr>{body}
  </FIToFICstmrCdtTrf>
</Document>"""


# ---------------------------------------------------------------- reading a pacs.002


def read_report(report: str) -> list[dict]:
    """Each TxInfAndSts of a pacs.002.001.10, in order (the root checked: Document in its namespace)."""
    ns = {"p": NS002}
    root = ET.fromstring(report)
    assert root.tag == f"{{{NS002}}}Document", root.tag
    body = root.find("p:FIToFIPmtStsRpt", ns)
    assert body is not None
    assert body.findtext("p:OrgnlGrpInfAndSts/p:OrgnlMsgNmId", None, ns) == "pacs.008.001.08"
    return [
        {
            "uetr": info.findtext("p:OrgnlUETR", None, ns),
            "status": info.findtext("p:TxSts", None, ns),
            "reason": info.findtext("p:StsRsnInf/p:Rsn/p:Cd", None, ns),
            "accepted": info.findtext("p:AccptncDtTm", None, ns),
            "instructing": info.findtext("p:InstgAgt/p:FinInstnId/p:BICFI", None, ns),
            "instructed": info.findtext("p:InstdAgt/p:FinInstnId/p:BICFI", None, ns),
            "original_message": body.findtext("p:OrgnlGrpInfAndSts/p:OrgnlMsgId", None, ns),
            "created": body.findtext("p:GrpHdr/p:CreDtTm", None, ns),
        }
        for info in body.findall("p:TxInfAndSts", ns)
    ]


def outcome(report: str) -> list[tuple[str | None, str, str | None]]:
    """(UETR, TxSts, reason code) per transaction of a pacs.002."""
    return [(t["uetr"], t["status"], t["reason"]) for t in read_report(report)]


async def submit(api, document: str, key: str | None = None, query: str = SUBMIT) -> dict:
    return (await api(query, {"xml": document}, key=key))["submitIso20022"]


# ---------------------------------------------------------------- the ledger, read back


async def balances(api) -> dict[int, tuple[str, str, int, int]]:
    """account id -> (currency, kind, balance, debits pending), minor units."""
    async with api.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT id, currency_code, kind, credits_posted - debits_posted, debits_pending FROM account")
        )
        return {row[0]: (row[1], str(row[2]), int(row[3]), int(row[4])) for row in rows}


def moved(before: dict, after: dict) -> dict[int, int]:
    """Per account whose balance changed: the change."""
    changes = {key: after[key][2] - before.get(key, (None, None, 0, 0))[2] for key in after}
    return {key: change for key, change in changes.items() if change}


def check_ledger(ledger: dict) -> None:
    """Every currency sums to zero; no account but an ISSUANCE one below zero."""
    sums: dict[str, int] = {}
    for currency, _, balance, _ in ledger.values():
        sums[currency] = sums.get(currency, 0) + balance
    assert all(total == 0 for total in sums.values()), sums
    short = {key: row for key, row in ledger.items() if row[1] != "ISSUANCE" and row[2] - row[3] < 0}
    assert not short, short


async def count(api, table: str) -> int:
    async with api.engine.connect() as connection:
        return await connection.scalar(text(f"SELECT count(*) FROM {table}"))


async def counts(api) -> tuple[int, int, int]:
    return (await count(api, "interbank_payment"), await count(api, "payment_event"), await count(api, "transfer"))


def expected_moves(ids: dict, *legs: tuple[str, str, str]) -> dict[int, int]:
    """The balance changes of (debit, credit, amount) legs named by world id."""
    changes: dict[int, int] = {}
    for debit, credit, amount in legs:
        minor = int(Decimal(amount) * 100)
        changes[pk(ids[debit])] = changes.get(pk(ids[debit]), 0) - minor
        changes[pk(ids[credit])] = changes.get(pk(ids[credit]), 0) + minor
    return {key: change for key, change in changes.items() if change}


# ---------------------------------------------------------------- a document of several transactions


@pytest.mark.parametrize("agents", ["instructing", "party"])
async def test_a_routed_document_settles_each_transaction_in_order_as_send_payment_would(api, agents):
    ids = await build(api)
    before = await balances(api)
    transactions = [
        credit_transfer(ids, "sber", "vtb", "100.00", "RUB", remittance="Invoice 1", agents=agents),  # SPFS, net
        credit_transfer(ids, "boc", "citi", "25.50", "USD", agents=agents),  # SWIFT, RTGS
        credit_transfer(ids, "vtb", "boc", "12.34", "CNY", remittance="Invoice 3", agents=agents),  # CIPS, RTGS
    ]
    answer = await submit(api, pacs008(*transactions))
    assert answer["errors"] == [], answer
    payments = answer["payments"]
    assert [p["uetr"] for p in payments] == [t.uetr for t in transactions]
    assert [p["network"]["code"] for p in payments] == ["SPFS", "SWIFT", "CIPS"]
    assert [(p["status"], p["isoStatus"], p["reasonCode"]) for p in payments] == [("SETTLED", "ACCC", None)] * 3
    assert [p["amount"] for p in payments] == [{"amount": t.amount, "currency": t.currency} for t in transactions]
    assert [p["remittanceInformation"] for p in payments] == ["Invoice 1", None, "Invoice 3"]
    assert [(p["sender"]["bic"], p["receiver"]["bic"]) for p in payments] == [
        (BICS[t.sender], BICS[t.receiver]) for t in transactions
    ]
    assert [(p["debtorAccount"]["id"], p["creditorAccount"]["id"]) for p in payments] == [
        (t.debtor, t.creditor) for t in transactions
    ]
    assert [[e["isoStatus"] for e in p["events"]] for p in payments] == [["RCVD", "ACSP", "ACCC"]] * 3
    assert [len(p["transfers"]) for p in payments] == [1, 2, 2]
    assert outcome(answer["statusReport"]) == [(t.uetr, "ACCC", None) for t in transactions]
    report = read_report(answer["statusReport"])
    # Each status goes back from the receiver (instructing the report) to the sender.
    assert [(r["instructing"], r["instructed"]) for r in report] == [
        (BICS[t.receiver], BICS[t.sender]) for t in transactions
    ]
    assert all(r["accepted"] and datetime.fromisoformat(r["accepted"]).tzinfo for r in report)

    after = await balances(api)
    check_ledger(after)
    assert moved(before, after) == expected_moves(
        ids,
        ("sber_rub", "vtb_rub", "100.00"),
        ("boc_usd", "citi_usd", "25.50"),
        ("boc_usd_settlement", "citi_usd_settlement", "25.50"),
        ("vtb_cny", "boc_cny", "12.34"),
        ("vtb_cny_settlement", "boc_cny_settlement", "12.34"),
    )
    for sent, item in zip(payments, transactions, strict=True):  # what was answered is what is stored
        stored = (await api(TRACK, {"uetr": item.uetr}))["payment"]
        assert stored == sent


async def test_a_document_naming_its_network_and_send_payment_move_balances_alike(api):
    ids = await build(api)
    before = await balances(api)
    answer = await submit(api, pacs008(credit_transfer(ids, "sber", "vtb", "40.00", "RUB"), network="CIPS"))
    assert answer["errors"] == [] and answer["payments"][0]["network"]["code"] == "CIPS", answer
    by_document = moved(before, await balances(api))
    middle = await balances(api)
    sent = await send_payment(api, payment(ids, "sber", "vtb", "40.00", "RUB", networkCode="CIPS"))
    assert sent["errors"] == [] and sent["payment"]["status"] == "SETTLED", sent
    assert moved(middle, await balances(api)) == by_document
    assert by_document == expected_moves(
        ids, ("sber_rub", "vtb_rub", "40.00"), ("sber_rub_settlement", "vtb_rub_settlement", "40.00")
    )
    keep = ("network", "amount", "status", "isoStatus", "sender", "receiver", "debtorAccount", "creditorAccount")
    assert {k: answer["payments"][0][k] for k in keep} == {k: sent["payment"][k] for k in keep}


async def test_a_cross_currency_transaction_converts_through_the_fx_provider(api):
    ids = await build(api)
    item = credit_transfer(ids, "sber", "boc", "10.00", "CNY", debtor=ids["sber_rub"])
    answer = await submit(api, pacs008(item))
    assert answer["errors"] == [], answer
    (paid,) = answer["payments"]
    assert (paid["status"], paid["network"]["code"], paid["debitAmount"]["currency"]) == ("SETTLED", "CIPS", "RUB")
    # 10.00 CNY at 0.08 CNY a rouble less the provider's 25 bps, rounded up: 125.32 RUB.
    assert paid["debitAmount"]["amount"] == "125.32" and len(paid["transfers"]) == 3
    assert outcome(answer["statusReport"]) == [(item.uetr, "ACCC", None)]


async def test_a_transaction_rejected_on_its_network_is_a_rejected_payment_and_rjct_rr04(api):
    ids = await build(api)
    before, stored_before = await balances(api), await counts(api)
    good = credit_transfer(ids, "boc", "citi", "5.00", "USD")
    sber = credit_transfer(ids, "sber", "boc", "5.00", "USD")  # Sberbank is SUSPENDED on SWIFT
    answer = await submit(api, pacs008(sber, good, network="SWIFT"))
    assert answer["errors"] == [], answer
    rejected, settled = answer["payments"]
    assert (rejected["status"], rejected["isoStatus"], rejected["reasonCode"]) == ("REJECTED", "RJCT", "RR04")
    assert rejected["transfers"] == [] and [e["isoStatus"] for e in rejected["events"]] == ["RCVD", "RJCT"]
    assert settled["status"] == "SETTLED"
    assert outcome(answer["statusReport"]) == [(sber.uetr, "RJCT", "RR04"), (good.uetr, "ACCC", None)]
    assert moved(before, await balances(api)) == expected_moves(
        ids, ("boc_usd", "citi_usd", "5.00"), ("boc_usd_settlement", "citi_usd_settlement", "5.00")
    )
    assert (await counts(api))[0] == stored_before[0] + 2  # a rejected payment is stored


async def test_a_transaction_short_of_funds_is_rejected_am04_and_the_others_settle(api):
    ids = await build(api)
    big = credit_transfer(ids, "sber", "vtb", "1000.01", "RUB")
    small = credit_transfer(ids, "sber", "vtb", "999.00", "RUB")
    answer = await submit(api, pacs008(big, small))
    assert outcome(answer["statusReport"]) == [(big.uetr, "RJCT", "AM04"), (small.uetr, "ACCC", None)]
    assert [p["status"] for p in answer["payments"]] == ["REJECTED", "SETTLED"]


# ---------------------------------------------------------------- one bad transaction among good ones


def bad_transactions(ids: dict) -> dict[str, tuple[Tx, list[str], str, str]]:
    """name -> (transaction, its error's path under its CdtTrfTxInf, error code, reason code)."""
    debtor = ["DbtrAcct", "Id", "Othr", "Id"]
    return {
        "not-an-account-id": (tx(ids, debtor="acct-ivan"), debtor, "INVALID_INPUT", "AC01"),
        "no-such-account": (tx(ids, debtor=global_id("Account", 999999)), debtor, "NOT_FOUND", "AC01"),
        "unknown-bic": (tx(ids, sender_bic="ZZZZRUMM"), ["InstgAgt", "FinInstnId", "BICFI"], "NOT_FOUND", "RC01"),
        "bad-uetr": (tx(ids, uetr=str(uuid.uuid4())[:-1] + "x"), ["PmtId", "UETR"], "INVALID_INPUT", "FF01"),
        "same-account": (tx(ids, creditor=ids["sber_rub"]), ["CdtrAcct", "Id", "Othr", "Id"], "SAME_ACCOUNT", "AC01"),
    }


def tx(ids: dict, **extra) -> Tx:
    return credit_transfer(ids, "sber", "vtb", "1.00", "RUB", **extra)


@pytest.mark.parametrize("name", ["not-an-account-id", "no-such-account", "unknown-bic", "bad-uetr", "same-account"])
async def test_one_bad_transaction_is_rejected_alone_and_the_others_settle(api, name):
    ids = await build(api)
    bad, where, code, reason = bad_transactions(ids)[name]
    first = credit_transfer(ids, "sber", "vtb", "10.00", "RUB")
    last = credit_transfer(ids, "vtb", "sber", "3.00", "RUB")
    before, stored = await balances(api), await counts(api)
    answer = await submit(api, pacs008(first, bad, last))
    first_paid, missing, last_paid = answer["payments"]
    assert missing is None, (name, answer)
    assert (first_paid["status"], last_paid["status"]) == ("SETTLED", "SETTLED"), answer
    assert [(e["code"], e["field"]) for e in answer["errors"]] == [(code, [*TX, "1", *where])], answer
    statuses = outcome(answer["statusReport"])
    assert statuses[0] == (first.uetr, "ACCC", None) and statuses[2] == (last.uetr, "ACCC", None)
    assert statuses[1][1:] == ("RJCT", reason), statuses
    assert moved(before, await balances(api)) == expected_moves(
        ids, ("sber_rub", "vtb_rub", "10.00"), ("vtb_rub", "sber_rub", "3.00")
    )
    assert (await count(api, "interbank_payment")) == stored[0] + 2


# ---------------------------------------------------------------- documents that change nothing

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{n} "{(f"&lol{n - 1};" if n > 1 else "&lol;") * 10}">' for n in range(1, 10))
    + f']>\n<Document xmlns="{NS008}"><FIToFICstmrCdtTrf>&lol9;</FIToFICstmrCdtTrf></Document>'
)
EXTERNAL = (
    '<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
    f'<Document xmlns="{NS008}"><FIToFICstmrCdtTrf>&secret;</FIToFICstmrCdtTrf></Document>'
)


def whole_document_faults(ids: dict) -> dict[str, tuple[str, list[str]]]:
    """name -> (document, the error's field): faults that refuse the document itself."""
    good = pacs008(credit_transfer(ids, "sber", "vtb", "10.00", "RUB"))
    header = ["xml", "Document", "FIToFICstmrCdtTrf", "GrpHdr"]
    return {
        "unclosed": (good.replace("</CdtrAcct>", "", 1), ["xml"]),
        "namespace": (good.replace(NS008, NS008.replace(".08", ".09")), ["xml", "Document"]),
        "billion-laughs": (BILLION_LAUGHS, ["xml"]),
        "external-entity": (EXTERNAL, ["xml"]),
        "count": (pacs008(credit_transfer(ids, "sber", "vtb", "10.00", "RUB"), count=2), [*header, "NbOfTxs"]),
    }


@pytest.mark.parametrize("fault", ["unclosed", "namespace", "billion-laughs", "external-entity", "count"])
async def test_a_document_the_parser_refuses_is_invalid_input_and_changes_nothing(api, fault):
    ids = await build(api)
    document, where = whole_document_faults(ids)[fault]
    before, stored = await balances(api), await counts(api)
    answer = await submit(api, document)
    assert (answer["payments"], answer["statusReport"]) == ([], None), answer
    assert [(e["code"], e["field"]) for e in answer["errors"]] == [("INVALID_INPUT", where)], answer
    assert "root:" not in answer["errors"][0]["message"]  # /etc/passwd was never read
    assert (await balances(api), await counts(api)) == (before, stored)


def transaction_faults(ids: dict) -> dict[str, tuple[str, list[str], str]]:
    """name -> (the transaction's XML, its error's path under CdtTrfTxInf/0, reason code)."""
    good = credit_transfer(ids, "sber", "vtb", "10.00", "RUB").xml()
    uetr = re.search(r"<UETR>(.*)</UETR>", good).group(1)
    cny = credit_transfer(ids, "sber", "vtb", "10.00", "CNY").xml()
    return {
        "missing-uetr": (good.replace(f"<UETR>{uetr}</UETR>", ""), ["PmtId", "UETR"], "FF01"),
        "bad-bic": (good.replace("SABRRUMM", "SABR-RUM"), ["InstgAgt", "FinInstnId", "BICFI"], "RC01"),
        "decimals": (cny.replace(">10.00<", ">10.001<"), ["IntrBkSttlmAmt"], "AM12"),
        "unknown-currency": (good.replace('Ccy="RUB"', 'Ccy="XYZ"'), ["IntrBkSttlmAmt", "@Ccy"], "AM11"),
    }


@pytest.mark.parametrize("fault", ["missing-uetr", "bad-bic", "decimals", "unknown-currency"])
async def test_a_transaction_the_parser_refuses_is_rejected_and_changes_nothing(api, fault):
    ids = await build(api)
    transaction, where, reason = transaction_faults(ids)[fault]
    before, stored = await balances(api), await counts(api)
    answer = await submit(api, pacs008(transaction))
    assert answer["payments"] == [None], answer
    assert [(e["code"], e["field"]) for e in answer["errors"]] == [("INVALID_INPUT", [*TX, "0", *where])], answer
    ((_, status, code),) = outcome(answer["statusReport"])
    assert (status, code) == ("RJCT", reason)
    assert (await balances(api), await counts(api)) == (before, stored)


# ---------------------------------------------------------------- a payment's own messages


async def messages(api, uetr: str) -> dict:
    return (await api(MESSAGES, {"uetr": uetr}))["payment"]


def read_pacs008(document: str) -> dict:
    ns = {"p": NS008}
    root = ET.fromstring(document)
    assert root.tag == f"{{{NS008}}}Document"
    body = root.find("p:FIToFICstmrCdtTrf", ns)
    (transaction,) = body.findall("p:CdtTrfTxInf", ns)
    amount = transaction.find("p:IntrBkSttlmAmt", ns)
    return {
        "created": body.findtext("p:GrpHdr/p:CreDtTm", None, ns),
        "count": body.findtext("p:GrpHdr/p:NbOfTxs", None, ns),
        "network": body.findtext("p:GrpHdr/p:SttlmInf/p:ClrSys/p:Prtry", None, ns),
        "uetr": transaction.findtext("p:PmtId/p:UETR", None, ns),
        "amount": (amount.text, amount.get("Ccy")),
        "date": transaction.findtext("p:IntrBkSttlmDt", None, ns),
        "agents": tuple(
            transaction.findtext(f"p:{a}/p:FinInstnId/p:BICFI", None, ns) for a in ("InstgAgt", "InstdAgt")
        ),
        "accounts": tuple(transaction.findtext(f"p:{a}/p:Id/p:Othr/p:Id", None, ns) for a in ("DbtrAcct", "CdtrAcct")),
        "remittance": transaction.findtext("p:RmtInf/p:Ustrd", None, ns),
    }


@pytest.mark.parametrize(
    ("sender", "receiver", "currency", "network", "debtor"),
    [
        ("boc", "citi", "USD", "SWIFT", "USD"),
        ("sber", "vtb", "RUB", None, "RUB"),
        ("sber", "boc", "CNY", "CIPS", "CNY"),
        ("sber", "boc", "CNY", None, "RUB"),
    ],
    ids=["swift-named", "spfs-routed", "cips-named", "cips-fx"],
)
async def test_a_payments_own_pacs008_submitted_again_is_a_replay(api, sender, receiver, currency, network, debtor):
    ids = await build(api)
    extra = {"networkCode": network} if network else {}
    debtor_id = ids[f"{sender}_{debtor.lower()}"]
    item = payment(ids, sender, receiver, "10", currency, remittanceInformation="Inv 9", debtor=debtor_id, **extra)
    sent = await send_payment(api, item)
    assert sent["errors"] == [] and sent["payment"]["status"] == "SETTLED", sent
    uetr = sent["payment"]["uetr"]
    own = await messages(api, uetr)
    read = read_pacs008(own["iso20022"])
    assert read["amount"] == ("10.00", currency) and read["uetr"] == uetr and read["count"] == "1"
    assert read["network"] == sent["payment"]["network"]["code"]
    assert read["agents"] == (BICS[sender], BICS[receiver])
    assert read["accounts"] == (debtor_id, ids[f"{receiver}_{currency.lower()}"])
    assert read["remittance"] == "Inv 9"
    assert date.fromisoformat(read["date"]) and datetime.fromisoformat(read["created"]).tzinfo is not None

    before, stored = await balances(api), await counts(api)
    answer = await submit(api, own["iso20022"])
    assert answer["errors"] == [], answer
    (replayed,) = answer["payments"]
    assert (replayed["id"], replayed["status"], replayed["events"]) == (
        sent["payment"]["id"],
        "SETTLED",
        sent["payment"]["events"],
    )
    assert outcome(answer["statusReport"]) == [(uetr, "ACCC", None)]
    assert (await balances(api), await counts(api)) == (before, stored)
    assert (await messages(api, uetr))["events"] == own["events"]


async def test_a_payments_status_report_says_accc_or_rjct_with_its_reason(api):
    ids = await build(api)
    settled = (await send_payment(api, payment(ids, "boc", "citi", "10.00", "USD", networkCode="SWIFT")))["payment"]
    rejected = (await send_payment(api, payment(ids, "sber", "boc", "10.00", "USD", networkCode="SWIFT")))["payment"]
    assert (settled["status"], rejected["status"], rejected["reasonCode"]) == ("SETTLED", "REJECTED", "RR04")
    for row, status, reason, bics in (
        (settled, "ACCC", None, ("CITIUS33", "BKCHCNBJ")),  # the report: from the receiver to the sender
        (rejected, "RJCT", "RR04", ("BKCHCNBJ", "SABRRUMM")),
    ):
        found = await messages(api, row["uetr"])
        assert found["statusReport"].startswith('<?xml version="1.0" encoding="UTF-8"?>')
        (line,) = read_report(found["statusReport"])
        assert (line["uetr"], line["status"], line["reason"]) == (row["uetr"], status, reason)
        assert (line["instructing"], line["instructed"]) == bics
        assert line["original_message"] == uuid.UUID(row["uetr"]).hex
        assert datetime.fromisoformat(line["created"]).tzinfo is not None
        assert (line["accepted"] is None) == (status == "RJCT")
        assert read_pacs008(found["iso20022"])["amount"] == ("10.00", "USD")
    # The rejected payment's own pacs.008 again: the same rejected payment, RJCT RR04 again, nothing moved.
    before, stored = await balances(api), await counts(api)
    answer = await submit(api, (await messages(api, rejected["uetr"]))["iso20022"])
    assert [(p["id"], p["status"]) for p in answer["payments"]] == [(rejected["id"], "REJECTED")], answer
    assert outcome(answer["statusReport"]) == [(rejected["uetr"], "RJCT", "RR04")]
    assert (await balances(api), await counts(api)) == (before, stored)


# ---------------------------------------------------------------- who may submit


async def test_a_participant_submits_for_its_own_bic_only(api):
    ids = await build(api)
    key = await api.new_key(Role.PARTICIPANT, pk(ids["boc"]))
    own = credit_transfer(ids, "boc", "citi", "7.00", "USD")
    other = credit_transfer(ids, "citi", "boc", "7.00", "USD")  # as Citibank: not Bank of China's to send
    own_cny = credit_transfer(ids, "boc", "vtb", "3.00", "CNY")
    before = await balances(api)
    answer = await submit(api, pacs008(own, other, own_cny), key=key, query=SUBMIT_SHORT)
    statuses = [p and p["status"] for p in answer["payments"]]
    assert statuses == ["SETTLED", None, "SETTLED"], answer
    assert [(e["code"], e["field"]) for e in answer["errors"]] == [
        ("FORBIDDEN", [*TX, "1", "InstgAgt", "FinInstnId", "BICFI"])
    ], answer
    lines = outcome(answer["statusReport"])
    assert [line[1] for line in lines] == ["ACCC", "RJCT", "ACCC"] and lines[1][0] == other.uetr
    assert lines[1][2] == "AG01"  # transaction forbidden
    assert (await api(TRACK, {"uetr": other.uetr}))["payment"] is None
    assert moved(before, await balances(api)) == expected_moves(
        ids,
        ("boc_usd", "citi_usd", "7.00"),
        ("boc_usd_settlement", "citi_usd_settlement", "7.00"),
        ("boc_cny", "vtb_cny", "3.00"),
        ("boc_cny_settlement", "vtb_cny_settlement", "3.00"),
    )


async def test_an_analyst_may_not_submit(api):
    ids = await build(api)
    key = await api.new_key(Role.ANALYST)
    before, stored = await balances(api), await counts(api)
    answer = await submit(api, pacs008(credit_transfer(ids, "boc", "citi", "7.00", "USD")), key=key)
    assert [e["code"] for e in answer["errors"]] == ["FORBIDDEN"], answer
    assert (answer["payments"], answer["statusReport"]) == ([], None)
    assert (await balances(api), await counts(api)) == (before, stored)


# ---------------------------------------------------------------- edges: twins, agents, networks, remittances


async def test_the_same_uetr_twice_in_one_document_is_one_payment_and_other_content_is_dupl(api):
    ids = await build(api)
    before = await balances(api)
    twin = credit_transfer(ids, "sber", "vtb", "20.00", "RUB")
    other = credit_transfer(ids, "sber", "vtb", "21.00", "RUB", uetr=twin.uetr)
    answer = await submit(api, pacs008(twin, twin, other), query=SUBMIT_SHORT)
    first, again, refused = answer["payments"]
    assert first["status"] == "SETTLED" and again == first and refused is None, answer
    assert [(e["code"], e["field"]) for e in answer["errors"]] == [
        ("IDEMPOTENCY_CONFLICT", [*TX, "2", "PmtId", "UETR"])
    ]
    assert outcome(answer["statusReport"]) == [(twin.uetr, "ACCC", None)] * 2 + [(twin.uetr, "RJCT", "DUPL")]
    assert moved(before, await balances(api)) == expected_moves(ids, ("sber_rub", "vtb_rub", "20.00"))
    assert await count(api, "interbank_payment") == 1


async def test_a_bic_given_only_as_debtor_agent_is_named_by_its_own_element_when_wrong(api):
    ids = await build(api)
    unknown = credit_transfer(ids, "sber", "vtb", "1.00", "RUB", agents="party", sender_bic="ZZZZRUMM")
    answer = await submit(api, pacs008(unknown))
    assert answer["payments"] == [None]
    assert outcome(answer["statusReport"]) == [(unknown.uetr, "RJCT", "RC01")]
    # The document has no InstgAgt: the element at fault is DbtrAgt's BICFI.
    assert [(e["code"], e["field"]) for e in answer["errors"]] == [
        ("NOT_FOUND", [*TX, "0", "DbtrAgt", "FinInstnId", "BICFI"])
    ], answer


async def test_an_unknown_network_refuses_every_transaction_without_blaming_an_account(api):
    ids = await build(api)
    before, stored = await balances(api), await counts(api)
    items = [credit_transfer(ids, "sber", "vtb", "1.00", "RUB"), credit_transfer(ids, "vtb", "sber", "1.00", "RUB")]
    answer = await submit(api, pacs008(*items, network="NOSUCHNET"))
    assert answer["payments"] == [None, None]
    header = ["xml", "Document", "FIToFICstmrCdtTrf", "GrpHdr", "SttlmInf", "ClrSys", "Prtry"]
    assert [(e["code"], e["field"]) for e in answer["errors"]] == [("NOT_FOUND", header)] * 2
    lines = outcome(answer["statusReport"])
    assert [(uetr, status) for uetr, status, _ in lines] == [(t.uetr, "RJCT") for t in items]
    # AC01 is "incorrect account number": the accounts are right, the clearing system is unknown.
    assert all(reason is not None and reason != "AC01" for _, _, reason in lines), lines
    assert (await balances(api), await counts(api)) == (before, stored)


@pytest.mark.parametrize(
    "remittance",
    ['Invoice "42" & <May>', "tab\there", "line 1\r\nline 2", "bell\x07"],
    ids=["escaped", "tab", "crlf", "control"],
)
async def test_a_payments_pacs008_carries_its_remittance_so_resubmitting_it_is_a_replay(api, remittance):
    ids = await build(api)
    sent = await send_payment(api, payment(ids, "sber", "vtb", "1.00", "RUB", remittanceInformation=remittance))
    if sent["errors"]:  # refusing text a pacs.008 cannot carry is a correct answer too
        assert [e["field"] for e in sent["errors"]] == [["input", "remittanceInformation"]], sent
        return
    stored = sent["payment"]
    answer = await submit(api, (await messages(api, stored["uetr"]))["iso20022"], query=SUBMIT_SHORT)
    assert answer["errors"] == [], (stored["remittanceInformation"], answer)
    assert [p["id"] for p in answer["payments"]] == [stored["id"]]
