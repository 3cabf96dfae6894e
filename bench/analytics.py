"""The analytics measurement: corridorStats, a 12-month corridorSeries and
currencyShares over 100,000 payments, each next to the floor's latency.

Setup (not measured), once per database: `fill` writes two Chinese banks, a year of
weekly rates (USDRUB, USDCNY, CNYRUB: 53 publications of three pairs, moving a little
each week) and PAYMENTS SETTLED interbank payments straight into the database with
SQLAlchemy Core: each between a random Russian bank of bench.prepare and a random
Chinese one, either way, 40% in RUB, 35% in CNY and 25% in USD, a random amount of
0.01-10,000.00, at a random time of the last 365 days; then, in the same transaction,
the flows' rollup is built again from every stored flow by the statements of
`resolvers.analytics.backfill` (the migration's back-fill: the service adds each
payment it records by the same upsert over its rows). A second run on the same
database finds them and writes nothing.

Measured, through the GraphQL endpoint of the running server with the operator's key,
one request at a time (SAMPLES of each after one warm-up, the p50 reported):
- corridorStats(RU, CN) over the period in USD: every payment converted at the rate of
  its week (it counts when paymentCount covers the payments written);
- corridorSeries(RU, CN) over the year by MONTH in USD (14 calendar months: the
  period is the last 395 days, to cover payments written by an earlier run);
- currencyShares over the same period in USD;
- the floor: `{ __typename }` on the same connection, FLOOR_SAMPLES times, for the ratio.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import statistics
import time
import uuid

import sqlalchemy as sa

from bench import prepare
from bench.client import Connection
from corridor.db import WRITE_OPTION, create_engine
from corridor.settings import Settings
from models.fx import ExchangeRate
from models.ledger import Account
from models.messaging import InterbankPayment, MessageType, PaymentNetwork, PaymentStatus
from models.reference import Institution, InstitutionKind
from resolvers import analytics

PAYMENTS = 100_000
DAYS = 365
SAMPLES = 5
FLOOR_SAMPLES = 50
INSERT_CHUNK = 10_000
REQUEST_TIMEOUT = 600.0
SOURCE = "bench analytics"
CHINESE_BANKS = (("Bench Bank of Shanghai", "BENCCNSH"), ("Bench Bank of Beijing", "BENCCNBJ"))
CURRENCIES = (("RUB", 40), ("CNY", 35), ("USD", 25))
RATES = {("USD", "RUB"): 92.5, ("USD", "CNY"): 7.23, ("CNY", "RUB"): 12.8}

STATS = (
    'query($since: DateTime!, $until: DateTime!) { corridorStats(countryA: "RU", countryB: "CN",'
    " since: $since, until: $until) { paymentCount totalValue { amount } usdShare localShare"
    " shares { currency value { amount } share paymentCount unconverted { amount } } } }"
)
SERIES = (
    'query($since: DateTime!, $until: DateTime!) { corridorSeries(countryA: "RU", countryB: "CN",'
    " since: $since, until: $until, interval: MONTH) { start paymentCount totalValue { amount } usdShare localShare } }"
)
SHARES = (
    "query($since: DateTime!, $until: DateTime!) { currencyShares(since: $since, until: $until)"
    " { currency value { amount } share paymentCount } }"
)
FLOOR = "{ __typename }"
TABLES = {name: model.__table__ for name, model in [("payment", InterbankPayment), ("rate", ExchangeRate)]}


async def _ids(connection, table, column, values) -> dict:
    found = await connection.execute(sa.select(column, table.c.id).where(column.in_(values)))
    return dict(found.all())


async def _chinese_banks(connection, now: dt.datetime) -> list[int]:
    table = Institution.__table__
    bics = [bic for _, bic in CHINESE_BANKS]
    missing = set(bics) - set(await _ids(connection, table, table.c.bic, bics))
    rows = [
        {"name": name, "bic": bic, "country_code": "CN", "kind": InstitutionKind.COMMERCIAL_BANK, "created_at": now}
        for name, bic in CHINESE_BANKS
        if bic in missing
    ]
    if rows:
        await connection.execute(sa.insert(table), rows)
    return list((await _ids(connection, table, table.c.bic, bics)).values())


async def _rates(connection, start: dt.datetime) -> int:
    """Weekly rates over the year, each pair drifting by up to 1% a week."""
    rows, levels = [], dict(RATES)
    for week in range(DAYS // 7 + 1):
        for (base, quote), level in levels.items():
            levels[(base, quote)] = level * (1 + random.uniform(-0.01, 0.01))
            rate = f"{levels[(base, quote)]:.6g}"
            as_of = start + dt.timedelta(weeks=week)
            rows.append(
                {"base": base, "quote": quote, "rate": rate, "source": SOURCE, "as_of": as_of, "created_at": as_of}
            )
    await connection.execute(sa.insert(TABLES["rate"]), rows)
    return len(rows)


def _payment(network: int, account: int, russian: list[int], chinese: list[int], start: dt.datetime) -> dict:
    ends = [random.choice(russian), random.choice(chinese)]
    random.shuffle(ends)
    currency = random.choices([c for c, _ in CURRENCIES], [w for _, w in CURRENCIES])[0]
    return {
        "uetr": uuid.uuid4(),
        "network_id": network,
        "network_requested": True,
        "message_type": MessageType.PACS_009,
        "sender_id": ends[0],
        "receiver_id": ends[1],
        "debtor_account_id": account,
        "creditor_account_id": account,
        "amount": random.randint(1, 1_000_000),
        "currency_code": currency,
        "status": PaymentStatus.SETTLED,
        "iso_status": "ACCC",
        "created_at": start + dt.timedelta(seconds=random.uniform(0, DAYS * 86_400)),
    }


async def _write(connection, count: int, now: dt.datetime) -> tuple[int, int]:
    """The banks, rates and payments, unless a previous run wrote them: (payments, rates) written."""
    rate = TABLES["rate"]
    if await connection.scalar(sa.select(sa.func.count()).where(rate.c.source == SOURCE)):
        return 0, 0
    start = now - dt.timedelta(days=DAYS)
    institutions, networks = Institution.__table__, PaymentNetwork.__table__
    russian = list((await _ids(connection, institutions, institutions.c.bic, [b for _, b in prepare.BANKS])).values())
    chinese = await _chinese_banks(connection, now)
    network = await connection.scalar(sa.select(networks.c.id).where(networks.c.code == prepare.NETWORK_CODE))
    account = await connection.scalar(sa.select(sa.func.min(Account.__table__.c.id)))
    rates = await _rates(connection, start)
    for offset in range(0, count, INSERT_CHUNK):
        rows = [_payment(network, account, russian, chinese, start) for _ in range(min(INSERT_CHUNK, count - offset))]
        await connection.execute(sa.insert(TABLES["payment"]), rows)
    for statement in analytics.backfill(connection.dialect.name):
        await connection.execute(statement)
    return count, rates


async def fill(database_url: str, count: int = PAYMENTS) -> dict:
    """Write the data once (see the module): the counts and the setup time."""
    started = time.perf_counter()
    engine = create_engine(Settings(database_url=database_url))
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(**{WRITE_OPTION: True})
            async with connection.begin():
                written, rates = await _write(connection, count, dt.datetime.now(dt.UTC))
        if written and engine.dialect.name == "postgresql":  # the planner's statistics, as autovacuum keeps them
            async with engine.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(sa.text("ANALYZE interbank_payment, exchange_rate, flow_rollup"))
    finally:
        await engine.dispose()
    return {"payments": count, "written": written, "rates": rates, "setup_s": time.perf_counter() - started}


async def _p50(
    connection: Connection, query: str, variables: dict, samples: int
) -> tuple[float, dict | None, str | None]:
    """(p50 ms, the last answer's data, a problem or None) of `samples` requests after a warm-up."""
    body = json.dumps({"query": query, "variables": variables}).encode()
    times, data, problem = [], None, None
    for k in range(samples + 1):
        begun = time.perf_counter()
        status, answer = await asyncio.wait_for(connection.post_graphql(body), REQUEST_TIMEOUT)
        elapsed = (time.perf_counter() - begun) * 1000
        document = json.loads(answer) if status == 200 else {}
        if status != 200 or document.get("errors"):
            problem = f"HTTP {status}: {answer[:200]!r}"
            break
        data = document["data"]
        if k:  # the first is the warm-up
            times.append(elapsed)
    return (statistics.median(times) if times else None), data, problem


async def _measure(port: int, secret: str, expected: int) -> dict:
    until = dt.datetime.now(dt.UTC)
    # A little more than the year the payments were written over (by an earlier run, perhaps).
    period = {"since": (until - dt.timedelta(days=DAYS + 30)).isoformat(), "until": until.isoformat()}
    connection = Connection(port, secret)
    result: dict = {"failures": {}}
    try:
        result["floor_ms"], _, problem = await _p50(connection, FLOOR, {}, FLOOR_SAMPLES)
        for name, query in (("stats", STATS), ("series", SERIES), ("shares", SHARES)):
            ms, data, problem = await _p50(connection, query, period, SAMPLES)
            result[f"{name}_ms"] = ms
            if problem is None and name == "stats" and data["corridorStats"]["paymentCount"] < expected:
                problem = f"paymentCount {data['corridorStats']['paymentCount']} < {expected}"
            if problem is None and name == "series":
                counted = sum(point["paymentCount"] for point in data["corridorSeries"])
                problem = None if counted >= expected else f"{counted} payments in the points < {expected}"
            if problem is not None:
                result["failures"][f"{name}: {problem}"] = 1
    finally:
        connection.close()
    return result


def measure(port: int, secret: str, database_url: str, count: int = PAYMENTS) -> dict:
    """Fill the database once (setup), then time the analytics through the server on `port`."""
    filled = asyncio.run(fill(database_url, count))
    return {"scenario": "analytics", **filled, **asyncio.run(_measure(port, secret, count))}
