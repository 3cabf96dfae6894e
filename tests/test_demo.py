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
    assert first["accounts"] == 26 and first["transfers"] == 50
    again = await demo.load(api.sessions)
    assert again == {"institutions": 0, "accounts": 0, "transfers": 0}
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
    assert central[0]["node"]["balance"]["amount"] == "-20000000.00"
