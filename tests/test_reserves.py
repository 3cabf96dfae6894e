"""Reserve holdings through the endpoint: recording (all or none, the upsert, every
error at its path), the series, reserveChange and reserveComposition worked out by
hand, access by role, and the statements a series costs."""

from __future__ import annotations

import pytest

from models.access import Role
from tests.ledger_world import institution, pk

RECORD = """
mutation($holdings: [ReserveHoldingInput!]!) {
  recordReserveHoldings(holdings: $holdings) {
    holdings { country { code } asset unit amount asOf source }
    errors { code message field }
  }
}
"""
SERIES = """
query($country: String!, $asset: String) {
  reserveHoldings(countryCode: $country, asset: $asset) { country { code name } asset unit amount asOf source }
}
"""
CHANGE = """
query($country: String!, $asset: String!, $from: Date!, $to: Date!) {
  reserveChange(countryCode: $country, asset: $asset, from: $from, to: $to) {
    country { code } asset unit start { amount asOf } end { amount asOf } change changePercent
  }
}
"""
COMPOSITION = """
query($country: String!, $at: Date!, $currency: String) {
  reserveComposition(countryCode: $country, at: $at, currency: $currency) {
    country { code } at total { amount currency }
    components { asset unit amount value { amount currency } share }
  }
}
"""
PUBLISH = """
mutation($rates: [ExchangeRateInput!]!) { publishRates(rates: $rates) { errors { code message field } } }
"""


def holding(country, asset, unit, amount, as_of, source=None):
    item = {"countryCode": country, "asset": asset, "unit": unit, "amount": amount, "asOf": as_of}
    if source is not None:
        item["source"] = source
    return item


async def record(api, *holdings, key=None) -> dict:
    return (await api(RECORD, {"holdings": list(holdings)}, key=key))["recordReserveHoldings"]


async def series(api, country, asset=None, key=None) -> list[dict]:
    return (await api(SERIES, {"country": country, "asset": asset}, key=key))["reserveHoldings"]


async def change(api, country, asset, start, end) -> dict:
    return (await api(CHANGE, {"country": country, "asset": asset, "from": start, "to": end}))["reserveChange"]


async def composition(api, country, at, currency="USD", key=None) -> dict:
    variables = {"country": country, "at": at, "currency": currency}
    return (await api(COMPOSITION, variables, key=key))["reserveComposition"]


# CN's holdings: treasuries in USD, gold in tonnes, and one after the composition's date.
CN = (
    holding("CN", "UST", "USD", "40000", "2023-12-31", "test"),
    holding("CN", "UST", "USD", "35698.51", "2024-03-31", "test"),
    holding("CN", "XAU", "TONNE", "0.0009", "2023-12-31"),
    holding("CN", "XAU", "TONNE", "0.001", "2024-03-31"),
    holding("CN", "UST", "USD", "1", "2024-04-30"),
)


async def test_recording_is_an_upsert_and_the_series_is_by_date(api):
    payload = await record(api, *CN)
    assert payload["errors"] == []
    assert [h["amount"] for h in payload["holdings"]] == ["40000", "35698.51", "0.0009", "0.001", "1"]
    assert payload["holdings"][0] == {
        "country": {"code": "CN"},
        "asset": "UST",
        "unit": "USD",
        "amount": "40000",
        "asOf": "2023-12-31",
        "source": "test",
    }
    ust = await series(api, "cn", "ust")
    assert [(h["asOf"], h["amount"]) for h in ust] == [
        ("2023-12-31", "40000"),
        ("2024-03-31", "35698.51"),
        ("2024-04-30", "1"),
    ]
    assert ust[0]["country"] == {"code": "CN", "name": ust[0]["country"]["name"]}
    everything = await series(api, "CN")
    assert [(h["asOf"], h["asset"]) for h in everything] == [
        ("2023-12-31", "UST"),
        ("2023-12-31", "XAU"),
        ("2024-03-31", "UST"),
        ("2024-03-31", "XAU"),
        ("2024-04-30", "UST"),
    ]
    # The same country, asset, unit and date again: its amount and source replaced, no new row.
    again = await record(api, holding("CN", "UST", "USD", "39000.50", "2023-12-31", "revised"))
    assert again["errors"] == [] and again["holdings"][0]["amount"] == "39000.5"
    ust = await series(api, "CN", "UST")
    assert len(ust) == 3 and (ust[0]["amount"], ust[0]["source"]) == ("39000.5", "revised")
    assert await series(api, "BE") == []


async def test_every_error_at_its_path_and_nothing_recorded(api):
    payload = await record(
        api,
        holding("CN", "UST", "USD", "1", "2024-01-01"),
        holding("XX", "BTC", "EUR", "-1", "2100-01-01"),
        holding("CN", "UST", "TONNE", "1.0000001", "2024-01-01", "x" * 201),
        holding("CN", "UST", "USD", "2", "2024-01-01"),
        holding("CN", "EUR", "USD", "10000000000000000", "2024-01-01"),
    )
    assert payload["holdings"] == []
    fields = [(e["code"], e["field"]) for e in payload["errors"]]
    assert fields == [
        ("NOT_FOUND", ["holdings", "1", "countryCode"]),
        ("INVALID_INPUT", ["holdings", "1", "asset"]),
        ("INVALID_INPUT", ["holdings", "1", "unit"]),
        ("INVALID_INPUT", ["holdings", "1", "amount"]),
        ("INVALID_INPUT", ["holdings", "1", "asOf"]),
        ("INVALID_INPUT", ["holdings", "2", "unit"]),
        ("INVALID_INPUT", ["holdings", "2", "amount"]),
        ("INVALID_INPUT", ["holdings", "2", "source"]),
        ("INVALID_INPUT", ["holdings", "3", "asOf"]),
        ("INVALID_INPUT", ["holdings", "4", "amount"]),
    ]
    assert await series(api, "CN") == []
    one = await record(
        api, holding("CN", "UST", "USD", "1.5", "2024-01-01"), holding("CN", "XAU", "OUNCE", "1", "2024-01-01")
    )
    assert [(e["code"], e["field"]) for e in one["errors"]] == [("INVALID_INPUT", ["holdings", "1", "unit"])]
    assert await series(api, "CN") == []
    empty = await record(api)
    assert empty["errors"][0]["code"] == "INVALID_INPUT"
    # A currency as the asset, held in USD, and zero, are fine.
    fine = await record(
        api, holding("CN", "EUR", "USD", "0", "2024-01-01"), holding("CN", "XAU", "USD", "12.345678", "2024-01-01")
    )
    assert fine["errors"] == []


async def test_change_between_the_holdings_nearest_at_or_before_each_date(api):
    await record(api, *CN)
    exact = await change(api, "CN", "UST", "2023-12-31", "2024-03-31")
    assert exact == {
        "country": {"code": "CN"},
        "asset": "UST",
        "unit": "USD",
        "start": {"amount": "40000", "asOf": "2023-12-31"},
        "end": {"amount": "35698.51", "asOf": "2024-03-31"},
        "change": "-4301.49",
        "changePercent": pytest.approx(-10.753725),
    }
    nearest = await change(api, "CN", "UST", "2024-01-15", "2024-04-15")
    assert (nearest["start"]["asOf"], nearest["end"]["asOf"], nearest["change"]) == (
        "2023-12-31",
        "2024-03-31",
        "-4301.49",
    )
    gold = await change(api, "CN", "XAU", "2023-12-31", "2024-03-31")
    assert (gold["unit"], gold["change"], gold["changePercent"]) == ("TONNE", "0.0001", pytest.approx(11.111111111))
    no_start = await change(api, "CN", "UST", "2023-06-30", "2024-03-31")
    assert no_start["start"] is None and no_start["end"]["amount"] == "35698.51"
    assert (no_start["change"], no_start["changePercent"]) == (None, None)
    nothing = await change(api, "CN", "JPY", "2023-06-30", "2024-03-31")
    assert (nothing["unit"], nothing["start"], nothing["end"], nothing["change"]) == ("USD", None, None, None)
    backwards = await api.raw(CHANGE, {"country": "CN", "asset": "UST", "from": "2024-03-31", "to": "2023-12-31"})
    assert backwards["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    unknown = await api.raw(CHANGE, {"country": "XX", "asset": "UST", "from": "2023-12-31", "to": "2024-03-31"})
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_composition_values_gold_tonnes_at_the_xau_rate(api):
    rates = [
        {"base": "USD", "quote": "CNY", "rate": "7", "source": "test", "asOf": "2024-01-01T00:00:00Z"},
        {"base": "XAU", "quote": "USD", "rate": "2000", "source": "test", "asOf": "2024-02-01T00:00:00Z"},
    ]
    assert (await api(PUBLISH, {"rates": rates}))["publishRates"]["errors"] == []
    await record(api, *CN)
    # 0.001 t = 32.1507466 oz x 2000 = 64301.4932 -> 64301.49 USD; with 35698.51 of treasuries, 100000.00.
    usd = await composition(api, "CN", "2024-03-31")
    assert usd["total"] == {"amount": "100000.00", "currency": "USD"} and usd["at"] == "2024-03-31"
    assert [(c["asset"], c["unit"], c["amount"], c["value"]["amount"]) for c in usd["components"]] == [
        ("UST", "USD", "35698.51", "35698.51"),
        ("XAU", "TONNE", "0.001", "64301.49"),
    ]
    assert [c["share"] for c in usd["components"]] == [pytest.approx(0.3569851), pytest.approx(0.6430149)]
    # In CNY, gold through XAU -> USD -> CNY (14000): 450110.4524 -> 450110.45.
    cny = await composition(api, "CN", "2024-03-31", "CNY")
    assert [c["value"]["amount"] for c in cny["components"]] == ["249889.57", "450110.45"]
    assert cny["total"] == {"amount": "700000.02", "currency": "CNY"}
    # Before gold had a rate: the treasuries alone are valued; gold is reported, not dropped.
    early = await composition(api, "CN", "2024-01-15", "CNY")
    assert [(c["asset"], c["amount"], c["value"], c["share"]) for c in early["components"]] == [
        ("UST", "40000", {"amount": "280000.00", "currency": "CNY"}, 1.0),
        ("XAU", "0.0009", None, None),
    ]
    assert early["total"]["amount"] == "280000.00"
    none = await composition(api, "CN", "2024-03-31", "BRL")
    assert none["total"]["amount"] == "0.00" and all(c["value"] is None for c in none["components"])
    empty = await composition(api, "BE", "2024-03-31")
    assert empty["components"] == [] and empty["total"] == {"amount": "0.00", "currency": "USD"}
    bad = await api.raw(COMPOSITION, {"country": "CN", "at": "2024-03-31", "currency": "QQQ"})
    assert bad["errors"][0]["extensions"]["code"] == "UNSUPPORTED_CURRENCY"


async def test_every_role_reads_reserves_and_only_operators_record(api):
    await record(api, *CN[:2])
    bank = await institution(api, "Sberbank", "SABRRUMM", "RU", "COMMERCIAL_BANK")
    analyst, participant = await api.new_key(Role.ANALYST), await api.new_key(Role.PARTICIPANT, pk(bank))
    for key in (analyst, participant):
        assert len(await series(api, "CN", key=key)) == 2
        assert len((await composition(api, "CN", "2024-03-31", key=key))["components"]) == 1
        refused = await record(api, holding("CN", "UST", "USD", "1", "2024-01-01"), key=key)
        assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"] and refused["holdings"] == []
    assert len(await series(api, "CN")) == 2


async def test_a_series_costs_the_same_statements_however_long(api):
    await record(api, *CN[:2], holding("BE", "UST", "USD", "1", "2024-01-01"))
    with api.count_statements() as short:
        assert len(await series(api, "CN")) == 2
    await record(api, *(holding("CN", "UST", "USD", str(i), f"2022-01-{i:02d}") for i in range(1, 29)))
    with api.count_statements() as long:
        assert len(await series(api, "CN")) == 30
    assert long[0] == short[0] <= 3, (short[0], long[0])
