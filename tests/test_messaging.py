"""Interbank payments through the endpoint: networks and memberships, sendPayment's
checks in the design's order, routing, posting (RTGS and DEFERRED_NET, balances worked
out by hand), cross-currency payments, idempotency by UETR, the tracker and its list,
and who sees what. The network is tests.messaging_world's."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from models.access import Role
from models.base import set_clock_skew
from schema.base import global_id
from tests.ledger_world import account, balances, institution, pk, send, transfer
from tests.messaging_world import MEMBERSHIP, NETWORK, RATES, TRACK, build, payment, send_payment

LIST = """
query($first: Int, $after: String, $network: String, $status: PaymentStatus, $sender: String, $receiver: String,
      $since: DateTime, $until: DateTime) {
  payments(first: $first, after: $after, networkCode: $network, status: $status, senderBic: $sender,
           receiverBic: $receiver, since: $since, until: $until) {
    pageInfo { hasNextPage endCursor } edges { cursor node { uetr status createdAt } }
  }
}
"""
NESTED = """
query($first: Int) {
  payments(first: $first) { edges { node {
    uetr network { code settlementCurrencies { code } } sender { bic } receiver { bic }
    debtorAccount { id name } creditorAccount { id name } events { status isoStatus at }
    transfers { amount { amount } debitAccount { id } creditAccount { id } }
  } } }
}
"""
NETWORKS = (
    "{ paymentNetworks { code settlementMode settlementCurrencies { code } members { status institution { bic } } } }"
)
ROUTES = """
query($sender: String!, $receiver: String!, $currency: String!) {
  paymentRoutes(senderBic: $sender, receiverBic: $receiver, currency: $currency) {
    network { code } qualifies reasons
  }
}
"""
MEMBERSHIPS = (
    "query($bic: String!) { institution(bic: $bic) { networkMemberships { network { code } status reason } } }"
)
DEBTOR_BALANCE = "query($uetr: UUID!) { payment(uetr: $uetr) { debtorAccount { id name balance { amount } } } }"
NODE = "query($id: ID!) { node(id: $id) { ... on InterbankPayment { uetr } } }"
SETTLED_EVENTS = [("RECEIVED", "RCVD", None), ("ACCEPTED", "ACSP", None), ("SETTLED", "ACCC", None)]


# ---------------------------------------------------------------- helpers


def events(p: dict) -> list[tuple]:
    return [(e["status"], e["isoStatus"], e["reasonCode"]) for e in p["events"]]


def rejected_with(code: str) -> list[tuple]:
    return [("RECEIVED", "RCVD", None), ("REJECTED", "RJCT", code)]


def legs(p: dict) -> list[tuple]:
    return [
        (t["amount"]["amount"], t["debitAccount"]["id"], t["creditAccount"]["id"], t["state"]) for t in p["transfers"]
    ]


def uetrs(data: dict) -> list[str]:
    return [edge["node"]["uetr"] for edge in data["payments"]["edges"]]


async def ledger(api, ids: dict) -> dict[str, str]:
    """Every account of the world by its name in ids, with its balance: one request."""
    names = [name for name in ids if name.endswith(("_rub", "_cny", "_usd", "_settlement"))]
    fields = " ".join(
        f'{name}: node(id: "{ids[name]}") {{ ... on Account {{ balance {{ amount }} }} }}' for name in names
    )
    data = await api("{ " + fields + " }")
    return {name: data[name]["balance"]["amount"] for name in names}


def moved(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple[str, str]]:
    """The accounts whose balance changed: name -> (before, after)."""
    return {name: (before[name], after[name]) for name in before if before[name] != after[name]}


async def settled(api, item: dict, key: str | None = None) -> dict:
    payload = await send_payment(api, item, key)
    assert payload["errors"] == [], payload
    assert payload["payment"]["status"] == "SETTLED", payload["payment"]["events"]
    return payload["payment"]


async def rejected(api, item: dict, code: str, key: str | None = None) -> dict:
    payload = await send_payment(api, item, key)
    assert payload["errors"] == [], payload
    found = payload["payment"]
    assert (found["status"], found["isoStatus"], found["reasonCode"]) == ("REJECTED", "RJCT", code), found["events"]
    assert events(found) == rejected_with(code) and found["transfers"] == []
    return found


async def refused(api, item: dict, code: str, field: list[str] | None, key: str | None = None) -> dict:
    """A request that is no payment: one UserError, and nothing stored under its UETR."""
    payload = await send_payment(api, item, key)
    assert payload["payment"] is None, payload
    assert field_errors(payload) == [(code, field)], payload["errors"]
    assert (await api(TRACK, {"uetr": item["uetr"]}))["payment"] is None
    return payload["errors"][0]


async def create_network(api, key: str | None = None, **fields) -> dict:
    item = {"code": "SBP", "name": "Faster Payments", "settlementCurrencies": ["RUB"], "settlementMode": "RTGS"}
    return (await api(NETWORK, {"input": {**item, **fields}}, key=key))["createPaymentNetwork"]


async def set_membership(api, network: str, institution_id: str, status: str, reason=None, key=None) -> dict:
    item = {"networkCode": network, "institutionId": institution_id, "status": status, "reason": reason}
    return (await api(MEMBERSHIP, {"input": item}, key=key))["setNetworkMembership"]


def field_errors(payload: dict) -> list[tuple]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


# ---------------------------------------------------------------- networks and memberships


async def test_payment_networks_list_each_network_with_its_currencies_mode_and_members(api):
    await build(api)
    networks = {n["code"]: n for n in (await api(NETWORKS))["paymentNetworks"]}
    modes = {
        code: (n["settlementMode"], [c["code"] for c in n["settlementCurrencies"]]) for code, n in networks.items()
    }
    assert modes == {
        "CIPS": ("RTGS", ["CNY", "RUB"]),
        "SPFS": ("DEFERRED_NET", ["RUB"]),
        "SWIFT": ("RTGS", ["USD", "EUR"]),
    }
    swift = sorted((m["institution"]["bic"], m["status"]) for m in networks["SWIFT"]["members"])
    assert swift == [
        ("BKCHCNBJ", "ACTIVE"),
        ("CITIUS33", "ACTIVE"),
        ("MELIIRTH", "SUSPENDED"),
        ("SABRRUMM", "SUSPENDED"),
        ("VTBRRUMM", "SUSPENDED"),
    ]
    sber = (await api(MEMBERSHIPS, {"bic": "SABRRUMM"}))["institution"]["networkMemberships"]
    assert sorted((m["network"]["code"], m["status"], m["reason"]) for m in sber) == [
        ("CIPS", "ACTIVE", None),
        ("SPFS", "ACTIVE", None),
        ("SWIFT", "SUSPENDED", "disconnected 2022"),
    ]


async def test_the_operator_creates_a_network_run_by_a_network_operator(api):
    await build(api)
    nspk = await institution(api, "NSPK", "NSPKRUMM", "RU", "NETWORK_OPERATOR")
    payload = await create_network(
        api,
        code="sbp",
        operatorId=nspk,
        countryCode="RU",
        settlementCurrencies=["rub", "CNY"],
        settlementMode="DEFERRED_NET",
    )
    assert payload["errors"] == []
    created = payload["network"]
    assert (created["code"], created["name"], created["settlementMode"]) == ("SBP", "Faster Payments", "DEFERRED_NET")
    assert [c["code"] for c in created["settlementCurrencies"]] == ["RUB", "CNY"]
    assert (created["country"], created["operator"]) == ({"code": "RU"}, {"bic": "NSPKRUMM"})
    assert sorted(n["code"] for n in (await api(NETWORKS))["paymentNetworks"]) == ["CIPS", "SBP", "SPFS", "SWIFT"]
    global_one = await create_network(api, code="GLOBAL2", operatorId=nspk, settlementCurrencies=["EUR"])
    assert global_one["network"]["country"] is None and global_one["network"]["settlementMode"] == "RTGS"


async def test_bad_network_input_is_a_user_error_on_its_field_and_creates_nothing(api):
    ids = await build(api)
    nspk = await institution(api, "NSPK", "NSPKRUMM", "RU", "NETWORK_OPERATOR")
    participant = await api.new_key(Role.PARTICIPANT, pk(ids["sber"]))
    cases = [
        (dict(operatorId=nspk, key=participant), "FORBIDDEN", None),
        (dict(operatorId=ids["sber"]), "INVALID_INPUT", ["input", "operatorId"]),  # a bank runs no network
        (dict(operatorId=ids["sber_rub"]), "INVALID_INPUT", ["input", "operatorId"]),  # not an institution id
        (dict(operatorId=nspk, code="swift"), "ALREADY_EXISTS", ["input", "code"]),
        (dict(operatorId=nspk, settlementCurrencies=["RUB", "XYZ"]), "UNSUPPORTED_CURRENCY",
         ["input", "settlementCurrencies", "1"]),
        (dict(operatorId=nspk, settlementCurrencies=[]), "INVALID_INPUT", ["input", "settlementCurrencies"]),
        (dict(operatorId=nspk, settlementCurrencies=["RUB", "rub"]), "INVALID_INPUT",
         ["input", "settlementCurrencies", "1"]),
        (dict(operatorId=nspk, countryCode="ZZ"), "NOT_FOUND", ["input", "countryCode"]),
        (dict(operatorId=nspk, code="x"), "INVALID_INPUT", ["input", "code"]),
        (dict(operatorId=nspk, name=" "), "INVALID_INPUT", ["input", "name"]),
    ]  # fmt: skip
    for fields, code, path in cases:
        payload = await create_network(api, **fields)
        assert payload["network"] is None and field_errors(payload) == [(code, path)], (fields, payload)
    item = dict(code="X2", name="x", operatorId=nspk, settlementCurrencies=["RUB"], settlementMode="GROSS")
    assert (await api.raw(NETWORK, {"input": item}))["errors"]  # not a SettlementMode: a malformed request
    assert sorted(n["code"] for n in (await api(NETWORKS))["paymentNetworks"]) == ["CIPS", "SPFS", "SWIFT"]


async def test_set_network_membership_creates_then_replaces_a_membership(api):
    ids = await build(api)
    added = await set_membership(api, "cips", ids["citi"], "SUSPENDED", " sanctions review ")
    assert added["errors"] == []
    assert added["membership"] == {
        "status": "SUSPENDED",
        "reason": "sanctions review",
        "institution": {"bic": "CITIUS33"},
        "network": {"code": "CIPS"},
    }
    replaced = await set_membership(api, "CIPS", ids["citi"], "ACTIVE")
    assert replaced["membership"]["status"] == "ACTIVE" and replaced["membership"]["reason"] is None
    cips = {n["code"]: n for n in (await api(NETWORKS))["paymentNetworks"]}["CIPS"]
    assert sorted((m["institution"]["bic"], m["status"]) for m in cips["members"]) == [
        ("BKCHCNBJ", "ACTIVE"),
        ("CITIUS33", "ACTIVE"),
        ("SABRRUMM", "ACTIVE"),
        ("VTBRRUMM", "ACTIVE"),
    ]
    citi = (await api(MEMBERSHIPS, {"bic": "CITIUS33"}))["institution"]["networkMemberships"]
    assert sorted((m["network"]["code"], m["status"]) for m in citi) == [("CIPS", "ACTIVE"), ("SWIFT", "ACTIVE")]


async def test_bad_membership_input_is_a_user_error_on_its_field_and_changes_nothing(api):
    ids = await build(api)
    participant = await api.new_key(Role.PARTICIPANT, pk(ids["sber"]))
    cases = [
        (("SWIFT", ids["sber"], "ACTIVE", None, participant), "FORBIDDEN", None),
        (("NOPE", ids["sber"], "ACTIVE", None, None), "NOT_FOUND", ["input", "networkCode"]),
        (("SWIFT", ids["sber_rub"], "ACTIVE", None, None), "INVALID_INPUT", ["input", "institutionId"]),
        (("SWIFT", ids["sber"], "ACTIVE", "x" * 201, None), "INVALID_INPUT", ["input", "reason"]),
    ]
    for (network, who, status, reason, key), code, path in cases:
        payload = await set_membership(api, network, who, status, reason, key)
        assert payload["membership"] is None and field_errors(payload) == [(code, path)], payload
    sber = (await api(MEMBERSHIPS, {"bic": "SABRRUMM"}))["institution"]["networkMemberships"]
    assert ("SWIFT", "SUSPENDED", "disconnected 2022") in [
        (m["network"]["code"], m["status"], m["reason"]) for m in sber
    ]


async def test_a_suspended_member_is_rejected_on_its_network_and_routed_around_it_until_reinstated(api):
    ids = await build(api)
    assert (await settled(api, payment(ids, "sber", "vtb", "10.00", "RUB")))["network"]["code"] == "SPFS"
    assert (await set_membership(api, "SPFS", ids["vtb"], "SUSPENDED", "licence revoked"))["errors"] == []
    on_spfs = await rejected(api, payment(ids, "sber", "vtb", "10.00", "RUB", networkCode="SPFS"), "RR04")
    assert "licence revoked" in on_spfs["events"][-1]["detail"]
    assert (await settled(api, payment(ids, "sber", "vtb", "10.00", "RUB")))["network"]["code"] == "CIPS"
    assert (await set_membership(api, "SPFS", ids["vtb"], "ACTIVE"))["errors"] == []
    assert (await settled(api, payment(ids, "sber", "vtb", "10.00", "RUB")))["network"]["code"] == "SPFS"


# ---------------------------------------------------------------- sending: checks in order


async def test_each_failed_check_rejects_the_payment_with_its_reason_code_and_moves_nothing(api):
    ids = await build(api)
    before = await ledger(api, ids)
    cases = [
        # Sberbank is SUSPENDED on SWIFT.
        (payment(ids, "sber", "citi", "10.00", "USD", networkCode="SWIFT"), "RR04"),
        # Sberbank suspended and CNY not settled on SWIFT: membership is checked first.
        (payment(ids, "sber", "boc", "10.00", "CNY", networkCode="SWIFT"), "RR04"),
        # Both ACTIVE on CIPS, which does not settle USD; the wrong debtor account comes after.
        (payment(ids, "sber", "boc", "10.00", "USD", networkCode="CIPS"), "AM03"),
        (payment(ids, "sber", "boc", "10.00", "USD", networkCode="CIPS", debtor=ids["vtb_cny"]), "AM03"),
        # The debtor account is VTB's, not the sender's; then the creditor account is not the receiver's.
        (payment(ids, "sber", "boc", "10.00", "CNY", debtor=ids["vtb_cny"]), "AC01"),
        (payment(ids, "sber", "boc", "10.00", "CNY", creditor=ids["vtb_cny"]), "AC01"),
        # Accounts before funds: VTB's account could not pay 5,000.00 either.
        (payment(ids, "sber", "boc", "5000.00", "CNY", debtor=ids["vtb_cny"]), "AC01"),
        # 1,000.01 from an account holding 1,000.00.
        (payment(ids, "sber", "boc", "1000.01", "CNY"), "AM04"),
    ]
    for item, code in cases:
        found = await rejected(api, item, code)
        tracked = (await api(TRACK, {"uetr": item["uetr"]}))["payment"]
        assert (tracked["id"], tracked["status"], tracked["reasonCode"]) == (found["id"], "REJECTED", code)
        assert events(tracked) == rejected_with(code)
    swift = (await api(TRACK, {"uetr": cases[0][0]["uetr"]}))["payment"]
    assert "disconnected 2022" in swift["events"][-1]["detail"]
    assert moved(before, await ledger(api, ids)) == {}


async def test_a_rejected_payment_reports_no_debit_amount(api):
    ids = await build(api)
    short = await rejected(api, payment(ids, "sber", "boc", "1000.01", "CNY"), "AM04")
    suspended = await rejected(api, payment(ids, "sber", "citi", "1.00", "USD", networkCode="SWIFT"), "RR04")
    # The debtor paid nothing: a rejected payment has no debitAmount, whatever check refused it.
    assert (short["debitAmount"], suspended["debitAmount"]) == (None, None)


async def test_a_creditor_account_in_another_currency_is_rejected_curr(api):
    ids = await build(api)
    before = await ledger(api, ids)
    item = payment(ids, "sber", "boc", "10.00", "CNY", creditor=ids["boc_rub"])
    assert "RUB" in (await rejected(api, item, "CURR"))["events"][-1]["detail"]
    assert moved(before, await ledger(api, ids)) == {}


async def test_on_rtgs_a_bank_without_a_settlement_account_cannot_send_or_receive(api):
    ids = await build(api)
    icbc = await institution(api, "ICBC", "ICBKCNBJ", "CN", "COMMERCIAL_BANK")
    assert (await set_membership(api, "CIPS", icbc, "ACTIVE"))["errors"] == []
    customer = await account(api, icbc, "icbc CNY customer", "CNY", "CUSTOMER")  # no SETTLEMENT account
    (funded,) = await send(api, transfer(ids["boc_cny"], customer, "100.00", "CNY"))
    assert funded["errors"] == []
    before = await ledger(api, ids)
    outgoing = {**payment(ids, "boc", "sber", "10.00", "CNY"), "senderBic": "ICBKCNBJ", "debtorAccountId": customer}
    incoming = {**payment(ids, "sber", "boc", "10.00", "CNY"), "receiverBic": "ICBKCNBJ", "creditorAccountId": customer}
    for item in (outgoing, incoming):
        assert (await rejected(api, item, "ED05"))["network"]["code"] == "CIPS"
    assert moved(before, await ledger(api, ids)) == {}
    assert (await balances(api, customer))["balance"] == "100.00"


async def test_on_rtgs_a_sender_short_of_settlement_funds_is_rejected_am04_with_no_customer_leg(api):
    ids = await build(api)
    (drained,) = await send(api, transfer(ids["sber_cny_settlement"], ids["boc_cny_settlement"], "9995.00", "CNY"))
    assert drained["errors"] == []
    before = await ledger(api, ids)
    short = await rejected(api, payment(ids, "sber", "boc", "10.00", "CNY"), "AM04")
    assert "SETTLEMENT" in short["events"][-1]["detail"]
    assert moved(before, await ledger(api, ids)) == {}  # the debtor's 10.00 did not move either


# ---------------------------------------------------------------- routing


async def test_without_a_network_code_the_currencys_own_network_is_chosen(api):
    ids = await build(api)
    assert (await settled(api, payment(ids, "sber", "vtb", "1.00", "RUB")))["network"]["code"] == "SPFS"
    assert (await settled(api, payment(ids, "sber", "boc", "1.00", "CNY")))["network"]["code"] == "CIPS"
    assert (await settled(api, payment(ids, "boc", "citi", "1.00", "USD")))["network"]["code"] == "SWIFT"


async def test_no_qualifying_network_is_no_route_and_stores_nothing(api):
    ids = await build(api)
    before = await ledger(api, ids)
    error = await refused(api, payment(ids, "sber", "citi", "10.00", "USD"), "NO_ROUTE", ["input", "networkCode"])
    assert "SABRRUMM" in error["message"]
    assert (await api(LIST))["payments"]["edges"] == []
    assert moved(before, await ledger(api, ids)) == {}


async def test_payment_routes_explains_every_network_in_routing_order(api):
    await build(api)

    async def routes(sender: str, receiver: str, currency: str) -> list[tuple]:
        data = await api(ROUTES, {"sender": sender, "receiver": receiver, "currency": currency})
        return [(r["network"]["code"], r["qualifies"], r["reasons"]) for r in data["paymentRoutes"]]

    # CNY: CIPS (China issues CNY), then SWIFT (global), then the others.
    suspended = "the sender SABRRUMM is SUSPENDED on SWIFT (disconnected 2022)"
    assert await routes("SABRRUMM", "BKCHCNBJ", "CNY") == [
        ("CIPS", True, []),
        ("SWIFT", False, [suspended, "SWIFT does not settle CNY"]),
        ("SPFS", False, ["the receiver BKCHCNBJ is not a member of SPFS", "SPFS does not settle CNY"]),
    ]
    # RUB: SPFS (Russia issues RUB), SWIFT, then CIPS, which settles RUB too.
    assert await routes("SABRRUMM", "VTBRRUMM", "RUB") == [
        ("SPFS", True, []),
        ("SWIFT", False, [suspended, "the receiver VTBRRUMM is SUSPENDED on SWIFT (disconnected 2022)",
                          "SWIFT does not settle RUB"]),
        ("CIPS", True, []),
    ]  # fmt: skip
    usd = await routes("sabrrumm", "CITIUS33", "usd")
    assert [code for code, _, _ in usd] == ["SWIFT", "CIPS", "SPFS"] and not any(ok for _, ok, _ in usd)
    assert usd[0][2] == [suspended]
    unknown = await api.raw(ROUTES, {"sender": "NOPENOPE", "receiver": "CITIUS33", "currency": "USD"})
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"


# ---------------------------------------------------------------- posting


async def test_on_rtgs_cips_the_customer_and_settlement_accounts_move_at_once(api):
    ids = await build(api)
    before = await ledger(api, ids)
    item = payment(ids, "sber", "boc", "100.00", "CNY", remittanceInformation="  Invoice 42 ")
    paid = await settled(api, item)
    assert (paid["network"], paid["sender"], paid["receiver"]) == (
        {"code": "CIPS"},
        {"bic": "SABRRUMM"},
        {"bic": "BKCHCNBJ"},
    )
    assert (paid["isoStatus"], paid["reasonCode"], paid["messageType"]) == ("ACCC", None, "PACS_008")
    assert (paid["uetr"], paid["remittanceInformation"]) == (item["uetr"], "Invoice 42")
    assert paid["amount"] == paid["debitAmount"] == {"amount": "100.00", "currency": "CNY"}
    assert (paid["debtorAccount"]["name"], paid["creditorAccount"]["name"]) == ("sber CNY customer", "boc CNY customer")
    assert events(paid) == SETTLED_EVENTS
    assert legs(paid) == [
        ("100.00", ids["sber_cny"], ids["boc_cny"], "POSTED"),
        ("100.00", ids["sber_cny_settlement"], ids["boc_cny_settlement"], "POSTED"),
    ]
    assert moved(before, await ledger(api, ids)) == {
        "sber_cny": ("1000.00", "900.00"),
        "boc_cny": ("1000.00", "1100.00"),
        "sber_cny_settlement": ("10000.00", "9900.00"),
        "boc_cny_settlement": ("10000.00", "10100.00"),
    }


async def test_on_deferred_net_spfs_only_the_customer_legs_move(api):
    ids = await build(api)
    before = await ledger(api, ids)
    paid = await settled(api, payment(ids, "sber", "vtb", "250.00", "RUB"))
    assert paid["network"]["code"] == "SPFS" and events(paid) == SETTLED_EVENTS
    assert legs(paid) == [("250.00", ids["sber_rub"], ids["vtb_rub"], "POSTED")]
    assert moved(before, await ledger(api, ids)) == {
        "sber_rub": ("1000.00", "750.00"),
        "vtb_rub": ("1000.00", "1250.00"),
    }


async def test_a_rub_account_pays_cny_over_cips_through_the_fx_provider(api):
    ids = await build(api)
    before = await ledger(api, ids)
    paid = await settled(api, payment(ids, "sber", "boc", "10.00", "CNY", debtor=ids["sber_rub"]))
    # CNYRUB 12.50; the provider's 25 bps make it worse for the client: RUB/CNY
    # 1/12.50 = 0.08 x (1 - 0.0025) = 0.0798, so 10.00 CNY costs 10 / 0.0798 =
    # 125.3132... RUB (10 x 12.50 = 125.00 before the spread), rounded up to the kopeck: 125.32.
    assert paid["network"]["code"] == "CIPS"
    assert paid["amount"] == {"amount": "10.00", "currency": "CNY"}
    assert paid["debitAmount"] == {"amount": "125.32", "currency": "RUB"}
    assert legs(paid) == [
        ("125.32", ids["sber_rub"], ids["fx_rub"], "POSTED"),
        ("10.00", ids["fx_cny"], ids["boc_cny"], "POSTED"),
        ("10.00", ids["sber_cny_settlement"], ids["boc_cny_settlement"], "POSTED"),
    ]
    assert moved(before, await ledger(api, ids)) == {
        "sber_rub": ("1000.00", "874.68"),
        "boc_cny": ("1000.00", "1010.00"),
        "sber_cny_settlement": ("10000.00", "9990.00"),
        "boc_cny_settlement": ("10000.00", "10010.00"),
        "fx_rub": ("1000000.00", "1000125.32"),  # the provider takes the roubles
        "fx_cny": ("1000000.00", "999990.00"),  # and pays the yuan
    }
    # 100.00 CNY would cost 1,253.14 RUB, more than the 874.68 left: nothing moves, FX legs included.
    after = await ledger(api, ids)
    await rejected(api, payment(ids, "sber", "boc", "100.00", "CNY", debtor=ids["sber_rub"]), "AM04")
    assert moved(after, await ledger(api, ids)) == {}


async def test_a_conversion_avoids_the_currencies_asked_and_without_a_path_is_rejected_am03(api):
    ids = await build(api)
    # A USD account: only CNYRUB is published, so nothing converts USD to CNY.
    no_rate = await rejected(api, payment(ids, "sber", "boc", "10.00", "CNY", debtor=ids["sber_usd"]), "AM03")
    assert "conversion" in no_rate["events"][-1]["detail"].lower()
    # USDRUB 90.00 and a USD position for the provider: USD -> RUB -> CNY, one provider, rounded
    # once: 10.00 / (0.08 x 0.9975) / (90 x 0.9975) = 1.3958... USD, rounded up: 1.40.
    provider = (await api('{ institution(bic: "MFXXRUMM") { id } }'))["institution"]["id"]
    fx_usd = await account(api, provider, "FX USD", "USD", "FX_POSITION")
    assert (await api(RATES, {"r": [{"base": "USD", "quote": "RUB", "rate": "90.00"}]}))["publishRates"]["errors"] == []
    before = await ledger(api, ids)
    avoiding = payment(ids, "sber", "boc", "10.00", "CNY", debtor=ids["sber_usd"], avoidCurrencies=["RUB"])
    assert "RUB" in (await rejected(api, avoiding, "AM03"))["events"][-1]["detail"]
    assert moved(before, await ledger(api, ids)) == {}
    through_rub = await settled(
        api, payment(ids, "sber", "boc", "10.00", "CNY", debtor=ids["sber_usd"], avoidCurrencies=["EUR"])
    )
    assert through_rub["debitAmount"] == {"amount": "1.40", "currency": "USD"}
    assert (await balances(api, fx_usd))["balance"] == "1.40"
    assert moved(before, await ledger(api, ids))["sber_usd"] == ("1000.00", "998.60")


# ---------------------------------------------------------------- idempotency


async def test_the_same_request_again_returns_the_same_payment_and_moves_money_once(api):
    ids = await build(api)
    before = await ledger(api, ids)
    item = payment(ids, "sber", "boc", "100.00", "CNY")
    first = await settled(api, item)
    again = await settled(api, dict(item))
    assert again == first and len(again["events"]) == 3
    assert len((await api(TRACK, {"uetr": item["uetr"]}))["payment"]["events"]) == 3
    assert moved(before, await ledger(api, ids))["sber_cny"] == ("1000.00", "900.00")
    assert len((await api(LIST))["payments"]["edges"]) == 1
    # A replay answers the decided payment even once its route is gone (BoC suspended on CIPS),
    # and whatever spelling of the sender's BIC.
    assert (await set_membership(api, "CIPS", ids["boc"], "SUSPENDED", "test"))["errors"] == []
    assert await settled(api, {**item, "senderBic": "sabrrummxxx"}) == first


async def test_the_same_uetr_with_other_content_is_an_idempotency_conflict(api):
    ids = await build(api)
    item = payment(ids, "sber", "boc", "100.00", "CNY")
    original = await settled(api, item)
    after_first = await ledger(api, ids)
    changes = [
        {"amount": "100.01"},
        {"receiverBic": "VTBRRUMM", "creditorAccountId": ids["vtb_cny"]},
        {"remittanceInformation": "other"},
        {"networkCode": "SWIFT"},
        {"messageType": "PACS_009"},
    ]
    for change in changes:
        payload = await send_payment(api, {**item, **change})
        assert payload["payment"] is None and field_errors(payload) == [("IDEMPOTENCY_CONFLICT", ["input", "uetr"])]
    assert (await api(TRACK, {"uetr": item["uetr"]}))["payment"] == original
    assert moved(after_first, await ledger(api, ids)) == {}


async def test_the_same_request_sent_concurrently_makes_one_payment(api):
    ids = await build(api)
    before = await ledger(api, ids)
    item = payment(ids, "sber", "vtb", "100.00", "RUB")
    answers = await asyncio.gather(*(send_payment(api, dict(item)) for _ in range(5)))
    assert all(a["errors"] == [] and a["payment"] == answers[0]["payment"] for a in answers), answers
    assert answers[0]["payment"]["status"] == "SETTLED" and len(answers[0]["payment"]["events"]) == 3
    assert moved(before, await ledger(api, ids)) == {
        "sber_rub": ("1000.00", "900.00"),
        "vtb_rub": ("1000.00", "1100.00"),
    }


async def test_a_rejected_payment_replayed_stays_rejected_and_moves_nothing(api):
    ids = await build(api)
    item = payment(ids, "sber", "boc", "1500.00", "CNY")
    first = await rejected(api, item, "AM04")
    (topped_up,) = await send(api, transfer(ids["boc_cny"], ids["sber_cny"], "1000.00", "CNY"))
    assert topped_up["errors"] == []
    before = await ledger(api, ids)
    assert await rejected(api, dict(item), "AM04") == first  # enough funds now, but the payment was decided
    assert moved(before, await ledger(api, ids)) == {}


async def test_a_uetr_that_is_not_version_4_is_invalid(api):
    ids = await build(api)
    await refused(
        api, payment(ids, "sber", "boc", "1.00", "CNY", uetr=uuid.uuid1()), "INVALID_INPUT", ["input", "uetr"]
    )


# ---------------------------------------------------------------- bad input


async def test_a_request_that_cannot_be_a_payment_is_a_user_error_and_changes_nothing(api):
    ids = await build(api)
    before = await ledger(api, ids)
    base = payment(ids, "sber", "boc", "10.00", "CNY")
    cases = [
        ({"senderBic": "NOPERUMM"}, "NOT_FOUND", "senderBic"),
        ({"receiverBic": "NOPECNBJ"}, "NOT_FOUND", "receiverBic"),
        ({"debtorAccountId": ids["sber"]}, "INVALID_INPUT", "debtorAccountId"),  # an institution's id
        ({"debtorAccountId": "not an id"}, "INVALID_INPUT", "debtorAccountId"),
        ({"creditorAccountId": global_id("Account", 9_999_999)}, "NOT_FOUND", "creditorAccountId"),
        ({"amount": "10.001"}, "INVALID_INPUT", "amount"),
        ({"amount": "0"}, "INVALID_INPUT", "amount"),
        ({"amount": "-5.00"}, "INVALID_INPUT", "amount"),
        ({"currency": "XYZ"}, "UNSUPPORTED_CURRENCY", "currency"),
        ({"networkCode": "NOPE"}, "NOT_FOUND", "networkCode"),
        ({"receiverBic": "SABRRUMM", "creditorAccountId": ids["sber_rub"]}, "INVALID_INPUT", "receiverBic"),
        ({"remittanceInformation": "x" * 141}, "INVALID_INPUT", "remittanceInformation"),
    ]
    for change, code, field in cases:
        await refused(api, {**base, **change, "uetr": str(uuid.uuid4())}, code, ["input", field])
    assert (await send_payment(api, {**base, "remittanceInformation": "x" * 140}))["errors"] == []
    assert len((await api(LIST))["payments"]["edges"]) == 1
    assert moved(before, await ledger(api, ids)) == {
        "sber_cny": ("1000.00", "990.00"),
        "boc_cny": ("1000.00", "1010.00"),
        "sber_cny_settlement": ("10000.00", "9990.00"),
        "boc_cny_settlement": ("10000.00", "10010.00"),
    }


# ---------------------------------------------------------------- tracking


async def test_payments_are_listed_newest_first_filtered_and_paged_without_overlap(api):
    ids = await build(api)
    made = []
    plan = [(3, "sber", "vtb", "1.00", "RUB"), (2, "sber", "boc", "2.00", "CNY"), (1, "boc", "citi", "3.00", "USD"),
            (0, "sber", "boc", "5000.00", "CNY")]  # fmt: skip
    try:
        for days_ago, sender, receiver, amount, currency in plan:
            set_clock_skew(dt.timedelta(days=-days_ago))
            made.append((await send_payment(api, payment(ids, sender, receiver, amount, currency)))["payment"])
    finally:
        set_clock_skew(dt.timedelta(0))
    spfs, cips, swift, short = (p["uetr"] for p in made)  # the last one rejected AM04
    assert uetrs(await api(LIST)) == [short, swift, cips, spfs]
    assert uetrs(await api(LIST, {"network": "cips"})) == [short, cips]
    assert uetrs(await api(LIST, {"status": "REJECTED"})) == [short]
    assert uetrs(await api(LIST, {"status": "SETTLED", "sender": "SABRRUMM"})) == [cips, spfs]
    assert uetrs(await api(LIST, {"receiver": "BKCHCNBJ"})) == [short, cips]
    # since inclusive, until exclusive, at the payments' own timestamps, in any offset.
    second, fourth = made[1]["createdAt"], made[3]["createdAt"]
    assert uetrs(await api(LIST, {"since": second, "until": fourth})) == [swift, cips]
    moscow = dt.datetime.fromisoformat(second).astimezone(dt.timezone(dt.timedelta(hours=3))).isoformat()
    assert uetrs(await api(LIST, {"since": moscow})) == [short, swift, cips]
    seen, after = [], None
    while True:
        page = (await api(LIST, {"first": 3 if after is None else 1, "after": after}))["payments"]
        seen += [edge["node"]["uetr"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [short, swift, cips, spfs]
    unknown = await api.raw(LIST, {"network": "NOPE"})
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_since_or_until_without_a_time_zone_is_invalid_input_not_an_internal_error(api):
    await build(api)
    for name in ("since", "until"):
        body = await api.raw(LIST, {name: "2024-01-01T00:00:00"})
        assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]] == [
            ("INVALID_INPUT", [name])
        ], body


async def test_a_page_of_payments_loads_its_nested_objects_in_a_fixed_number_of_statements(api):
    ids = await build(api)
    for k in range(50):
        sender, receiver, currency = [("sber", "vtb", "RUB"), ("sber", "boc", "CNY"), ("boc", "citi", "USD")][k % 3]
        await settled(api, payment(ids, sender, receiver, "1.00", currency))

    async def statements(first: int) -> int:
        with api.count_statements() as counted:
            data = await api(NESTED, {"first": first})
        nodes = [edge["node"] for edge in data["payments"]["edges"]]
        assert len(nodes) == first and all(len(node["events"]) == 3 and node["transfers"] for node in nodes)
        return counted[0]

    assert await statements(5) == await statements(50) <= 12


# ---------------------------------------------------------------- access


async def test_a_participant_sends_only_as_its_own_bic(api):
    ids = await build(api)
    sber = await api.new_key(Role.PARTICIPANT, pk(ids["sber"]))
    before = await ledger(api, ids)
    as_boc = payment(ids, "boc", "sber", "10.00", "CNY")
    await refused(api, as_boc, "FORBIDDEN", ["input", "senderBic"], key=sber)
    assert moved(before, await ledger(api, ids)) == {}
    assert (await settled(api, payment(ids, "sber", "boc", "10.00", "CNY"), key=sber))["sender"] == {"bic": "SABRRUMM"}


async def test_a_participant_names_only_its_own_debtor_account_and_a_receivers_creditor_account(api):
    ids = await build(api)
    sber = await api.new_key(Role.PARTICIPANT, pk(ids["sber"]))
    before = await ledger(api, ids)
    # Another bank's account is, to a participant, no account: a stored rejection would show it.
    from_vtb = payment(ids, "sber", "boc", "10.00", "CNY", debtor=ids["vtb_cny"])
    await refused(api, from_vtb, "NOT_FOUND", ["input", "debtorAccountId"], key=sber)
    to_vtb = payment(ids, "sber", "boc", "10.00", "CNY", creditor=ids["vtb_cny"])
    await refused(api, to_vtb, "NOT_FOUND", ["input", "creditorAccountId"], key=sber)
    assert moved(before, await ledger(api, ids)) == {}
    # The operator sees every account: the same payment is received and rejected AC01.
    await rejected(api, payment(ids, "sber", "boc", "10.00", "CNY", creditor=ids["vtb_cny"]), "AC01")


async def test_each_bank_sees_the_legs_of_a_cross_currency_payment_it_is_on(api):
    ids = await build(api)
    paid = await settled(api, payment(ids, "sber", "boc", "10.00", "CNY", debtor=ids["sber_rub"]))
    query = "query($u: UUID!) { payment(uetr: $u) { transfers { debitAccount { id } creditAccount { id } } } }"
    seen = {}
    for bank in ("sber", "boc"):
        key = await api.new_key(Role.PARTICIPANT, pk(ids[bank]))
        legs = (await api(query, {"u": paid["uetr"]}, key=key))["payment"]["transfers"]
        seen[bank] = [(leg["debitAccount"]["id"], leg["creditAccount"]["id"]) for leg in legs]
    everything = [(t["debitAccount"]["id"], t["creditAccount"]["id"]) for t in paid["transfers"]]
    assert everything == [
        (ids["sber_rub"], ids["fx_rub"]),
        (ids["fx_cny"], ids["boc_cny"]),
        (ids["sber_cny_settlement"], ids["boc_cny_settlement"]),
    ]
    assert seen == {"sber": [everything[0], everything[2]], "boc": [everything[1], everything[2]]}


async def test_payment_routes_between_a_bank_and_itself_is_invalid(api):
    await build(api)
    body = await api.raw(ROUTES, {"sender": "SABRRUMM", "receiver": "sabrrumm", "currency": "CNY"})
    assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]] == [
        ("INVALID_INPUT", ["receiverBic"])
    ]


async def test_a_participant_sees_only_the_payments_its_institution_sent_or_received(api):
    ids = await build(api)
    to_vtb = await settled(api, payment(ids, "sber", "vtb", "1.00", "RUB"))
    to_boc = await settled(api, payment(ids, "sber", "boc", "1.00", "CNY"))
    to_citi = await settled(api, payment(ids, "boc", "citi", "1.00", "USD"))
    keys = {name: await api.new_key(Role.PARTICIPANT, pk(ids[name])) for name in ("sber", "vtb", "boc", "melli")}
    expected = {
        "sber": [to_boc, to_vtb],
        "vtb": [to_vtb],
        "boc": [to_citi, to_boc],
        "melli": [],
    }
    for name, visible in expected.items():
        assert uetrs(await api(LIST, key=keys[name])) == [p["uetr"] for p in visible], name
        for p in (to_vtb, to_boc, to_citi):
            found = (await api(TRACK, {"uetr": p["uetr"]}, key=keys[name]))["payment"]
            by_id = (await api(NODE, {"id": p["id"]}, key=keys[name]))["node"]
            assert (found is not None, by_id is not None) == (p in visible,) * 2, (name, p["receiver"])
    assert uetrs(await api(LIST)) == [to_citi["uetr"], to_boc["uetr"], to_vtb["uetr"]]  # the operator sees all


async def test_an_analyst_sees_no_payment_and_cannot_send(api):
    ids = await build(api)
    paid = await settled(api, payment(ids, "sber", "boc", "1.00", "CNY"))
    analyst = await api.new_key(Role.ANALYST)
    assert (await api(TRACK, {"uetr": paid["uetr"]}, key=analyst))["payment"] is None
    assert (await api(LIST, key=analyst))["payments"]["edges"] == []
    before = await ledger(api, ids)
    payload = await send_payment(api, payment(ids, "sber", "boc", "1.00", "CNY"), key=analyst)
    assert payload["payment"] is None and [e["code"] for e in payload["errors"]] == ["FORBIDDEN"]
    assert moved(before, await ledger(api, ids)) == {}


async def test_the_receiver_reads_the_debtor_account_but_not_its_balances(api):
    ids = await build(api)
    paid = await settled(api, payment(ids, "sber", "boc", "1.00", "CNY"))
    boc = await api.new_key(Role.PARTICIPANT, pk(ids["boc"]))
    tracked = (await api(TRACK, {"uetr": paid["uetr"]}, key=boc))["payment"]
    assert tracked["debtorAccount"] == {"id": ids["sber_cny"], "name": "sber CNY customer"}
    body = await api.raw(DEBTOR_BALANCE, {"uetr": paid["uetr"]}, key=boc)
    assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [
        ("FORBIDDEN", ["payment", "debtorAccount", "balance"])
    ]
    sber = await api.new_key(Role.PARTICIPANT, pk(ids["sber"]))
    own = await api(DEBTOR_BALANCE, {"uetr": paid["uetr"]}, key=sber)
    assert own["payment"]["debtorAccount"]["balance"] == {"amount": "999.00"}
    theirs = await api.raw(DEBTOR_BALANCE.replace("debtorAccount", "creditorAccount"), {"uetr": paid["uetr"]}, key=sber)
    assert [e["extensions"]["code"] for e in theirs["errors"]] == ["FORBIDDEN"]


# ---------------------------------------------------------------- the accounts a message moves, obligations


async def test_a_customer_credit_transfer_from_a_settlement_account_is_rejected_ac01(api):
    ids = await build(api)
    before = await ledger(api, ids)
    item = payment(ids, "sber", "boc", "10.00", "CNY", debtor=ids["sber_cny_settlement"])
    found = await rejected(api, item, "AC01")
    assert "SETTLEMENT account" in found["events"][-1]["detail"] and "pacs.008" in found["events"][-1]["detail"]
    assert moved(before, await ledger(api, ids)) == {}


async def test_a_pacs009_moves_the_banks_settlement_accounts_once_with_no_interbank_leg(api):
    ids = await build(api)
    before = await ledger(api, ids)
    item = payment(
        ids,
        "sber",
        "boc",
        "300.00",
        "CNY",
        messageType="PACS_009",
        debtor=ids["sber_cny_settlement"],
        creditor=ids["boc_cny_settlement"],
    )
    paid = await settled(api, item)
    assert paid["messageType"] == "PACS_009" and paid["network"]["code"] == "CIPS"
    assert legs(paid) == [("300.00", ids["sber_cny_settlement"], ids["boc_cny_settlement"], "POSTED")]
    assert moved(before, await ledger(api, ids)) == {
        "sber_cny_settlement": ("10000.00", "9700.00"),
        "boc_cny_settlement": ("10000.00", "10300.00"),
    }
    await rejected(api, payment(ids, "sber", "boc", "1.00", "CNY", messageType="PACS_009"), "AC01")  # customer accounts
    query = "query($u: UUID!) { payment(uetr: $u) { iso20022 statusReport } }"
    rendered = (await api(query, {"u": paid["uetr"]}))["payment"]
    assert 'xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.009.001.08"><FICdtTrf>' in rendered["iso20022"]
    assert "<Dbtr><FinInstnId><BICFI>SABRRUMM</BICFI></FinInstnId></Dbtr>" in rendered["iso20022"]
    assert "<OrgnlMsgNmId>pacs.009.001.08</OrgnlMsgNmId>" in rendered["statusReport"]


async def test_a_conversion_cannot_avoid_the_debtors_or_the_payments_own_currency(api):
    ids = await build(api)
    for avoided, index in ((["EUR", "RUB"], "1"), (["CNY"], "0")):
        item = payment(ids, "sber", "boc", "10.00", "CNY", debtor=ids["sber_rub"], avoidCurrencies=avoided)
        await refused(api, item, "INVALID_INPUT", ["input", "avoidCurrencies", index])


async def test_a_deferred_net_payment_records_what_the_sender_owes_the_receiver(api):
    from sqlmodel import select

    from models.settlement import Obligation, SettlementWindow

    ids = await build(api)
    paid = await settled(api, payment(ids, "sber", "vtb", "250.00", "RUB"))
    await settled(api, payment(ids, "sber", "boc", "5.00", "CNY"))  # RTGS: settled gross, owes nothing
    await rejected(api, payment(ids, "vtb", "sber", "5000.00", "RUB"), "AM04")  # moved nothing, owes nothing
    async with api.sessions() as session:
        rows = (await session.exec(select(Obligation, SettlementWindow).join(SettlementWindow))).all()
    assert [(w.scope, w.currency_code, o.payer_id, o.payee_id, o.amount) for o, w in rows] == [
        ("SPFS", "RUB", pk(ids["sber"]), pk(ids["vtb"]), 25000)
    ]
    assert paid["network"]["code"] == "SPFS"
