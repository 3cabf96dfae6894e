"""The settlement measurement: close and settle a window of 100,000 obligations.

Setup (not measured): `fill` writes OBLIGATIONS obligations straight into the database
with SQLAlchemy Core, in one transaction, into the OPEN window of BENCHNET (the
DEFERRED_NET network of bench.prepare) in RUB, opening that window if there is none:
each between two distinct random banks of the four (bench.prepare.BANKS, each with a
funded RUB SETTLEMENT account), a random amount of 0.01-1,000.00 RUB, every one
pointing at the same existing ledger transfer (an obligation needs one; which one does
not matter to closing or settling). The expected positions are computed as the rows
are made.

Measured, through the GraphQL endpoint of the running server, one request each, with
the operator's key:
- closeSettlementWindow(scope: "BENCHNET", currency: "RUB"): the positions of the
  window's obligations (one aggregate statement), its figures, CLOSED, the next
  window opened; it counts when the answer says CLOSED with the expected
  obligationCount, grossValue and netValue;
- settleSettlementWindow(windowId): the net payers' SETTLEMENT accounts to the
  operator's RUB SETTLEMENT pool and the pool to the net receivers, in one
  transaction; it counts when the answer says SETTLED and lists one transfer per
  non-zero position.
Each time is the wall time of the request, in ms (one sample: no percentiles).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import time
from decimal import Decimal

import sqlalchemy as sa

from bench import prepare
from bench.client import Connection
from corridor.db import WRITE_OPTION, create_engine
from corridor.settings import Settings
from models.ledger import Transfer
from models.reference import Institution
from models.settlement import Obligation, SettlementWindow, WindowState

OBLIGATIONS = 100_000
SCOPE = prepare.NET_NETWORK_CODE
CURRENCY = "RUB"
MAX_AMOUNT_MINOR = 100_000  # 1,000.00 RUB
INSERT_CHUNK = 10_000
REQUEST_TIMEOUT = 600.0

CLOSE = (
    "mutation($scope: String!, $currency: String!) { closeSettlementWindow(scope: $scope, currency: $currency) {"
    " window { id state obligationCount grossValue { amount } netValue { amount } } errors { code message } } }"
)
SETTLE = (
    "mutation($id: ID!) { settleSettlementWindow(windowId: $id) {"
    " window { id state transfers { id } } errors { code message } } }"
)

WINDOWS = SettlementWindow.__table__
ROWS = Obligation.__table__


async def fill(database_url: str, count: int = OBLIGATIONS) -> dict:
    """Write `count` obligations into the OPEN window of (SCOPE, CURRENCY): the expected
    figures (count, gross, net and positions in minor units) and the setup time."""
    started = time.perf_counter()
    engine = create_engine(Settings(database_url=database_url))
    now = dt.datetime.now(dt.UTC)
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(**{WRITE_OPTION: True})
            async with connection.begin():
                bics = [bic for _, bic in prepare.BANKS]
                found = await connection.execute(
                    sa.select(Institution.__table__.c.bic, Institution.__table__.c.id).where(
                        Institution.__table__.c.bic.in_(bics)
                    )
                )
                banks = [key for _, key in sorted(found.all(), key=lambda row: bics.index(row[0]))]
                if len(banks) != len(bics):
                    raise RuntimeError(f"expected the banks {bics}, found {len(banks)}")
                transfer = await connection.scalar(sa.select(sa.func.min(Transfer.__table__.c.id)))
                if transfer is None:
                    raise RuntimeError("no ledger transfer to point the obligations at")
                is_open = (WINDOWS.c.scope == SCOPE) & (WINDOWS.c.currency_code == CURRENCY)
                is_open &= WINDOWS.c.state == WindowState.OPEN
                window = await connection.scalar(sa.select(WINDOWS.c.id).where(is_open))
                if window is None:
                    values = {"scope": SCOPE, "currency_code": CURRENCY, "state": WindowState.OPEN}
                    values |= {"opened_at": now, "obligation_count": 0, "gross": 0, "net": 0}
                    window = (
                        await connection.execute(sa.insert(WINDOWS).values(values).returning(WINDOWS.c.id))
                    ).scalar_one()
                nets = dict.fromkeys(banks, 0)
                gross = 0
                for start in range(0, count, INSERT_CHUNK):
                    rows = []
                    for _ in range(min(INSERT_CHUNK, count - start)):
                        payer, payee = random.sample(banks, 2)
                        amount = random.randint(1, MAX_AMOUNT_MINOR)
                        nets[payer] -= amount
                        nets[payee] += amount
                        gross += amount
                        rows.append(
                            {
                                "window_id": window,
                                "payer_id": payer,
                                "payee_id": payee,
                                "amount": amount,
                                "transfer_id": transfer,
                                "created_at": now,
                            }
                        )
                    await connection.execute(sa.insert(ROWS), rows)
    finally:
        await engine.dispose()
    return {
        "window": window,
        "obligations": count,
        "gross": gross,
        "net": sum(value for value in nets.values() if value > 0),
        "moving": sum(1 for value in nets.values() if value),
        "setup_s": time.perf_counter() - started,
    }


def _minor(money: dict | None) -> int | None:
    """A Money's amount in kopecks (RUB has two decimals)."""
    return None if money is None else int(Decimal(money["amount"]) * 100)


async def _timed(connection: Connection, query: str, variables: dict) -> tuple[float, dict | None, str | None]:
    """(ms, the payload, why it failed or None) of one request."""
    body = json.dumps({"query": query, "variables": variables}).encode()
    start = time.perf_counter()
    status, answer = await asyncio.wait_for(connection.post_graphql(body), REQUEST_TIMEOUT)
    elapsed = (time.perf_counter() - start) * 1000
    if status != 200:
        return elapsed, None, f"HTTP {status}: {answer[:200]!r}"
    document = json.loads(answer)
    if document.get("errors"):
        return elapsed, None, f"GraphQL error: {document['errors'][0].get('message', '?')[:200]}"
    payload = next(iter(document["data"].values()))
    if payload["errors"]:
        return elapsed, payload, "errors " + "; ".join(f"{e['code']} {e['message'][:100]}" for e in payload["errors"])
    return elapsed, payload, None


async def _close_and_settle(port: int, secret: str, expected: dict) -> dict:
    connection = Connection(port, secret)
    failures: dict[str, int] = {}
    result: dict = {"close_ms": None, "settle_ms": None, "transfers": None}
    try:
        close_ms, payload, problem = await _timed(connection, CLOSE, {"scope": SCOPE, "currency": CURRENCY})
        result["close_ms"] = close_ms
        window = payload and payload["window"]
        if problem is None:
            found = (
                window["state"],
                window["obligationCount"],
                _minor(window["grossValue"]),
                _minor(window["netValue"]),
            )
            wanted = ("CLOSED", expected["obligations"], expected["gross"], expected["net"])
            if found != wanted:
                problem = f"close: (state, count, gross, net) {found}, not {wanted}"
        if problem is not None:
            failures[f"close: {problem}"] = 1
            return {**result, "failures": failures}
        settle_ms, payload, problem = await _timed(connection, SETTLE, {"id": window["id"]})
        result["settle_ms"] = settle_ms
        if problem is None:
            settled = payload["window"]
            result["transfers"] = len(settled["transfers"])
            if settled["state"] != "SETTLED" or len(settled["transfers"]) != expected["moving"]:
                problem = f"{settled['state']} with {len(settled['transfers'])} transfers, not {expected['moving']}"
        if problem is not None:
            failures[f"settle: {problem}"] = 1
    finally:
        connection.close()
    return {**result, "failures": failures}


def measure(port: int, secret: str, database_url: str, count: int = OBLIGATIONS) -> dict:
    """Fill a window (setup), then close and settle it through the server on `port`."""
    expected = asyncio.run(fill(database_url, count))
    timings = asyncio.run(_close_and_settle(port, secret, expected))
    return {"scenario": "settlement", **expected, **timings}
