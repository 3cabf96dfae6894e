"""One hot account credited and debited at the same time by many real transactions (one
connection each from the pool, on PostgreSQL), in both directions between it and its
payers: the accounts each transaction touches are locked up front in id order
(resolvers/ledger/locks.py), so no two of them ever wait on each other in a cycle (no
deadlock, nothing retried), no increment is lost, the balances still sum to zero, no
account but an ISSUANCE one goes below zero, and every transaction either takes effect
or is refused for its funds."""

from __future__ import annotations

import asyncio
import logging
import random

from sqlalchemy import text

from corridor.context import with_retries
from corridor.db import WRITE_OPTION
from models.base import utcnow
from resolvers.ledger import Leg, LegRefused, post_legs
from tests.ledger_world import account, build, pk, send, transfer

PAYERS = 12
ROUNDS = 10
OK = "OK"


async def _post(api, legs: list[Leg]) -> str:
    """The legs in a transaction of their own, retried as the server retries: OK or the code
    of the refusal."""

    async def attempt() -> str:
        async with api.sessions() as session:
            await session.connection(execution_options={WRITE_OPTION: True})
            try:
                await post_legs(session, legs, now=utcnow())
            except LegRefused as refused:
                await session.rollback()
                return refused.code.value
            await session.commit()
            return OK

    return await with_retries(attempt, 3, "test transaction")


async def _columns(api) -> dict[int, tuple[int, int, int, int, str]]:
    async with api.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT id, debits_pending, debits_posted, credits_pending, credits_posted, kind FROM account")
        )
        return {row.id: tuple(row[1:]) for row in rows}


def _check_invariants(columns: dict[int, tuple[int, int, int, int, str]]) -> None:
    assert sum(c[1] for c in columns.values()) == sum(c[3] for c in columns.values())  # posted
    assert sum(c[0] for c in columns.values()) == sum(c[2] for c in columns.values())  # pending
    for dpend, dpost, _cpend, cpost, kind in columns.values():
        assert kind == "ISSUANCE" or cpost - dpost - dpend >= 0


async def test_a_hot_account_credited_and_debited_at_once_loses_no_increment(api, caplog):
    world = await build(api, fund=None)
    hot = pk(world.sber_settlement)  # the busy merchant: credited by every payer, and paying out
    opened = [await account(api, world.vtb, f"payer {n}", "RUB", "CUSTOMER") for n in range(PAYERS)]
    assert all(r["errors"] == [] for r in await send(api, *(transfer(world.issuance, p, "10.00") for p in opened)))
    payers = [pk(p) for p in opened]
    rng = random.Random(16)
    plan: list[tuple[int, int, int]] = []  # (debit, credit, minor units) of every transaction
    for _ in range(ROUNDS):
        for payer in payers:
            plan.append((payer, hot, rng.randint(1, 150)))  # a payment into the hot account
            if rng.random() < 0.5:  # and a payout from it, to a payer (the A->B / B->A pattern)
                plan.append((hot, rng.choice(payers), rng.randint(1, 300)))
    rng.shuffle(plan)
    before = await _columns(api)

    async def one(debit: int, credit: int, amount: int) -> str:
        await asyncio.sleep(rng.random() / 100)
        return await _post(api, [Leg(debit, credit, amount, "RUB")])

    with caplog.at_level(logging.INFO, logger="corridor.context"):
        outcomes = await asyncio.gather(*(one(*step) for step in plan))
    assert not [r.getMessage() for r in caplog.records if "retried" in r.getMessage()]  # no deadlock

    assert set(outcomes) <= {OK, "INSUFFICIENT_FUNDS"}
    done = [step for step, outcome in zip(plan, outcomes, strict=True) if outcome == OK]
    assert sum(1 for d, _, _ in done if d != hot) == sum(1 for d, _, _ in plan if d != hot)  # payers are funded
    after = await _columns(api)
    credited = sum(amount for _, credit, amount in done if credit == hot)
    debited = sum(amount for debit, _, amount in done if debit == hot)
    assert after[hot][3] - before[hot][3] == credited  # no lost increment on the hot account
    assert after[hot][1] - before[hot][1] == debited
    for payer in payers:
        assert after[payer][1] - before[payer][1] == sum(a for d, _, a in done if d == payer)
        assert after[payer][3] - before[payer][3] == sum(a for _, c, a in done if c == payer)
    assert debited > 0  # the hot account did pay out while it was being credited
    _check_invariants(after)
