"""The reads frontends make all day, as bench/load.py makes them: a page of accounts and an
account's latest transfers. Their statement counts (below what they were),
and that a page's fields answer as each field alone does (balances with lapsed holds
released, visibility per row, money exact), whichever way the query selects them."""

from __future__ import annotations

import pytest

from bench.load import ACCOUNTS_QUERY, TRANSFERS_QUERY
from models.access import Role
from tests import test_ledger
from tests.ledger_world import ACCOUNT, account, balances, build, pk, send, transfer

clock = test_ledger.clock  # the fixture that moves the service's clock

# Statements of each page by engine (SQLite's BEGIN is a statement too): the institution, its
# page of accounts, their lapsed holds (7 and 6 before the page loaded its rows' fields at
# once); the account, its page of transfers, their accounts (5 and 4 before).
ACCOUNTS_STATEMENTS = {"sqlite": 4, "postgresql": 3}
TRANSFERS_STATEMENTS = {"sqlite": 4, "postgresql": 3}


async def sber_page(api, customers: int = 6):
    """The world of tests.ledger_world with `customers` more Sberbank accounts, each funded;
    a hold on some that lapses after 30 s, one that does not, and a posted transfer."""
    world = await build(api)
    extra = [await account(api, world.sber, f"Customer {n}", "RUB", "CUSTOMER") for n in range(customers)]
    await send(api, *[transfer(world.issuance, a, f"{10 + n}.25") for n, a in enumerate(extra)])
    await send(
        api,
        transfer(extra[0], world.vtb_customer, "1.10", pending=True, timeoutSeconds=30),
        transfer(world.vtb_settlement, extra[1], "2.20", pending=True, timeoutSeconds=30),
        transfer(extra[2], world.vtb_customer, "3.30", pending=True),
        transfer(extra[3], world.sber_customer, "4.40"),
    )
    return world, extra


PAGE = """
query($bic: String!, $first: Int) { institution(bic: $bic) { accounts(first: $first) { edges { node {
  id name currency { code minorUnits } owner { name bic }
  debitsPending debitsPosted creditsPending creditsPosted balance { amount currency } available { amount currency }
} } } } }
"""
# The same fields, reached through a fragment, an inline fragment and aliases.
PAGE_BY_FRAGMENTS = """
fragment Money on Account { balance { amount currency } paid: available { amount currency } }
query($bic: String!, $first: Int) { institution(bic: $bic) { accounts(first: $first) { edges { node {
  id name ... on Account { currency { code minorUnits } owner { name bic } }
  dp: debitsPending debitsPosted ... { creditsPending creditsPosted } ...Money
} } } } }
"""


def per_field(node: dict) -> dict:
    return {
        "debitsPending": node.get("debitsPending", node.get("dp")),
        "debitsPosted": node["debitsPosted"],
        "creditsPending": node["creditsPending"],
        "creditsPosted": node["creditsPosted"],
        "balance": node["balance"]["amount"],
        "available": node.get("available", node.get("paid"))["amount"],
    }


@pytest.mark.parametrize("query", [PAGE, PAGE_BY_FRAGMENTS], ids=["fields", "fragments"])
async def test_a_page_of_accounts_shows_what_each_account_shows_alone(api, clock, query):
    world, extra = await sber_page(api)
    for seconds in (0, 31):  # before and after the holds lapse (not swept: released as read)
        clock(seconds)
        edges = (await api(query, {"bic": "SABRRUMM", "first": 100}))["institution"]["accounts"]["edges"]
        nodes = [edge["node"] for edge in edges]
        assert [node["id"] for node in nodes] == [world.sber_settlement, world.sber_customer, *extra]
        for node in nodes:
            assert per_field(node) == await balances(api, node["id"]), (seconds, node["name"])
            assert node["currency"] == {"code": "RUB", "minorUnits": 2}
            assert node["owner"] == {"name": "Sberbank", "bic": "SABRRUMM"}
            assert node["balance"]["currency"] == "RUB"
        first, second = per_field(nodes[2]), per_field(nodes[3])
        assert first["debitsPending"] == ("1.10" if seconds == 0 else "0.00")
        assert first["available"] == ("9.15" if seconds == 0 else "10.25")
        assert second["creditsPending"] == ("2.20" if seconds == 0 else "0.00")
        assert per_field(nodes[4])["debitsPending"] == "3.30"  # no expiry: never lapses
        assert per_field(nodes[5])["balance"] == "8.85"


async def test_a_page_of_accounts_and_its_statements(api):
    await sber_page(api, customers=30)
    await api(ACCOUNTS_QUERY, {"bic": "SABRRUMM", "first": 1})  # what a process reads once, read
    counts = []
    for first in (3, 30):
        with api.count_statements() as statements:
            data = await api(ACCOUNTS_QUERY, {"bic": "SABRRUMM", "first": first})
        assert len(data["institution"]["accounts"]["edges"]) == first
        counts.append(statements[0])
    assert counts == [ACCOUNTS_STATEMENTS[api.dialect]] * 2, counts
    # Nothing more to load: the page's own statement (and its transaction's), whatever it shows.
    with api.count_statements() as statements:
        await api(
            "query($bic: String!) { institution(bic: $bic) { accounts(first: 30) { edges { node { id name } } } } }",
            {"bic": "SABRRUMM"},
        )
    assert statements[0] < counts[0]


async def test_a_participant_sees_its_own_page_and_no_other(api):
    world, extra = await sber_page(api)
    sber_key = await api.new_key(Role.PARTICIPANT, pk(world.sber))
    own = (await api(PAGE, {"bic": "SABRRUMM", "first": 100}, key=sber_key))["institution"]["accounts"]["edges"]
    assert len(own) == 2 + len(extra)
    for edge in own:
        assert per_field(edge["node"]) == await balances(api, edge["node"]["id"])
    other = await api(PAGE, {"bic": "VTBRRUMM", "first": 100}, key=sber_key)
    assert other["institution"]["accounts"]["edges"] == []
    analyst = await api.new_key(Role.ANALYST)
    assert (await api(PAGE, {"bic": "SABRRUMM"}, key=analyst))["institution"]["accounts"]["edges"] == []


HISTORY = """
query($id: ID!, $first: Int) { node(id: $id) { ... on Account { transfers(first: $first) { edges { node {
  amount { amount currency } debitAccount { id name debitsPending } creditAccount { id name debitsPending }
} } } } } }
"""


async def test_a_transfers_page_shows_balances_only_of_the_callers_accounts(api, clock):
    """A transfer's accounts are named for whoever sees the transfer; their balances only for
    their institution's callers, one account at a time, lapsed holds released."""
    world, extra = await sber_page(api)
    sber_key = await api.new_key(Role.PARTICIPANT, pk(world.sber))
    clock(31)
    body = await api.raw(HISTORY, {"id": extra[0], "first": 10}, key=sber_key)
    # The VTB account credited by the hold, the central bank's that funded the account.
    assert body["errors"] and {error["extensions"]["code"] for error in body["errors"]} == {"FORBIDDEN"}
    assert body["data"]["node"] is None  # a non-null field's error nulls up to the nullable node
    operator = (await api(HISTORY, {"id": extra[0], "first": 10}))["node"]["transfers"]["edges"]
    hold, funding = (edge["node"] for edge in operator)
    assert hold["amount"] == {"amount": "1.10", "currency": "RUB"}
    assert hold["debitAccount"] == {"id": extra[0], "name": "Customer 0", "debitsPending": "0.00"}  # lapsed
    assert hold["creditAccount"]["name"] == "Olga Ivanova"
    assert funding["debitAccount"]["name"] == "RUB issuance" and funding["amount"]["amount"] == "10.25"
    # The page's own account reads the same through the page and alone.
    alone = (await api(ACCOUNT, {"id": extra[0]}))["node"]
    assert alone["debitsPending"] == hold["debitAccount"]["debitsPending"]


async def test_an_accounts_transfers_and_their_statements(api):
    world = await build(api)
    others = [world.vtb_settlement, world.vtb_customer, world.sber_customer]
    await send(api, *[transfer(world.sber_settlement, others[n % 3], "0.01") for n in range(60)])
    await api(TRANSFERS_QUERY, {"id": world.sber_settlement, "first": 1})  # what a process reads once, read
    counts = []
    for first in (3, 50):
        with api.count_statements() as statements:
            data = await api(TRANSFERS_QUERY, {"id": world.sber_settlement, "first": first})
        edges = data["node"]["transfers"]["edges"]
        assert len(edges) == first
        assert all(world.sber_settlement == edge["node"]["debitAccount"]["id"] for edge in edges)
        assert {edge["node"]["creditAccount"]["name"] for edge in edges} <= {
            "VTB settlement",
            "Olga Ivanova",
            "Ivan Petrov",
        }
        counts.append(statements[0])
    assert counts == [TRANSFERS_STATEMENTS[api.dialect]] * 2, counts
