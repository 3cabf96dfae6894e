"""Card payments under concurrent clients, through the endpoint: many authorizations
draining one card, one authorizationId sent by many clients at once, captures racing
reversals, and refunds racing past the captured amount. On PostgreSQL these are real
concurrent transactions over the connection pool; on SQLite they serialize on the
write lock. Either way: no overdraft, no double hold, one effect, no over-refund."""

from __future__ import annotations

import asyncio
import uuid
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from sqlalchemy import text

from tests.card_world import AUTHORIZE, CAPTURE, LOOKUP, REFUND, REVERSE, authorize, authorize_input, build
from tests.ledger_world import balances

CLIENTS = 16
CARD_FUNDS = Decimal("50000.00")  # Ivan's RUB account behind the Mir card (tests/card_world.py)
CENTS = Decimal("0.01")  # RUB and CNY both have two decimal places

# Where the Mir card pays: in Moscow on its own scheme in its own currency (one hold, no
# fee), or in Shanghai through the MIR -> UNIONPAY link (50 bps) with RUB -> CNY conversion
# (three holds: card -> FX RUB position, FX CNY position -> merchant, and -> fee account).
ROUTES = {
    "domestic": {"merchant": "moscow", "currency": "RUB", "shop": "shop_rub", "fee_bps": 0, "legs": 1},
    "fx": {"merchant": "shanghai", "currency": "CNY", "shop": "shop_cny", "fee_bps": 50, "legs": 3},
}
ROUTE_NAMES = sorted(ROUTES)

FEE_ACCOUNTS = """
query($bic: String!) { institution(bic: $bic) { accounts { edges { node { id kind currency { code } } } } } }
"""


def minor(amount: str | Decimal) -> int:
    return int(Decimal(amount) / CENTS)


def link_fee(amount_minor: int, fee_bps: int) -> int:
    """The link fee in minor units, rounded half-even (worked out apart from the service)."""
    return int((Decimal(amount_minor) * fee_bps / 10_000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


async def count(api, table: str) -> int:
    async with api.engine.connect() as connection:
        return await connection.scalar(text(f"SELECT count(*) FROM {table}"))


async def assert_ledger_balanced(api) -> None:
    """Per currency, debits equal credits (posted and pending); no account other than an
    ISSUANCE account has a negative available balance."""
    async with api.engine.connect() as connection:
        sums = (
            await connection.execute(
                text(
                    "SELECT currency_code, sum(debits_posted) - sum(credits_posted), "
                    "sum(debits_pending) - sum(credits_pending) FROM account GROUP BY currency_code"
                )
            )
        ).all()
        negative = await connection.scalar(
            text(
                "SELECT count(*) FROM account "
                "WHERE kind <> 'ISSUANCE' AND credits_posted - debits_posted - debits_pending < 0"
            )
        )
    assert sums and all((posted, pending) == (0, 0) for _, posted, pending in sums), sums
    assert negative == 0


async def gather_raw(api, calls: list[tuple[str, dict]]) -> list[dict]:
    """Send every request at once; each answer's data, none of them a GraphQL error."""
    bodies = await asyncio.gather(*(api.raw(query, variables) for query, variables in calls))
    for body in bodies:
        assert "errors" not in body, body["errors"]
    return [body["data"] for body in bodies]


async def fee_accounts(api, bic: str, currency: str) -> list[str]:
    edges = (await api(FEE_ACCOUNTS, {"bic": bic}))["institution"]["accounts"]["edges"]
    return [e["node"]["id"] for e in edges if e["node"]["kind"] == "FEE" and e["node"]["currency"]["code"] == currency]


# ---------------------------------------------------------------- many authorizations on one card


AMOUNTS = {
    # 24 amounts, all different, together more than the card's 50,000.00 RUB can hold.
    "domestic": [Decimal(1500 + 100 * k) for k in range(24)],  # 63,600.00 RUB
    "fx": [Decimal(120 + 5 * k) for k in range(24)],  # 4,260.00 CNY, about 54,700 RUB
}


@pytest.mark.parametrize("route", ROUTE_NAMES)
async def test_concurrent_authorizations_never_hold_more_than_the_card_has(api, route):
    ids = await build(api)
    where = ROUTES[route]
    transfers_before = await count(api, "transfer")
    amounts = [f"{amount:.2f}" for amount in AMOUNTS[route]]
    calls = [(AUTHORIZE, authorize_input(ids[where["merchant"]], "mir", a, where["currency"])) for a in amounts]
    answers = [data["authorizePayment"] for data in await gather_raw(api, calls)]

    assert all(answer["errors"] == [] for answer in answers), answers
    outcomes = [answer["authorization"] for answer in answers]
    approved = [auth for auth in outcomes if auth["approved"]]
    declined = [auth for auth in outcomes if not auth["approved"]]
    assert {(a["responseCode"], a["state"]) for a in approved} <= {("00", "APPROVED")}
    # Every decline is for want of funds, and holds nothing.
    assert [(a["responseCode"], a["state"]) for a in declined] == [("51", "DECLINED")] * len(declined), declined
    assert all(a["transfers"] == [] and a["expiresAt"] is None for a in declined)
    assert declined, "the amounts together exceed the card's funds: some must be declined"
    assert len(approved) >= 10  # the card was drained, not merely refused

    held = sum(Decimal(a["cardholderAmount"]["amount"]) for a in approved)
    card = await balances(api, ids["ivan"])
    assert Decimal(card["debitsPending"]) == held
    assert Decimal(card["balance"]) == CARD_FUNDS and card["debitsPosted"] == "0.00"
    available = Decimal(card["available"])
    assert available == CARD_FUNDS - held and available >= 0
    # No decline was spurious: available only fell while the requests ran, so each
    # declined amount was more than what was left at the end (the card holds as many as fit).
    # (A decline for funds states what the cardholder would have paid, in the card's currency.)
    for auth in declined:
        assert auth["cardholderAmount"] is not None and auth["cardholderAmount"]["currency"] == "RUB", auth
        assert Decimal(auth["cardholderAmount"]["amount"]) > available, (auth, available)

    # Exactly the approved ones' holds exist, each pending, each linked to its authorization.
    assert all(
        len(a["transfers"]) == where["legs"] and {t["state"] for t in a["transfers"]} == {"PENDING"} for a in approved
    )
    assert await count(api, "card_authorization") == len(amounts)  # every outcome stored once
    assert await count(api, "card_payment_transfer") == where["legs"] * len(approved)
    assert await count(api, "transfer") == transfers_before + where["legs"] * len(approved)
    for auth in outcomes:  # what each client was told is what is stored
        stored = (await api(LOOKUP, {"id": auth["authorizationId"]}))["authorization"]
        assert (stored["responseCode"], stored["state"], stored["transfers"]) == (
            auth["responseCode"],
            auth["state"],
            auth["transfers"],
        )

    merchant_amount = sum(minor(a["amount"]["amount"]) for a in approved)
    fees = sum(link_fee(minor(a["amount"]["amount"]), where["fee_bps"]) for a in approved)
    shop = await balances(api, ids[where["shop"]])
    assert minor(shop["creditsPending"]) == merchant_amount - fees
    if route == "fx":
        # The fee account, opened on first use by racing requests, exists once.
        (fee_account,) = await fee_accounts(api, "UPICCNSH", "CNY")
        assert minor((await balances(api, fee_account))["creditsPending"]) == fees
        assert Decimal((await balances(api, ids["fx RUB"]))["creditsPending"]) == held
        assert minor((await balances(api, ids["fx CNY"]))["debitsPending"]) == merchant_amount
    await assert_ledger_balanced(api)


# ---------------------------------------------------------------- one authorizationId, many clients


@pytest.mark.parametrize("route", ROUTE_NAMES)
async def test_one_authorization_id_sent_by_many_clients_holds_once(api, route):
    ids = await build(api)
    where = ROUTES[route]
    transfers_before = await count(api, "transfer")
    amount = "3000.00" if route == "domestic" else "100.00"
    request = authorize_input(ids[where["merchant"]], "mir", amount, where["currency"])
    answers = [data["authorizePayment"] for data in await gather_raw(api, [(AUTHORIZE, request)] * CLIENTS)]

    first = answers[0]
    assert first["errors"] == [] and first["authorization"]["responseCode"] == "00", first
    assert first["authorization"]["authorizationId"] == request["input"]["authorizationId"]
    assert all(answer == first for answer in answers), [a for a in answers if a != first][:1]

    assert await count(api, "card_authorization") == 1
    assert await count(api, "card_payment_transfer") == where["legs"]
    assert await count(api, "transfer") == transfers_before + where["legs"]
    card = await balances(api, ids["ivan"])
    assert card["debitsPending"] == first["authorization"]["cardholderAmount"]["amount"]
    assert Decimal(card["available"]) == CARD_FUNDS - Decimal(card["debitsPending"])
    stored = (await api(LOOKUP, {"id": request["input"]["authorizationId"]}))["authorization"]
    assert stored == first["authorization"]
    await assert_ledger_balanced(api)


# ---------------------------------------------------------------- captures racing reversals


@pytest.mark.parametrize("route", ROUTE_NAMES)
async def test_concurrent_captures_and_reversals_resolve_an_authorization_once(api, route):
    ids = await build(api)
    where = ROUTES[route]
    amount = "3000.00" if route == "domestic" else "100.00"
    auth = (await authorize(api, ids[where["merchant"]], "mir", amount, where["currency"]))["authorization"]
    assert auth["approved"], auth
    key = auth["authorizationId"]
    transfers_before = await count(api, "transfer")
    accounts = [ids["ivan"], ids[where["shop"]], ids["fx RUB"], ids["fx CNY"]]
    if route == "fx":
        accounts += await fee_accounts(api, "UPICCNSH", "CNY")
    before = {account: await balances(api, account) for account in accounts}

    kinds = ["capture" if n % 2 == 0 else "reverse" for n in range(CLIENTS)]
    calls = [(CAPTURE, {"id": key}) if kind == "capture" else (REVERSE, {"id": key}) for kind in kinds]
    payloads = [data.get("capturePayment") or data.get("reversePayment") for data in await gather_raw(api, calls)]

    succeeded = {kind for kind, p in zip(kinds, payloads, strict=True) if p["errors"] == []}
    assert len(succeeded) == 1, payloads  # one kind of effect won
    (winner,) = succeeded
    state = "CAPTURED" if winner == "capture" else "REVERSED"
    final = None
    for kind, payload in zip(kinds, payloads, strict=True):
        if kind == winner:  # the effect itself, or a replay of it
            assert payload["authorization"]["state"] == state, payload
            final = final or payload
            assert payload == final
        else:
            assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_STATE", ["authorizationId"])], (
                payload
            )
            assert payload["authorization"] is None

    stored = (await api(LOOKUP, {"id": key}))["authorization"]
    assert stored == final["authorization"]
    assert {t["state"] for t in stored["transfers"]} == {"POSTED" if winner == "capture" else "VOIDED"}
    assert await count(api, "transfer") == transfers_before  # resolving moves holds, never adds transfers
    after = {account: await balances(api, account) for account in accounts}
    assert all(b["debitsPending"] == "0.00" and b["creditsPending"] == "0.00" for b in after.values()), after
    card_before, card_after = Decimal(before[ids["ivan"]]["balance"]), Decimal(after[ids["ivan"]]["balance"])
    shop_after = Decimal(after[ids[where["shop"]]]["balance"])
    if winner == "capture":
        assert stored["capturedAmount"]["amount"] == auth["amount"]["amount"]
        assert card_after == card_before - Decimal(auth["cardholderAmount"]["amount"])
        fee = link_fee(minor(auth["amount"]["amount"]), where["fee_bps"])
        assert minor(shop_after) == minor(auth["amount"]["amount"]) - fee
    else:
        assert stored["capturedAmount"] is None
        assert {a: b["balance"] for a, b in after.items()} == {a: b["balance"] for a, b in before.items()}
        assert card_after == CARD_FUNDS and shop_after == 0
    await assert_ledger_balanced(api)


# ---------------------------------------------------------------- refunds racing past the captured amount

# Twelve refunds of one 1,000.00 payment, 1,325.00 in all; the first four are also sent
# a second time with the same refundId (a replay must never count twice).
REFUNDS = ["150.00", "120.00", "90.00", "200.00", "60.00", "130.00", "110.00", "80.00", "170.00", "40.00", "100.00"]
REFUNDS.append("75.00")
TWINS = 4


@pytest.mark.parametrize("route", ROUTE_NAMES)
async def test_concurrent_refunds_never_refund_more_than_was_captured(api, route):
    ids = await build(api)
    where = ROUTES[route]
    auth = (await authorize(api, ids[where["merchant"]], "mir", "1000.00", where["currency"]))["authorization"]
    key = auth["authorizationId"]
    captured = (await api(CAPTURE, {"id": key}))["capturePayment"]
    assert captured["errors"] == [], captured
    captured_minor = minor(captured["authorization"]["capturedAmount"]["amount"])
    cardholder_minor = minor(captured["authorization"]["cardholderAmount"]["amount"])
    assert captured_minor == 100000

    refunds = [{"refundId": str(uuid.uuid4()), "authorizationId": key, "amount": a} for a in REFUNDS]
    sent = refunds + refunds[:TWINS]
    assert sum(Decimal(r["amount"]) for r in refunds) > Decimal("1000.00")
    payloads = [data["refundPayment"] for data in await gather_raw(api, [(REFUND, {"input": r}) for r in sent])]

    outcome: dict[str, bool] = {}  # refundId -> refunded
    for refund, payload in zip(sent, payloads, strict=True):
        ok = payload["errors"] == []
        if ok:
            assert payload["authorization"]["state"] == "CAPTURED"
        else:
            assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_INPUT", ["input", "amount"])], (
                refund,
                payload,
            )
        # A twin answers as its first did: refunded (a replay) or refused (too little left).
        assert outcome.setdefault(refund["refundId"], ok) == ok, (refund, payloads)
    done = [r for r in refunds if outcome[r["refundId"]]]
    refused = [r for r in refunds if not outcome[r["refundId"]]]
    refunded = sum(minor(r["amount"]) for r in done)
    assert refused, "the refunds together exceed the captured amount: some must be refused"
    assert 0 < refunded <= captured_minor
    left = captured_minor - refunded
    # Only what no longer fitted was refused: the amount left only shrank while they ran.
    for refund in refused:
        assert minor(refund["amount"]) > left, (refund, left)

    stored = (await api(LOOKUP, {"id": key}))["authorization"]
    assert minor(stored["refundedAmount"]["amount"]) == refunded
    assert stored["state"] == "CAPTURED"
    refund_legs = len([t for t in stored["transfers"] if t["state"] == "POSTED"]) - where["legs"]
    assert await count(api, "card_refund") == len(done)
    assert refund_legs == where["legs"] * len(done)  # each refund sends its legs back once
    assert await count(api, "card_payment_transfer") == where["legs"] * (1 + len(done))

    # Balances, worked out from the totals alone (refunds are computed on running totals,
    # so they do not depend on the order in which the racing refunds were applied).
    fee_bps = where["fee_bps"]
    back_to_card = cardholder_minor * refunded // captured_minor
    assert minor((await balances(api, ids["ivan"]))["balance"]) == minor(CARD_FUNDS) - cardholder_minor + back_to_card
    shop = await balances(api, ids[where["shop"]])
    fee_kept = link_fee(captured_minor, fee_bps) - link_fee(refunded, fee_bps)
    assert minor(shop["balance"]) == captured_minor - refunded - fee_kept
    if route == "fx":
        assert stored["fee"]["amount"] == f"{Decimal(fee_kept) * CENTS:.2f}"
        (fee_account,) = await fee_accounts(api, "UPICCNSH", "CNY")
        assert minor((await balances(api, fee_account))["balance"]) == fee_kept
        fx_rub = await balances(api, ids["fx RUB"])
        fx_cny = await balances(api, ids["fx CNY"])
        assert minor(fx_rub["balance"]) == minor("1000000.00") + cardholder_minor - back_to_card
        assert minor(fx_cny["balance"]) == minor("100000.00") - captured_minor + refunded
    else:
        assert cardholder_minor == captured_minor
    await assert_ledger_balanced(api)
