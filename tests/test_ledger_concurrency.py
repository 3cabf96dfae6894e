"""Concurrent clients on one hot account (real concurrency on PostgreSQL's connection pool;
serialized by the write lock on SQLite): no lost update, no overdraft, no double effect."""

from __future__ import annotations

import asyncio
import random
import uuid
from decimal import Decimal

import httpx
from sqlalchemy import text

from corridor.app import create_app
from corridor.settings import Settings
from tests.conftest import Api
from tests.ledger_world import POST, VOID, balances, build, send, transfer

CLIENTS = 16
ROUNDS = 8


async def test_many_clients_on_one_hot_account(api):
    world = await build(api, fund="100.00")  # the hot account: Sber's settlement account, 100.00
    targets = [world.vtb_settlement, world.vtb_customer, world.sber_customer]
    sent: dict[str, dict] = {}
    rng = random.Random(7)

    async def client(number: int) -> None:
        mine: list[dict] = []
        for round_ in range(ROUNDS):
            if mine and rng.random() < 0.3:
                item = rng.choice(mine)  # a replay of one of this client's own transfers
            else:
                item = transfer(world.sber_settlement, rng.choice(targets), "1.00", reference=f"c{number} r{round_}")
                mine.append(item)
                sent[item["transferId"]] = item
            batch = [item]
            if rng.random() < 0.25:  # now and then a second transfer back into the hot account
                back = transfer(world.vtb_settlement, world.sber_settlement, "0.50")
                sent[back["transferId"]] = back
                batch.append(back)
            results = await send(api, *batch)
            for result in results:
                assert result["errors"] == [] or result["errors"][0]["code"] == "INSUFFICIENT_FUNDS", result

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))

    async with api.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT transfer_id, amount, debit_account_id FROM transfer"))).all()
    stored = {str(uuid.UUID(str(row.transfer_id))): row for row in rows}
    succeeded = [sent[key] for key in sent if key in stored]
    assert len(stored) == len(succeeded) + 2  # each distinct transfer at most once; plus the funding
    out = sum(Decimal(t["amount"]) for t in succeeded if t["debitAccountId"] == world.sber_settlement)
    back = sum(Decimal(t["amount"]) for t in succeeded if t["creditAccountId"] == world.sber_settlement)
    hot = await balances(api, world.sber_settlement)
    assert Decimal(hot["balance"]) == Decimal("100.00") - out + back
    assert Decimal(hot["available"]) >= 0
    assert out > Decimal("90")  # the hot account was actually drained, not merely refused
    async with api.engine.connect() as connection:
        sums = (
            await connection.execute(
                text(
                    "SELECT sum(debits_posted) - sum(credits_posted), "
                    "sum(debits_pending) - sum(credits_pending) FROM account"
                )
            )
        ).one()
        negative = await connection.scalar(
            text(
                "SELECT count(*) FROM account "
                "WHERE kind <> 'ISSUANCE' AND credits_posted - debits_posted - debits_pending < 0"
            )
        )
    assert tuple(sums) == (0, 0) and negative == 0


async def test_concurrent_posts_and_voids_of_one_hold_resolve_it_once(api):
    world = await build(api)
    hold = (await send(api, transfer(world.sber_settlement, world.vtb_settlement, "300.00", pending=True)))[0]
    key = hold["transfer"]["transferId"]
    calls = [api(POST, {"id": key}) if n % 2 else api(VOID, {"id": key}) for n in range(CLIENTS)]
    answers = await asyncio.gather(*calls)
    payloads = [a.get("postTransfer") or a.get("voidTransfer") for a in answers]
    effective = [p for p in payloads if p["errors"] == [] and p["created"]]
    assert len(effective) == 1
    sber = await balances(api, world.sber_settlement)
    assert sber["debitsPending"] == "0.00"
    assert sber["balance"] in ("700.00", "1000.00")


async def test_one_transfer_id_sent_by_many_clients_at_once_is_applied_once(api):
    # The known keys are looked up before the accounts are locked: a transfer with the same
    # key committed in between must still be found (the insert fails on the unique key and
    # the transaction is retried), never applied twice nor refused with a server error.
    # Two apps on one database, as two workers are: each has its own group commit.
    world = await build(api, fund="100.00")
    key = str(uuid.uuid4())
    same = transfer(world.sber_settlement, world.vtb_settlement, "1.00", transfer_id=key)
    other = {**same, "amount": "2.00"}
    sent = [same if n % 2 else other for n in range(CLIENTS)]
    second = create_app(Settings(database_url=api.engine.url.render_as_string(hide_password=False)))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://b.test") as client:
            twin = Api(app=second, client=client, key=api.key)
            answers = await asyncio.gather(*(send(twin if n % 4 < 2 else api, t) for n, t in enumerate(sent)))
    finally:
        await second.state.engine.dispose()
    results = [answer[0] for answer in answers]
    created = [result for result in results if result["created"]]
    assert len(created) == 1, results
    winner = created[0]["transfer"]
    for result, item in zip(results, sent, strict=True):
        if result["created"]:
            continue
        if Decimal(item["amount"]) == Decimal(winner["amount"]["amount"]):
            assert result["errors"] == [] and result["transfer"]["id"] == winner["id"], result
        else:
            assert [error["code"] for error in result["errors"]] == ["IDEMPOTENCY_CONFLICT"], result
    hot = await balances(api, world.sber_settlement)
    assert Decimal(hot["balance"]) == Decimal("100.00") - Decimal(winner["amount"]["amount"])
    async with api.engine.connect() as connection:
        count = await connection.scalar(text("SELECT count(*) FROM transfer WHERE amount IN (100, 200)"))
    assert count == 1
