"""The card network's lists: cards, merchants and authorizations as connections, each
row as visible as its node (an issuer sees its cards, an acquirer its merchants, both
the authorizations they are party to), filtered, paged by keyset, in a fixed number of
statements."""

from __future__ import annotations

import datetime as dt

from models.access import Role
from models.base import set_clock_skew
from tests.card_world import CAPTURE, authorize, build
from tests.ledger_world import pk

CARDS = """
query($first: Int, $after: String, $scheme: String, $status: CardStatus) {
  cards(first: $first, after: $after, schemeCode: $scheme, status: $status) {
    pageInfo { hasNextPage endCursor } edges { node { id maskedPan issuer { bic } schemes { code } } }
  }
}
"""
MERCHANTS = """
query($scheme: String, $country: String) {
  merchants(schemeCode: $scheme, countryCode: $country) { edges { node { id name acquirer { bic } } } }
}
"""
AUTHORIZATIONS = """
query($first: Int, $after: String, $merchant: ID, $state: AuthorizationState) {
  authorizations(first: $first, after: $after, merchantId: $merchant, state: $state) {
    pageInfo { hasNextPage endCursor }
    edges { node { authorizationId state responseCode merchant { name } amount { amount currency } } }
  }
}
"""


def names(data: dict, field: str, key: str = "name") -> list:
    return [edge["node"][key] for edge in data[field]["edges"]]


async def test_cards_are_listed_for_their_issuer_and_the_operator(api):
    ids = await build(api)
    everything = await api(CARDS)
    assert len(everything["cards"]["edges"]) == 4
    sber = await api.new_key(Role.PARTICIPANT, pk(ids["sber"]))
    boc = await api.new_key(Role.PARTICIPANT, pk(ids["boc"]))
    analyst = await api.new_key(Role.ANALYST)
    assert {edge["node"]["issuer"]["bic"] for edge in (await api(CARDS, key=sber))["cards"]["edges"]} == {"SABRRUMM"}
    assert [edge["node"]["issuer"]["bic"] for edge in (await api(CARDS, key=boc))["cards"]["edges"]] == ["BKCHCNBJ"]
    assert (await api(CARDS, key=analyst))["cards"]["edges"] == []
    on_unionpay = await api(CARDS, {"scheme": "UNIONPAY"})  # the UnionPay card and the co-badged one
    assert sorted(len(edge["node"]["schemes"]) for edge in on_unionpay["cards"]["edges"]) == [1, 2]
    page = await api(CARDS, {"first": 3})
    rest = await api(CARDS, {"first": 3, "after": page["cards"]["pageInfo"]["endCursor"]})
    assert page["cards"]["pageInfo"]["hasNextPage"] and not rest["cards"]["pageInfo"]["hasNextPage"]
    assert len(rest["cards"]["edges"]) == 1
    unknown = await api.raw(CARDS, {"scheme": "NOPE"})
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_merchants_are_listed_for_their_acquirer_and_the_operator(api):
    ids = await build(api)
    assert names(await api(MERCHANTS), "merchants") == ["Moscow bookshop", "Shanghai tea house", "Shanghai hotel"]
    assert names(await api(MERCHANTS, {"country": "CN", "scheme": "VISA"}), "merchants") == ["Shanghai hotel"]
    sber = await api.new_key(Role.PARTICIPANT, pk(ids["sber"]))
    assert names(await api(MERCHANTS, key=sber), "merchants") == ["Moscow bookshop"]


async def test_authorizations_newest_first_for_acquirer_and_issuer_with_their_state(api):
    ids = await build(api)
    boc = await api.new_key(Role.PARTICIPANT, pk(ids["boc"]))
    sber = await api.new_key(Role.PARTICIPANT, pk(ids["sber"]))
    moscow = (await authorize(api, ids["moscow"], "unionpay", "100.00", "RUB"))["authorization"]
    shanghai = (await authorize(api, ids["shanghai"], "unionpay", "20.00", "CNY"))["authorization"]
    declined = (await authorize(api, ids["hotel"], "visa", "5.00", "CNY"))["authorization"]
    assert (await api(CAPTURE, {"id": shanghai["authorizationId"]}))["capturePayment"]["errors"] == []
    listed = await api(AUTHORIZATIONS)
    assert [edge["node"]["authorizationId"] for edge in listed["authorizations"]["edges"]] == [
        declined["authorizationId"],
        shanghai["authorizationId"],
        moscow["authorizationId"],
    ]
    # Bank of China issued the UnionPay card (both payments) and acquires in Shanghai
    # (the Visa decline too); Sberbank acquired the Moscow one and issued the Visa card.
    assert len((await api(AUTHORIZATIONS, key=boc))["authorizations"]["edges"]) == 3
    mine = [
        edge["node"]["merchant"]["name"] for edge in (await api(AUTHORIZATIONS, key=sber))["authorizations"]["edges"]
    ]
    assert mine == ["Shanghai hotel", "Moscow bookshop"]
    assert (await api(AUTHORIZATIONS, key=await api.new_key(Role.ANALYST)))["authorizations"]["edges"] == []
    at_shanghai = await api(AUTHORIZATIONS, {"merchant": ids["shanghai"]})
    assert [edge["node"]["state"] for edge in at_shanghai["authorizations"]["edges"]] == ["CAPTURED"]
    # An approval whose holds lapsed reads EXPIRED, and filters so, before any sweep.
    set_clock_skew(dt.timedelta(days=8))
    try:
        expired = await api(AUTHORIZATIONS, {"state": "EXPIRED"})
        approved = await api(AUTHORIZATIONS, {"state": "APPROVED"})
    finally:
        set_clock_skew(dt.timedelta(0))
    assert [edge["node"]["authorizationId"] for edge in expired["authorizations"]["edges"]] == [
        moscow["authorizationId"]
    ]
    assert approved["authorizations"]["edges"] == []
    assert [
        e["node"]["state"] for e in (await api(AUTHORIZATIONS, {"state": "DECLINED"}))["authorizations"]["edges"]
    ] == ["DECLINED"]


async def test_lists_load_their_nested_objects_in_a_few_statements(api):
    ids = await build(api)
    for amount in ("1.00", "2.00", "3.00", "4.00", "5.00", "6.00"):
        await authorize(api, ids["moscow"], "mir", amount, "RUB")

    async def statements(first: int) -> int:
        with api.count_statements() as counted:
            data = await api(AUTHORIZATIONS, {"first": first})
        assert len(data["authorizations"]["edges"]) == first
        return counted[0]

    assert await statements(2) == await statements(6) <= 6
