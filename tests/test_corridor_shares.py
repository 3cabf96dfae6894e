"""Currency shares of the network's own flows through the endpoint: corridorStats,
corridorSeries and currencyShares worked out by hand (mixed currencies, a rate that
moves between payments, card refunds, a value that no rate converts), access by role,
errors, and the statements each costs whatever the number of payments."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import event, text

from models.access import Role
from models.base import set_clock_skew, utcnow
from tests import card_world, messaging_world
from tests.card_world import CAPTURE, REFUND
from tests.ledger_world import pk
from tests.messaging_world import RATES, payment, send_payment

SHARES = "shares { currency value { amount currency } share paymentCount unconverted { amount currency } }"
STATS = f"""
query($a: String!, $b: String!, $cur: String, $since: DateTime, $until: DateTime) {{
  corridorStats(countryA: $a, countryB: $b, reportingCurrency: $cur, since: $since, until: $until) {{
    countries {{ code }} reportingCurrency paymentCount totalValue {{ amount currency }} usdShare localShare {SHARES}
  }}
}}
"""
SERIES = f"""
query($a: String!, $b: String!, $since: DateTime!, $until: DateTime!, $every: Interval, $cur: String) {{
  corridorSeries(countryA: $a, countryB: $b, since: $since, until: $until, interval: $every, reportingCurrency: $cur) {{
    start paymentCount totalValue {{ amount currency }} usdShare localShare {SHARES}
  }}
}}
"""
NETWORK_SHARES = """
query($cur: String, $since: DateTime) {
  currencyShares(reportingCurrency: $cur, since: $since) {
    currency value { amount currency } share paymentCount unconverted { amount currency }
  }
}
"""


async def stats(api, a, b, currency="USD", key=None, **period) -> dict:
    return (await api(STATS, {"a": a, "b": b, "cur": currency, **period}, key=key))["corridorStats"]


def share(currency, amount, reporting, fraction, count, unconverted=None) -> dict:
    return {
        "currency": currency,
        "value": {"amount": amount, "currency": reporting},
        "share": pytest.approx(float(fraction)),
        "paymentCount": count,
        "unconverted": unconverted,
    }


async def settled(api, item: dict) -> dict:
    sent = await send_payment(api, item)
    assert sent["errors"] == [] and sent["payment"]["status"] == "SETTLED", sent
    return sent["payment"]


@pytest.fixture
async def interbank(api):
    """RU<->CN: 625.00 RUB at CNYRUB 12.50 and 100.00 CNY; an hour later, CNYRUB 10.00
    and 500.00 RUB; a rejected payment; and 50.00 USD between the US and CN, with no
    rate between USD and CNY. Yields (ids, the moment between the two rates)."""
    ids = await messaging_world.build(api)
    await settled(api, payment(ids, "sber", "boc", "625.00", "RUB"))
    await settled(api, payment(ids, "boc", "vtb", "100.00", "CNY"))
    rejected = await send_payment(api, payment(ids, "sber", "boc", "99999.00", "RUB"))
    assert rejected["payment"]["status"] == "REJECTED", rejected
    await settled(api, payment(ids, "citi", "boc", "50.00", "USD", networkCode="SWIFT"))
    set_clock_skew(dt.timedelta(hours=1))
    try:
        between = utcnow() - dt.timedelta(minutes=30)
        rates = [{"base": "CNY", "quote": "RUB", "rate": "10.00"}]
        assert (await api(RATES, {"r": rates}))["publishRates"]["errors"] == []
        await settled(api, payment(ids, "vtb", "boc", "500.00", "RUB"))
        yield ids, between
    finally:
        set_clock_skew(dt.timedelta(0))


async def test_shares_convert_each_payment_at_the_rate_in_force_when_it_settled(api, interbank):
    # In CNY: 625 / 12.50 + 500 / 10.00 = 100.00 of RUB, and 100.00 of CNY.
    found = await stats(api, "RU", "CN", "CNY")
    assert found["countries"] == [{"code": "RU"}, {"code": "CN"}] and found["reportingCurrency"] == "CNY"
    assert found["paymentCount"] == 3  # the rejected payment and the US one are not the corridor's flows
    assert found["totalValue"] == {"amount": "200.00", "currency": "CNY"}
    assert found["shares"] == [share("CNY", "100.00", "CNY", "0.5", 1), share("RUB", "100.00", "CNY", "0.5", 2)]
    assert (found["usdShare"], found["localShare"]) == (0.0, 1.0)
    # In RUB: 100 CNY at 12.50 (the rate when it settled, not today's 10.00) = 1,250.00.
    found = await stats(api, "CN", "RU", "RUB")
    assert found["totalValue"] == {"amount": "2375.00", "currency": "RUB"}
    assert found["shares"] == [
        share("CNY", "1250.00", "RUB", Decimal(1250) / 2375, 1),
        share("RUB", "1125.00", "RUB", Decimal(1125) / 2375, 2),
    ]


async def test_a_period_counts_only_what_settled_in_it(api, interbank):
    _, between = interbank
    later = await stats(api, "RU", "CN", "CNY", since=between.isoformat())
    assert later["paymentCount"] == 1 and later["shares"] == [share("RUB", "50.00", "CNY", 1, 1)]
    earlier = await stats(api, "RU", "CN", "CNY", until=between.isoformat())
    assert earlier["paymentCount"] == 2 and earlier["totalValue"]["amount"] == "150.00"
    empty = await stats(api, "RU", "CN", "CNY", since=between.isoformat(), until=between.isoformat())
    assert empty["paymentCount"] == 0 and empty["shares"] == [] and empty["totalValue"]["amount"] == "0.00"


async def test_a_value_no_rate_converts_is_reported_not_dropped(api, interbank):
    found = await stats(api, "US", "CN", "CNY")
    assert found["paymentCount"] == 1 and found["totalValue"] == {"amount": "0.00", "currency": "CNY"}
    assert found["shares"] == [share("USD", "0.00", "CNY", 0, 1, {"amount": "50.00", "currency": "USD"})]
    assert found["usdShare"] == 0.0
    # In USD it needs no rate; and USD is the United States' own currency.
    found = await stats(api, "US", "CN")
    assert found["shares"] == [share("USD", "50.00", "USD", 1, 1)]
    assert (found["usdShare"], found["localShare"]) == (1.0, 1.0)


async def test_network_wide_shares(api, interbank):
    shares = (await api(NETWORK_SHARES, {"cur": "CNY"}))["currencyShares"]
    assert shares == [
        share("CNY", "100.00", "CNY", "0.5", 1),
        share("RUB", "100.00", "CNY", "0.5", 2),
        share("USD", "0.00", "CNY", 0, 1, {"amount": "50.00", "currency": "USD"}),
    ]


async def test_series_by_calendar_interval(api, interbank):
    # The flows are about half an hour either side of `between`, maybe either side of midnight:
    # a day before the first flow's day (empty), that day, and two more.
    first = interbank[1] - dt.timedelta(minutes=31)  # a minute to spare for the fixture's own time
    day = first.replace(hour=0, minute=0, second=0, microsecond=0)
    since, until = day - dt.timedelta(days=1), day + dt.timedelta(days=3)
    variables = {"a": "RU", "b": "CN", "since": since.isoformat(), "until": until.isoformat(), "cur": "CNY"}
    daily = (await api(SERIES, {**variables, "every": "DAY"}))["corridorSeries"]
    assert [dt.datetime.fromisoformat(p["start"]) for p in daily] == [since + dt.timedelta(days=k) for k in range(4)]
    assert sum(p["paymentCount"] for p in daily) == 3 and daily[0]["paymentCount"] == 0
    assert daily[0]["totalValue"] == {"amount": "0.00", "currency": "CNY"} and daily[0]["shares"] == []
    monthly = (await api(SERIES, {**variables, "every": "MONTH"}))["corridorSeries"]
    assert all(dt.datetime.fromisoformat(p["start"]).day == 1 for p in monthly)
    assert sum(p["paymentCount"] for p in monthly) == 3
    assert sum(Decimal(p["totalValue"]["amount"]) for p in monthly) == Decimal("200.00")
    weekly = (await api(SERIES, {**variables, "every": "WEEK"}))["corridorSeries"]
    assert all(dt.datetime.fromisoformat(p["start"]).weekday() == 0 for p in weekly)
    assert sum(p["paymentCount"] for p in weekly) == 3


async def test_cards_count_captured_value_net_of_refunds(api):
    ids = await card_world.build(api)

    async def paid(merchant, card, amount, currency, refund=None):
        authorized = await card_world.authorize(api, ids[merchant], card, amount, currency)
        assert authorized["authorization"]["approved"], authorized
        key = authorized["authorization"]["authorizationId"]
        assert (await api(CAPTURE, {"id": key}))["capturePayment"]["errors"] == []
        if refund is not None:
            item = {"refundId": str(uuid.uuid4()), "authorizationId": key, "amount": refund}
            assert (await api(REFUND, {"input": item}))["refundPayment"]["errors"] == []

    await paid("shanghai", "mir", "100.00", "CNY", refund="30.00")  # RU -> CN: 70.00 CNY
    await paid("moscow", "unionpay", "1000.00", "RUB")  # CN -> RU: 1,000 RUB x 0.0781 = 78.10 CNY
    await paid("shanghai", "mir", "40.00", "CNY", refund="40.00")  # refunded in full: no flow
    await paid("moscow", "mir", "500.00", "RUB")  # domestic: RU-RU, not the corridor's
    held = await card_world.authorize(api, ids["shanghai"], "mir", "60.00", "CNY")  # authorized, not captured
    assert held["authorization"]["approved"]
    found = await stats(api, "RU", "CN", "CNY")
    assert found["paymentCount"] == 2 and found["totalValue"]["amount"] == "148.10"
    assert found["shares"] == [
        share("RUB", "78.10", "CNY", Decimal("78.10") / Decimal("148.10"), 1),
        share("CNY", "70.00", "CNY", Decimal("70.00") / Decimal("148.10"), 1),
    ]
    domestic = await stats(api, "RU", "RU", "RUB")
    assert domestic["countries"] == [{"code": "RU"}] and domestic["paymentCount"] == 1
    assert domestic["shares"] == [share("RUB", "500.00", "RUB", 1, 1)]


async def test_participants_read_network_wide_shares_only(api, interbank):
    ids, _ = interbank
    participant = await api.new_key(Role.PARTICIPANT, pk(ids["sber"]))
    analyst = await api.new_key(Role.ANALYST)
    assert (await stats(api, "RU", "CN", "CNY", key=analyst))["paymentCount"] == 3
    body = await api.raw(STATS, {"a": "RU", "b": "CN"}, key=participant)
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    variables = {"a": "RU", "b": "CN", "since": "2026-01-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"}
    body = await api.raw(SERIES, variables, key=participant)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert len((await api(NETWORK_SHARES, {"cur": "CNY"}, key=participant))["currencyShares"]) == 3


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"a": "XX", "b": "CN"}, "NOT_FOUND", "countryA"),
        ({"a": "RU", "b": "ZZ"}, "NOT_FOUND", "countryB"),
        ({"a": "RU", "b": "CN", "cur": "ABC"}, "UNSUPPORTED_CURRENCY", "reportingCurrency"),
        ({"a": "RU", "b": "CN", "since": "2026-01-01T00:00:00"}, "INVALID_INPUT", "since"),
        (
            {"a": "RU", "b": "CN", "since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
            "INVALID_INPUT",
            "until",
        ),
    ],
)
async def test_bad_arguments_are_refused_with_their_field(api, variables, code, field):
    body = await api.raw(STATS, variables)
    assert body["data"] is None
    assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]] == [(code, [field])]


async def test_a_series_holds_at_most_1000_points(api):
    variables = {"a": "RU", "b": "CN", "since": "2020-01-01T00:00:00Z", "until": "2023-01-01T00:00:00Z", "every": "DAY"}
    body = await api.raw(SERIES, variables)
    assert body["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert (
        len((await api(SERIES, {**variables, "every": "WEEK"}))["corridorSeries"]) == 157
    )  # Mondays from 2019-12-30 to 2022-12-26


async def test_the_analytics_read_through_a_pool_of_their_own(api, interbank):
    """On PostgreSQL the analytics' statements run on connections of their own, which plan
    each statement once (generic plans); the ledger's keep PostgreSQL's own choice. On
    SQLite the process's one connection serves them."""
    pool = api.app.state.analytics_engine
    if api.dialect == "sqlite":
        assert pool is None
        assert (await stats(api, "RU", "CN"))["paymentCount"] == 3
        return
    for engine, mode in ((pool, "force_generic_plan"), (api.engine, "auto")):
        async with engine.connect() as connection:
            assert await connection.scalar(text("SHOW plan_cache_mode")) == mode
    seen = []

    def sent(_connection, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(pool.sync_engine, "before_cursor_execute", sent)
    try:
        assert (await stats(api, "RU", "CN"))["paymentCount"] == 3
    finally:
        event.remove(pool.sync_engine, "before_cursor_execute", sent)
    assert any("flow_rollup" in statement for statement in seen), seen


async def test_statements_do_not_grow_with_the_payments(api, interbank):
    ids, _ = interbank
    day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    series = {"a": "RU", "b": "CN", "since": (day - dt.timedelta(days=40)).isoformat(), "until": day.isoformat()}
    queries = [
        (STATS, {"a": "RU", "b": "CN", "cur": "CNY"}),
        (SERIES, {**series, "until": (day + dt.timedelta(days=2)).isoformat(), "every": "DAY"}),
        (NETWORK_SHARES, {"cur": "CNY"}),
    ]

    async def counts() -> list[int]:
        found = []
        for query, variables in queries:
            with api.count_statements() as n:
                await api(query, variables)
            found.append(n[0])
        return found

    first = await counts()  # the rate book read: its rows once, then only the table's state
    few = await counts()
    assert [a - b for a, b in zip(first, few, strict=True)] == [1, 0, 0], (first, few)
    for k in range(12):
        await settled(api, payment(ids, "vtb" if k % 2 else "sber", "boc", f"{k + 1}.00", "RUB"))
        await settled(api, payment(ids, "boc", "vtb", f"{k + 1}.00", "CNY"))
    assert (await stats(api, "RU", "CN", "CNY"))["paymentCount"] == 27
    # BEGIN, the countries, the flows, the rate table's state, and the countries field.
    assert await counts() == few and max(few) <= 4, few
