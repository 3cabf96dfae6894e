"""The databases and the data every measurement of an engine runs on.

SQLite gets a fresh file in a temporary directory. PostgreSQL gets the database
`corridor_bench` on 127.0.0.1:5432, created if missing and emptied (DROP SCHEMA
public CASCADE; CREATE SCHEMA public).

The data is built the way a client would build it, with `corridor migrate`,
`corridor apikey` and GraphQL against a running server: the Bank of Russia
(CBRFRUMM) with its RUB ISSUANCE account, four Russian commercial banks, 1,000
CUSTOMER RUB accounts spread over them, each funded from the ISSUANCE account
(createTransfers, 1,000 a request), and one "hot" customer account funded with
a very large amount, which the hot-account path debits on every request.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.client import Connection

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/corridor_bench"

CUSTOMERS = 1000
CUSTOMER_FUNDS = "1000000.00"  # RUB each: far more than the runs move out of any account
HOT_FUNDS = "1000000000000.00"  # RUB: the hot account is debited 0.01 on every request
FUNDING_BATCH = 1000
PARALLEL = 8  # connections used to open the accounts

CENTRAL_BANK = ("Bank of Russia", "CBRFRUMM")
BANKS = [("Sberbank", "SABRRUMM"), ("VTB", "VTBRRUMM"), ("Alfa-Bank", "ALFARUMM"), ("Gazprombank", "GAZPRUMM")]

INSTITUTION = """
mutation($input: InstitutionInput!) { createInstitution(input: $input) { institution { id } errors { code message } } }
"""
OPEN_ACCOUNT = """
mutation($input: OpenAccountInput!) { openAccount(input: $input) { account { id } errors { code message } } }
"""
TRANSFERS = """
mutation($t: [TransferInput!]!) { createTransfers(transfers: $t) { results { created errors { code message } } } }
"""


class Unreachable(Exception):
    """PostgreSQL did not answer."""


@dataclass
class World:
    """What the measurements need: the key, the customer accounts, the hot account."""

    secret: str
    customers: list[str]  # opaque Account ids
    hot: str


# ---------------------------------------------------------------- databases


def _admin_engine(url: str, database: str):
    return create_async_engine(
        make_url(url).set(database=database), isolation_level="AUTOCOMMIT", connect_args={"timeout": 5}
    )


async def reset_postgres(url: str = POSTGRES_URL) -> None:
    """Create the benchmark database if missing and empty it; Unreachable if PostgreSQL is not there."""
    name = make_url(url).database
    admin = _admin_engine(url, "postgres")
    try:
        async with admin.connect() as connection:
            if not await connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # refused connection or login, timeout (some wrapped by SQLAlchemy)
        raise Unreachable(f"{type(error).__name__}: {error}") from error
    finally:
        await admin.dispose()
    engine = _admin_engine(url, name)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def postgres_version(url: str = POSTGRES_URL) -> str:
    """The server's version, or why there is none."""
    engine = _admin_engine(url, "postgres")
    try:
        async with engine.connect() as connection:
            return await connection.scalar(text("SHOW server_version"))
    except Exception as error:
        return f"unreachable ({type(error).__name__})"
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- data, through the API


async def _call(connection: Connection, query: str, variables: dict) -> dict:
    status, body = await asyncio.wait_for(
        connection.post_graphql(json.dumps({"query": query, "variables": variables}).encode()), 60
    )
    document = json.loads(body)
    if status != 200 or document.get("errors"):
        raise RuntimeError(f"GraphQL call failed ({status}): {body[:500]!r}")
    return document["data"]


def _no_errors(payload: dict) -> dict:
    if payload["errors"]:
        raise RuntimeError(f"the API refused: {payload['errors']}")
    return payload


async def _institution(connection: Connection, name: str, bic: str, kind: str) -> str:
    variables = {"input": {"name": name, "bic": bic, "countryCode": "RU", "kind": kind}}
    payload = _no_errors((await _call(connection, INSTITUTION, variables))["createInstitution"])
    return payload["institution"]["id"]


async def _account(connection: Connection, owner: str, name: str, kind: str) -> str:
    variables = {"input": {"ownerId": owner, "name": name, "currency": "RUB", "kind": kind}}
    payload = _no_errors((await _call(connection, OPEN_ACCOUNT, variables))["openAccount"])
    return payload["account"]["id"]


async def _fund(connection: Connection, issuance: str, credits: list[tuple[str, str]]) -> None:
    for start in range(0, len(credits), FUNDING_BATCH):
        transfers = [
            {
                "transferId": str(uuid.uuid4()),
                "debitAccountId": issuance,
                "creditAccountId": account,
                "amount": amount,
                "currency": "RUB",
            }
            for account, amount in credits[start : start + FUNDING_BATCH]
        ]
        results = (await _call(connection, TRANSFERS, {"t": transfers}))["createTransfers"]["results"]
        failed = [result for result in results if result["errors"] or not result["created"]]
        if failed:
            raise RuntimeError(f"{len(failed)} funding transfers failed, e.g. {failed[0]}")


async def build(port: int, secret: str, customers: int = CUSTOMERS) -> World:
    """Institutions, accounts and funds, through the API of the server on `port`."""
    connections = [Connection(port, secret) for _ in range(PARALLEL)]
    first = connections[0]
    try:
        central_bank = await _institution(first, *CENTRAL_BANK, "CENTRAL_BANK")
        banks = [await _institution(first, name, bic, "COMMERCIAL_BANK") for name, bic in BANKS]
        issuance = await _account(first, central_bank, "RUB issuance", "ISSUANCE")
        hot = await _account(first, banks[0], "Hot account", "CUSTOMER")

        async def open_some(connection: Connection, numbers: range) -> list[str]:
            return [await _account(connection, banks[n % len(banks)], f"Customer {n}", "CUSTOMER") for n in numbers]

        slices = await asyncio.gather(*(open_some(c, range(i, customers, PARALLEL)) for i, c in enumerate(connections)))
        accounts = [account for part in slices for account in part]
        await _fund(first, issuance, [(account, CUSTOMER_FUNDS) for account in accounts] + [(hot, HOT_FUNDS)])
    finally:
        for connection in connections:
            connection.close()
    return World(secret=secret, customers=accounts, hot=hot)
