"""The ceiling: the batch path's writes with nothing around them.

In-process, no HTTP, no GraphQL, no checks: the same 1,000-transfer batch (0.01 RUB
between random distinct customer accounts, fresh uuid4 keys) written by plain
SQLAlchemy Core through the engine the service uses
(`corridor.db.create_engine(Settings(database_url=...))`, so SQLite gets the same
pragmas and BEGIN IMMEDIATE). Per batch, one transaction on one connection:

- one executemany INSERT of the 1,000 rows into `transfer` (POSTED, not pending);
- one UPDATE per touched account adding its net debits_posted/credits_posted,
  in account id order, sent as one executemany.

The figure is transfers/s over the duration; the batch path through the server
is held to half of it.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid

from sqlalchemy import bindparam, insert, update

from bench.load import BATCH_SIZE
from corridor.db import WRITE_OPTION, create_engine
from corridor.settings import Settings
from models.ledger import Account, Transfer, TransferState
from schema.base import parse_global_id

AMOUNT_MINOR = 1  # 0.01 RUB
MAX_BATCHES = 1_000_000  # a bound on the loop besides its deadline

TRANSFERS = Transfer.__table__
ACCOUNTS = Account.__table__
INSERT = insert(TRANSFERS)
UPDATE = (
    update(ACCOUNTS)
    .where(ACCOUNTS.c.id == bindparam("key"))
    .values(
        debits_posted=ACCOUNTS.c.debits_posted + bindparam("debits"),
        credits_posted=ACCOUNTS.c.credits_posted + bindparam("credits"),
    )
)


def account_key(global_id: str) -> int:
    """The integer key behind an opaque Account id."""
    type_name, key = parse_global_id(global_id)
    assert type_name == "Account", global_id
    return int(key)


def batch(accounts: list[int]) -> tuple[list[dict], list[dict]]:
    """The rows to insert and the per-account net changes of one batch."""
    now = dt.datetime.now(dt.UTC)
    rows, net = [], {}
    for _ in range(BATCH_SIZE):
        debit, credit = random.sample(accounts, 2)
        rows.append(
            {
                "transfer_id": uuid.uuid4(),
                "debit_account_id": debit,
                "credit_account_id": credit,
                "amount": AMOUNT_MINOR,
                "currency_code": "RUB",
                "state": TransferState.POSTED,
                "pending": False,
                "posted_amount": AMOUNT_MINOR,
                "timeout_seconds": None,
                "expires_at": None,
                "reference": None,
                "created_at": now,
                "resolved_at": None,
            }
        )
        net.setdefault(debit, [0, 0])[0] += AMOUNT_MINOR
        net.setdefault(credit, [0, 0])[1] += AMOUNT_MINOR
    changes = [{"key": key, "debits": d, "credits": c} for key, (d, c) in sorted(net.items())]
    return rows, changes


async def measure(database_url: str, customers: list[str], seconds: float) -> dict:
    """Write batches for `seconds`: transfers/s."""
    accounts = [account_key(global_id) for global_id in customers]
    engine = create_engine(Settings(database_url=database_url))
    written = 0
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(**{WRITE_OPTION: True})
            start = time.perf_counter()
            deadline = start + seconds
            for _ in range(MAX_BATCHES):
                if time.perf_counter() >= deadline:
                    break
                rows, changes = batch(accounts)
                async with connection.begin():
                    await connection.execute(INSERT, rows)
                    await connection.execute(UPDATE, changes)
                written += len(rows)
            elapsed = time.perf_counter() - start
    finally:
        await engine.dispose()
    return {"transfers": written, "elapsed": elapsed, "transfers_per_s": written / elapsed}
