"""Interbank payments under concurrent clients, on PostgreSQL only (real concurrent
transactions over the connection pool; on SQLite they would only serialize on the write
lock): 16 clients sending payments with sendPayment and pacs.008 documents, every UETR
sent twice at once (concurrent twins, also across documents), racing one debtor account
(or, on RTGS, one sender's SETTLEMENT account) with more in total than it holds.

Afterwards: nothing overdrawn, each UETR exactly one payment answered alike to every
twin, each settled payment's legs posted once, the raced account's balance is its start
less exactly the settled payments, the ledger sums to zero, and no rejection was
spurious (each rejected amount exceeds what was left at the end)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from schema.base import global_id
from tests.ledger_world import pk, send, transfer
from tests.messaging_world import SEND, SUBMIT, build, payment
from tests.test_messaging_iso20022 import BICS, Tx, balances, check_ledger, credit_transfer, outcome, pacs008
from tests.test_messaging_properties import stored_rows

# PostgreSQL only: the conftest's database_url fixture with its "postgres" parameter alone
# (it fails rather than skips when PostgreSQL is unreachable under CI=true).
pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgres"], indirect=True)]

CLIENTS = 16


@dataclass(frozen=True)
class Race:
    """Who pays whom, in what, on which network, and which account runs short."""

    sender: str
    receivers: tuple[str, ...]
    currency: str
    raced: str  # the world name of the account with too little for all of them
    funds: int  # the raced account's balance at the start, minor units
    amounts: tuple[int, ...]  # one per payment, minor units; together more than `funds`
    legs: dict[str, int]  # receiver -> legs of a settled payment


RACES = {
    # Sberbank's RUB customer account (1,000.00): to VTB on SPFS (net: 1 leg), to Bank of
    # China on CIPS (RTGS: the customer leg and the interbank leg).
    "debtor": Race(
        "sber",
        ("vtb", "boc"),
        "RUB",
        "sber_rub",
        1000_00,
        tuple(5000 + 250 * k for k in range(24)),  # 50.00 .. 107.50: 1,890.00 in all
        {"vtb": 1, "boc": 2},
    ),
    # Bank of China's USD SETTLEMENT account (10,000.00) behind a well-funded customer
    # account: on SWIFT (RTGS) the interbank leg is what runs short.
    "settlement": Race(
        "boc",
        ("citi",),
        "USD",
        "boc_usd_settlement",
        10000_00,
        tuple(60000 + 1000 * k for k in range(24)),  # 600.00 .. 830.00: 17,160.00 in all
        {"citi": 2},
    ),
}


def text_of(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


async def issuance(api, currency: str) -> str:
    async with api.engine.connect() as connection:
        key = await connection.scalar(
            text("SELECT id FROM account WHERE kind = 'ISSUANCE' AND currency_code = :c"), {"c": currency}
        )
    return global_id("Account", key)


async def stored(api) -> dict[str, dict]:
    """UETR -> its payments in the database: how many, the status, transfer links, transfers, events."""
    async with api.engine.connect() as connection:
        statuses = (await connection.execute(text("SELECT uetr, status FROM interbank_payment"))).all()
    status = {str(uuid.UUID(str(uetr))): str(value).rsplit(".", 1)[-1] for uetr, value in statuses}
    names = ("count", "links", "transfers", "events")
    return {
        uetr: {**dict(zip(names, row, strict=True)), "status": status[uetr]}
        for uetr, row in (await stored_rows(api)).items()
    }


async def gather_clients(calls: list[list]) -> list[list[dict]]:
    """Run CLIENTS clients at once, each sending its own calls one after the other."""

    async def client(mine: list) -> list[dict]:
        return [await call() for call in mine]

    return await asyncio.gather(*(client(mine) for mine in calls))


def sender_of(api, items: list[dict], iso: bool):
    """A call sending `items` (sendPayment inputs): with sendPayment (one), or as one pacs.008."""

    async def call() -> dict:
        if not iso:
            (item,) = items
            body = await api.raw(SEND, {"input": item})
            assert "errors" not in body, body
            payload = body["data"]["sendPayment"]
            assert payload["errors"] == [], payload
            return {item["uetr"]: payload["payment"]}
        body = await api.raw(SUBMIT, {"xml": pacs008(*(as_transaction(item) for item in items))})
        assert "errors" not in body, body
        payload = body["data"]["submitIso20022"]
        assert payload["errors"] == [], payload
        report = outcome(payload["statusReport"])
        assert report == [(a["uetr"], a["isoStatus"], a["reasonCode"]) for a in payload["payments"]], payload
        return {answer["uetr"]: answer for answer in payload["payments"]}

    return call


def as_transaction(item: dict) -> Tx:
    bank = {bic: name for name, bic in BICS.items()}
    return Tx(
        bank[item["senderBic"]],
        bank[item["receiverBic"]],
        item["amount"],
        item["currency"],
        item["debtorAccountId"],
        item["creditorAccountId"],
        item["uetr"],
        item.get("remittanceInformation"),
    )


def twin_calls(api, items: list[dict]) -> list[list]:
    """Every item sent twice, by two different clients: one in three with sendPayment, the
    others in pacs.008 documents of two, each twin in a document with another companion."""
    calls: list[list] = [[] for _ in range(CLIENTS)]
    plain = items[::3]
    for k, item in enumerate(plain):
        calls[k % CLIENTS].append(sender_of(api, [item], iso=False))
        calls[(k + 5) % CLIENTS].append(sender_of(api, [item], iso=False))
    documents = [item for k, item in enumerate(items) if k % 3]
    for k in range(0, len(documents), 2):
        calls[(k + 1) % CLIENTS].append(sender_of(api, documents[k : k + 2], iso=True))
        shifted = [documents[k + 1], documents[(k + 2) % len(documents)]]
        calls[(k + 10) % CLIENTS].append(sender_of(api, shifted, iso=True))
    for mine in calls[::2]:  # the clients do not all start with the same kind of request
        mine.reverse()
    return calls


@pytest.mark.parametrize("race", sorted(RACES))
async def test_concurrent_twins_racing_one_account_settle_once_and_never_overdraw(api, race):
    ids = await build(api)
    where = RACES[race]
    if race == "settlement":  # fund the customer account so that the SETTLEMENT account runs short first
        funding = transfer(await issuance(api, "USD"), ids["boc_usd"], "50000.00", "USD")
        assert (await send(api, funding))[0]["errors"] == []
    start = await balances(api)
    raced = pk(ids[where.raced])
    assert start[raced][2] == where.funds and sum(where.amounts) > where.funds

    items, meta = [], {}
    for k, amount in enumerate(where.amounts):
        receiver = where.receivers[k % len(where.receivers)]
        item = payment(ids, where.sender, receiver, text_of(amount), where.currency)
        items.append(item)
        meta[item["uetr"]] = (receiver, amount)
    calls = twin_calls(api, items)
    answers: dict[str, list[dict]] = {}
    for client in await gather_clients(calls):
        for answered in client:
            for uetr, answer in answered.items():
                answers.setdefault(uetr, []).append(answer)

    rows = await stored(api)
    assert set(rows) == set(meta) and set(answers) == set(meta)
    for uetr, row in rows.items():
        twins = answers[uetr]
        assert len(twins) >= 2 and all(twin == twins[0] for twin in twins), twins  # every twin told the same
        answer, legs = twins[0], where.legs[meta[uetr][0]]
        assert row["count"] == 1, (uetr, row)
        assert (answer["status"], row["status"]) in (("SETTLED", "SETTLED"), ("REJECTED", "REJECTED")), (answer, row)
        if answer["status"] == "SETTLED":
            assert row["links"] == row["transfers"] == len(answer["transfers"]) == legs, (uetr, row, answer)
            assert row["events"] == 3
        else:
            assert answer["reasonCode"] == "AM04" and answer["transfers"] == [], answer
            assert (row["links"], row["transfers"], row["events"]) == (0, 0, 2), row

    settled = [meta[u][1] for u, a in answers.items() if a[0]["status"] == "SETTLED"]
    rejected = [meta[u][1] for u, a in answers.items() if a[0]["status"] == "REJECTED"]
    end = await balances(api)
    check_ledger(end)
    assert end[raced][2] == where.funds - sum(settled) >= 0
    assert rejected, "more than the account holds was sent: some payments must be rejected"
    assert all(amount > end[raced][2] for amount in rejected), (rejected, end[raced])  # none spuriously
    assert len(settled) >= 8  # the account was drained, not merely refused
    debtor = pk(ids[f"{where.sender}_{where.currency.lower()}"])
    assert end[debtor][2] == start[debtor][2] - sum(settled)


async def test_one_uetr_sent_by_every_client_at_once_is_one_payment(api):
    ids = await build(api)
    start = await balances(api)
    item = payment(ids, "sber", "boc", "250.00", "CNY", remittanceInformation="Invoice 16")
    document = pacs008(credit_transfer(ids, "sber", "boc", "250.00", "CNY", uetr=item["uetr"], remittance="Invoice 16"))

    async def one(n: int) -> dict:
        if n % 2:
            body = await api.raw(SUBMIT, {"xml": document})
            assert "errors" not in body, body
            answer = body["data"]["submitIso20022"]
            assert outcome(answer["statusReport"]) == [(item["uetr"], "ACCC", None)], answer
            return answer["payments"][0]
        body = await api.raw(SEND, {"input": item})
        assert "errors" not in body, body
        return body["data"]["sendPayment"]["payment"]

    answers = await asyncio.gather(*(one(n) for n in range(CLIENTS)))
    assert answers[0]["status"] == "SETTLED" and all(answer == answers[0] for answer in answers), answers
    row = (await stored(api))[item["uetr"]]
    assert (row["count"], row["links"], row["transfers"], row["events"]) == (1, 2, 2, 3), row
    end = await balances(api)
    check_ledger(end)
    change = {k: end[k][2] - start[k][2] for k in end if end[k][2] != start[k][2]}
    cents = 250_00
    assert change == {
        pk(ids["sber_cny"]): -cents,
        pk(ids["boc_cny"]): cents,
        pk(ids["sber_cny_settlement"]): -cents,
        pk(ids["boc_cny_settlement"]): cents,
    }


async def test_one_uetr_with_different_content_from_every_client_is_one_payment(api):
    ids = await build(api)
    start = await balances(api)
    uetr = str(uuid.uuid4())
    items = [payment(ids, "sber", "vtb", text_of(1000 + n), "RUB", uetr=uetr) for n in range(CLIENTS)]
    bodies = await asyncio.gather(*(api.raw(SEND, {"input": item}) for item in items))
    assert all("errors" not in body for body in bodies), bodies
    payloads = [body["data"]["sendPayment"] for body in bodies]
    won = [(item, p["payment"]) for item, p in zip(items, payloads, strict=True) if p["payment"] is not None]
    assert len(won) == 1, payloads  # one content won the UETR; every other is a conflict, storing nothing
    (item, paid), *_ = won
    assert paid["status"] == "SETTLED" and paid["amount"]["amount"] == item["amount"]
    lost = [p["errors"] for p in payloads if p["payment"] is None]
    assert all(
        [(e["code"], e["field"]) for e in errors] == [("IDEMPOTENCY_CONFLICT", ["input", "uetr"])] for errors in lost
    )
    row = (await stored(api))[uetr]
    assert (row["count"], row["links"], row["transfers"], row["events"]) == (1, 1, 1, 3), row
    end = await balances(api)
    check_ledger(end)
    minor = int(item["amount"].replace(".", ""))
    assert end[pk(ids["sber_rub"])][2] == start[pk(ids["sber_rub"])][2] - minor
    assert end[pk(ids["vtb_rub"])][2] == start[pk(ids["vtb_rub"])][2] + minor
