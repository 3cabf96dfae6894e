"""Issuing cards and creating merchants; the PAN never reaches the database, logs or errors."""

from __future__ import annotations

import glob
import logging

import pytest
from sqlalchemy import text

from models.access import Role
from tests.ledger_world import account, institution, pk
from tests.test_cards_schemes import MEMBERSHIP, schemes

ISSUE = """
mutation($input: IssueCardInput!) {
  issueCard(input: $input) {
    card { id maskedPan last4 schemes { code } issuer { bic } account { name } expiryMonth expiryYear status }
    errors { code message field }
  }
}
"""
STATUS = """
mutation($id: ID!, $status: CardStatus!) {
  setCardStatus(cardId: $id, status: $status) { card { status } errors { code field } }
}
"""
MERCHANT = """
mutation($input: MerchantInput!) {
  createMerchant(input: $input) {
    merchant { id name country { code } acquirer { bic } acceptingScheme { code } account { name } }
    errors { code message field }
  }
}
"""


def luhn(prefix: str, length: int = 16) -> str:
    """`prefix` padded with zeros and completed with its Luhn check digit."""
    body = prefix.ljust(length - 1, "0")
    total = 0
    for index, digit in enumerate(reversed(body)):
        value = int(digit) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str((10 - total % 10) % 10)


async def network(api) -> dict:
    ids = await schemes(api)
    sber = await institution(api, "Sberbank", "SABRRUMM", "RU", "COMMERCIAL_BANK")
    boc = await institution(api, "Bank of China", "BKCHCNBJ", "CN", "COMMERCIAL_BANK")
    for bank, scheme, roles, status in [
        (sber, "MIR", ["ISSUER", "ACQUIRER"], "ACTIVE"),
        (sber, "UNIONPAY", ["ISSUER"], "ACTIVE"),
        (sber, "VISA", ["ISSUER"], "SUSPENDED"),
        (boc, "UNIONPAY", ["ISSUER", "ACQUIRER"], "ACTIVE"),
    ]:
        item = {"schemeCode": scheme, "institutionId": bank, "roles": roles, "status": status}
        if status == "SUSPENDED":
            item["reason"] = "sanctions 2022"
        assert (await api(MEMBERSHIP, {"input": item}))["setSchemeMembership"]["errors"] == []
    ids.update(
        sber=sber,
        boc=boc,
        ivan=await account(api, sber, "Ivan Petrov", "RUB", "CUSTOMER"),
        sber_settlement=await account(api, sber, "Sber settlement", "RUB", "SETTLEMENT"),
        shop_rub=await account(api, sber, "Moscow shop", "RUB", "CUSTOMER"),
        shop_cny=await account(api, boc, "Shanghai shop", "CNY", "CUSTOMER"),
    )
    return ids


def card_input(pan, account_id, **extra):
    return {"input": {"pan": pan, "expiryMonth": 12, "expiryYear": 2029, "accountId": account_id, **extra}}


async def test_issue_a_mir_card_and_a_co_badged_one(api):
    ids = await network(api)
    pan = luhn("2200")
    card = (await api(ISSUE, card_input(pan, ids["ivan"])))["issueCard"]
    assert card["errors"] == []
    assert card["card"]["maskedPan"] == pan[:6] + "******" + pan[-4:]
    assert card["card"]["last4"] == pan[-4:]
    assert card["card"]["schemes"] == [{"code": "MIR"}]
    assert card["card"]["issuer"] == {"bic": "SABRRUMM"} and card["card"]["account"] == {"name": "Ivan Petrov"}
    co = (await api(ISSUE, card_input(luhn("2201"), ids["ivan"], coBadgeSchemeCode="UNIONPAY")))["issueCard"]
    assert co["card"]["schemes"] == [{"code": "MIR"}, {"code": "UNIONPAY"}]
    blocked = (await api(STATUS, {"id": card["card"]["id"], "status": "BLOCKED"}))["setCardStatus"]
    assert blocked == {"card": {"status": "BLOCKED"}, "errors": []}


@pytest.mark.parametrize(
    ("pan", "extra", "code", "field"),
    [
        ("2200abc", {}, "INVALID_INPUT", ["input", "pan"]),
        ("220012345678", {}, "INVALID_INPUT", ["input", "pan"]),  # 12 digits
        ("bad luhn", {}, "INVALID_INPUT", ["input", "pan"]),
        (luhn("35"), {}, "INVALID_INPUT", ["input", "pan"]),  # no scheme holds it
        (luhn("4"), {}, "PARTICIPANT_SUSPENDED", ["input", "pan"]),  # Sber's Visa membership is suspended
        (luhn("2200"), {"coBadgeSchemeCode": "VISA"}, "PARTICIPANT_SUSPENDED", ["input", "coBadgeSchemeCode"]),
        (luhn("2200"), {"coBadgeSchemeCode": "ELO"}, "NOT_A_MEMBER", ["input", "coBadgeSchemeCode"]),
        (luhn("2200"), {"coBadgeSchemeCode": "MIR"}, "INVALID_INPUT", ["input", "coBadgeSchemeCode"]),
        (luhn("2200"), {"expiryMonth": 13}, "INVALID_INPUT", ["input", "expiryMonth"]),
        (luhn("2200"), {"expiryYear": 2020}, "INVALID_INPUT", ["input", "expiryYear"]),
        (luhn("2200"), {"accountId": "settlement"}, "INVALID_INPUT", ["input", "accountId"]),
    ],
)
async def test_bad_cards_are_refused(api, pan, extra, code, field):
    ids = await network(api)
    if pan == "bad luhn":
        good = luhn("2200")
        pan = good[:-1] + str((int(good[-1]) + 1) % 10)
    extra = dict(extra)
    if extra.get("accountId") == "settlement":
        extra["accountId"] = ids["sber_settlement"]
    payload = (await api(ISSUE, card_input(pan, ids["ivan"], **extra)))["issueCard"]
    assert payload["card"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert pan not in payload["errors"][0]["message"]
    async with api.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM card")) == 0


async def test_the_pan_is_nowhere_but_in_the_clients_hands(api, caplog):
    ids = await network(api)
    pan = luhn("2200987")
    with caplog.at_level(logging.DEBUG):
        assert (await api(ISSUE, card_input(pan, ids["ivan"])))["issueCard"]["errors"] == []
        again = (await api(ISSUE, card_input(pan, ids["ivan"])))["issueCard"]
    assert again["errors"][0]["code"] == "ALREADY_EXISTS" and pan not in again["errors"][0]["message"]
    assert pan not in caplog.text
    async with api.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM card"))).all()
    assert rows and all(pan not in str(tuple(row)) for row in rows)
    if api.dialect == "sqlite":
        path = api.engine.url.database
        for name in glob.glob(path + "*"):  # the database file and its WAL
            with open(name, "rb") as handle:
                assert pan.encode() not in handle.read()


async def test_participants_issue_on_their_own_accounts_and_see_their_own_cards(api):
    ids = await network(api)
    boc_key = await api.new_key(Role.PARTICIPANT, pk(ids["boc"]))
    refused = (await api(ISSUE, card_input(luhn("62"), ids["ivan"]), key=boc_key))["issueCard"]
    assert refused["errors"][0]["code"] == "FORBIDDEN"
    card = (await api(ISSUE, card_input(luhn("2200"), ids["ivan"])))["issueCard"]["card"]
    assert (await api("query($id: ID!) { node(id: $id) { id } }", {"id": card["id"]}, key=boc_key))["node"] is None
    blocked = (await api(STATUS, {"id": card["id"], "status": "BLOCKED"}, key=boc_key))["setCardStatus"]
    assert blocked["errors"][0]["code"] == "NOT_FOUND"


async def test_merchants(api):
    ids = await network(api)
    item = {
        "name": "Shanghai tea house",
        "countryCode": "CN",
        "acquirerId": ids["boc"],
        "acceptingSchemeCode": "UNIONPAY",
        "accountId": ids["shop_cny"],
    }
    made = (await api(MERCHANT, {"input": item}))["createMerchant"]
    assert made["errors"] == []
    assert made["merchant"]["acceptingScheme"] == {"code": "UNIONPAY"} and made["merchant"]["country"] == {"code": "CN"}
    for changes, code, field in [
        ({"acceptingSchemeCode": "MIR"}, "NOT_A_MEMBER", "acquirerId"),
        ({"countryCode": "RU"}, "CURRENCY_MISMATCH", "accountId"),
        ({"accountId": ids["shop_rub"]}, "INVALID_INPUT", "accountId"),  # not the acquirer's account
        ({"countryCode": "XX"}, "NOT_FOUND", "countryCode"),
        ({"name": " "}, "INVALID_INPUT", "name"),
    ]:
        errors = (await api(MERCHANT, {"input": {**item, **changes}}))["createMerchant"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [(code, ["input", field])], changes
