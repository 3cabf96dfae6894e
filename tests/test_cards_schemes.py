"""Card schemes: BIN ranges, memberships (suspensions), links between schemes, PAN lookup."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from models.access import Role
from models.cards import BinRange
from resolvers.cards import longest_prefix, scheme_for_pan
from tests.ledger_world import institution, pk

SCHEME = """
mutation($input: CardSchemeInput!) {
  createCardScheme(input: $input) {
    scheme { id code name operator { bic } country { code } settlementCurrency { code } binRanges { low high } }
    errors { code message field }
  }
}
"""
MEMBERSHIP = """
mutation($input: SchemeMembershipInput!) {
  setSchemeMembership(input: $input) {
    membership { roles status reason institution { bic } scheme { code } }
    errors { code message field }
  }
}
"""
LINK = """
mutation($input: SchemeLinkInput!) {
  setSchemeLink(input: $input) {
    link { id status feeBps cardScheme { code } acceptingScheme { code } }
    errors { code message field }
  }
}
"""


async def operators(api) -> dict[str, str]:
    return {
        "NSPK": await institution(api, "NSPK", "NSPKRUMM", "RU", "SCHEME_OPERATOR"),
        "UPI": await institution(api, "UnionPay", "UPICCNSH", "CN", "SCHEME_OPERATOR"),
        "VISA": await institution(api, "Visa", "VISAUS6S", "US", "SCHEME_OPERATOR"),
    }


def scheme_input(scheme_code, operator, country, currency, *ranges, overrides=None):
    fields = {
        "code": scheme_code,
        "name": scheme_code.title(),
        "countryCode": country,
        "settlementCurrency": currency,
        "operatorId": operator,
        "binRanges": [{"low": low, "high": high} for low, high in ranges],
    }
    fields.update(overrides or {})
    return {"input": fields}


async def schemes(api) -> dict[str, str]:
    ops = await operators(api)
    made = {}
    for code, operator, country, currency, ranges in [
        ("MIR", ops["NSPK"], "RU", "RUB", [("2200", "2204")]),
        ("UNIONPAY", ops["UPI"], "CN", "CNY", [("62", "62"), ("81", "81")]),
        ("VISA", ops["VISA"], "US", "USD", [("4", "4")]),
        ("ELO", ops["VISA"], "BR", "BRL", [("401178", "401179"), ("438935", "438935")]),
    ]:
        payload = (await api(SCHEME, scheme_input(code, operator, country, currency, *ranges)))["createCardScheme"]
        assert payload["errors"] == [], payload
        made[code] = payload["scheme"]["id"]
    return made


async def test_create_and_list_schemes(api):
    await schemes(api)
    data = await api("{ cardSchemes { code operator { bic } settlementCurrency { code } binRanges { low high } } }")
    by_code = {s["code"]: s for s in data["cardSchemes"]}
    assert by_code["MIR"] == {
        "code": "MIR",
        "operator": {"bic": "NSPKRUMM"},
        "settlementCurrency": {"code": "RUB"},
        "binRanges": [{"low": "2200", "high": "2204"}],
    }
    assert [r["low"] for r in by_code["UNIONPAY"]["binRanges"]] == ["62", "81"]


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"code": "mir card"}, "INVALID_INPUT", ["input", "code"]),
        ({"countryCode": "XX"}, "NOT_FOUND", ["input", "countryCode"]),
        ({"settlementCurrency": "XYZ"}, "UNSUPPORTED_CURRENCY", ["input", "settlementCurrency"]),
        ({"binRanges": []}, "INVALID_INPUT", ["input", "binRanges"]),
        ({"binRanges": [{"low": "22a0", "high": "2204"}]}, "INVALID_INPUT", ["input", "binRanges", "0", "low"]),
        ({"binRanges": [{"low": "220", "high": "2204"}]}, "INVALID_INPUT", ["input", "binRanges", "0", "high"]),
        ({"binRanges": [{"low": "2204", "high": "2200"}]}, "INVALID_INPUT", ["input", "binRanges", "0", "high"]),
        ({"operatorId": "bank"}, "INVALID_INPUT", ["input", "operatorId"]),  # not a SCHEME_OPERATOR
    ],
)
async def test_bad_schemes_create_nothing(api, overrides, code, field):
    ops = await operators(api)
    overrides = dict(overrides)
    if overrides.get("operatorId") == "bank":
        overrides["operatorId"] = await institution(api, "Sberbank", "SABRRUMM", "RU", "COMMERCIAL_BANK")
    payload = (await api(SCHEME, scheme_input("MIR", ops["NSPK"], "RU", "RUB", ("2200", "2204"), overrides=overrides)))[
        "createCardScheme"
    ]
    assert payload["scheme"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    async with api.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM card_scheme")) == 0


async def test_scheme_code_is_unique_and_operators_create_schemes(api):
    ops = await operators(api)
    first = scheme_input("MIR", ops["NSPK"], "RU", "RUB", ("2200", "2204"))
    assert (await api(SCHEME, first))["createCardScheme"]["errors"] == []
    assert (await api(SCHEME, first))["createCardScheme"]["errors"][0]["code"] == "ALREADY_EXISTS"
    analyst = await api.new_key(Role.ANALYST)
    other = scheme_input("NEW", ops["NSPK"], "RU", "RUB", ("9", "9"))
    assert (await api(SCHEME, other, key=analyst))["createCardScheme"]["errors"][0]["code"] == "FORBIDDEN"


async def test_memberships_and_suspension_with_a_reason(api):
    await schemes(api)
    sber = await institution(api, "Sberbank", "SABRRUMM", "RU", "COMMERCIAL_BANK")
    active = {"schemeCode": "VISA", "institutionId": sber, "roles": ["ISSUER", "ACQUIRER"], "status": "ACTIVE"}
    payload = (await api(MEMBERSHIP, {"input": active}))["setSchemeMembership"]
    assert payload["membership"] == {
        "roles": ["ISSUER", "ACQUIRER"],
        "status": "ACTIVE",
        "reason": None,
        "institution": {"bic": "SABRRUMM"},
        "scheme": {"code": "VISA"},
    }
    suspended = {**active, "status": "SUSPENDED", "reason": "sanctions 2022"}
    assert (await api(MEMBERSHIP, {"input": suspended}))["setSchemeMembership"]["membership"]["status"] == "SUSPENDED"
    mir = {"schemeCode": "MIR", "institutionId": sber, "roles": ["ISSUER"], "status": "ACTIVE"}
    await api(MEMBERSHIP, {"input": mir})
    data = await api('{ institution(bic: "SABRRUMM") { schemeMemberships { scheme { code } roles status reason } } }')
    assert data["institution"]["schemeMemberships"] == [
        {"scheme": {"code": "MIR"}, "roles": ["ISSUER"], "status": "ACTIVE", "reason": None},
        {
            "scheme": {"code": "VISA"},
            "roles": ["ISSUER", "ACQUIRER"],
            "status": "SUSPENDED",
            "reason": "sanctions 2022",
        },
    ]


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"schemeCode": "AMEX"}, "NOT_FOUND", ["input", "schemeCode"]),
        ({"roles": []}, "INVALID_INPUT", ["input", "roles"]),
        ({"roles": ["ISSUER", "ISSUER"]}, "INVALID_INPUT", ["input", "roles"]),
        ({"reason": "x" * 201}, "INVALID_INPUT", ["input", "reason"]),
    ],
)
async def test_bad_memberships(api, changes, code, field):
    await schemes(api)
    sber = await institution(api, "Sberbank", "SABRRUMM", "RU", "COMMERCIAL_BANK")
    item = {"schemeCode": "MIR", "institutionId": sber, "roles": ["ISSUER"], "status": "ACTIVE", **changes}
    payload = (await api(MEMBERSHIP, {"input": item}))["setSchemeMembership"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]


async def test_links_between_schemes(api):
    await schemes(api)
    item = {"cardSchemeCode": "MIR", "acceptingSchemeCode": "UNIONPAY", "status": "ACTIVE", "feeBps": 50}
    link = (await api(LINK, {"input": item}))["setSchemeLink"]["link"]
    assert link["cardScheme"] == {"code": "MIR"} and link["acceptingScheme"] == {"code": "UNIONPAY"}
    assert link["feeBps"] == 50 and link["status"] == "ACTIVE"
    changed = (await api(LINK, {"input": {**item, "status": "SUSPENDED", "feeBps": 0}}))["setSchemeLink"]["link"]
    assert changed["id"] == link["id"] and changed["status"] == "SUSPENDED"
    assert len((await api("{ schemeLinks { id } }"))["schemeLinks"]) == 1
    for bad, field in [
        ({"feeBps": 10_001}, "feeBps"),
        ({"feeBps": -1}, "feeBps"),
        ({"acceptingSchemeCode": "MIR"}, "acceptingSchemeCode"),
    ]:
        errors = (await api(LINK, {"input": {**item, **bad}}))["setSchemeLink"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", ["input", field])]
    missing = (await api(LINK, {"input": {**item, "cardSchemeCode": "AMEX"}}))["setSchemeLink"]["errors"]
    assert missing[0]["code"] == "NOT_FOUND"
    node = await api("query($id: ID!) { node(id: $id) { ... on SchemeLink { feeBps } } }", {"id": link["id"]})
    assert node["node"] == {"feeBps": 0}


async def test_pan_to_scheme_by_longest_prefix(api):
    await schemes(api)
    async with api.sessions() as session:
        assert (await scheme_for_pan(session, "2200123456789010")).code == "MIR"
        assert (await scheme_for_pan(session, "6212345678901232")).code == "UNIONPAY"
        assert (await scheme_for_pan(session, "8112345678901234")).code == "UNIONPAY"
        assert (await scheme_for_pan(session, "4111111111111111")).code == "VISA"
        assert (await scheme_for_pan(session, "4011780000000000")).code == "ELO"  # inside Visa's 4
        assert await scheme_for_pan(session, "2205123456789010") is None
        assert await scheme_for_pan(session, "3530111333300000") is None


def test_longest_prefix_between_overlapping_ranges():
    ranges = [BinRange(scheme_id=1, low="4", high="4"), BinRange(scheme_id=2, low="4011", high="4099")]
    assert longest_prefix("4011000000000000", ranges).scheme_id == 2
    assert longest_prefix("4100000000000000", ranges).scheme_id == 1
    assert longest_prefix("5100000000000000", ranges) is None
    assert longest_prefix("40", ranges).scheme_id == 1  # too short for the longer range


async def test_scheme_node_and_ids(api):
    made = await schemes(api)
    node = await api("query($id: ID!) { node(id: $id) { ... on CardScheme { code } } }", {"id": made["ELO"]})
    assert node["node"] == {"code": "ELO"}
    assert pk(made["ELO"]) > 0
