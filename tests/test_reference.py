"""Reference data: currencies, countries and blocs after migration; institutions."""

from __future__ import annotations

import pytest

from models.access import Role

CREATE = """
mutation($input: InstitutionInput!) {
  createInstitution(input: $input) {
    institution { id name bic kind spreadBps country { code } }
    errors { code message field }
  }
}
"""


def bank(**overrides):
    fields = {"name": "Sberbank", "bic": "SABRRUMM", "countryCode": "RU", "kind": "COMMERCIAL_BANK"}
    fields.update(overrides)
    return {"input": fields}


async def institution_count(api) -> int:
    data = await api("{ institutions(first: 100) { edges { cursor } } }")
    return len(data["institutions"]["edges"])


async def test_currencies_are_there_after_migration(api):
    data = await api("{ currencies { code name minorUnits } }")
    by_code = {c["code"]: c for c in data["currencies"]}
    for code in ("RUB", "CNY", "INR", "IRR", "BRL", "ZAR", "USD", "EUR", "JPY", "GBP", "CAD", "SEK", "CHF"):
        assert code in by_code
    assert by_code["RUB"]["minorUnits"] == 2
    assert by_code["JPY"]["minorUnits"] == 0
    assert by_code["BHD"]["minorUnits"] == 3
    assert by_code["XAU"] == {"code": "XAU", "name": "Gold (troy ounce)", "minorUnits": 6}
    assert by_code["CNY"]["name"] == "Yuan Renminbi"


async def test_countries_have_currency_and_blocs(api):
    data = await api("{ countries { code name currency { code } blocs } }")
    by_code = {c["code"]: c for c in data["countries"]}
    for code, currency in {"RU": "RUB", "CN": "CNY", "IN": "INR", "IR": "IRR", "BR": "BRL", "ZA": "ZAR"}.items():
        assert by_code[code]["currency"]["code"] == currency
        assert "BRICS" in by_code[code]["blocs"]
    assert by_code["US"]["currency"]["code"] == "USD"
    assert by_code["US"]["blocs"] == []
    assert by_code["BE"]["currency"]["code"] == "EUR"
    assert by_code["BE"]["blocs"] == ["EURO_AREA"]
    assert by_code["EZ"]["name"] == "Euro area"
    assert len(by_code) > 240


async def test_create_and_look_up_an_institution(api):
    data = await api(CREATE, bank())
    payload = data["createInstitution"]
    assert payload["errors"] == []
    created = payload["institution"]
    assert created["bic"] == "SABRRUMM" and created["kind"] == "COMMERCIAL_BANK"
    assert created["country"] == {"code": "RU"} and created["spreadBps"] is None
    found = await api('{ institution(bic: "SABRRUMM") { id name } }')
    assert found["institution"] == {"id": created["id"], "name": "Sberbank"}
    node = await api("query($id: ID!) { node(id: $id) { id ... on Institution { bic } } }", {"id": created["id"]})
    assert node["node"] == {"id": created["id"], "bic": "SABRRUMM"}


async def test_bic_of_the_primary_office_has_one_form(api):
    data = await api(CREATE, bank(bic="sabrrummxxx"))
    assert data["createInstitution"]["institution"]["bic"] == "SABRRUMM"
    assert (await api('{ institution(bic: "SABRRUMMXXX") { bic } }'))["institution"] == {"bic": "SABRRUMM"}
    again = await api(CREATE, bank(bic="SABRRUMM"))
    assert again["createInstitution"]["errors"][0]["code"] == "ALREADY_EXISTS"


async def test_branch_bic_is_its_own_institution(api):
    await api(CREATE, bank())
    data = await api(CREATE, bank(bic="SABRRUMM012", name="Sberbank branch"))
    assert data["createInstitution"]["institution"]["bic"] == "SABRRUMM012"


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"bic": "SABRRUM"}, "INVALID_INPUT", ["input", "bic"]),  # 7 characters
        ({"bic": "SABRRUMM01"}, "INVALID_INPUT", ["input", "bic"]),  # 10 characters
        ({"bic": "SAB1RUMM"}, "INVALID_INPUT", ["input", "bic"]),  # digit in the party prefix
        ({"bic": "SABRR1MM"}, "INVALID_INPUT", ["input", "bic"]),  # digit in the country code
        ({"bic": "SABR RUMM"}, "INVALID_INPUT", ["input", "bic"]),
        ({"bic": "SABRCNBJ"}, "INVALID_INPUT", ["input", "bic"]),  # country CN, countryCode RU
        ({"countryCode": "XX"}, "NOT_FOUND", ["input", "countryCode"]),
        ({"name": "   "}, "INVALID_INPUT", ["input", "name"]),
        ({"name": "x" * 141}, "INVALID_INPUT", ["input", "name"]),
        ({"spreadBps": 25}, "INVALID_INPUT", ["input", "spreadBps"]),  # a bank has no spread
        ({"kind": "FX_PROVIDER", "spreadBps": -1}, "INVALID_INPUT", ["input", "spreadBps"]),
        ({"kind": "FX_PROVIDER", "spreadBps": 10_001}, "INVALID_INPUT", ["input", "spreadBps"]),
    ],
)
async def test_bad_institution_input_changes_nothing(api, overrides, code, field):
    data = await api(CREATE, bank(**overrides))
    payload = data["createInstitution"]
    assert payload["institution"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert payload["errors"][0]["message"]
    assert await institution_count(api) == 0


async def test_taken_bic_is_already_exists(api):
    await api(CREATE, bank())
    data = await api(CREATE, bank(name="Another"))
    assert data["createInstitution"]["errors"] == [
        {"code": "ALREADY_EXISTS", "message": "An institution with BIC SABRRUMM exists.", "field": ["input", "bic"]}
    ]
    assert await institution_count(api) == 1


async def test_fx_provider_spread(api):
    data = await api(CREATE, bank(name="FX", bic="CRFXAEAD", countryCode="AE", kind="FX_PROVIDER", spreadBps=25))
    assert data["createInstitution"]["institution"]["spreadBps"] == 25
    data = await api(CREATE, bank(name="FX2", bic="CRFXAEAB", countryCode="AE", kind="FX_PROVIDER"))
    assert data["createInstitution"]["institution"]["spreadBps"] == 0


async def test_unknown_enum_is_a_validation_error(api):
    body = await api.raw(CREATE, bank(kind="HEDGE_FUND"))
    assert "HEDGE_FUND" in body["errors"][0]["message"]
    assert await institution_count(api) == 0


@pytest.mark.parametrize("role", [Role.PARTICIPANT, Role.ANALYST])
async def test_only_operators_create_institutions(api, role):
    first = (await api(CREATE, bank()))["createInstitution"]["institution"]
    from schema.base import parse_global_id

    institution_id = int(parse_global_id(first["id"])[1])
    key = await api.new_key(role, institution_id if role is Role.PARTICIPANT else None)
    data = await api(CREATE, bank(bic="VTBRRUMM", name="VTB"), key=key)
    assert data["createInstitution"]["errors"][0]["code"] == "FORBIDDEN"
    assert await institution_count(api) == 1


async def seed(api, n: int) -> list[str]:
    bics = []
    for i in range(n):
        bic = f"BANK{'RU' if i % 2 else 'CN'}{i // 26 % 10}{chr(65 + i % 26)}"
        data = await api(CREATE, bank(bic=bic, name=f"Bank {i}", countryCode="RU" if i % 2 else "CN"))
        assert data["createInstitution"]["errors"] == [], data
        bics.append(bic)
    return bics


PAGE = """
query($first: Int, $after: String, $kind: InstitutionKind, $country: String) {
  institutions(first: $first, after: $after, kind: $kind, countryCode: $country) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { bic } }
  }
}
"""


async def test_institutions_page_by_keyset_cursor(api):
    bics = await seed(api, 7)
    first = (await api(PAGE, {"first": 3}))["institutions"]
    assert [e["node"]["bic"] for e in first["edges"]] == bics[:3]
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]
    # A row inserted meanwhile does not shift the next page (it lands at the end).
    await api(CREATE, bank(bic="LATERUMM", name="Late"))
    second = (await api(PAGE, {"first": 3, "after": first["pageInfo"]["endCursor"]}))["institutions"]
    assert [e["node"]["bic"] for e in second["edges"]] == bics[3:6]
    assert second["pageInfo"]["hasPreviousPage"]
    third = (await api(PAGE, {"first": 3, "after": second["pageInfo"]["endCursor"]}))["institutions"]
    assert [e["node"]["bic"] for e in third["edges"]] == [bics[6], "LATERUMM"]
    assert not third["pageInfo"]["hasNextPage"]


async def test_institutions_filters(api):
    bics = await seed(api, 6)
    russian = (await api(PAGE, {"country": "RU"}))["institutions"]["edges"]
    assert [e["node"]["bic"] for e in russian] == bics[1::2]
    await api(CREATE, bank(name="FX", bic="CRFXAEAD", countryCode="AE", kind="FX_PROVIDER"))
    fx = (await api(PAGE, {"kind": "FX_PROVIDER"}))["institutions"]["edges"]
    assert [e["node"]["bic"] for e in fx] == ["CRFXAEAD"]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"first": 101}, "first"),
        ({"first": -1}, "first"),
        ({"after": "bm90LWEtY3Vyc29y"}, "after"),
        ({"after": "%%"}, "after"),
    ],
)
async def test_bad_page_arguments(api, variables, field):
    body = await api.raw(PAGE, variables)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert error["extensions"]["field"] == [field]
    assert body["data"] is None


async def test_nested_institution_fields_take_a_fixed_number_of_statements(api):
    await seed(api, 60)
    query = "query($n: Int) { institutions(first: $n) { edges { node { country { currency { code } } } } } }"
    await api(query, {"n": 1})  # warm the key cache
    counts = {}
    for size in (5, 50):
        with api.count_statements() as statements:
            data = await api(query, {"n": size})
        assert len(data["institutions"]["edges"]) == size
        counts[size] = statements[0]
    assert counts[5] == counts[50]
    assert counts[50] <= 4  # page, countries, currencies (+ BEGIN on some drivers)


async def test_concurrent_creates_of_one_bic_make_one_institution(api):
    import asyncio

    results = await asyncio.gather(*(api(CREATE, bank(name=f"Racer {i}")) for i in range(8)))
    payloads = [r["createInstitution"] for r in results]
    created = [p for p in payloads if p["institution"] is not None]
    assert len(created) == 1
    assert all(p["errors"][0]["code"] == "ALREADY_EXISTS" for p in payloads if p["institution"] is None)
    assert await institution_count(api) == 1
