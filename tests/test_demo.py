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
