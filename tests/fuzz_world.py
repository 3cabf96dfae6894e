"""The network the fuzz test (tests/test_fuzz.py) aims its requests at, built through the API.

tests/card_world.py's card network (ledger, schemes, cards, merchants, FX rates), and on
top of it: USD and XAU rates and a basket, a pending and a posted transfer, card payments
(approved; captured and refunded in part; acquired from another bank's card), an FX
quote; API keys of each role; and everything a generated request can name: the global
ids of every node it can read back, the UUIDs of transfers and authorizations, cursors,
codes, BICs and PANs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from models.access import Role
from tests import card_world
from tests.ledger_world import pk, send, transfer

QUOTE = """
mutation($input: QuoteInput!) { requestQuote(input: $input) { quote { id } errors { code message } } }
"""
BASKET = """
mutation($input: DefineBasketInput!) { defineBasket(input: $input) { basket { id } errors { code message } } }
"""
# Everything the OPERATOR can list, to harvest ids and cursors.
HARVEST = """
{
  institutions(first: 100) {
    pageInfo { startCursor endCursor }
    edges {
      cursor
      node {
        id bic
        accounts(first: 100) {
          pageInfo { startCursor endCursor }
          edges { cursor node { id transfers(first: 100) { edges { cursor node { id transferId } } } } }
        }
      }
    }
  }
  cardSchemes { id code }
  schemeLinks { id }
}
"""


@dataclass
class FuzzWorld:
    ids: dict[str, str]  # card_world's names -> global ids, and the extras below
    keys: dict[str, str]  # a label ("OPERATOR", "PARTICIPANT sber", ...) -> API key secret
    global_ids: list[str] = field(default_factory=list)  # every node id read back
    uuids: list[str] = field(default_factory=list)  # transfer and authorization UUIDs
    cursors: list[str] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)  # codes, BICs, PANs that exist


async def build(api) -> FuzzWorld:
    ids = await card_world.build(api)
    uuids: list[str] = []

    # More rates (a basket of XAU and CNY valued in USD) and a basket.
    rates = [
        {"base": "XAU", "quote": "USD", "rate": "2000", "source": "fuzz"},
        {"base": "CNY", "quote": "USD", "rate": "0.14", "source": "fuzz"},
        {"base": "USD", "quote": "RUB", "rate": "92.5", "source": "fuzz"},
    ]
    assert (await api(card_world.PUBLISH, {"r": rates}))["publishRates"]["errors"] == []
    basket = {
        "code": "UNIT",
        "name": "Fuzz unit",
        "components": [{"currency": "XAU", "weight": "0.4"}, {"currency": "CNY", "weight": "0.6"}],
        "initialValue": "100",
        "valueCurrency": "USD",
    }
    payload = (await api(BASKET, {"input": basket}))["defineBasket"]
    assert payload["errors"] == [], payload
    ids["basket"] = payload["basket"]["id"]

    # A pending transfer and a posted one between two RUB accounts.
    pending = transfer(ids["ivan"], ids["anna"], "10.00", pending=True, timeoutSeconds=86_400)
    posted = transfer(ids["anna"], ids["ivan"], "5.00", reference="fuzz")
    results = await send(api, pending, posted)
    assert all(r["errors"] == [] for r in results), results
    uuids += [pending["transferId"], posted["transferId"]]

    # Card payments: one approved, one captured and refunded in part, and one that Sberbank
    # acquired from Bank of China's card (whose legs touch accounts Sberbank may not see).
    approved = await card_world.authorize(api, ids["moscow"], "mir", "100.00", "RUB")
    assert approved["errors"] == [], approved
    captured = await card_world.authorize(api, ids["shanghai"], "unionpay", "50.00", "CNY")
    assert captured["errors"] == [], captured
    foreign = await card_world.authorize(api, ids["moscow"], "unionpay", "200.00", "RUB")
    assert foreign["errors"] == [], foreign
    for auth in (approved, captured, foreign):
        ids[f"authorization {auth['authorization']['authorizationId']}"] = auth["authorization"]["id"]
        uuids.append(auth["authorization"]["authorizationId"])
    key = captured["authorization"]["authorizationId"]
    assert (await api(card_world.CAPTURE, {"id": key}))["capturePayment"]["errors"] == []
    refund = {"refundId": str(uuid.uuid4()), "authorizationId": key, "amount": "10.00"}
    assert (await api(card_world.REFUND, {"input": refund}))["refundPayment"]["errors"] == []
    uuids.append(refund["refundId"])

    # An open FX quote.
    quote = {"sellCurrency": "RUB", "buyCurrency": "CNY", "sellAmount": "1000.00"}
    payload = (await api(QUOTE, {"input": quote}))["requestQuote"]
    assert payload["errors"] == [], payload
    ids["quote"] = payload["quote"]["id"]

    keys = {
        "OPERATOR": api.key,
        "PARTICIPANT sber": await api.new_key(Role.PARTICIPANT, pk(ids["sber"])),
        "PARTICIPANT boc": await api.new_key(Role.PARTICIPANT, pk(ids["boc"])),
        "ANALYST": await api.new_key(Role.ANALYST),
    }

    world = FuzzWorld(ids=ids, keys=keys, uuids=uuids)
    data = await api(HARVEST)
    found: set[str] = set(ids.values())
    cursors: set[str] = set()
    strings: set[str] = set()
    institutions = data["institutions"]
    cursors.update(c for c in institutions["pageInfo"].values() if c)
    for edge in institutions["edges"]:
        cursors.add(edge["cursor"])
        found.add(edge["node"]["id"])
        strings.add(edge["node"]["bic"])
        accounts = edge["node"]["accounts"]
        cursors.update(c for c in accounts["pageInfo"].values() if c)
        for account_edge in accounts["edges"]:
            cursors.add(account_edge["cursor"])
            found.add(account_edge["node"]["id"])
            for transfer_edge in account_edge["node"]["transfers"]["edges"]:
                cursors.add(transfer_edge["cursor"])
                found.add(transfer_edge["node"]["id"])
                uuids.append(transfer_edge["node"]["transferId"])
    for scheme in data["cardSchemes"]:
        found.add(scheme["id"])
        strings.add(scheme["code"])
    found.update(link["id"] for link in data["schemeLinks"])
    strings.update(card_world.PANS.values())
    strings.update(["RUB", "CNY", "USD", "XAU", "EUR", "INR", "RU", "CN", "AE", "US", "UNIT", "ELO"])
    world.global_ids = sorted(found)
    world.uuids = sorted(set(uuids))
    world.cursors = sorted(cursors)
    world.strings = sorted(strings)
    return world
