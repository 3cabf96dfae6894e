"""Quotes and exchanges through FX providers, with amounts worked out by hand."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from models.access import Role
from models.base import set_clock_skew
from tests.ledger_world import account, balances, institution, pk, send, transfer

QUOTE = """
mutation($input: QuoteInput!) {
  requestQuote(input: $input) {
    quote {
      id sellAmount { amount currency } buyAmount { amount currency } rate path providers { bic } state expiresAt
    }
    errors { code message field }
  }
}
"""
EXCHANGE = """
mutation($input: ExchangeInput!) {
  exchange(input: $input) {
    transfers { transferId amount { amount currency } debitAccount { name } creditAccount { name } state }
    errors { code message field }
  }
}
"""
PUBLISH = "mutation($r: [ExchangeRateInput!]!) { publishRates(rates: $r) { errors { code } } }"


async def world(api):
    """RUB, CNY and INR central banks; an FX provider (25 bps) with funded positions; a
    Russian customer with 20,000.00 RUB and an Indian customer; rates RUB/CNY 0.0781,
    CNY/INR 11.62, and through USD a better product (0.0108 x 85 = 0.918)."""
    ids = {}
    for name, bic, country, currency in [
        ("Bank of Russia", "CBRFRUMM", "RU", "RUB"),
        ("PBOC", "PBOCCNBJ", "CN", "CNY"),
        ("RBI", "RBISINBB", "IN", "INR"),
        ("Fed", "FRNYUS33", "US", "USD"),
    ]:
        cb = await institution(api, name, bic, country, "CENTRAL_BANK")
        ids[f"issue {currency}"] = await account(api, cb, f"{currency} issuance", currency, "ISSUANCE")
    data = await api(
        'mutation { createInstitution(input: {name: "Corridor FX", bic: "CRFXAEAD", countryCode: "AE", '
        "kind: FX_PROVIDER, spreadBps: 25}) { institution { id } } }"
    )
    fx = data["createInstitution"]["institution"]["id"]
    ids["fx"] = fx
    funding = {"RUB": "1000000.00", "CNY": "100000.00", "INR": "1000000.00"}
    for currency in funding:
        ids[f"fx {currency}"] = await account(api, fx, f"{currency} position", currency, "FX_POSITION")
    sber = await institution(api, "Sberbank", "SABRRUMM", "RU", "COMMERCIAL_BANK")
    sbi = await institution(api, "State Bank of India", "SBININBB", "IN", "COMMERCIAL_BANK")
    ids["sber"], ids["sbi"] = sber, sbi
    ids["ivan"] = await account(api, sber, "Ivan (RUB)", "RUB", "CUSTOMER")
    ids["ivan cny"] = await account(api, sber, "Ivan (CNY)", "CNY", "CUSTOMER")
    ids["priya"] = await account(api, sbi, "Priya (INR)", "INR", "CUSTOMER")
    results = await send(
        api,
        *[transfer(ids[f"issue {c}"], ids[f"fx {c}"], amount, currency=c) for c, amount in funding.items()],
        transfer(ids["issue RUB"], ids["ivan"], "20000.00"),
    )
    assert all(r["errors"] == [] for r in results)
    rates = [
        {"base": "RUB", "quote": "CNY", "rate": "0.0781"},
        {"base": "CNY", "quote": "INR", "rate": "11.62"},
        {"base": "RUB", "quote": "USD", "rate": "0.0108"},
        {"base": "USD", "quote": "INR", "rate": "85"},
    ]
    assert (await api(PUBLISH, {"r": rates}))["publishRates"]["errors"] == []
    return ids


def quote_input(**fields):
    return {"input": {"sellCurrency": "RUB", "buyCurrency": "INR", "avoid": ["USD"], **fields}}


async def test_quote_and_exchange_rub_to_inr_avoiding_usd(api):
    ids = await world(api)
    payload = (await api(QUOTE, quote_input(sellAmount="10000.00")))["requestQuote"]
    assert payload["errors"] == []
    quote = payload["quote"]
    # Provider rates: 0.0781 x (1 - 0.0025) = 0.07790475 and 11.62 x 0.9975 = 11.59095.
    # One provider for both legs: one rounding, 10000 x 0.07790475 x 11.59095 = 9029.900620125;
    # what the client receives rounds down: 9029.90.
    # All-in rate 0.9029900620125, to 12 significant digits half-even: 0.902990062012.
    assert quote["sellAmount"] == {"amount": "10000.00", "currency": "RUB"}
    assert quote["buyAmount"] == {"amount": "9029.90", "currency": "INR"}
    assert quote["rate"] == "0.902990062012"
    assert quote["path"] == ["RUB", "CNY", "INR"]
    assert quote["providers"] == [{"bic": "CRFXAEAD"}]
    assert quote["state"] == "OPEN"

    key = str(uuid.uuid4())
    exchange = {
        "transferId": key,
        "quoteId": quote["id"],
        "debitAccountId": ids["ivan"],
        "creditAccountId": ids["priya"],
    }
    done = (await api(EXCHANGE, {"input": exchange}))["exchange"]
    assert done["errors"] == []
    assert [(t["amount"], t["debitAccount"]["name"], t["creditAccount"]["name"]) for t in done["transfers"]] == [
        ({"amount": "10000.00", "currency": "RUB"}, "Ivan (RUB)", "RUB position"),
        ({"amount": "9029.90", "currency": "INR"}, "INR position", "Priya (INR)"),
    ]
    assert (await balances(api, ids["ivan"]))["balance"] == "10000.00"
    assert (await balances(api, ids["priya"]))["balance"] == "9029.90"
    assert (await balances(api, ids["fx RUB"]))["balance"] == "1010000.00"
    assert (await balances(api, ids["fx INR"]))["balance"] == "990970.10"
    assert (await balances(api, ids["fx CNY"]))["balance"] == "100000.00"  # nothing changes hands in CNY

    replay = (await api(EXCHANGE, {"input": exchange}))["exchange"]
    assert replay["errors"] == []
    assert [t["transferId"] for t in replay["transfers"]] == [t["transferId"] for t in done["transfers"]]
    assert (await balances(api, ids["ivan"]))["balance"] == "10000.00"
    again = (await api(EXCHANGE, {"input": {**exchange, "transferId": str(uuid.uuid4())}}))["exchange"]
    assert [(e["code"], e["field"]) for e in again["errors"]] == [("QUOTE_USED", ["input", "quoteId"])]
    state = await api("query($id: ID!) { node(id: $id) { ... on Quote { state } } }", {"id": quote["id"]})
    assert state["node"] == {"state": "USED"}


async def test_without_avoid_the_better_path_through_usd_needs_a_usd_position(api):
    await world(api)
    payload = (await api(QUOTE, quote_input(sellAmount="100.00", avoid=None)))["requestQuote"]
    # The path is RUB -> USD -> INR, but no provider holds USD: no liquidity.
    assert payload["errors"][0]["code"] == "INSUFFICIENT_LIQUIDITY"


async def test_quote_for_a_buy_amount(api):
    await world(api)
    quote = (await api(QUOTE, quote_input(buyAmount="1000.00")))["requestQuote"]["quote"]
    # 1000 / 0.9029900620125 = 1107.4318999384...; what the client pays rounds up: 1107.44 RUB
    assert quote["sellAmount"]["amount"] == "1107.44" and quote["buyAmount"]["amount"] == "1000.00"


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"sellAmount": "1.00", "buyAmount": "1.00"}, "INVALID_INPUT", ["input", "sellAmount"]),
        ({}, "INVALID_INPUT", ["input", "sellAmount"]),
        ({"sellAmount": "1.001"}, "INVALID_INPUT", ["input", "sellAmount"]),
        ({"sellAmount": "-1"}, "INVALID_INPUT", ["input", "sellAmount"]),
        ({"sellAmount": "1.00", "buyCurrency": "BRL"}, "NO_RATE", None),
        ({"sellAmount": "1.00", "buyCurrency": "XYZ"}, "UNSUPPORTED_CURRENCY", ["input", "buyCurrency"]),
        ({"sellAmount": "1.00", "avoid": ["RUB"]}, "INVALID_INPUT", ["input", "avoid"]),
        ({"sellAmount": "0.01", "buyCurrency": "CNY"}, "INVALID_INPUT", ["input", "sellAmount"]),  # 0.00078 CNY
        ({"sellAmount": "20000000.00"}, "INSUFFICIENT_LIQUIDITY", None),  # about 18 million INR; 1 million held
    ],
)
async def test_bad_quotes(api, fields, code, field):
    await world(api)
    payload = (await api(QUOTE, quote_input(**fields)))["requestQuote"]
    assert payload["quote"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]


async def test_exchange_errors_change_nothing(api):
    ids = await world(api)
    quote = (await api(QUOTE, quote_input(sellAmount="10000.00")))["requestQuote"]["quote"]
    base = {"quoteId": quote["id"], "debitAccountId": ids["ivan"], "creditAccountId": ids["priya"]}

    async def attempt(key=None, **changes):
        data = await api(EXCHANGE, {"input": {"transferId": str(uuid.uuid4()), **base, **changes}}, key=key)
        return [(e["code"], e["field"]) for e in data["exchange"]["errors"]]

    assert await attempt(debitAccountId=ids["ivan cny"]) == [("CURRENCY_MISMATCH", ["input", "debitAccountId"])]
    assert await attempt(creditAccountId=ids["ivan"]) == [("CURRENCY_MISMATCH", ["input", "creditAccountId"])]
    sbi_key = await api.new_key(Role.PARTICIPANT, pk(ids["sbi"]))
    # Another institution sees no quote of the operator's; on its own quote it may debit
    # only its own accounts.
    assert await attempt(key=sbi_key) == [("NOT_FOUND", ["input", "quoteId"])]
    own = (await api(QUOTE, quote_input(sellAmount="10.00"), key=sbi_key))["requestQuote"]["quote"]
    assert await attempt(key=sbi_key, quoteId=own["id"]) == [("FORBIDDEN", ["input", "debitAccountId"])]
    # Ivan spends most of his roubles first.
    await send(api, transfer(ids["ivan"], ids["issue RUB"], "15000.00"))
    assert await attempt() == [("INSUFFICIENT_FUNDS", ["input", "debitAccountId"])]
    assert (await balances(api, ids["fx RUB"]))["balance"] == "1000000.00"
    await send(api, transfer(ids["issue RUB"], ids["ivan"], "15000.00"))
    set_clock_skew(dt.timedelta(seconds=61))
    try:
        assert await attempt() == [("QUOTE_EXPIRED", ["input", "quoteId"])]
    finally:
        set_clock_skew(dt.timedelta(0))
    assert (await balances(api, ids["priya"]))["balance"] == "0.00"
    # The quote is still usable once the errors are mended.
    assert await attempt() == []


async def test_provider_short_of_liquidity_at_exchange_time(api):
    ids = await world(api)
    quote = (await api(QUOTE, quote_input(sellAmount="10000.00")))["requestQuote"]["quote"]
    # The provider's INR position is drained after the quote.
    await send(api, transfer(ids["fx INR"], ids["issue INR"], "995000.00", currency="INR"))
    data = await api(
        EXCHANGE,
        {
            "input": {
                "transferId": str(uuid.uuid4()),
                "quoteId": quote["id"],
                "debitAccountId": ids["ivan"],
                "creditAccountId": ids["priya"],
            }
        },
    )
    assert data["exchange"]["errors"][0]["code"] == "INSUFFICIENT_LIQUIDITY"
    assert (await balances(api, ids["ivan"]))["balance"] == "20000.00"


ROUND_TRIP_RATES = st.tuples(
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("0.2"), places=4),  # RUB/CNY
    st.decimals(min_value=Decimal("5"), max_value=Decimal("20"), places=3),  # CNY/INR
    st.integers(min_value=0, max_value=300),  # the provider's spread, bps
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rates=ROUND_TRIP_RATES, sold=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("20000"), places=2))
async def test_exchange_conserves_value_and_a_round_trip_never_gains(api, rates, sold):
    from tests.conftest import _clean

    await _clean(api.engine)
    api.key = await api.new_key(Role.OPERATOR)
    ids = await world(api)
    rub_cny, cny_inr, spread = rates
    await api(
        PUBLISH,
        {
            "r": [
                {"base": "RUB", "quote": "CNY", "rate": str(rub_cny)},
                {"base": "CNY", "quote": "INR", "rate": str(cny_inr)},
            ]
        },
    )
    async with api.engine.begin() as connection:
        await connection.execute(text("UPDATE institution SET spread_bps = :s WHERE bic = 'CRFXAEAD'"), {"s": spread})
    ivan_inr = await account(api, ids["sber"], "Ivan (INR)", "INR", "CUSTOMER")

    async def convert(sell, buy, amount, debit, credit):
        quote = (
            await api(
                QUOTE, {"input": {"sellCurrency": sell, "buyCurrency": buy, "sellAmount": amount, "avoid": ["USD"]}}
            )
        )["requestQuote"]
        if quote["errors"]:
            assert quote["errors"][0]["code"] in ("INSUFFICIENT_LIQUIDITY", "INVALID_INPUT"), quote
            return None
        done = (
            await api(
                EXCHANGE,
                {
                    "input": {
                        "transferId": str(uuid.uuid4()),
                        "quoteId": quote["quote"]["id"],
                        "debitAccountId": debit,
                        "creditAccountId": credit,
                    }
                },
            )
        )["exchange"]
        assert done["errors"] == [], done
        return quote["quote"]["buyAmount"]["amount"]

    got = await convert("RUB", "INR", str(sold), ids["ivan"], ivan_inr)
    if got is not None and Decimal(got) > 0:
        back = await convert("INR", "RUB", got, ivan_inr, ids["ivan"])
        if back is not None:
            assert Decimal(back) <= sold  # a round trip never returns more than was sold
    async with api.engine.connect() as connection:
        sums = (
            await connection.execute(
                text(
                    "SELECT currency_code, sum(credits_posted) - sum(debits_posted) FROM account GROUP BY currency_code"
                )
            )
        ).all()
        short = await connection.scalar(
            text(
                "SELECT count(*) FROM account "
                "WHERE kind <> 'ISSUANCE' AND credits_posted - debits_posted - debits_pending < 0"
            )
        )
    assert all(total == 0 for _, total in sums), sums  # every currency's ledger still sums to zero
    assert short == 0  # no provider position (nor any account) below zero


async def test_concurrent_exchanges_of_one_quote_execute_it_once(api):
    import asyncio

    ids = await world(api)
    quote = (await api(QUOTE, quote_input(sellAmount="1000.00")))["requestQuote"]["quote"]
    same = str(uuid.uuid4())

    def attempt(key):
        return api(
            EXCHANGE,
            {
                "input": {
                    "transferId": key,
                    "quoteId": quote["id"],
                    "debitAccountId": ids["ivan"],
                    "creditAccountId": ids["priya"],
                }
            },
        )

    answers = await asyncio.gather(*[attempt(same if n % 2 else str(uuid.uuid4())) for n in range(8)])
    codes = [a["exchange"]["errors"][0]["code"] if a["exchange"]["errors"] else "OK" for a in answers]
    assert set(codes) <= {"OK", "QUOTE_USED"} and "OK" in codes
    assert (await balances(api, ids["ivan"]))["balance"] == "19000.00"  # executed once
