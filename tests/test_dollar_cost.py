"""corridorDollarCost on the demo network: the RU-IR corridor's USD value per pair of
local currencies, with today's route through USD against the route avoiding it, worked
out by hand from the demo's rates and its FX provider's 25 bps spread; access and cost."""

from __future__ import annotations

from decimal import Decimal

from corridor import demo
from models.access import Role
from resolvers.money import WIDE, quantize_half_even, significant

COST = """
query($a: String!, $b: String!) {
  corridorDollarCost(countryA: $a, countryB: $b) {
    countries { code } paymentCount usdValue { amount currency }
    pairs {
      fromCurrency toCurrency paymentCount usdValue { amount currency }
      viaUsd { currencies rate providers { bic } } withoutUsd { currencies rate providers { bic } }
      differenceBps saving { amount currency }
    }
  }
}
"""
AFTER_SPREAD = Decimal("0.9975")


def expected(source, target, via: Decimal, without: Decimal, usd: str) -> dict:
    gain = WIDE.subtract(WIDE.divide(without, via), 1)
    return {
        "fromCurrency": source,
        "toCurrency": target,
        "paymentCount": 1,
        "usdValue": {"amount": usd, "currency": "USD"},
        "viaUsd": {"currencies": [source, "USD", target], "rate": str(via), "providers": [{"bic": "CRFXAEAD"}] * 2},
        "withoutUsd": {"currencies": [source, target], "rate": str(without), "providers": [{"bic": "CRFXAEAD"}]},
        "differenceBps": str(quantize_half_even(gain * 10_000, 2)),
        "saving": {"amount": str(quantize_half_even(gain * Decimal(usd), 2)), "currency": "USD"},
    }


async def test_the_usd_value_of_a_corridor_and_what_avoiding_the_dollar_would_save(api):
    await demo.load(api.sessions)
    found = (await api(COST, {"a": "RU", "b": "IR"}))["corridorDollarCost"]
    # The two 2021 payments over SWIFT, 20,000.00 USD each way; today's rates: USDRUB 92.50,
    # USDIRR 42000, RUBIRR 454.0, each leg after the provider's 25 bps.
    assert found["countries"] == [{"code": "RU"}, {"code": "IR"}]
    assert found["paymentCount"] == 2 and found["usdValue"] == {"amount": "40000.00", "currency": "USD"}
    rub_usd, irr_usd, irr_rub = (significant(WIDE.divide(1, Decimal(r))) for r in ("92.50", "42000", "454.0"))
    rub_irr_via = significant(rub_usd * AFTER_SPREAD * Decimal(42000) * AFTER_SPREAD)
    irr_rub_via = significant(irr_usd * AFTER_SPREAD * Decimal("92.50") * AFTER_SPREAD)
    assert found["pairs"] == [
        expected("IRR", "RUB", irr_rub_via, significant(irr_rub * AFTER_SPREAD), "20000.00"),
        expected("RUB", "IRR", rub_irr_via, significant(Decimal("454.0") * AFTER_SPREAD), "20000.00"),
    ]
    # One leg's spread instead of two: avoiding the dollar saves about 24 bps here.
    assert all(Decimal(pair["differenceBps"]) > 0 for pair in found["pairs"])


async def test_a_corridor_without_usd_flows_has_no_pairs(api):
    await demo.load(api.sessions)
    found = (await api(COST, {"a": "RU", "b": "CN"}))["corridorDollarCost"]
    assert found["paymentCount"] == 0 and found["pairs"] == [] and found["usdValue"]["amount"] == "0.00"


async def test_participants_are_refused_and_the_cost_is_bounded(api):
    await demo.load(api.sessions)
    participant = await api.new_key(Role.PARTICIPANT, 1)
    body = await api.raw(COST, {"a": "RU", "b": "IR"}, key=participant)
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    with api.count_statements() as n:
        await api(COST, {"a": "RU", "b": "IR"})
    # BEGIN, the countries, the USD flows, the rates in force, the providers' positions
    # and their lapsed holds, the currencies, the countries and providers fields.
    assert n[0] <= 9, n[0]
