"""Worker processes are stateless over the database: two `corridor serve` processes on
separate ports, one database, clients writing through both at once (replays of one
transfer sent to both servers at the same moment among them). Afterwards the ledger's
invariants hold as if one server had taken every request: each transfer once, every
account's columns the sums of its transfers, debits equal to credits, no overdraft, and
every balance what the clients' own tally of their created transfers says. On PostgreSQL
the two servers' transactions run at the same time; on SQLite they share one file, whose
write lock serializes them."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.server import Server
from tests.ledger_world import TRANSFERS, transfer
from tests.served import errors_logged

CLIENTS = 12
ROUNDS = 12
FUND = Decimal("500.00")
ISSUANCE = """
query { institution(bic: "CBRFRUMM") { accounts(currency: "RUB") { edges { node { id kind } } } } }
"""
BANK = "mutation($input: InstitutionInput!) { createInstitution(input: $input) { institution { id } errors { code } } }"
OPEN = """
mutation($input: OpenAccountInput!) { openAccount(input: $input) { account { id } errors { code message } } }
"""
# Accounts whose columns are not the sums of their transfers: pending amounts while
# PENDING, posted ones (the amount, or what a hold was posted for) once POSTED.
DRIFTED = """
WITH legs AS (
  SELECT debit_account_id AS id,
         CASE WHEN state = 'PENDING' THEN amount ELSE 0 END AS pending,
         CASE WHEN state <> 'POSTED' THEN 0 WHEN pending THEN coalesce(posted_amount, 0) ELSE amount END AS posted,
         1 AS debit
  FROM transfer
  UNION ALL
  SELECT credit_account_id,
         CASE WHEN state = 'PENDING' THEN amount ELSE 0 END,
         CASE WHEN state <> 'POSTED' THEN 0 WHEN pending THEN coalesce(posted_amount, 0) ELSE amount END,
         0
  FROM transfer
), sums AS (
  SELECT id,
         sum(CASE WHEN debit = 1 THEN pending ELSE 0 END) AS dpend,
         sum(CASE WHEN debit = 1 THEN posted ELSE 0 END) AS dpost,
         sum(CASE WHEN debit = 0 THEN pending ELSE 0 END) AS cpend,
         sum(CASE WHEN debit = 0 THEN posted ELSE 0 END) AS cpost
  FROM legs GROUP BY id
)
SELECT count(*) FROM account a LEFT JOIN sums s ON s.id = a.id
WHERE a.debits_pending <> coalesce(s.dpend, 0) OR a.debits_posted <> coalesce(s.dpost, 0)
   OR a.credits_pending <> coalesce(s.cpend, 0) OR a.credits_posted <> coalesce(s.cpost, 0)
"""
BALANCES = "query($id: ID!) { node(id: $id) { ... on Account { balance { amount } } } }"


class Remote:
    """One server as a client sees it: a GraphQL request over HTTP, its data."""

    def __init__(self, http: httpx.AsyncClient, url: str, key: str) -> None:
        self.http, self.url, self.key = http, url, key

    async def __call__(self, query: str, variables: dict | None = None) -> dict:
        answer = await self.http.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.key}"},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert "errors" not in body, body
        return body["data"]

    async def send(self, *items: dict) -> list[dict]:
        return (await self(TRANSFERS, {"transfers": list(items), "atomic": False}))["createTransfers"]["results"]


async def _world(api: Remote) -> list[str]:
    """Two banks of their own, each a funded SETTLEMENT account and two CUSTOMER accounts."""
    edges = (await api(ISSUANCE))["institution"]["accounts"]["edges"]
    issuance = next(edge["node"]["id"] for edge in edges if edge["node"]["kind"] == "ISSUANCE")
    accounts = []
    for letter in "AB":
        bank = {
            "name": f"Scale bank {letter}",
            "bic": f"SCL{letter}RUMM",
            "countryCode": "RU",
            "kind": "COMMERCIAL_BANK",
        }
        made = (await api(BANK, {"input": bank}))["createInstitution"]
        assert made["errors"] == [], made
        for name, kind in (("settlement", "SETTLEMENT"), ("customer 1", "CUSTOMER"), ("customer 2", "CUSTOMER")):
            spec = {"ownerId": made["institution"]["id"], "name": name, "currency": "RUB", "kind": kind}
            opened = (await api(OPEN, {"input": spec}))["openAccount"]
            assert opened["errors"] == [], opened
            accounts.append(opened["account"]["id"])
    funding = [transfer(issuance, accounts[0], str(FUND)), transfer(issuance, accounts[3], str(FUND))]
    assert all(result["errors"] == [] for result in await api.send(*funding))
    return accounts


class Load:
    """The clients' work and their tally: each transfer they saw created, once."""

    def __init__(self, servers: list[Remote], accounts: list[str]) -> None:
        self.servers, self.accounts = servers, accounts
        self.created: dict[str, dict] = {}
        self.creations = Counter()  # transferId -> answers with created: true
        self.refusals = Counter()

    def _note(self, item: dict, result: dict) -> None:
        if result["errors"]:
            code = result["errors"][0]["code"]
            assert code == "INSUFFICIENT_FUNDS", result
            self.refusals[code] += 1
            return
        assert result["transfer"]["transferId"] == item["transferId"], result
        self.creations[item["transferId"]] += result["created"]
        if result["created"]:
            self.created[item["transferId"]] = item

    def _new(self, rng: random.Random) -> dict:
        debit, credit = rng.sample(self.accounts, 2)
        return transfer(debit, credit, f"{rng.randint(1, 9_000) / 100:.2f}")

    async def client(self, number: int) -> None:
        rng = random.Random(number)
        mine: list[dict] = []
        for round_ in range(ROUNDS):
            here, there = self.servers[round_ % 2], self.servers[(round_ + 1) % 2]
            if round_ % 4 == 3:  # one new transfer sent to both servers at the same moment
                item = self._new(rng)
                answers = await asyncio.gather(here.send(item), there.send(item))
                for results in answers:
                    self._note(item, results[0])
                continue
            batch = [self._new(rng) for _ in range(rng.randint(1, 3))]
            if mine and rng.random() < 0.3:
                batch.append(rng.choice(mine))  # a replay, through the other server this time
            mine.extend(batch)
            for item, result in zip(batch, await here.send(*batch), strict=True):
                self._note(item, result)


async def _invariants(database_url: str, accounts: list[str], load: Load, api: Remote) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            stored = (await connection.execute(text("SELECT transfer_id FROM transfer"))).scalars().all()
            sums = (
                await connection.execute(
                    text(
                        "SELECT sum(debits_posted) - sum(credits_posted), sum(debits_pending) - sum(credits_pending)"
                        " FROM account"
                    )
                )
            ).one()
            overdrawn = await connection.scalar(
                text(
                    "SELECT count(*) FROM account"
                    " WHERE kind <> 'ISSUANCE' AND credits_posted - debits_posted - debits_pending < 0"
                )
            )
            drifted = await connection.scalar(text(DRIFTED))
    finally:
        await engine.dispose()
    keys = Counter(str(uuid.UUID(str(key))) for key in stored)
    assert max(keys.values()) == 1  # no transfer twice
    assert all(keys[key] == 1 for key in load.created)  # every created one stored
    assert max(load.creations.values()) == 1, load.creations.most_common(3)
    assert tuple(sums) == (0, 0) and overdrawn == 0 and drifted == 0, (sums, overdrawn, drifted)
    expected = dict.fromkeys(accounts, Decimal(0))
    expected[accounts[0]] = expected[accounts[3]] = FUND
    for item in load.created.values():
        expected[item["debitAccountId"]] -= Decimal(item["amount"])
        expected[item["creditAccountId"]] += Decimal(item["amount"])
    for account_id, balance in expected.items():
        node = (await api(BALANCES, {"id": account_id}))["node"]
        assert Decimal(node["balance"]["amount"]) == balance, (account_id, node, balance)


async def test_two_servers_on_one_database_keep_the_ledger_whole(served, tmp_path: Path):
    second = Server(served.database_url, 1, tmp_path / "second.log")
    await asyncio.to_thread(second.__enter__)  # its own process, port and connection pool
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            servers = [
                Remote(http, served.url, served.operator_key),
                Remote(http, f"http://127.0.0.1:{second.port}", served.operator_key),
            ]
            accounts = await _world(servers[0])
            load = Load(servers, accounts)
            await asyncio.gather(*(load.client(number) for number in range(CLIENTS)))
            assert len(load.created) > CLIENTS * ROUNDS  # the load was real, not mostly refused
            await _invariants(served.database_url, accounts, load, servers[1])
    finally:
        await asyncio.to_thread(second.__exit__, None, None, None)
    assert errors_logged(served.log_path) == [] and errors_logged(tmp_path / "second.log") == []
