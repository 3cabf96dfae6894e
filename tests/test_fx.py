"""FX through the endpoint: rates, inverses, history, conversion paths avoiding USD,
baskets (SDR method) and the dollar index, with expected Decimals worked out by hand."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from sqlalchemy import text

from models.access import Role
from tests.ledger_world import institution, pk

PUBLISH = """
mutation($rates: [ExchangeRateInput!]!) {
  publishRates(rates: $rates) { rates { base quote rate source asOf } errors { code message field } }
}
"""
RATE = """
query($base: String!, $quote: String!, $at: DateTime) {
  exchangeRate(base: $base, quote: $quote, at: $at) { base quote rate source asOf }
}
"""
PATH = """
query($from: String!, $to: String!, $avoid: [String!]) {
  conversionPath(from: $from, to: $to, avoid: $avoid) { from to rate via legs { base quote rate } }
}
"""
DEFINE = """
mutation($input: DefineBasketInput!) {
  defineBasket(input: $input) { basket { id code components { currency weight amount } } errors { code message field } }
}
"""
T1, T2, T3 = "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"


def rate(base, quote, value, as_of=None, source="test"):
    item = {"base": base, "quote": quote, "rate": value, "source": source}
    if as_of:
        item["asOf"] = as_of
    return item


async def publish(api, *rates, key=None):
    data = await api(PUBLISH, {"rates": list(rates)}, key=key)
    return data["publishRates"]


async def stored_rates(api) -> int:
    async with api.engine.connect() as connection:
        return await connection.scalar(text("SELECT count(*) FROM exchange_rate"))


async def test_direct_inverse_and_history(api):
    payload = await publish(api, rate("USD", "RUB", "92.50", T1), rate("USD", "RUB", "95", T2))
    assert payload["errors"] == [] and len(payload["rates"]) == 2
    direct = (await api(RATE, {"base": "USD", "quote": "RUB"}))["exchangeRate"]
    assert direct["rate"] == "95" and direct["source"] == "test"
    then = (await api(RATE, {"base": "USD", "quote": "RUB", "at": "2026-01-15T00:00:00Z"}))["exchangeRate"]
    assert then["rate"] == "92.5"
    assert (await api(RATE, {"base": "USD", "quote": "RUB", "at": "2025-12-31T00:00:00Z"}))["exchangeRate"] is None
    inverse = (await api(RATE, {"base": "RUB", "quote": "USD"}))["exchangeRate"]
    assert inverse["rate"] == "0.0105263157895"  # 1 / 95 = 0.010526315789473..., 12 significant digits
    assert (await api(RATE, {"base": "RUB", "quote": "CNY"}))["exchangeRate"] is None


async def test_the_newer_of_a_pair_and_its_reverse_wins(api):
    await publish(api, rate("USD", "RUB", "100", T1), rate("RUB", "USD", "0.0125", T2))
    assert (await api(RATE, {"base": "USD", "quote": "RUB"}))["exchangeRate"]["rate"] == "80"
    assert (await api(RATE, {"base": "RUB", "quote": "USD"}))["exchangeRate"]["rate"] == "0.0125"


@pytest.mark.parametrize(
    ("bad", "code", "field"),
    [
        (rate("USD", "RUB", "0"), "INVALID_INPUT", ["rates", "1", "rate"]),
        (rate("USD", "RUB", "-1"), "INVALID_INPUT", ["rates", "1", "rate"]),
        (rate("USD", "RUB", "1.234567890123"), "INVALID_INPUT", ["rates", "1", "rate"]),  # 13 significant digits
        (rate("USD", "USD", "1"), "INVALID_INPUT", ["rates", "1", "quote"]),
        (rate("USD", "XYZ", "1"), "UNSUPPORTED_CURRENCY", ["rates", "1", "quote"]),
        (rate("USD", "RUB", "90", "2099-01-01T00:00:00Z"), "INVALID_INPUT", ["rates", "1", "asOf"]),
    ],
)
async def test_bad_rates_store_nothing(api, bad, code, field):
    payload = await publish(api, rate("USD", "CNY", "7.23"), bad)
    assert payload["rates"] == []
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await stored_rates(api) == 0


async def test_twelve_significant_digits_are_accepted(api):
    payload = await publish(api, rate("USD", "IRR", "42000.1234567"))
    assert payload["rates"][0]["rate"] == "42000.1234567"


async def test_who_publishes_rates(api):
    fx = await institution(api, "Corridor FX", "CRFXAEAD", "AE", "FX_PROVIDER")
    bank = await institution(api, "Sberbank", "SABRRUMM", "RU", "COMMERCIAL_BANK")
    provider_key = await api.new_key(Role.PARTICIPANT, pk(fx))
    assert (await publish(api, rate("USD", "RUB", "90"), key=provider_key))["errors"] == []
    for key in (await api.new_key(Role.PARTICIPANT, pk(bank)), await api.new_key(Role.ANALYST)):
        assert (await publish(api, rate("USD", "RUB", "91"), key=key))["errors"][0]["code"] == "FORBIDDEN"
    assert await stored_rates(api) == 1


async def test_path_via_cny_and_never_through_usd(api):
    await publish(api, rate("RUB", "CNY", "0.0781"), rate("CNY", "INR", "11.62"))
    path = (await api(PATH, {"from": "RUB", "to": "INR"}))["conversionPath"]
    assert path == {
        "from": "RUB",
        "to": "INR",
        "rate": "0.907522",  # 0.0781 x 11.62
        "via": ["CNY"],
        "legs": [{"base": "RUB", "quote": "CNY", "rate": "0.0781"}, {"base": "CNY", "quote": "INR", "rate": "11.62"}],
    }
    # Through USD the product is better (0.0108 x 85 = 0.918), so it wins ... unless USD is avoided.
    await publish(api, rate("RUB", "USD", "0.0108"), rate("USD", "INR", "85"))
    assert (await api(PATH, {"from": "RUB", "to": "INR"}))["conversionPath"]["via"] == ["USD"]
    avoided = (await api(PATH, {"from": "RUB", "to": "INR", "avoid": ["USD"]}))["conversionPath"]
    assert avoided["via"] == ["CNY"] and avoided["rate"] == "0.907522"
    assert all("USD" not in (leg["base"], leg["quote"]) for leg in avoided["legs"])
    # A direct pair is one leg, whatever the product.
    await publish(api, rate("RUB", "INR", "0.5"))
    direct = (await api(PATH, {"from": "RUB", "to": "INR"}))["conversionPath"]
    assert direct["via"] == [] and direct["rate"] == "0.5"


async def test_path_uses_inverses_and_reports_none(api):
    await publish(api, rate("CNY", "RUB", "12.8"))
    path = (await api(PATH, {"from": "RUB", "to": "CNY"}))["conversionPath"]
    assert path["rate"] == "0.078125"  # 1 / 12.8
    assert (await api(PATH, {"from": "RUB", "to": "BRL"}))["conversionPath"] is None


async def test_avoiding_an_end_of_the_path_is_invalid(api):
    body = await api.raw(PATH, {"from": "RUB", "to": "INR", "avoid": ["RUB"]})
    assert body["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": ["avoid"]}


def basket(**overrides):
    fields = {
        "code": "UNIT",
        "name": "Test unit",
        "components": [{"currency": "XAU", "weight": "0.4"}, {"currency": "CNY", "weight": "0.6"}],
        "initialValue": "100",
        "valueCurrency": "USD",
    }
    fields.update(overrides)
    return {"input": fields}


VALUE = """
query($currency: String!, $at: DateTime) {
  basket(code: "UNIT") { value(currency: $currency, at: $at) { amount currency } }
}
"""


async def test_basket_by_the_sdr_method(api):
    await publish(api, rate("XAU", "USD", "2000", T1), rate("CNY", "USD", "0.14", T1))
    payload = (await api(DEFINE, basket()))["defineBasket"]
    assert payload["errors"] == []
    # XAU: 0.4 x 100 / 2000 = 0.02; CNY: 0.6 x 100 / 0.14 = 428.571429 (six decimal places)
    assert payload["basket"]["components"] == [
        {"currency": "XAU", "weight": "0.4", "amount": "0.02"},
        {"currency": "CNY", "weight": "0.6", "amount": "428.571429"},
    ]
    # At definition: 0.02 x 2000 + 428.571429 x 0.14 = 100.00000006 -> 100.00 USD
    assert (await api(VALUE, {"currency": "USD"}))["basket"]["value"] == {"amount": "100.00", "currency": "USD"}
    # Gold rises to 2100: 42 + 60.00000006 = 102.00000006 -> 102.00 USD
    await publish(api, rate("XAU", "USD", "2100", T2))
    assert (await api(VALUE, {"currency": "USD"}))["basket"]["value"]["amount"] == "102.00"
    # Before the rise, at T1 + a day, still 100.00.
    assert (await api(VALUE, {"currency": "USD", "at": "2026-01-02T00:00:00Z"}))["basket"]["value"][
        "amount"
    ] == "100.00"
    # In CNY: XAU -> CNY through USD = 2100 x (1 / 0.14 = 7.14285714286) = 15000.0000000 (12 digits);
    # 0.02 x 15000 + 428.571429 = 728.571429 -> 728.57 CNY
    assert (await api(VALUE, {"currency": "CNY"}))["basket"]["value"] == {"amount": "728.57", "currency": "CNY"}
    # A currency no component can reach: null.
    assert (await api(VALUE, {"currency": "BRL"}))["basket"]["value"] is None


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        (
            {"components": [{"currency": "XAU", "weight": "0.4"}, {"currency": "CNY", "weight": "0.5"}]},
            "INVALID_INPUT",
            ["input", "components"],
        ),
        (
            {"components": [{"currency": "XAU", "weight": "1.0"}, {"currency": "CNY", "weight": "0"}]},
            "INVALID_INPUT",
            ["input", "components", "1", "weight"],
        ),
        (
            {"components": [{"currency": "XAU", "weight": "0.5"}, {"currency": "XAU", "weight": "0.5"}]},
            "INVALID_INPUT",
            ["input", "components", "1", "currency"],
        ),
        (
            {"components": [{"currency": "XYZ", "weight": "1"}]},
            "UNSUPPORTED_CURRENCY",
            ["input", "components", "0", "currency"],
        ),
        ({"components": [{"currency": "BRL", "weight": "1"}]}, "NO_RATE", ["input", "components", "0"]),
        ({"initialValue": "0"}, "INVALID_INPUT", ["input", "initialValue"]),
        ({"code": "u n i t"}, "INVALID_INPUT", ["input", "code"]),
    ],
)
async def test_bad_baskets_are_refused(api, overrides, code, field):
    await publish(api, rate("XAU", "USD", "2000"), rate("CNY", "USD", "0.14"))
    payload = (await api(DEFINE, basket(**overrides)))["defineBasket"]
    assert payload["basket"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    async with api.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM basket")) == 0


async def test_a_component_amount_is_exact_at_six_places_not_a_division_tail(api):
    # 0.6 of 100 USD at USD/CNY 7.23: the inverse rate 0.138312586445... divided back
    # gave 433.800000001 at 12 significant digits; at six places it is 433.8.
    await publish(api, rate("XAU", "USD", "2350"), rate("USD", "CNY", "7.23"))
    payload = (await api(DEFINE, basket()))["defineBasket"]
    assert payload["basket"]["components"] == [
        {"currency": "XAU", "weight": "0.4", "amount": "0.017021"},
        {"currency": "CNY", "weight": "0.6", "amount": "433.8"},
    ]
    # An amount that rounds to nothing at six places is refused, not stored as zero.
    tiny = basket(code="TINY", initialValue="0.000001")
    refused = (await api(DEFINE, tiny))["defineBasket"]
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [
        ("INVALID_INPUT", ["input", "components", "0", "weight"])
    ]


async def test_basket_code_is_unique_and_operators_define(api):
    await publish(api, rate("XAU", "USD", "2000"), rate("CNY", "USD", "0.14"))
    assert (await api(DEFINE, basket()))["defineBasket"]["errors"] == []
    assert (await api(DEFINE, basket()))["defineBasket"]["errors"][0]["code"] == "ALREADY_EXISTS"
    analyst = await api.new_key(Role.ANALYST)
    refused = (await api(DEFINE, basket(code="OTHER"), key=analyst))["defineBasket"]
    assert refused["errors"][0]["code"] == "FORBIDDEN"
    seen = await api('{ basket(code: "UNIT") { id code } }', key=analyst)
    node = await api("query($id: ID!) { node(id: $id) { ... on Basket { code } } }", {"id": seen["basket"]["id"]})
    assert node["node"] == {"code": "UNIT"}


DXY = {
    "EURUSD": "1.0870",
    "USDJPY": "151.50",
    "GBPUSD": "1.2630",
    "USDCAD": "1.3640",
    "USDSEK": "10.7100",
    "USDCHF": "0.9070",
}


async def test_dollar_index_by_the_ice_formula(api):
    await publish(api, *[rate(pair[:3], pair[3:], value, T1) for pair, value in DXY.items()])
    value = (await api("{ dollarIndex }"))["dollarIndex"]
    expected = (
        50.14348112 * 1.0870**-0.576 * 151.50**0.136 * 1.2630**-0.119 * 1.3640**0.091 * 10.7100**0.042 * 0.9070**0.036
    )
    assert abs(float(value) - expected) < 1e-6
    assert value == "104.185795"
    assert (await api('{ dollarIndex(at: "2025-12-31T00:00:00Z") }'))["dollarIndex"] is None
    # The euro strengthens: the index falls.
    await publish(api, rate("EUR", "USD", "1.1000", T2))
    assert float((await api("{ dollarIndex }"))["dollarIndex"]) < float(value)
    assert abs(float((await api(f'{{ dollarIndex(at: "{T1}") }}'))["dollarIndex"]) - expected) < 1e-6


async def test_dollar_index_needs_all_six_pairs(api):
    await publish(api, *[rate(pair[:3], pair[3:], value) for pair, value in DXY.items() if pair != "USDSEK"])
    assert (await api("{ dollarIndex }"))["dollarIndex"] is None


def test_path_search_prefers_fewer_legs_then_the_better_product():
    import datetime as dt
    from decimal import Decimal

    from resolvers.fx import Rate, find_path

    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    graph = {}
    for base, quote, value in [
        ("A", "B", "2"),
        ("B", "D", "2"),
        ("A", "C", "3"),
        ("C", "D", "1"),
        ("A", "E", "9"),
        ("E", "F", "9"),
        ("F", "D", "9"),
    ]:
        graph[(base, quote)] = Rate(base, quote, Decimal(value), "t", now)
    path = find_path(graph, "A", "D")
    assert path.via == ["B"] and path.rate == Decimal("4")  # 2 legs; 4 > 3; the 3-leg path (729) loses
    assert find_path(graph, "A", "D", ["B"]).via == ["C"]
    assert find_path(graph, "A", "D", ["B", "C"]).via == ["E", "F"]
    assert find_path(graph, "A", "D", ["B", "C", "E"]) is None
    assert math.isclose(float(find_path(graph, "A", "A").rate), 1.0)


INSERT_RATE = text(
    "INSERT INTO exchange_rate (base, quote, rate, source, as_of, created_at) VALUES (:b, :q, :r, 'elsewhere', :t, :c)"
)


async def test_a_rate_stored_by_another_process_is_in_force_at_the_next_request(api):
    """The rates in force come from a rate book each process keeps while the rate table does
    not change: a rate written by someone else (here straight into the table, back-dated,
    with a creation time older than every other) is seen at once, and so is a table
    emptied and filled again with as many rows."""
    await publish(api, rate("USD", "RUB", "90", T1), rate("CNY", "RUB", "12.5", T2))
    assert (await api(RATE, {"base": "USD", "quote": "RUB"}))["exchangeRate"]["rate"] == "90"
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    t1, t3 = (dt.datetime.fromisoformat(moment) for moment in (T1, T3))
    async with api.engine.begin() as connection:
        await connection.execute(INSERT_RATE, {"b": "USD", "q": "RUB", "r": "91", "t": t3, "c": long_ago})
    assert (await api(RATE, {"base": "USD", "quote": "RUB"}))["exchangeRate"]["rate"] == "91"
    path = (await api(PATH, {"from": "USD", "to": "CNY"}))["conversionPath"]
    assert path["via"] == ["RUB"] and path["rate"] == "7.28"  # 91 / 12.5: the path follows the new rate too
    async with api.engine.begin() as connection:
        await connection.execute(text("DELETE FROM exchange_rate"))
        for base, value in (("USD", "80"), ("CNY", "11"), ("EUR", "100")):
            await connection.execute(INSERT_RATE, {"b": base, "q": "RUB", "r": value, "t": t1, "c": long_ago})
    assert await stored_rates(api) == 3
    assert (await api(RATE, {"base": "USD", "quote": "RUB"}))["exchangeRate"]["rate"] == "80"
    assert (await api(RATE, {"base": "EUR", "quote": "RUB"}))["exchangeRate"]["rate"] == "100"


def test_the_rates_in_force_a_rate_book_keeps_are_read_only():
    from decimal import Decimal

    from resolvers.fx import Rate, RateBook

    first, later = dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    book = RateBook([Rate("USD", "RUB", Decimal("90"), "t", first), Rate("USD", "RUB", Decimal("95"), "t", later)])
    assert book.at(first - dt.timedelta(seconds=1)) == {}
    assert book.at(first)[("USD", "RUB")].rate == Decimal("90")
    assert book.at(later)[("RUB", "USD")].rate == Decimal("0.0105263157895")
    assert book.at(later + dt.timedelta(days=1)) is book.at(later)  # kept, not replayed again
    with pytest.raises(TypeError):
        book.at(later)[("USD", "RUB")] = None
