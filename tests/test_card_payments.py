"""Card payments through the endpoint: authorization's five steps, capture, reversal,
refund, expiry; balances worked out by hand."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import text

from models.access import Role
from models.base import set_clock_skew
from tests.card_world import (
    AUTHORIZE,
    CAPTURE,
    LOOKUP,
    PANS,
    REFUND,
    REVERSE,
    authorize,
    authorize_input,
    build,
    issue,
    link,
    membership,
)
from tests.ledger_world import balances, pk, send, transfer
from tests.test_cards_issuing import STATUS, luhn

FEE_ACCOUNTS = """
query($bic: String!) { institution(bic: $bic) { accounts { edges { node { id kind currency { code } } } } } }
"""


async def fee_account(api, bic: str) -> str:
    edges = (await api(FEE_ACCOUNTS, {"bic": bic}))["institution"]["accounts"]["edges"]
    (fee,) = [edge["node"]["id"] for edge in edges if edge["node"]["kind"] == "FEE"]
    return fee


def held(account: dict) -> tuple[str, str, str]:
    return account["balance"], account["debitsPending"], account["creditsPending"]


async def count(api, table: str) -> int:
    async with api.engine.connect() as connection:
        return await connection.scalar(text(f"SELECT count(*) FROM {table}"))


async def test_a_mir_card_pays_in_shanghai_captured_in_part_then_refunded_in_part(api):
    ids = await build(api)
    payload = await authorize(api, ids["shanghai"], "mir", "1000.00", "CNY")
    assert payload["errors"] == []
    auth = payload["authorization"]
    # The card's RUB account pays the FX provider; the provider's CNY position pays the
    # merchant less the MIR -> UNIONPAY link's 50 bps, and the fee to UnionPay's FEE account.
    # Provider rate RUB/CNY 0.0781 x (1 - 0.0025) = 0.07790475 (the direct pair: no USD);
    # 1000.00 / 0.07790475 = 12836.18778..., which the cardholder pays rounded up: 12836.19.
    assert (auth["responseCode"], auth["approved"], auth["state"]) == ("00", True, "APPROVED")
    assert auth["route"] == "INTERSCHEME" and auth["scheme"] == {"code": "UNIONPAY"}
    assert auth["declineReason"] is None
    assert auth["amount"] == {"amount": "1000.00", "currency": "CNY"}
    assert auth["cardholderAmount"] == {"amount": "12836.19", "currency": "RUB"}
    assert auth["fee"] == {"amount": "5.00", "currency": "CNY"}
    assert auth["card"]["maskedPan"] == PANS["mir"][:6] + "******" + PANS["mir"][-4:]
    assert [(t["amount"]["amount"], t["debitAccount"]["name"], t["creditAccount"]["name"], t["state"])
            for t in auth["transfers"]] == [
        ("12836.19", "Ivan Petrov", "RUB position", "PENDING"),
        ("995.00", "CNY position", "Shanghai shop", "PENDING"),
        ("5.00", "CNY position", "CNY scheme fees", "PENDING"),
    ]  # fmt: skip
    fee = await fee_account(api, "UPICCNSH")
    assert held(await balances(api, ids["ivan"])) == ("50000.00", "12836.19", "0.00")
    assert (await balances(api, ids["ivan"]))["available"] == "37163.81"
    assert held(await balances(api, ids["shop_cny"])) == ("0.00", "0.00", "995.00")
    assert held(await balances(api, fee)) == ("0.00", "0.00", "5.00")

    # Capture 600.00 of 1000.00: fee 3.00, merchant 597.00; the cardholder pays
    # 12836.19 x 600 / 1000 = 7701.714, rounded up: 7701.72; the rest of every hold is released.
    key = auth["authorizationId"]
    captured = (await api(CAPTURE, {"id": key, "amount": "600.00"}))["capturePayment"]
    assert captured["errors"] == []
    auth = captured["authorization"]
    assert auth["state"] == "CAPTURED" and auth["capturedAmount"] == {"amount": "600.00", "currency": "CNY"}
    assert auth["fee"] == {"amount": "3.00", "currency": "CNY"}
    assert [(t["state"], t["postedAmount"]["amount"]) for t in auth["transfers"]] == [
        ("POSTED", "7701.72"),
        ("POSTED", "597.00"),
        ("POSTED", "3.00"),
    ]
    assert held(await balances(api, ids["ivan"])) == ("42298.28", "0.00", "0.00")
    assert held(await balances(api, ids["fx RUB"])) == ("1007701.72", "0.00", "0.00")
    assert held(await balances(api, ids["fx CNY"])) == ("99400.00", "0.00", "0.00")
    assert held(await balances(api, ids["shop_cny"])) == ("597.00", "0.00", "0.00")
    assert held(await balances(api, fee)) == ("3.00", "0.00", "0.00")

    # Refund 250.00: UnionPay gives back its fee in proportion (1.25), the merchant the
    # rest (248.75); the provider pays back 7701.72 x 250 / 600 = 3209.05 RUB.
    refund = {"refundId": str(uuid.uuid4()), "authorizationId": key, "amount": "250.00"}
    refunded = (await api(REFUND, {"input": refund}))["refundPayment"]
    assert refunded["errors"] == []
    auth = refunded["authorization"]
    assert auth["refundedAmount"] == {"amount": "250.00", "currency": "CNY"} and auth["state"] == "CAPTURED"
    assert auth["fee"] == {"amount": "1.75", "currency": "CNY"}
    assert [(t["amount"]["amount"], t["debitAccount"]["name"], t["creditAccount"]["name"])
            for t in auth["transfers"][3:]] == [
        ("1.25", "CNY scheme fees", "CNY position"),
        ("248.75", "Shanghai shop", "CNY position"),
        ("3209.05", "RUB position", "Ivan Petrov"),
    ]  # fmt: skip
    assert held(await balances(api, ids["ivan"])) == ("45507.33", "0.00", "0.00")
    assert held(await balances(api, ids["fx RUB"])) == ("1004492.67", "0.00", "0.00")
    assert held(await balances(api, ids["fx CNY"])) == ("99650.00", "0.00", "0.00")
    assert held(await balances(api, ids["shop_cny"])) == ("348.25", "0.00", "0.00")
    assert held(await balances(api, fee)) == ("1.75", "0.00", "0.00")

    # The same refund again is a replay; the rest (350.00) refunds everything exactly.
    again = (await api(REFUND, {"input": refund}))["refundPayment"]
    assert again["errors"] == [] and again["authorization"]["refundedAmount"]["amount"] == "250.00"
    over = {"refundId": str(uuid.uuid4()), "authorizationId": key, "amount": "350.01"}
    errors = (await api(REFUND, {"input": over}))["refundPayment"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", ["input", "amount"])]
    assert "350.00" in errors[0]["message"]
    rest = {"refundId": str(uuid.uuid4()), "authorizationId": key, "amount": "350.00"}
    assert (await api(REFUND, {"input": rest}))["refundPayment"]["errors"] == []
    assert held(await balances(api, ids["ivan"])) == ("50000.00", "0.00", "0.00")
    assert held(await balances(api, ids["shop_cny"])) == ("0.00", "0.00", "0.00")
    assert held(await balances(api, fee)) == ("0.00", "0.00", "0.00")
    assert held(await balances(api, ids["fx RUB"])) == ("1000000.00", "0.00", "0.00")
    assert held(await balances(api, ids["fx CNY"])) == ("100000.00", "0.00", "0.00")
    conflict = {**rest, "amount": "1.00"}
    errors = (await api(REFUND, {"input": conflict}))["refundPayment"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("IDEMPOTENCY_CONFLICT", ["input", "refundId"])]


async def test_a_unionpay_card_pays_in_moscow(api):
    ids = await build(api)
    auth = (await authorize(api, ids["moscow"], "unionpay", "12836.19", "RUB"))["authorization"]
    # UNIONPAY -> MIR at 30 bps: fee 12836.19 x 0.003 = 38.50857, half-even 38.51.
    # CNY/RUB is the inverse of RUB/CNY, 1 / 0.0781 = 12.8040973111 (12 digits), less the
    # spread: x 0.9975 = 12.772086567... ; 12836.19 / that = 1005.0163..., rounded up 1005.02 CNY.
    assert (auth["responseCode"], auth["route"], auth["scheme"]) == ("00", "INTERSCHEME", {"code": "MIR"})
    assert auth["fee"] == {"amount": "38.51", "currency": "RUB"}
    assert auth["cardholderAmount"] == {"amount": "1005.02", "currency": "CNY"}
    assert (await balances(api, ids["li"]))["available"] == "8994.98"
    captured = (await api(CAPTURE, {"id": auth["authorizationId"]}))["capturePayment"]["authorization"]
    assert captured["capturedAmount"]["amount"] == "12836.19"
    assert held(await balances(api, ids["shop_rub"])) == ("12797.68", "0.00", "0.00")
    assert held(await balances(api, ids["li"])) == ("8994.98", "0.00", "0.00")
    assert held(await balances(api, await fee_account(api, "NSPKRUMM"))) == ("38.51", "0.00", "0.00")


async def test_a_co_badged_card_pays_domestically_on_each_of_its_schemes(api):
    ids = await build(api)
    moscow = (await authorize(api, ids["moscow"], "cobadge", "100.00", "RUB"))["authorization"]
    shanghai = (await authorize(api, ids["shanghai"], "cobadge", "10.00", "CNY"))["authorization"]
    assert (moscow["responseCode"], moscow["route"], moscow["scheme"]) == ("00", "DOMESTIC", {"code": "MIR"})
    assert (shanghai["responseCode"], shanghai["route"], shanghai["scheme"]) == (
        "00",
        "DOMESTIC",
        {"code": "UNIONPAY"},
    )
    assert moscow["fee"] is None and shanghai["fee"] is None
    # Domestic, same currency: one hold from the card's account to the merchant's.
    assert [(t["amount"]["amount"], t["debitAccount"]["name"], t["creditAccount"]["name"])
            for t in moscow["transfers"]] == [("100.00", "Anna Smirnova", "Moscow shop")]  # fmt: skip
    # 10.00 CNY / (0.0781 x 0.9975) = 128.3618..., rounded up: 128.37 RUB.
    assert shanghai["cardholderAmount"] == {"amount": "128.37", "currency": "RUB"}
    assert (await balances(api, ids["anna"]))["available"] == "19771.63"


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("bad luhn", "14"),
        ("unknown bin", "14"),
        ("not issued", "14"),
        ("negative", "13"),
        ("zero", "13"),
        ("too precise", "13"),
        ("expiry differs", "54"),
        ("blocked", "62"),
        ("suspended issuer", "62"),
        ("link suspended", "58"),
        ("no link", "58"),
        ("insufficient funds", "51"),
        ("acquirer cannot", "91"),
    ],
)
async def test_declines_hold_nothing(api, case, code):
    ids = await build(api)
    merchant, card, amount, currency, extra = ids["shanghai"], "mir", "100.00", "CNY", {}
    if case == "bad luhn":
        good = PANS["mir"]
        card = good[:-1] + str((int(good[-1]) + 1) % 10)
    elif case == "unknown bin":
        card = luhn("35")
    elif case == "not issued":
        card = luhn("2200999")
    elif case == "negative":
        amount = "-5.00"
    elif case == "zero":
        amount = "0"
    elif case == "too precise":
        amount = "1.234"
    elif case == "expiry differs":
        extra = {"expiryYear": 2030}
    elif case == "blocked":
        assert (await api(STATUS, {"id": ids["mir"], "status": "BLOCKED"}))["setCardStatus"]["errors"] == []
    elif case == "suspended issuer":
        merchant, card = ids["hotel"], "visa"
    elif case == "link suspended":
        await link(api, "MIR", "UNIONPAY", "SUSPENDED", 50)
    elif case == "no link":
        merchant, card = ids["hotel"], "mir"
    elif case == "insufficient funds":
        amount = "4000.00"  # about 51,345 RUB; the card's account has 50,000
    elif case == "acquirer cannot":
        await membership(api, "UNIONPAY", ids["boc"], ["ISSUER"])
    before = await balances(api, ids["ivan"])
    transfers = await count(api, "transfer")
    payload = await authorize(api, merchant, card, amount, currency, **extra)
    assert payload["errors"] == []
    auth = payload["authorization"]
    assert (auth["responseCode"], auth["approved"], auth["state"]) == (code, False, "DECLINED"), auth
    assert auth["declineReason"] and PANS["mir"] not in auth["declineReason"]
    assert auth["transfers"] == [] and auth["expiresAt"] is None
    assert await balances(api, ids["ivan"]) == before
    assert await count(api, "transfer") == transfers
    assert await count(api, "card_authorization") == 1  # every outcome is stored
    stored = (await api(LOOKUP, {"id": auth["authorizationId"]}))["authorization"]
    assert stored["responseCode"] == code
    if code == "14":
        assert stored["card"] is None and stored["route"] is None
    if code in ("58", "62", "91") and case != "blocked":
        assert stored["card"] is not None


async def test_an_expired_card_is_declined_54(api):
    ids = await build(api)
    now = dt.datetime.now(dt.UTC)
    pan = luhn("2200777")
    await issue(api, pan, ids["ivan"], expiryMonth=now.month, expiryYear=now.year)
    set_clock_skew(dt.timedelta(days=40))  # past the end of the expiry month
    try:
        later = now + dt.timedelta(days=40)
        payload = await authorize(api, ids["moscow"], pan, "10.00", "RUB", expiryMonth=now.month, expiryYear=now.year)
    finally:
        set_clock_skew(dt.timedelta(0))
    assert later.month != now.month
    assert (payload["authorization"]["responseCode"], payload["authorization"]["transfers"]) == ("54", [])


async def test_requests_that_are_no_authorization_are_errors_and_store_nothing(api):
    ids = await build(api)
    for changes, code, field in [
        ({"currency": "RUB"}, "CURRENCY_MISMATCH", "currency"),
        ({"currency": "XYZ"}, "UNSUPPORTED_CURRENCY", "currency"),
        ({"merchantId": ids["mir"]}, "INVALID_INPUT", "merchantId"),  # a Card's id, not a Merchant's
        ({"expiryMonth": 13}, "INVALID_INPUT", "expiryMonth"),
        ({"expiryYear": 29}, "INVALID_INPUT", "expiryYear"),
    ]:
        merchant = changes.pop("merchantId", ids["shanghai"])
        currency = changes.pop("currency", "CNY")
        amount = changes.pop("amount", "10.00")
        payload = await authorize(api, merchant, "mir", amount, currency, **changes)
        assert payload["authorization"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, ["input", field])], changes
    # An amount of over 40 characters is no Decimal of this API: refused before anything runs.
    body = await api.raw(AUTHORIZE, authorize_input(ids["shanghai"], "mir", "1" * 41, "CNY"))
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await count(api, "card_authorization") == 0


async def test_a_replayed_authorization_holds_once_and_a_changed_one_conflicts(api):
    ids = await build(api)
    key = str(uuid.uuid4())
    first = await authorize(api, ids["moscow"], "mir", "300.00", "RUB", authorization_id=key)
    again = await authorize(api, ids["moscow"], "mir", "300.0", "RUB", authorization_id=key)
    assert first == again
    assert (await balances(api, ids["ivan"]))["debitsPending"] == "300.00"
    for changes in [{"amount": "300.01"}, {"card": "cobadge"}, {"expiryYear": 2030}]:
        card = changes.pop("card", "mir")
        amount = changes.pop("amount", "300.00")
        conflict = await authorize(api, ids["moscow"], card, amount, "RUB", authorization_id=key, **changes)
        assert [(e["code"], e["field"]) for e in conflict["errors"]] == [
            ("IDEMPOTENCY_CONFLICT", ["input", "authorizationId"])
        ]
    # A decline replays as the same decline.
    declined_key = str(uuid.uuid4())
    declined = await authorize(api, ids["moscow"], "mir", "99999.00", "RUB", authorization_id=declined_key)
    assert declined["authorization"]["responseCode"] == "51"
    assert await authorize(api, ids["moscow"], "mir", "99999.00", "RUB", authorization_id=declined_key) == declined


async def test_capture_reverse_and_invalid_transitions(api):
    ids = await build(api)
    first = (await authorize(api, ids["moscow"], "mir", "300.00", "RUB"))["authorization"]["authorizationId"]
    second = (await authorize(api, ids["moscow"], "mir", "200.00", "RUB"))["authorization"]["authorizationId"]
    declined = (await authorize(api, ids["moscow"], "mir", "0", "RUB"))["authorization"]["authorizationId"]
    assert (await balances(api, ids["ivan"]))["debitsPending"] == "500.00"

    reversed_ = (await api(REVERSE, {"id": second}))["reversePayment"]
    assert reversed_["errors"] == [] and reversed_["authorization"]["state"] == "REVERSED"
    assert [t["state"] for t in reversed_["authorization"]["transfers"]] == ["VOIDED"]
    assert (await api(REVERSE, {"id": second}))["reversePayment"]["errors"] == []  # a replay
    assert (await balances(api, ids["ivan"]))["debitsPending"] == "300.00"

    over = (await api(CAPTURE, {"id": first, "amount": "300.01"}))["capturePayment"]["errors"]
    assert [(e["code"], e["field"]) for e in over] == [("AMOUNT_EXCEEDS_PENDING", ["amount"])]
    done = (await api(CAPTURE, {"id": first}))["capturePayment"]
    assert done["errors"] == [] and done["authorization"]["capturedAmount"]["amount"] == "300.00"
    assert (await api(CAPTURE, {"id": first}))["capturePayment"]["errors"] == []  # a replay
    assert held(await balances(api, ids["ivan"])) == ("49700.00", "0.00", "0.00")
    assert held(await balances(api, ids["shop_rub"])) == ("300.00", "0.00", "0.00")

    refund_on = {"refundId": str(uuid.uuid4()), "authorizationId": second, "amount": "1.00"}
    for query, variables, name in [
        (CAPTURE, {"id": first, "amount": "100.00"}, "capturePayment"),  # captured already, for more
        (REVERSE, {"id": first}, "reversePayment"),
        (CAPTURE, {"id": second}, "capturePayment"),
        (CAPTURE, {"id": declined}, "capturePayment"),
        (REVERSE, {"id": declined}, "reversePayment"),
        (REFUND, {"input": refund_on}, "refundPayment"),
    ]:
        errors = (await api(query, variables))[name]["errors"]
        assert [e["code"] for e in errors] == ["INVALID_STATE"], (name, variables, errors)
    missing = (await api(CAPTURE, {"id": str(uuid.uuid4())}))["capturePayment"]["errors"]
    assert [(e["code"], e["field"]) for e in missing] == [("NOT_FOUND", ["authorizationId"])]
    bad = (await api(CAPTURE, {"id": str(uuid.uuid4()), "amount": "1.001"}))["capturePayment"]["errors"]
    assert bad[0]["code"] in ("NOT_FOUND", "INVALID_INPUT")


async def test_an_uncaptured_hold_expires_after_seven_days(api):
    ids = await build(api)
    auth = (await authorize(api, ids["shanghai"], "mir", "100.00", "CNY"))["authorization"]
    expires = dt.datetime.fromisoformat(auth["expiresAt"])
    assert dt.timedelta(days=6, hours=23) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=7)
    set_clock_skew(dt.timedelta(days=7, minutes=1))
    try:
        stored = (await api(LOOKUP, {"id": auth["authorizationId"]}))["authorization"]
        assert stored["state"] == "EXPIRED"
        assert {t["state"] for t in stored["transfers"]} == {"EXPIRED"}
        assert (await balances(api, ids["ivan"]))["available"] == "50000.00"
        errors = (await api(CAPTURE, {"id": auth["authorizationId"]}))["capturePayment"]["errors"]
        assert [e["code"] for e in errors] == ["INVALID_STATE"]
    finally:
        set_clock_skew(dt.timedelta(0))


async def test_participants_see_what_they_issue_or_acquire_and_only_acquirers_capture(api):
    ids = await build(api)
    auth = (await authorize(api, ids["shanghai"], "mir", "100.00", "CNY"))["authorization"]
    key = auth["authorizationId"]
    sber = await api.new_key(Role.PARTICIPANT, pk(ids["sber"]))  # the issuer
    boc = await api.new_key(Role.PARTICIPANT, pk(ids["boc"]))  # the acquirer
    vtb_id = (await api(
        'mutation { createInstitution(input: {name: "VTB", bic: "VTBRRUMM", countryCode: "RU", '
        "kind: COMMERCIAL_BANK}) { institution { id } } }"
    ))["createInstitution"]["institution"]["id"]  # fmt: skip
    vtb = await api.new_key(Role.PARTICIPANT, pk(vtb_id))
    analyst = await api.new_key(Role.ANALYST)
    for who in (sber, boc):
        assert (await api(LOOKUP, {"id": key}, key=who))["authorization"]["id"] == auth["id"]
    for who in (vtb, analyst):
        assert (await api(LOOKUP, {"id": key}, key=who))["authorization"] is None
    # The acquirer sees the card it took a payment from; VTB does not.
    node = "query($id: ID!) { node(id: $id) { ... on Card { maskedPan } } }"
    assert (await api(node, {"id": ids["mir"]}, key=boc))["node"] is not None
    assert (await api(node, {"id": ids["mir"]}, key=vtb))["node"] is None
    assert (await api(node, {"id": auth["id"]}, key=vtb))["node"] is None

    refused = (await api(CAPTURE, {"id": key}, key=sber))["capturePayment"]["errors"]
    assert [e["code"] for e in refused] == ["FORBIDDEN"]
    hidden = (await api(CAPTURE, {"id": key}, key=vtb))["capturePayment"]["errors"]
    assert [e["code"] for e in hidden] == ["NOT_FOUND"]
    assert (await api(CAPTURE, {"id": key}, key=boc))["capturePayment"]["errors"] == []
    # Only the merchant's acquirer (or the operator) authorizes at its merchant.
    other = await authorize(api, ids["shanghai"], "mir", "1.00", "CNY", key=sber)
    assert [(e["code"], e["field"]) for e in other["errors"]] == [("NOT_FOUND", ["input", "merchantId"])]
    assert (await authorize(api, ids["shanghai"], "mir", "1.00", "CNY", key=boc))["authorization"]["approved"]
    assert (await authorize(api, ids["shanghai"], "mir", "1.00", "CNY", key=analyst))["errors"][0]["code"] == (
        "FORBIDDEN"
    )


async def test_authorizations_load_nested_objects_in_a_few_statements(api):
    ids = await build(api)
    keys = []
    for amount in ("10.00", "20.00", "30.00", "40.00", "50.00"):
        keys.append((await authorize(api, ids["shanghai"], "mir", amount, "CNY"))["authorization"]["id"])

    async def statements_for(some: list[str]) -> int:
        nodes = " ".join(
            f'n{k}: node(id: "{key}") {{ ... on Authorization {{ card {{ schemes {{ code }} issuer {{ bic }} }} '
            "merchant { acquirer { bic } acceptingScheme { code } } scheme { operator { bic } } "
            "transfers { debitAccount { owner { bic } } creditAccount { name } } } }"
            for k, key in enumerate(some)
        )
        with api.count_statements() as statements:
            data = await api("{ " + nodes + " }")
        assert all(data[f"n{k}"]["transfers"] for k in range(len(some)))
        return statements[0]

    # One statement per level of loading (authorizations, cards, merchants, transfers,
    # schemes, institutions, accounts ...), whatever the number of authorizations.
    assert await statements_for(keys[:2]) == await statements_for(keys) <= 12


async def test_the_acquirer_of_a_declined_attempt_learns_nothing_of_the_card(api):
    ids = await build(api)
    boc = await api.new_key(Role.PARTICIPANT, pk(ids["boc"]))  # acquirer in Shanghai, not the issuer
    declined = await authorize(api, ids["shanghai"], "mir", "10.00", "CNY", key=boc, expiryYear=2030)
    auth = declined["authorization"]
    assert auth["responseCode"] == "54" and auth["card"] is None
    node = "query($id: ID!) { node(id: $id) { ... on Card { expiryYear } } }"
    assert (await api(node, {"id": ids["mir"]}, key=boc))["node"] is None
    assert (await api(LOOKUP, {"id": auth["authorizationId"]}))["authorization"]["card"] is not None  # the operator


async def test_odd_inputs_are_declines_or_errors_never_faults(api):
    ids = await build(api)
    # A suspension reason of the longest kind still makes a stored decline 62.
    await membership(api, "VISA", ids["sber"], ["ISSUER"], "SUSPENDED", "x" * 200)
    visa = (await authorize(api, ids["hotel"], "visa", "10.00", "CNY"))["authorization"]
    assert visa["responseCode"] == "62" and len(visa["declineReason"]) <= 200
    # An amount beyond any column: decline 13; capture and refund: INVALID_INPUT.
    huge = (await authorize(api, ids["moscow"], "mir", "9" * 40, "RUB"))["authorization"]
    assert huge["responseCode"] == "13"
    approved = (await authorize(api, ids["moscow"], "mir", "10.00", "RUB"))["authorization"]["authorizationId"]
    errors = (await api(CAPTURE, {"id": approved, "amount": "9" * 40}))["capturePayment"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", ["amount"])]
    assert (await api(CAPTURE, {"id": approved}))["capturePayment"]["errors"] == []
    refund = {"refundId": str(uuid.uuid4()), "authorizationId": approved, "amount": "9" * 40}
    errors = (await api(REFUND, {"input": refund}))["refundPayment"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", ["input", "amount"])]
    # A conversion whose cardholder amount no 64-bit column holds: decline 13.
    deep = await send(api, transfer(ids["issue CNY"], ids["fx CNY"], "90000000000000000.00", currency="CNY"))
    assert deep[0]["errors"] == []
    converted = (await authorize(api, ids["shanghai"], "mir", "90000000000000000.00", "CNY"))["authorization"]
    assert converted["responseCode"] == "13" and "too large" in converted["declineReason"]


async def test_forbidden_nested_fields_cancel_siblings_without_breaking_the_request(api):
    """The acquirer may see the card's account and the legs, not their balances: those
    errors null their parents, graphql-core cancels sibling fields mid-statement, and the
    request still answers 200 with the errors, and the next request works."""
    ids = await build(api)
    boc = await api.new_key(Role.PARTICIPANT, pk(ids["boc"]))
    key = (await authorize(api, ids["shanghai"], "mir", "1.00", "CNY", key=boc))["authorization"]["authorizationId"]
    selection = (
        "card { account { id name balance { amount } available { amount } owner { bic } } } "
        "transfers { debitAccount { id name balance { amount } available { amount } } "
        "creditAccount { name balance { amount } } }"
    )
    for _ in range(3):
        response = await api.post(
            f"query($id: UUID!) {{ authorization(authorizationId: $id) {{ {selection} }} }}", {"id": key}, key=boc
        )
        assert response.status_code == 200
        body = response.json()
        assert {error["extensions"]["code"] for error in body["errors"]} == {"FORBIDDEN"}
        assert (await api(LOOKUP, {"id": key}, key=boc))["authorization"]["state"] == "APPROVED"


async def test_a_co_badged_card_routes_around_a_scheme_that_suspended_its_issuer(api):
    ids = await build(api)
    # Both of the co-badged card's schemes reach the Visa hotel; Sberbank is then suspended on MIR.
    await link(api, "MIR", "VISA", fee_bps=10)
    await link(api, "UNIONPAY", "VISA", fee_bps=20)
    first = (await authorize(api, ids["hotel"], "cobadge", "10.00", "CNY"))["authorization"]
    assert (first["responseCode"], first["route"], first["fee"]["amount"]) == ("00", "INTERSCHEME", "0.01")  # MIR's
    await membership(api, "MIR", ids["sber"], ["ISSUER", "ACQUIRER"], "SUSPENDED", "test")
    around = (await authorize(api, ids["hotel"], "cobadge", "10.00", "CNY"))["authorization"]
    assert (around["responseCode"], around["scheme"], around["fee"]["amount"]) == ("00", {"code": "VISA"}, "0.02")
    # The Mir-only card has no way around: 62.
    assert (await authorize(api, ids["hotel"], "mir", "10.00", "CNY"))["authorization"]["responseCode"] == "62"
