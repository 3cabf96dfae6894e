"""Accounts that a transaction only credits are not locked up front (resolvers/ledger/locks.py):
they are read without a lock and written late by an atomic increment, waiting a bounded time
for their rows; a transaction whose late credit waited too long is tried again with every
account locked up front. These tests put many real transactions at once (one connection
each from the pool, on PostgreSQL) on one hot account that is credited and debited at the
same time, and force the cycle that the bounded wait breaks: no increment is lost, the
balances still sum to zero, no account but an ISSUANCE one goes below zero, and every
transaction either takes effect or is refused for its funds."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest
from sqlalchemy import text

from corridor.context import with_retries
from corridor.db import WRITE_OPTION
from models.base import utcnow
from resolvers.ledger import Leg, LegRefused, post_legs
from resolvers.ledger.locks import CREDIT_WAIT_MS
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


async def test_a_hot_account_credited_and_debited_at_once_loses_no_increment(api):
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

    outcomes = await asyncio.gather(*(one(*step) for step in plan))

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


async def test_a_late_credit_that_closes_a_cycle_gives_way_and_is_retried(api, caplog):
    """A transaction that debits A and credits B, while another holds B and then wants A:
    the late credit of B gives way after CREDIT_WAIT_MS (not the deadlock detector's
    second), the other finishes, and the retry locks A and B up front and takes effect."""
    if api.dialect != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite's writers hold the database's write lock)")
    world = await build(api)
    a, b = pk(world.sber_settlement), pk(world.vtb_settlement)
    async with api.engine.connect() as other:
        await other.begin()
        # A ledger write that debits B (its lock) and then credits A. Never this transaction's
        # deadlock check first: whatever the timing, the request gives way.
        await other.execute(text("SET LOCAL deadlock_timeout = '10s'"))
        await other.execute(text("SELECT id FROM account WHERE id = :b FOR NO KEY UPDATE"), {"b": b})
        with caplog.at_level(logging.INFO, logger="corridor.context"):
            request = asyncio.create_task(_post(api, [Leg(a, b, 100, "RUB")]))
            await _until_waiting_on_a_lock(api)  # the request holds A and waits for B
            # The other transaction now wants A: a cycle, which the request's bounded wait breaks.
            await other.execute(text("UPDATE account SET credits_posted = credits_posted + 7 WHERE id = :a"), {"a": a})
            await other.execute(text("UPDATE account SET debits_posted = debits_posted + 7 WHERE id = :b"), {"b": b})
            await other.commit()
            assert await request == OK
    assert any("retried after LockNotAvailableError" in r.getMessage() for r in caplog.records)
    columns = await _columns(api)
    assert columns[a][1:4:2] == (100, 100_000 + 7)  # debited 1.00, funded with 1000.00 and 0.07
    assert columns[b][1:4:2] == (7, 100_000 + 100)
    _check_invariants(columns)
    assert CREDIT_WAIT_MS < 1000  # shorter than PostgreSQL's default deadlock_timeout


async def _until_waiting_on_a_lock(api) -> None:
    async with api.engine.connect() as connection:
        for _ in range(500):
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
            if waiting:
                return
            await asyncio.sleep(0.002)
    raise AssertionError("the request never waited for the held row")
