"""The dollar index and a basket's value over time: series by DAY, WEEK or MONTH from the
stored rate history, each point what `dollarIndex(at:)` / `Basket.value(at:)` says at
its time, null where the rates do not allow it, at most 1,000 points."""

from __future__ import annotations

from tests.test_fx import DEFINE, basket, publish, rate

DXY_PAIRS = {"EURUSD": "1.0870", "USDJPY": "151.50", "GBPUSD": "1.2630", "USDCAD": "1.3640", "USDSEK": "10.7100"}
INDEX = "query($at: DateTime) { dollarIndex(at: $at) }"
INDEX_HISTORY = """
query($since: DateTime!, $until: DateTime!, $interval: Interval) {
  dollarIndexHistory(since: $since, until: $until, interval: $interval) { at value }
}
"""
BASKET_HISTORY = """
query($since: DateTime!, $until: DateTime!, $interval: Interval) {
  basket(code: "UNIT") { history(currency: "USD", since: $since, until: $until, interval: $interval) { at value } }
}
"""
BASKET_VALUE = 'query($at: DateTime) { basket(code: "UNIT") { value(currency: "USD", at: $at) { amount } } }'


async def _dxy(api, as_of: str, chf: str) -> None:
    rates = [rate(p[:3], p[3:], v, as_of) for p, v in DXY_PAIRS.items()] + [rate("USD", "CHF", chf, as_of)]
    assert (await publish(api, *rates))["errors"] == []


async def test_the_dollar_index_history_replays_the_rates_in_force_at_each_point(api):
    await _dxy(api, "2024-01-02T00:00:00Z", "0.9070")
    await _dxy(api, "2024-01-04T12:00:00Z", "0.9500")  # the franc moves mid-series
    series = (
        await api(INDEX_HISTORY, {"since": "2024-01-01T00:00:00Z", "until": "2024-01-06T00:00:00Z", "interval": "DAY"})
    )["dollarIndexHistory"]
    assert [p["at"][:10] for p in series] == [f"2024-01-0{day}" for day in range(1, 7)]
    assert series[0]["value"] is None  # no rates before 2 January: a null point, not a missing one
    for point in series:
        assert point["value"] == (await api(INDEX, {"at": point["at"]}))["dollarIndex"], point
    assert series[1]["value"] == series[3]["value"] != series[4]["value"]  # 4 January 00:00 is before the move


async def test_a_basket_history_is_its_value_at_each_point(api):
    start = "2024-01-01T00:00:00Z"
    gold_then = [rate("XAU", "USD", "2000", start), rate("CNY", "USD", "0.14", start)]
    gold_later = [rate("XAU", "USD", "2400", "2024-03-15T00:00:00Z")]
    assert (await publish(api, *gold_then))["errors"] == []
    assert (await api(DEFINE, basket()))["defineBasket"]["errors"] == []
    assert (await publish(api, *gold_later))["errors"] == []
    variables = {"since": "2024-01-31T00:00:00Z", "until": "2024-05-01T00:00:00Z", "interval": "MONTH"}
    series = (await api(BASKET_HISTORY, variables))["basket"]["history"]
    # Month by month from 31 January: the day kept, or the month's last (29 February, 30 April).
    assert [p["at"][:10] for p in series] == ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"]
    for point in series:
        assert point["value"] == (await api(BASKET_VALUE, {"at": point["at"]}))["basket"]["value"]["amount"]
    # 0.4 of 100 USD bought 0.02 XAU at 2,000: at 2,400 it is worth 48, so the unit 108.00.
    assert [p["value"] for p in series] == ["100.00", "100.00", "108.00", "108.00"]


async def test_a_series_is_bounded_and_its_period_checked(api):
    cases = [
        ({"since": "2020-01-01T00:00:00Z", "until": "2024-01-01T00:00:00Z", "interval": "DAY"}, ["until"]),
        ({"since": "2024-02-01T00:00:00Z", "until": "2024-01-01T00:00:00Z"}, ["until"]),
        ({"since": "2024-01-01T00:00:00", "until": "2024-02-01T00:00:00Z"}, ["since"]),
    ]
    for variables, field in cases:
        body = await api.raw(INDEX_HISTORY, variables)
        assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]] == [
            ("INVALID_INPUT", field)
        ], (variables, body)
    week = {"since": "2024-01-01T00:00:00Z", "until": "2024-12-31T00:00:00Z", "interval": "WEEK"}
    assert len((await api(INDEX_HISTORY, week))["dollarIndexHistory"]) == 53
    full = {"since": "2021-01-01T00:00:00Z", "until": "2023-09-27T00:00:00Z", "interval": "DAY"}  # 1,000 days
    assert len((await api(INDEX_HISTORY, full))["dollarIndexHistory"]) == 1000


async def test_a_series_costs_the_same_statements_whatever_its_length(api):
    await _dxy(api, "2024-01-02T00:00:00Z", "0.9070")
    counts = []
    # The first reads the rate book's rows; the others, only the rate table's state.
    for until in ("2024-01-05T00:00:00Z", "2024-01-10T00:00:00Z", "2024-12-31T00:00:00Z"):
        with api.count_statements() as counted:
            await api(INDEX_HISTORY, {"since": "2024-01-01T00:00:00Z", "until": until})
        counts.append(counted[0])
    assert counts[0] - 1 == counts[1] == counts[2] <= 2, counts
