"""The demo network loads on both engines, and loading it again changes nothing."""

from __future__ import annotations

from corridor import demo


async def test_demo_loads_once(api):
    first = await demo.load(api.sessions)
    assert first["institutions"] == len(demo.INSTITUTIONS)
    assert (await demo.load(api.sessions))["institutions"] == 0
    data = await api("{ institutions(first: 100, kind: CENTRAL_BANK) { edges { node { bic country { code } } } } }")
    central_banks = {e["node"]["bic"]: e["node"]["country"]["code"] for e in data["institutions"]["edges"]}
    assert central_banks["CBRFRUMM"] == "RU" and central_banks["PBOCCNBJ"] == "CN"
    fx = await api('{ institution(bic: "CRFXAEAD") { kind spreadBps } }')
    assert fx["institution"] == {"kind": "FX_PROVIDER", "spreadBps": 25}
    operators = await api("{ institutions(kind: NETWORK_OPERATOR) { edges { node { bic } } } }")
    assert {e["node"]["bic"] for e in operators["institutions"]["edges"]} == {"SWHQBEBB", "CBRFRUMMSPF", "CIPSCNSH"}


async def test_demo_ledger_is_funded_and_has_history(api):
    first = await demo.load(api.sessions)
    assert first["accounts"] == 26 + 5 and first["transfers"] == 50 + 5
    again = await demo.load(api.sessions)
    assert again == {"institutions": 0, "accounts": 0, "transfers": 0, "rates": 0, "baskets": 0}
    query = """
    query($bic: String!) {
      institution(bic: $bic) {
        accounts(first: 10) {
          edges { node { name kind balance { amount currency } available { amount }
                         transfers(first: 50) { edges { node { reference } } } } }
        }
      }
    }
    """
    bank = (await api(query, {"bic": "SABRRUMM"}))["institution"]["accounts"]["edges"]
    by_name = {edge["node"]["name"]: edge["node"] for edge in bank}
    settlement = by_name["RUB settlement"]
    assert settlement["kind"] == "SETTLEMENT"
    assert settlement["balance"] == {"amount": "9800000.00", "currency": "RUB"}
    customer_b = by_name["Customer B (illustrative)"]
    assert customer_b["available"]["amount"] != customer_b["balance"]["amount"]  # two holds open
    history = by_name["Customer A (illustrative)"]["transfers"]["edges"]
    assert len(history) > 5 and history[0]["node"]["reference"].startswith("Invoice")
    central = (await api(query, {"bic": "CBRFRUMM"}))["institution"]["accounts"]["edges"]
    assert central[0]["node"]["kind"] == "ISSUANCE"
    assert central[0]["node"]["balance"]["amount"] == "-520000000.00"  # two banks and the FX provider


async def test_demo_rates_index_basket_and_fx_liquidity(api):
    await demo.load(api.sessions)
    data = await api(
        """{ dollarIndex basket(code: "UNIT") { components { currency weight } value(currency: "CNY") { amount } }
             conversionPath(from: "RUB", to: "INR", avoid: ["USD"]) { via }
             institution(bic: "CRFXAEAD") {
               accounts { edges { node { kind currency { code } balance { amount } } } }
             } }"""
    )
    assert round(float(data["dollarIndex"]), 1) == 104.2
    assert [c["currency"] for c in data["basket"]["components"]] == ["XAU", "BRL", "RUB", "INR", "CNY", "ZAR"]
    assert float(data["basket"]["value"]["amount"]) > 0
    assert len(data["conversionPath"]["via"]) == 1 and "USD" not in data["conversionPath"]["via"]
    positions = {e["node"]["currency"]["code"]: e["node"] for e in data["institution"]["accounts"]["edges"]}
    assert set(positions) == {"RUB", "CNY", "INR", "IRR", "USD"}
    assert all(p["kind"] == "FX_POSITION" for p in positions.values())
    assert positions["RUB"]["balance"]["amount"] == "500000000.00"
