"""Settlement windows through the endpoint (both engines): obligations from SPFS
(DEFERRED_NET) payments and card captures and refunds, multilateral netting worked out by
hand, closing (by hand and on the schedule), settling through the scope operator's
SETTLEMENT pool (all or nothing), who sees what, and what reading costs."""

from __future__ import annotations

import datetime as dt
import uuid
from fractions import Fraction

from sqlalchemy import text

from corridor.sweeper import close_due_windows
from models.access import Role
from models.base import set_clock_skew
from schema.base import global_id
from tests import card_world
from tests.ledger_world import account, balances, institution, pk, send, transfer
from tests.messaging_world import build, member, payment, send_payment

WINDOW_FIELDS = """
fragment W on SettlementWindow {
  id scope currency state openedAt closedAt settledAt obligationCount
  grossValue { amount currency } netValue { amount currency } nettingEfficiency
  positions { institution { bic } receivable { amount currency } payable { amount } net { amount } }
  transfers { amount { amount currency } debitAccount { id } creditAccount { id } state }
}
"""
CLOSE = (
    """
mutation($scope: String!, $currency: String!) {
  closeSettlementWindow(scope: $scope, currency: $currency) { window { ...W } errors { code message field } }
}
"""
    + WINDOW_FIELDS
)
SETTLE = (
    """
mutation($id: ID!) {
  settleSettlementWindow(windowId: $id) { window { ...W } errors { code message field } }
}
"""
    + WINDOW_FIELDS
)
WINDOWS = (
    """
query($scope: String, $currency: String, $state: SettlementWindowState, $first: Int, $after: String) {
  settlementWindows(scope: $scope, currency: $currency, state: $state, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { ...W } }
  }
}
"""
    + WINDOW_FIELDS
)
NODE = "query($id: ID!) { node(id: $id) { ... on SettlementWindow { ...W } } }" + WINDOW_FIELDS


# ---------------------------------------------------------------- helpers


async def pay(api, ids, sender: str, receiver: str, amount: str, **extra) -> dict:
    """An SPFS payment in RUB between two banks' customer accounts, which must settle."""
    item = payment(ids, sender, receiver, amount, "RUB", networkCode=extra.pop("network", "SPFS"), **extra)
    payload = await send_payment(api, item)
    assert payload["errors"] == [] and payload["payment"]["status"] == "SETTLED", payload
    return payload["payment"]


async def close(api, scope: str = "SPFS", currency: str = "RUB", key: str | None = None) -> dict:
    return (await api(CLOSE, {"scope": scope, "currency": currency}, key=key))["closeSettlementWindow"]


async def closed(api, scope: str = "SPFS", currency: str = "RUB") -> dict:
    payload = await close(api, scope, currency)
    assert payload["errors"] == [], payload
    return payload["window"]


async def settle(api, window_id: str, key: str | None = None) -> dict:
    return (await api(SETTLE, {"id": window_id}, key=key))["settleSettlementWindow"]


async def windows(api, key: str | None = None, **filters) -> list[dict]:
    data = await api(WINDOWS, filters, key=key)
    return [edge["node"] for edge in data["settlementWindows"]["edges"]]


async def node(api, window_id: str, key: str | None = None) -> dict | None:
    return (await api(NODE, {"id": window_id}, key=key))["node"]


def positions(window: dict) -> dict[str, tuple[str, str, str]]:
    """bic -> (receivable, payable, net)."""
    return {
        p["institution"]["bic"]: (p["receivable"]["amount"], p["payable"]["amount"], p["net"]["amount"])
        for p in window["positions"]
    }


def figures(window: dict) -> tuple:
    return (
        window["obligationCount"],
        window["grossValue"]["amount"],
        window["netValue"]["amount"],
        window["nettingEfficiency"],
    )


async def money(api, account_id: str) -> str:
    return (await balances(api, account_id))["balance"]


SETTLEMENT_ACCOUNTS = ("sber_rub_settlement", "vtb_rub_settlement", "melli_rub_settlement")


async def settlement_balances(api, ids) -> dict[str, str]:
    return {name: await money(api, ids[name]) for name in SETTLEMENT_ACCOUNTS}


async def obligation_count(api) -> int:
    async with api.engine.connect() as connection:
        return await connection.scalar(text("SELECT count(*) FROM settlement_obligation"))


def codes(payload: dict) -> list[str]:
    return [e["code"] for e in payload["errors"]]


# ---------------------------------------------------------------- hand-worked netting


async def test_a_cycle_of_equal_obligations_nets_to_zero_and_settles_nothing(api):
    ids = await build(api)
    await pay(api, ids, "sber", "vtb", "100.00")
    await pay(api, ids, "vtb", "melli", "100.00")
    await pay(api, ids, "melli", "sber", "100.00")
    (open_window,) = await windows(api, scope="SPFS", currency="RUB", state="OPEN")
    assert figures(open_window) == (3, "300.00", "0.00", 1.0)  # live figures while OPEN
    before = await settlement_balances(api, ids)

    window = await closed(api)
    # Each bank owes 100.00 and is owed 100.00: every net 0, nothing moves; 1 - 0 / 300 = 1.
    assert window["state"] == "CLOSED" and window["closedAt"] is not None and window["settledAt"] is None
    assert (window["scope"], window["currency"]) == ("SPFS", "RUB")
    assert figures(window) == (3, "300.00", "0.00", 1.0)
    assert window["grossValue"]["currency"] == "RUB"
    assert positions(window) == {
        "SABRRUMM": ("100.00", "100.00", "0.00"),
        "VTBRRUMM": ("100.00", "100.00", "0.00"),
        "MELIIRTH": ("100.00", "100.00", "0.00"),
    }

    settled = await settle(api, window["id"])
    assert settled["errors"] == [], settled
    assert settled["window"]["state"] == "SETTLED" and settled["window"]["settledAt"] is not None
    assert settled["window"]["transfers"] == []
    assert await settlement_balances(api, ids) == before
    assert (await node(api, window["id"]))["state"] == "SETTLED"


async def test_unequal_obligations_net_worked_by_hand_and_settle_through_the_pool(api):
    ids = await build(api)
    await pay(api, ids, "sber", "vtb", "300.00")
    await pay(api, ids, "vtb", "melli", "120.00")
    await pay(api, ids, "melli", "sber", "50.00")
    await pay(api, ids, "sber", "melli", "80.00")
    # Sberbank: owed 50.00, owes 300.00 + 80.00 = 380.00, net -330.00
    # VTB:      owed 300.00, owes 120.00, net +180.00
    # Melli:    owed 120.00 + 80.00 = 200.00, owes 50.00, net +150.00  (nets sum: 0)
    # gross 550.00, net (the positive nets) 330.00, efficiency 1 - 330/550 = 0.4.
    before = await settlement_balances(api, ids)
    window = await closed(api)
    assert figures(window) == (4, "550.00", "330.00", float(1 - Fraction(330, 550)))
    assert window["nettingEfficiency"] == 0.4
    assert positions(window) == {
        "SABRRUMM": ("50.00", "380.00", "-330.00"),
        "VTBRRUMM": ("300.00", "120.00", "180.00"),
        "MELIIRTH": ("200.00", "50.00", "150.00"),
    }
    assert window["positions"][0]["receivable"]["currency"] == "RUB"

    # The next window is OPEN and empty.
    (fresh,) = await windows(api, scope="SPFS", currency="RUB", state="OPEN")
    assert fresh["id"] != window["id"] and figures(fresh) == (0, "0.00", "0.00", 0.0) and fresh["positions"] == []

    # New obligations go to the new window; the CLOSED one's figures do not change.
    await pay(api, ids, "vtb", "sber", "25.00")
    again = await node(api, window["id"])
    assert figures(again) == figures(window) and again["positions"] == window["positions"]
    fresh = await node(api, fresh["id"])
    assert figures(fresh) == (1, "25.00", "25.00", 0.0)
    assert positions(fresh) == {"SABRRUMM": ("25.00", "0.00", "25.00"), "VTBRRUMM": ("0.00", "25.00", "-25.00")}

    # Settling: Sberbank's SETTLEMENT pays the SPFS operator's pool 330.00, the pool pays
    # VTB 180.00 and Melli 150.00.
    settled = await settle(api, window["id"])
    assert settled["errors"] == [], settled
    result = settled["window"]
    assert result["state"] == "SETTLED" and result["settledAt"] is not None
    assert figures(result) == figures(window) and result["positions"] == window["positions"]
    transfers = result["transfers"]
    pool = transfers[0]["creditAccount"]["id"]
    legs = [(t["amount"]["amount"], t["debitAccount"]["id"], t["creditAccount"]["id"], t["state"]) for t in transfers]
    assert legs == [
        ("330.00", ids["sber_rub_settlement"], pool, "POSTED"),
        ("180.00", pool, ids["vtb_rub_settlement"], "POSTED"),
        ("150.00", pool, ids["melli_rub_settlement"], "POSTED"),
    ]  # fmt: skip
    assert {t["amount"]["currency"] for t in transfers} == {"RUB"}
    assert before == {name: "10000.00" for name in SETTLEMENT_ACCOUNTS}
    assert await settlement_balances(api, ids) == {
        "sber_rub_settlement": "9670.00",
        "vtb_rub_settlement": "10180.00",
        "melli_rub_settlement": "10150.00",
    }
    assert await money(api, pool) == "0.00"  # the pool ends where it started
    owner = await api("query($id: ID!) { node(id: $id) { ... on Account { kind owner { bic } } } }", {"id": pool})
    assert owner["node"] == {"kind": "SETTLEMENT", "owner": {"bic": "SPFSRUMM"}}
    # The transfers are listed on the window afterwards too.
    assert (await node(api, window["id"]))["transfers"] == transfers


# ---------------------------------------------------------------- shortfall and errors


async def test_a_shortfall_names_every_short_payer_and_changes_nothing_until_funded(api):
    ids = await build(api)
    await pay(api, ids, "sber", "vtb", "200.00")
    await pay(api, ids, "melli", "vtb", "100.00")
    # Nets: Sberbank -200.00, Melli -100.00, VTB +300.00. Drain both payers' SETTLEMENT
    # accounts into their own customer accounts: Sberbank keeps 100.00, Melli 50.00.
    drained = await send(
        api,
        transfer(ids["sber_rub_settlement"], ids["sber_rub"], "9900.00"),
        transfer(ids["melli_rub_settlement"], ids["melli_rub"], "9950.00"),
    )
    assert all(r["errors"] == [] for r in drained), drained
    window = await closed(api)
    before = await settlement_balances(api, ids)
    customers = {name: await money(api, ids[name]) for name in ("sber_rub", "vtb_rub", "melli_rub")}

    failed = await settle(api, window["id"])
    assert failed["window"] is None
    assert codes(failed) == ["SETTLEMENT_SHORTFALL", "SETTLEMENT_SHORTFALL"], failed
    messages = " | ".join(e["message"] for e in failed["errors"])
    assert "SABRRUMM" in messages and "MELIIRTH" in messages and "VTBRRUMM" not in messages
    assert "100.00" in messages and "50.00" in messages  # what each is short by
    assert all(e["field"] == ["windowId"] for e in failed["errors"])
    assert await settlement_balances(api, ids) == before
    assert {name: await money(api, ids[name]) for name in customers} == customers
    stored = await node(api, window["id"])
    assert stored["state"] == "CLOSED" and stored["settledAt"] is None and stored["transfers"] == []
    assert figures(stored) == figures(window)

    # Funded again, it settles.
    funded = await send(
        api,
        transfer(ids["sber_rub"], ids["sber_rub_settlement"], "100.00"),
        transfer(ids["melli_rub"], ids["melli_rub_settlement"], "50.00"),
    )
    assert all(r["errors"] == [] for r in funded), funded
    settled = await settle(api, window["id"])
    assert settled["errors"] == [], settled
    assert settled["window"]["state"] == "SETTLED"
    assert await settlement_balances(api, ids) == {
        "sber_rub_settlement": "0.00",
        "vtb_rub_settlement": "10300.00",
        "melli_rub_settlement": "0.00",
    }
    assert await money(api, settled["window"]["transfers"][0]["creditAccount"]["id"]) == "0.00"


async def test_a_participant_without_a_settlement_account_is_named(api):
    ids = await build(api)
    alfa = await institution(api, "Alfa-Bank", "ALFARUMM", "RU", "COMMERCIAL_BANK")
    await member(api, "SPFS", alfa)
    alfa_rub = await account(api, alfa, "alfa RUB customer", "RUB", "CUSTOMER")
    await pay(api, ids, "sber", "vtb", "30.00")
    await pay(api, ids, "sber", "sber", "50.00", receiverBic="ALFARUMM", creditorAccountId=alfa_rub)
    window = await closed(api)
    assert positions(window)["ALFARUMM"] == ("50.00", "0.00", "50.00")
    before = await settlement_balances(api, ids)
    failed = await settle(api, window["id"])
    assert failed["window"] is None and len(failed["errors"]) == 1, failed
    (error,) = failed["errors"]
    assert "ALFARUMM" in error["message"] and error["field"] == ["windowId"]
    assert await settlement_balances(api, ids) == before
    assert await money(api, alfa_rub) == "50.00"
    assert (await node(api, window["id"]))["state"] == "CLOSED"


async def test_settling_or_closing_in_the_wrong_state_or_with_bad_input_is_an_error(api):
    ids = await build(api)
    await pay(api, ids, "sber", "vtb", "10.00")
    (open_window,) = await windows(api, state="OPEN")
    assert codes(await settle(api, open_window["id"])) == ["INVALID_STATE"]
    window = await closed(api)
    assert window["id"] == open_window["id"]
    assert (await settle(api, window["id"]))["errors"] == []
    before = await settlement_balances(api, ids)
    again = await settle(api, window["id"])
    assert codes(again) == ["INVALID_STATE"] and again["window"] is None
    assert await settlement_balances(api, ids) == before

    # The new OPEN window (empty) closes, and the next opens; a scope and currency that
    # never had a window has none to close: NOT_FOUND.
    (fresh,) = await windows(api, state="OPEN")
    assert figures(await closed(api)) == (0, "0.00", "0.00", 0.0)
    for scope, currency in (("MIR", "RUB"), ("SPFS", "CNY"), ("NOWHERE", "RUB")):
        missing = await close(api, scope, currency)
        assert codes(missing) == ["NOT_FOUND"] and missing["window"] is None, missing
    unknown = await close(api, "SPFS", "XYZ")
    assert codes(unknown) == ["UNSUPPORTED_CURRENCY"] and unknown["errors"][0]["field"] == ["currency"]

    for bad in (ids["sber_rub"], "not an id", global_id("Account", pk(ids["sber_rub"]))):
        payload = await settle(api, bad)
        assert codes(payload) == ["INVALID_INPUT"] and payload["errors"][0]["field"] == ["windowId"], payload
    nowhere = await settle(api, global_id("SettlementWindow", 999_999))
    assert codes(nowhere) == ["NOT_FOUND"]
    assert fresh["id"] != window["id"]


# ---------------------------------------------------------------- card obligations


async def vtb_acquiring(api, ids) -> None:
    """VTB as a MIR acquirer with a Moscow merchant: a domestic MIR payment between two banks."""
    ids["vtb"] = await institution(api, "VTB Bank", "VTBRRUMM", "RU", "COMMERCIAL_BANK")
    await card_world.membership(api, "MIR", ids["vtb"], ["ACQUIRER"])
    ids["vtb_shop"] = await account(api, ids["vtb"], "Tverskaya cafe", "RUB", "CUSTOMER")
    ids["cafe"] = await card_world.merchant(api, "Tverskaya cafe", "RU", ids["vtb"], "MIR", ids["vtb_shop"])


async def test_card_captures_and_refunds_are_obligations_in_the_scheme_window(api):
    ids = await card_world.build(api)
    await vtb_acquiring(api, ids)
    auth = (await card_world.authorize(api, ids["cafe"], "mir", "1000.00", "RUB"))["authorization"]
    assert (auth["route"], auth["scheme"]) == ("DOMESTIC", {"code": "MIR"})
    assert await obligation_count(api) == 0  # a hold is no obligation
    captured = (await api(card_world.CAPTURE, {"id": auth["authorizationId"]}))["capturePayment"]
    assert captured["errors"] == []
    refund = {"refundId": str(uuid.uuid4()), "authorizationId": auth["authorizationId"], "amount": "400.00"}
    assert (await api(card_world.REFUND, {"input": refund}))["refundPayment"]["errors"] == []

    # Sberbank (the issuer) owes VTB (the acquirer) 1000.00; the refund, VTB owes Sberbank 400.00.
    # gross 1400.00, net 600.00, efficiency 1 - 600/1400 = 4/7.
    (window,) = await windows(api)
    assert (window["scope"], window["currency"], window["state"]) == ("MIR", "RUB", "OPEN")
    assert figures(window) == (2, "1400.00", "600.00", float(Fraction(4, 7)))
    assert positions(window) == {
        "SABRRUMM": ("400.00", "1000.00", "-600.00"),
        "VTBRRUMM": ("1000.00", "400.00", "600.00"),
    }

    # Held only, reversed, or lapsed: no obligation.
    held = (await card_world.authorize(api, ids["cafe"], "mir", "100.00", "RUB"))["authorization"]
    reversing = (await card_world.authorize(api, ids["cafe"], "mir", "200.00", "RUB"))["authorization"]
    lapsing = (await card_world.authorize(api, ids["cafe"], "mir", "300.00", "RUB"))["authorization"]
    assert held["approved"] and reversing["approved"] and lapsing["approved"]
    reversed_ = (await api(card_world.REVERSE, {"id": reversing["authorizationId"]}))["reversePayment"]
    assert reversed_["authorization"]["state"] == "REVERSED"
    set_clock_skew(dt.timedelta(days=7, minutes=1))
    try:
        lapsed = (await api(card_world.LOOKUP, {"id": lapsing["authorizationId"]}))["authorization"]
        assert lapsed["state"] == "EXPIRED"
        late = (await api(card_world.CAPTURE, {"id": lapsing["authorizationId"]}))["capturePayment"]
        assert codes(late) == ["INVALID_STATE"]
    finally:
        set_clock_skew(dt.timedelta(0))
    assert await obligation_count(api) == 2
    (window,) = await windows(api)
    assert figures(window)[:2] == (2, "1400.00")


async def test_an_interscheme_fx_payment_is_owed_in_the_window_of_its_scheme_per_leg_currency(api):
    ids = await card_world.build(api)
    auth = (await card_world.authorize(api, ids["shanghai"], "mir", "1000.00", "CNY"))["authorization"]
    assert (auth["route"], auth["scheme"]) == ("INTERSCHEME", {"code": "UNIONPAY"})
    captured = (await api(card_world.CAPTURE, {"id": auth["authorizationId"], "amount": "600.00"}))["capturePayment"]
    assert captured["errors"] == []
    # Legs (tests/test_card_payments.py): Ivan (Sberbank) -> the FX provider's RUB position
    # 7701.72 RUB; its CNY position -> the Shanghai shop (Bank of China) 597.00 CNY and ->
    # UnionPay's fee account 3.00 CNY. All in UNIONPAY's windows, none in MIR's.
    found = {(w["scope"], w["currency"]): w for w in await windows(api)}
    assert set(found) == {("UNIONPAY", "RUB"), ("UNIONPAY", "CNY")}
    rub, cny = found["UNIONPAY", "RUB"], found["UNIONPAY", "CNY"]
    assert figures(rub) == (1, "7701.72", "7701.72", 0.0)
    assert positions(rub) == {"SABRRUMM": ("0.00", "7701.72", "-7701.72"), "CRFXAEAD": ("7701.72", "0.00", "7701.72")}
    assert figures(cny) == (2, "600.00", "600.00", 0.0)
    assert positions(cny) == {
        "BKCHCNBJ": ("597.00", "0.00", "597.00"),
        "UPICCNSH": ("3.00", "0.00", "3.00"),
        "CRFXAEAD": ("0.00", "600.00", "-600.00"),
    }
    assert cny["grossValue"]["currency"] == "CNY"
    # A same-bank leg (Sberbank's own Mir card at its own Moscow merchant) is no obligation.
    own = (await card_world.authorize(api, ids["moscow"], "mir", "10.00", "RUB"))["authorization"]
    assert (await api(card_world.CAPTURE, {"id": own["authorizationId"]}))["capturePayment"]["errors"] == []
    assert await obligation_count(api) == 3
    # (An empty OPEN MIR window may have been opened for it; it holds nothing.)
    assert [w["obligationCount"] for w in await windows(api, scope="MIR")] in ([], [0])


async def test_rtgs_payments_are_no_obligations(api):
    ids = await build(api)
    sent = await pay(api, ids, "sber", "vtb", "10.00", network="CIPS")
    assert sent["network"] == {"code": "CIPS"}
    assert await obligation_count(api) == 0
    assert await windows(api) == []
    await pay(api, ids, "sber", "vtb", "10.00")
    assert [(w["scope"], w["obligationCount"]) for w in await windows(api)] == [("SPFS", 1)]


# ---------------------------------------------------------------- access


async def test_who_sees_which_windows_and_positions_and_who_closes_and_settles(api):
    ids = await build(api)
    await pay(api, ids, "sber", "vtb", "100.00")
    first = await closed(api)  # Sberbank and VTB
    await pay(api, ids, "vtb", "melli", "40.00")  # the OPEN window: VTB and Melli
    (second,) = await windows(api, state="OPEN")
    sber = await api.new_key(Role.PARTICIPANT, pk(ids["sber"]))
    melli = await api.new_key(Role.PARTICIPANT, pk(ids["melli"]))
    vtb = await api.new_key(Role.PARTICIPANT, pk(ids["vtb"]))
    analyst = await api.new_key(Role.ANALYST)

    seen = await windows(api)
    assert [w["id"] for w in seen] == [second["id"], first["id"]]
    assert set(positions(seen[1])) == {"SABRRUMM", "VTBRRUMM"} and set(positions(seen[0])) == {"VTBRRUMM", "MELIIRTH"}

    mine = await windows(api, key=sber)
    assert [w["id"] for w in mine] == [first["id"]]
    assert positions(mine[0]) == {"SABRRUMM": ("0.00", "100.00", "-100.00")}
    assert figures(mine[0]) == figures(first)  # the window's figures, its own position only
    assert await node(api, second["id"], key=sber) is None
    assert (await node(api, first["id"], key=sber))["positions"] == mine[0]["positions"]
    assert [w["id"] for w in await windows(api, key=melli)] == [second["id"]]
    assert await node(api, first["id"], key=melli) is None
    assert [w["id"] for w in await windows(api, key=vtb)] == [second["id"], first["id"]]

    looked = await windows(api, key=analyst)
    assert [w["id"] for w in looked] == [second["id"], first["id"]]
    assert all(w["positions"] == [] for w in looked)
    assert figures(looked[1]) == figures(first)
    analysed = await node(api, first["id"], key=analyst)
    assert analysed is not None and analysed["positions"] == [] and figures(analysed) == figures(first)

    for key in (sber, vtb, analyst):
        assert codes(await close(api, key=key)) == ["FORBIDDEN"]
        assert codes(await settle(api, first["id"], key=key)) == ["FORBIDDEN"]
    assert (await node(api, first["id"]))["state"] == "CLOSED"
    assert (await node(api, second["id"]))["state"] == "OPEN"

    settled = await settle(api, first["id"])
    assert settled["errors"] == [] and len(settled["window"]["transfers"]) == 2
    # A participant sees the settlement transfers it is party to: Sberbank its payment to the pool.
    (own,) = (await node(api, first["id"], key=sber))["transfers"]
    assert own["debitAccount"]["id"] == ids["sber_rub_settlement"]
    assert (await node(api, first["id"], key=melli)) is None


# ---------------------------------------------------------------- reading


async def test_windows_page_newest_first_and_filter(api):
    ids = await build(api)
    made = []
    for amount in ("1.00", "2.00", "3.00"):
        await pay(api, ids, "sber", "vtb", amount)
        made.append(await closed(api))
    assert (await settle(api, made[0]["id"]))["errors"] == []
    await pay(api, ids, "vtb", "sber", "4.00")
    (live,) = await windows(api, state="OPEN")
    newest_first = [live["id"], made[2]["id"], made[1]["id"], made[0]["id"]]

    page = (await api(WINDOWS, {"first": 2}))["settlementWindows"]
    assert [e["node"]["id"] for e in page["edges"]] == newest_first[:2] and page["pageInfo"]["hasNextPage"] is True
    rest = (await api(WINDOWS, {"first": 2, "after": page["pageInfo"]["endCursor"]}))["settlementWindows"]
    assert [e["node"]["id"] for e in rest["edges"]] == newest_first[2:] and rest["pageInfo"]["hasNextPage"] is False
    after_one = (await api(WINDOWS, {"first": 10, "after": page["edges"][0]["cursor"]}))["settlementWindows"]
    assert [e["node"]["id"] for e in after_one["edges"]] == newest_first[1:]

    assert [w["id"] for w in await windows(api, scope="SPFS")] == newest_first
    assert [w["id"] for w in await windows(api, scope="spfs", currency="rub")] == newest_first
    assert await windows(api, scope="MIR") == [] and await windows(api, currency="CNY") == []
    assert [w["id"] for w in await windows(api, state="CLOSED")] == [made[2]["id"], made[1]["id"]]
    assert [w["id"] for w in await windows(api, state="SETTLED")] == [made[0]["id"]]
    assert [w["id"] for w in await windows(api, state="OPEN", scope="SPFS", currency="RUB")] == [live["id"]]
    bad = await api.raw(WINDOWS, {"after": "not a cursor"})
    assert "errors" in bad or bad["data"] is None


async def _settled_windows(api, ids, how_many: int) -> None:
    for k in range(how_many):
        await pay(api, ids, "sber", "vtb", f"{k + 1}.00")
        await pay(api, ids, "melli", "vtb", "1.00")
        window = await closed(api)
        assert (await settle(api, window["id"]))["errors"] == []


async def test_a_page_of_windows_loads_in_a_fixed_number_of_statements(api):
    ids = await build(api)
    await _settled_windows(api, ids, 2)
    query = {"state": "SETTLED", "first": 50}
    with api.count_statements() as two:
        found = await windows(api, **query)
    assert len(found) == 2 and all(len(w["transfers"]) == 3 and len(w["positions"]) == 3 for w in found)
    await _settled_windows(api, ids, 8)
    with api.count_statements() as ten:
        found = await windows(api, **query)
    assert len(found) == 10 and all(len(w["transfers"]) == 3 and len(w["positions"]) == 3 for w in found)
    assert ten[0] == two[0], (two[0], ten[0])


async def test_closing_computes_positions_in_the_same_statements_whatever_the_obligations(api):
    ids = await build(api)
    pairs = [("sber", "vtb"), ("vtb", "melli"), ("melli", "sber"), ("sber", "melli"), ("vtb", "sber")]
    for sender, receiver in pairs:
        await pay(api, ids, sender, receiver, "1.00")
    with api.count_statements() as five:
        small = await closed(api)
    assert small["obligationCount"] == 5
    for k in range(50):
        sender, receiver = pairs[k % 5]
        await pay(api, ids, sender, receiver, "1.00")
    with api.count_statements() as fifty:
        large = await closed(api)
    assert large["obligationCount"] == 50 and large["grossValue"]["amount"] == "50.00"
    assert fifty[0] == five[0], (five[0], fifty[0])


# ---------------------------------------------------------------- the schedule


async def test_the_schedule_closes_a_due_window_with_obligations_once(api):
    ids = await build(api)
    schedule = (("SPFS", 60),)
    await pay(api, ids, "sber", "vtb", "10.00")
    try:
        set_clock_skew(dt.timedelta(seconds=30))  # not open long enough yet
        assert await close_due_windows(api.sessions, schedule) == 0
        set_clock_skew(dt.timedelta(seconds=120))
        assert await close_due_windows(api.sessions, schedule) == 1
        assert await close_due_windows(api.sessions, schedule) == 0
        found = await windows(api)
        assert [(w["state"], w["obligationCount"]) for w in found] == [("OPEN", 0), ("CLOSED", 1)]
        assert positions(found[1]) == {"SABRRUMM": ("0.00", "10.00", "-10.00"), "VTBRRUMM": ("10.00", "0.00", "10.00")}
        # The new window stays open, however long, while it holds nothing; other scopes are not closed.
        set_clock_skew(dt.timedelta(days=2))
        assert await close_due_windows(api.sessions, schedule) == 0
        assert await close_due_windows(api.sessions, (("MIR", 60), ("CIPS", 60))) == 0
        assert [w["state"] for w in await windows(api)] == ["OPEN", "CLOSED"]
        await pay(api, ids, "vtb", "sber", "5.00")
        assert await close_due_windows(api.sessions, schedule) == 1
        assert [w["state"] for w in await windows(api)] == ["OPEN", "CLOSED", "CLOSED"]
    finally:
        set_clock_skew(dt.timedelta(0))


async def test_an_interscheme_window_settles_with_the_scheme_operator_owed_its_fee(api):
    ids = await card_world.build(api)
    auth = (await card_world.authorize(api, ids["shanghai"], "mir", "1000.00", "CNY"))["authorization"]
    captured = (await api(card_world.CAPTURE, {"id": auth["authorizationId"], "amount": "600.00"}))["capturePayment"]
    assert captured["errors"] == []
    # UNIONPAY/CNY: the FX provider owes 600.00; Bank of China is owed 597.00 and UnionPay's
    # operator (UPICCNSH, whose SETTLEMENT account is the pool) its 3.00 fee.
    fx = await account(api, ids["fx"], "FX CNY settlement", "CNY", "SETTLEMENT")
    boc = await account(api, ids["boc"], "BoC CNY settlement", "CNY", "SETTLEMENT")
    funded = await send(api, transfer(ids["issue CNY"], fx, "1000.00", "CNY"))
    assert funded[0]["errors"] == [], funded
    window = await closed(api, "UNIONPAY", "CNY")
    assert positions(window)["UPICCNSH"] == ("3.00", "0.00", "3.00")
    settled = await settle(api, window["id"])
    assert settled["errors"] == [], settled
    assert settled["window"]["state"] == "SETTLED"
    assert await money(api, fx) == "400.00" and await money(api, boc) == "597.00"
    # The operator's 3.00 stays on its SETTLEMENT account (the pool): what it was owed.
    pool = settled["window"]["transfers"][0]["creditAccount"]["id"]
    assert await money(api, pool) == "3.00"


def test_the_settlement_package_exports_every_name_it_lists():
    import resolvers.settlement as package

    assert [name for name in package.__all__ if not hasattr(package, name)] == []


async def test_a_code_names_one_settlement_scope_a_scheme_or_a_network(api):
    from tests.messaging_world import NETWORK
    from tests.test_cards_schemes import SCHEME, scheme_input

    await build(api)  # the networks SWIFT, SPFS and CIPS
    operator = await institution(api, "Scheme operator", "SCHMRUMM", "RU", "SCHEME_OPERATOR")
    payload = (await api(SCHEME, scheme_input("SPFS", operator, "RU", "RUB", ("2200", "2204"))))["createCardScheme"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("ALREADY_EXISTS", ["input", "code"])]
    made = (await api(SCHEME, scheme_input("MIR", operator, "RU", "RUB", ("2200", "2204"))))["createCardScheme"]
    assert made["errors"] == []
    operators = await api("{ institutions(kind: NETWORK_OPERATOR) { edges { node { id } } } }")
    network = {
        "code": "MIR",
        "name": "Not Mir",
        "operatorId": operators["institutions"]["edges"][0]["node"]["id"],
        "settlementCurrencies": ["RUB"],
        "settlementMode": "DEFERRED_NET",
    }
    payload = (await api(NETWORK, {"input": network}))["createPaymentNetwork"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("ALREADY_EXISTS", ["input", "code"])]
