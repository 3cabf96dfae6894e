"""The demo network loads on both engines, and loading it again changes nothing."""

from __future__ import annotations

from decimal import Decimal

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
    # 3: the merchants' accounts; 21 and 17: the interbank customer and SETTLEMENT accounts, and their funding;
    # 4 and 2: the FX provider's RUB and CNY SETTLEMENT accounts with their funding, and the MIR and UNIONPAY
    # operators' pools (the settlement demo)
    assert first["accounts"] == 26 + 5 + 3 + 21 + 4 and first["transfers"] == 50 + 5 + 17 + 2
    again = await demo.load(api.sessions)
    assert set(again.values()) == {0}
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
    # 9,800,000 after its customers' deposits, less its net of 1,387,500 in the SPFS RUB window the demo settles
    assert settlement["balance"] == {"amount": "8412500.00", "currency": "RUB"}
    customer_b = by_name["Customer B (illustrative)"]
    assert customer_b["available"]["amount"] != customer_b["balance"]["amount"]  # two holds open
    history = by_name["Customer A (illustrative)"]["transfers"]["edges"]
    references = [edge["node"]["reference"] for edge in history]
    assert sum(reference.startswith("Invoice") for reference in references) > 5
    assert any(reference.startswith("card authorization") for reference in references)  # the Mir card's account
    central = (await api(query, {"bic": "CBRFRUMM"}))["institution"]["accounts"]["edges"]
    assert central[0]["node"]["kind"] == "ISSUANCE"
    # two banks and the FX provider (520,000,000), the interbank RUB accounts (4 x 50,000,000), and the FX
    # provider's RUB SETTLEMENT account (1,000, the settlement demo)
    assert central[0]["node"]["balance"]["amount"] == "-720001000.00"


async def test_demo_rates_index_basket_and_fx_liquidity(api):
    await demo.load(api.sessions)
    data = await api(
        """{ dollarIndex
             basket(code: "UNIT") { components { currency weight amount } value(currency: "CNY") { amount } }
             conversionPath(from: "RUB", to: "INR", avoid: ["USD"]) { via }
             institution(bic: "CRFXAEAD") {
               accounts { edges { node { kind currency { code } balance { amount } } } }
             } }"""
    )
    assert round(float(data["dollarIndex"]), 1) == 104.2
    # Each component's share of 100 USD at the demo's rates, at six decimal places:
    # 40 USD of gold at 2350, and 12 USD of each currency (12 x 5.05 BRL, and so on).
    assert {c["currency"]: c["amount"] for c in data["basket"]["components"]} == {
        "XAU": "0.017021",
        "BRL": "60.6",
        "RUB": "1110",
        "INR": "999.6",
        "CNY": "86.76",
        "ZAR": "223.2",
    }
    assert [c["currency"] for c in data["basket"]["components"]] == ["XAU", "BRL", "RUB", "INR", "CNY", "ZAR"]
    # In CNY each takes its own path: gold 0.017021 x 2350 x 7.23 = 289.1953, RUB over the
    # direct pair 1110 / 12.80 = 86.71875, INR 999.6 / 11.52 = 86.770833, and 86.76 each
    # for BRL, CNY and ZAR: 722.964883 -> 722.96 CNY.
    assert data["basket"]["value"]["amount"] == "722.96"
    assert len(data["conversionPath"]["via"]) == 1 and "USD" not in data["conversionPath"]["via"]
    accounts = [e["node"] for e in data["institution"]["accounts"]["edges"]]
    positions = {a["currency"]["code"]: a for a in accounts if a["kind"] == "FX_POSITION"}
    assert set(positions) == {"RUB", "CNY", "INR", "IRR", "USD"}
    # Beside its positions, the SETTLEMENT accounts its card settlement positions settle on (the settlement demo)
    assert sorted(a["currency"]["code"] for a in accounts if a["kind"] != "FX_POSITION") == ["CNY", "RUB"]
    # Funded with 500,000,000 RUB; the card payments and the cross-currency interbank payment
    # (about 102,700 RUB in) moved it a little since.
    assert Decimal("499990000") < Decimal(positions["RUB"]["balance"]["amount"]) < Decimal("500200000")


async def test_demo_cards_schemes_and_authorizations_in_each_state(api):
    first = await demo.load(api.sessions)
    assert (first["schemes"], first["cards"], first["merchants"], first["authorizations"]) == (4, 4, 3, 7)
    data = await api(
        """{ cardSchemes { code binRanges { low high } }
             schemeLinks { cardScheme { code } acceptingScheme { code } status }
             institution(bic: "SABRRUMM") { schemeMemberships { scheme { code } roles status reason } } }"""
    )
    assert {s["code"]: [(r["low"], r["high"]) for r in s["binRanges"]] for s in data["cardSchemes"]} == {
        "MASTERCARD": [("51", "55"), ("2221", "2720")],
        "MIR": [("2200", "2204")],
        "UNIONPAY": [("62", "62"), ("81", "81")],
        "VISA": [("4", "4")],
    }
    assert {
        (link["cardScheme"]["code"], link["acceptingScheme"]["code"], link["status"]) for link in data["schemeLinks"]
    } == {
        ("MIR", "UNIONPAY", "ACTIVE"),
        ("UNIONPAY", "MIR", "ACTIVE"),
    }
    sber = {m["scheme"]["code"]: (m["status"], m["reason"]) for m in data["institution"]["schemeMemberships"]}
    assert sber["VISA"] == sber["MASTERCARD"] == ("SUSPENDED", "sanctions 2022") and sber["MIR"][0] == "ACTIVE"
    query = """
    query($id: UUID!) {
      authorization(authorizationId: $id) {
        state responseCode route scheme { code } card { schemes { code } } capturedAmount { amount }
        refundedAmount { amount } cardholderAmount { currency }
      }
    }
    """
    found = {}
    for name, *_ in demo.AUTHORIZATIONS:
        found[name] = (await api(query, {"id": str(demo.demo_id(f"authorization {name}"))}))["authorization"]
    states = {name: (a["state"], a["responseCode"]) for name, a in found.items()}
    assert sorted(set(states.values())) == [
        ("APPROVED", "00"),
        ("CAPTURED", "00"),
        ("DECLINED", "51"),
        ("DECLINED", "62"),
        ("EXPIRED", "00"),
        ("REVERSED", "00"),
    ]
    held = found["Mir card in Shanghai, held"]
    assert (held["route"], held["scheme"], held["cardholderAmount"]) == (
        "INTERSCHEME",
        {"code": "UNIONPAY"},
        {"currency": "RUB"},
    )
    refunded = found["UnionPay card in Moscow, captured and partly refunded"]
    assert (refunded["capturedAmount"], refunded["refundedAmount"]) == ({"amount": "5000.00"}, {"amount": "1000.00"})
    co_badged = found["Co-badged card in Shanghai, captured in part"]
    assert co_badged["route"] == "DOMESTIC" and co_badged["card"]["schemes"] == [{"code": "MIR"}, {"code": "UNIONPAY"}]


async def test_demo_networks_and_payments_ru_ir_mostly_outside_usd(api):
    first = await demo.load(api.sessions)
    # 15: the messaging demo's 14 and the settlement demo's SPFS payment after its settlement (RU-RU)
    assert (first["networks"], first["payments"]) == (3, 15)
    assert (await demo.load(api.sessions))["payments"] == 0
    data = await api(
        """{ paymentNetworks { code settlementMode settlementCurrencies { code } }
             institution(bic: "SABRRUMM") { networkMemberships { network { code } status reason } }
             payments(first: 100) {
               edges { node { status reasonCode network { code } amount { amount currency } debitAmount { currency }
                              sender { country { code } } receiver { country { code } } } } } }"""
    )
    networks = {
        n["code"]: (n["settlementMode"], [c["code"] for c in n["settlementCurrencies"]])
        for n in data["paymentNetworks"]
    }
    assert networks == {"CIPS": ("RTGS", ["CNY"]), "SPFS": ("DEFERRED_NET", ["RUB"]), "SWIFT": ("RTGS", ["USD", "EUR"])}
    sber = {m["network"]["code"]: (m["status"], m["reason"]) for m in data["institution"]["networkMemberships"]}
    assert sber == {"CIPS": ("ACTIVE", None), "SPFS": ("ACTIVE", None), "SWIFT": ("SUSPENDED", "disconnected 2022")}
    payments = [edge["node"] for edge in data["payments"]["edges"]]
    assert sorted(p["reasonCode"] for p in payments if p["status"] == "REJECTED") == [
        "AC01",
        "AM03",
        "AM04",
        "CURR",
        "ED05",
        "RR04",
    ]
    ru_ir = [
        p
        for p in payments
        if p["status"] == "SETTLED"
        and {p["sender"]["country"]["code"], p["receiver"]["country"]["code"]} == {"RU", "IR"}
    ]
    in_usd = {"USD": Decimal(1), "RUB": 1 / Decimal("92.50")}  # the demo's USDRUB
    value = {
        c: sum(Decimal(p["amount"]["amount"]) * in_usd[c] for p in ru_ir if p["amount"]["currency"] == c)
        for c in in_usd
    }
    assert value["RUB"] / (value["RUB"] + value["USD"]) == Decimal("0.6")
    assert {p["network"]["code"] for p in ru_ir} == {"SWIFT", "SPFS"}
    ru_cn = [p for p in payments if p["status"] == "SETTLED" and p["network"]["code"] == "CIPS"]
    crossing = [p for p in ru_cn if p["debitAmount"]["currency"] != p["amount"]["currency"]]
    assert len(ru_cn) == 3 and len(crossing) == 1 and crossing[0]["debitAmount"]["currency"] == "RUB"


WINDOWS = """{ settlementWindows(first: 100) { edges { node { id scope currency state obligationCount
    grossValue { amount } netValue { amount } nettingEfficiency
    positions { institution { bic } receivable { amount } payable { amount } net { amount } }
    transfers { amount { amount } } } } } }"""
SETTLE = "mutation($id: ID!) { settleSettlementWindow(windowId: $id) { window { state } errors { code message } } }"


async def test_demo_settlement_windows_settled_closed_and_open(api):
    first = await demo.load(api.sessions)
    # The card payments open MIR CNY and RUB, UNIONPAY CNY and RUB, the SPFS payments SPFS RUB; closing
    # SPFS RUB, UNIONPAY CNY and MIR RUB opens the next of each.
    assert first["windows"] == 5 + 3
    windows = [edge["node"] for edge in (await api(WINDOWS))["settlementWindows"]["edges"]]
    by_state = {}
    for window in windows:
        by_state.setdefault((window["scope"], window["currency"], window["state"]), []).append(window)
    spfs, unionpay = by_state[("SPFS", "RUB", "SETTLED")], by_state[("UNIONPAY", "CNY", "SETTLED")]
    mir = by_state[("MIR", "RUB", "CLOSED")]
    assert len(spfs) == len(unionpay) == len(mir) == 1
    for window in (spfs[0], unionpay[0], mir[0]):
        assert window["obligationCount"] > 0
        assert sum(Decimal(p["net"]["amount"]) for p in window["positions"]) == 0
    # SPFS: Sberbank and VTB pay 1,387,500 each to Bank Melli (gross 5,550,000, net 2,775,000)
    assert {p["institution"]["bic"]: p["net"]["amount"] for p in spfs[0]["positions"]} == {
        "SABRRUMM": "-1387500.00",
        "VTBRRUMM": "-1387500.00",
        "MELIIRTH": "2775000.00",
    }
    assert (spfs[0]["grossValue"], spfs[0]["netValue"], spfs[0]["nettingEfficiency"]) == (
        {"amount": "5550000.00"},
        {"amount": "2775000.00"},
        0.5,
    )
    assert [t["amount"]["amount"] for t in spfs[0]["transfers"]] == ["1387500.00", "1387500.00", "2775000.00"]
    assert [t["amount"]["amount"] for t in unionpay[0]["transfers"]] == ["250.00", "250.00"]
    # MIR RUB waits: the FX provider owes 4,000 RUB net and its RUB SETTLEMENT account holds 1,000.
    assert {p["institution"]["bic"]: p["net"]["amount"] for p in mir[0]["positions"]}["CRFXAEAD"] == "-4000.00"
    assert mir[0]["transfers"] == []
    short = (await api(SETTLE, {"id": mir[0]["id"]}))["settleSettlementWindow"]
    assert short["window"] is None
    assert [(e["code"], "CRFXAEAD" in e["message"]) for e in short["errors"]] == [("SETTLEMENT_SHORTFALL", True)]
    # The next SPFS RUB window is OPEN with the payment sent after the settlement (Sberbank owes VTB 250,000).
    (open_spfs,) = by_state[("SPFS", "RUB", "OPEN")]
    assert open_spfs["obligationCount"] == 1 and open_spfs["grossValue"] == {"amount": "250000.00"}
    # Loading again creates nothing and changes no window.
    again = await demo.load(api.sessions)
    assert again["windows"] == 0 and set(again.values()) == {0}
    assert [edge["node"] for edge in (await api(WINDOWS))["settlementWindows"]["edges"]] == windows


RESERVE_CHANGE = """
query($country: String!, $asset: String!) {
  reserveChange(countryCode: $country, asset: $asset, from: "2023-12-31", to: "2024-03-31") {
    unit change source: end { source }
  }
}
"""


async def test_demo_reserves_treasuries_fall_and_gold_rises(api):
    first = await demo.load(api.sessions)
    assert first["reserves"] == 8  # two quarter-ends of CN and BE treasuries, CN and RU gold
    changes = {}
    for country, asset in (("CN", "UST"), ("BE", "UST"), ("CN", "XAU"), ("RU", "XAU")):
        found = (await api(RESERVE_CHANGE, {"country": country, "asset": asset}))["reserveChange"]
        changes[country, asset] = (found["unit"], Decimal(found["change"]))
        assert "illustrative" in found["source"]["source"]
    assert changes["CN", "UST"] == ("USD", Decimal("-53300000000"))
    assert changes["BE", "UST"] == ("USD", Decimal("-22000000000"))
    assert changes["CN", "XAU"][0] == "TONNE" and changes["CN", "XAU"][1] > 0 and changes["RU", "XAU"][1] > 0
    composition = await api(
        '{ reserveComposition(countryCode: "CN", at: "2024-03-31") { components { asset share } } }'
    )
    shares = {c["asset"]: c["share"] for c in composition["reserveComposition"]["components"]}
    assert set(shares) == {"UST", "XAU"} and 0 < shares["XAU"] < 1 and abs(sum(shares.values()) - 1) < 1e-9
    again = await demo.load(api.sessions)
    assert again["reserves"] == 0


async def test_demo_ru_ir_settles_60_percent_outside_usd_and_its_indices_move(api):
    await demo.load(api.sessions)
    stats = (await api('{ corridorStats(countryA: "RU", countryB: "IR") { paymentCount usdShare localShare } }'))[
        "corridorStats"
    ]
    assert stats == {"paymentCount": 5, "usdShare": 0.4, "localShare": 0.6}
    series = await api(
        '{ dollarIndexHistory(since: "2021-01-01T00:00:00Z", until: "2024-01-31T00:00:00Z", interval: MONTH)'
        " { at value } }"
    )
    values = [point["value"] for point in series["dollarIndexHistory"]]
    # Monthly history from January 2021 (about 90.6) to its 2022 peak (about 112) and back (101.3 in
    # December 2023, the rates in force on 1 January 2024; the demo's current 104.2 from 2 January).
    assert len(values) == 37 and None not in values and len(set(values)) > 30
    assert values[0].startswith("90.") and max(values, key=Decimal).startswith("112.") and values[-1].startswith("101.")
