"""The card group commit (corridor/batcher.py, resolvers/cards/orders.py): concurrent
authorizations and captures at one merchant share transactions, and each is still
decided as if alone. Many cards pay at once, each twice where its funds cover only one
payment, beside requests that are declined or refused: no money is lost or duplicated
(the merchant holds exactly the approved amounts, each card exactly its own), every
card gets exactly one approval and one decline 51, and a declined or refused request
does not fail its neighbours. Then a capture whose hold was voided by other means
fails the group's transaction while it resolves the holds: the group is written again
request by request, and only that capture fails. On PostgreSQL these are real concurrent transactions
(two group commits' worth of connections); on SQLite they serialize."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import event

import resolvers.cards as cards
from tests.card_world import AUTHORIZE, CAPTURE, authorize_input, build, issue
from tests.ledger_world import VOID, account, balances, send, transfer
from tests.test_card_payments_concurrency import assert_ledger_balanced, count
from tests.test_cards_issuing import luhn

CARDS = 12
FUNDS = "100.00"  # each card's account: one payment of PAYMENT fits, two do not
PAYMENT = "60.00"


@pytest.fixture
def batches(monkeypatch) -> list[int]:
    """The size of every group the card group commit writes (the same function, counted)."""
    sizes: list[int] = []
    write = cards.write_card_orders

    async def counted(session, orders, **kwargs):
        sizes.append(len(orders))
        return await write(session, orders, **kwargs)

    monkeypatch.setattr(cards, "write_card_orders", counted)
    return sizes


async def _cards(api, ids: dict) -> list[tuple[str, str]]:
    """CARDS Mir cards of Sberbank, each on its own account funded with FUNDS: (pan, account)."""
    made = []
    for k in range(CARDS):
        holder = await account(api, ids["sber"], f"Holder {k}", "RUB", "CUSTOMER")
        made.append((luhn(f"2200{k:03d}"), holder))
    results = await send(api, *(transfer(ids["issue RUB"], holder, FUNDS) for _, holder in made))
    assert all(r["errors"] == [] for r in results), results
    for pan, holder in made:
        await issue(api, pan, holder)
    return made


def _not_luhn(pan: str) -> str:
    return pan[:-1] + str((int(pan[-1]) + 1) % 10)


async def _all_at_once(api, calls: list[tuple[str, dict]]) -> list[dict]:
    bodies = await asyncio.gather(*(api.raw(query, variables) for query, variables in calls))
    assert all("errors" not in body for body in bodies), bodies
    return [body["data"] for body in bodies]


async def test_concurrent_card_payments_at_one_merchant_are_each_decided_as_if_alone(api, batches):
    ids = await build(api)
    made = await _cards(api, ids)
    moscow = ids["moscow"]
    shop_before = await balances(api, ids["shop_rub"])
    rows_before = await count(api, "card_authorization")
    twin = authorize_input(moscow, made[0][0], "1.00", "RUB")
    calls = [(AUTHORIZE, authorize_input(moscow, pan, PAYMENT, "RUB")) for pan, _ in made for _ in range(2)]
    calls += [
        (AUTHORIZE, authorize_input(moscow, _not_luhn(made[3][0]), PAYMENT, "RUB")),  # 14
        (AUTHORIZE, authorize_input(moscow, made[1][0], PAYMENT, "XAU")),  # not the merchant's currency: an error
        (AUTHORIZE, authorize_input(moscow, made[2][0], "0.001", "RUB")),  # 13
        (AUTHORIZE, twin),
        (AUTHORIZE, twin),  # the same request again: one authorization, one hold
    ]
    answers = [data["authorizePayment"] for data in await _all_at_once(api, calls)]

    assert max(batches) > 1, batches  # the requests did share transactions
    by_card: dict[str, list[str]] = {}
    for (_, variables), answer in zip(calls[: 2 * CARDS], answers, strict=False):
        assert answer["errors"] == [], answer
        by_card.setdefault(variables["input"]["pan"], []).append(answer["authorization"]["responseCode"])
    # Per card, whichever came first holds the funds, the other is declined for want of them.
    assert all(sorted(codes) == ["00", "51"] for codes in by_card.values()), by_card
    luhn_fail, wrong_currency, tiny, first_twin, second_twin = answers[2 * CARDS :]
    assert luhn_fail["authorization"]["responseCode"] == "14"
    assert wrong_currency["authorization"] is None and wrong_currency["errors"][0]["code"] == "CURRENCY_MISMATCH"
    assert tiny["authorization"]["responseCode"] == "13"
    assert first_twin == second_twin and first_twin["authorization"]["responseCode"] == "00"  # 60.00 + 1.00 fit

    approved = [a["authorization"] for a in answers[:-1] if a["authorization"] and a["authorization"]["approved"]]
    assert len(approved) == CARDS + 1
    assert all(len(a["transfers"]) == 1 and a["transfers"][0]["state"] == "PENDING" for a in approved)
    assert await count(api, "card_authorization") == rows_before + 2 * CARDS + 3  # each outcome once, no error's
    for _, holder in made[1:]:  # each card holds exactly its one payment
        assert Decimal((await balances(api, holder))["debitsPending"]) == Decimal(PAYMENT)
    held = sum(Decimal(a["amount"]["amount"]) for a in approved)
    shop = await balances(api, ids["shop_rub"])
    assert Decimal(shop["creditsPending"]) - Decimal(shop_before["creditsPending"]) == held
    await assert_ledger_balanced(api)

    # One hold is voided by other means: that capture fails while it resolves the holds,
    # which fails the group's transaction; each capture is then written alone, and only
    # that one fails.
    poisoned = approved[0]
    voided = (await api(VOID, {"id": poisoned["transfers"][0]["transferId"]}))["voidTransfer"]
    assert voided["errors"] == [] and voided["transfer"]["state"] == "VOIDED", voided
    batches.clear()
    captures = [(CAPTURE, {"id": a["authorizationId"]}) for a in approved]
    results = [data["capturePayment"] for data in await _all_at_once(api, captures)]

    assert max(batches) > 1, batches
    assert results[0]["authorization"] is None and results[0]["errors"][0]["code"] == "TRANSFER_NOT_PENDING"
    assert all(r["errors"] == [] and r["authorization"]["state"] == "CAPTURED" for r in results[1:]), results
    captured = sum(Decimal(a["amount"]["amount"]) for a in approved[1:])
    shop = await balances(api, ids["shop_rub"])
    assert Decimal(shop["creditsPosted"]) - Decimal(shop_before["creditsPosted"]) == captured
    assert Decimal(shop["creditsPending"]) == Decimal(shop_before["creditsPending"])
    await assert_ledger_balanced(api)


async def test_an_idle_server_writes_a_card_request_at_once(api, batches):
    ids = await build(api)
    answer = (await api(AUTHORIZE, authorize_input(ids["moscow"], "mir", "5.00", "RUB")))["authorizePayment"]
    assert answer["authorization"]["approved"], answer
    assert batches == [1]
    missing = (await api(CAPTURE, {"id": str(uuid.uuid4())}))["capturePayment"]
    assert missing["errors"][0]["code"] == "NOT_FOUND" and batches == [1, 1]


@pytest.fixture
def group_statements(api, monkeypatch) -> list[tuple[int, int]]:
    """(orders, statements) of every group the card group commit writes: the statements
    of the group's transaction (its connection's alone)."""
    groups: list[tuple[int, int]] = []
    write = cards.write_card_orders

    async def counted(session, orders, **kwargs):
        connection = (await session.connection()).sync_connection
        sent = [0]

        def before(conn, *_args):
            sent[0] += conn is connection

        event.listen(api.engine.sync_engine, "before_cursor_execute", before)
        try:
            return await write(session, orders, **kwargs)
        finally:
            event.remove(api.engine.sync_engine, "before_cursor_execute", before)
            groups.append((len(orders), sent[0]))

    monkeypatch.setattr(cards, "write_card_orders", counted)
    return groups


def _per_order(api, legs: int) -> int:
    """SQLite writes the new authorizations and the resolved holds (`legs` a payment) a row
    each, in-process."""
    return 0 if api.dialect == "postgresql" else 1 + legs


async def test_a_group_costs_the_same_statements_whatever_its_size(api, group_statements):
    """The cards, accounts, schemes and memberships of all a group's authorizations read
    once, all its captures' authorizations locked at once and their holds resolved in one
    statement on PostgreSQL (the holds read once before the locks, by the capture, and once
    under them); so a group of a dozen payments costs about what a group of one does
    (before, 12 authorizations cost 48 statements and 12 captures 60, then 16)."""
    ids = await build(api)
    made = await _cards(api, ids)
    keys = [str(uuid.uuid4()) for _ in made]
    authorized = await _all_at_once(
        api,
        [
            (AUTHORIZE, authorize_input(ids["moscow"], pan, "1.00", "RUB", authorization_id=key))
            for (pan, _), key in zip(made, keys, strict=True)
        ],
    )
    assert all(a["authorizePayment"]["authorization"]["approved"] for a in authorized)
    captured = await _all_at_once(api, [(CAPTURE, {"id": key}) for key in keys])
    assert all(c["capturePayment"]["authorization"]["state"] == "CAPTURED" for c in captured)
    assert max(size for size, _ in group_statements) > 1, group_statements  # the requests did share transactions
    per_order = _per_order(api, legs=1)
    # 13 for the authorizations; 12 for the first captures, which also open the scheme's
    # settlement window (2 statements more than finding it).
    assert all(statements <= 13 + per_order * size for size, statements in group_statements), group_statements


async def test_a_group_of_conversions_reads_the_fx_market_once(api, group_statements):
    """Interscheme payments converted from RUB to CNY, at once: the scheme link, the scheme
    operator's FEE account, the rates in force and the FX providers' positions are read once
    for the group, not once per payment (before, 6 such authorizations cost 51 statements,
    5 more for each)."""
    ids = await build(api)
    holders = [await account(api, ids["sber"], f"Converter {k}", "RUB", "CUSTOMER") for k in range(CARDS)]
    funded = await send(api, *(transfer(ids["issue RUB"], holder, "1000.00") for holder in holders))
    assert all(r["errors"] == [] for r in funded), funded
    pans = [luhn(f"2200{700 + k}") for k in range(CARDS)]
    for pan, holder in zip(pans, holders, strict=True):
        await issue(api, pan, holder)
    keys = [str(uuid.uuid4()) for _ in pans]
    authorized = await _all_at_once(
        api,
        [
            (AUTHORIZE, authorize_input(ids["shanghai"], pan, "10.00", "CNY", authorization_id=key))
            for pan, key in zip(pans, keys, strict=True)
        ],
    )
    assert all(a["authorizePayment"]["authorization"]["approved"] for a in authorized), authorized
    captured = await _all_at_once(api, [(CAPTURE, {"id": key}) for key in keys])
    assert all(c["capturePayment"]["authorization"]["state"] == "CAPTURED" for c in captured)
    assert max(size for size, _ in group_statements) > 1, group_statements
    per_order = _per_order(api, legs=3)  # the cardholder's, the merchant's, the fee
    # 26: the first group also opens the operator's CNY FEE account (4 statements).
    assert all(statements <= 26 + per_order * size for size, statements in group_statements), group_statements
    await assert_ledger_balanced(api)


async def _pay_cny_at_once(api, ids: dict, funds: list[str], first_pan: int, *transfers: dict) -> list[str]:
    """A Mir card per amount of `funds`, each on a Sberbank RUB account funded with it (in
    one createTransfers with `transfers`), all paying 10.00 CNY at the Shanghai merchant at
    once: their response codes, in order."""
    holders = [await account(api, ids["sber"], f"Traveller {k}", "RUB", "CUSTOMER") for k in range(len(funds))]
    funded = await send(
        api, *transfers, *(transfer(ids["issue RUB"], h, f) for h, f in zip(holders, funds, strict=True))
    )
    assert all(r["errors"] == [] for r in funded), funded
    pans = [luhn(f"2200{first_pan + k}") for k in range(len(funds))]
    for pan, holder in zip(pans, holders, strict=True):
        await issue(api, pan, holder)
    answers = await _all_at_once(
        api, [(AUTHORIZE, authorize_input(ids["shanghai"], pan, "10.00", "CNY")) for pan in pans]
    )
    return [answer["authorizePayment"]["authorization"]["responseCode"] for answer in answers]


@pytest.mark.parametrize("poor_first", [False, True])
async def test_conversions_in_one_group_are_priced_on_the_funds_the_ones_before_leave(api, batches, poor_first):
    """Card payments in CNY from RUB cards, at once: a cheaper FX provider whose CNY
    position pays one of them, a dearer one with plenty, and a card too poor to pay. Each
    is decided as if alone and in order: one conversion from the cheaper provider, the
    others from the dearer (none declined for the cheaper one's spent funds), the poor
    card declined 51 (when its refusal came before a conversion priced after it, the group
    is written again request by request)."""
    ids = await build(api)
    cheap = (
        await api(
            'mutation { createInstitution(input: {name: "Cheap FX", bic: "CHFXAEAD", countryCode: "AE", '
            "kind: FX_PROVIDER, spreadBps: 10}) { institution { id } } }"
        )
    )["createInstitution"]["institution"]["id"]
    cheap_rub = await account(api, cheap, "RUB position", "RUB", "FX_POSITION")
    cheap_cny = await account(api, cheap, "CNY position", "CNY", "FX_POSITION")
    funds = ["1000.00", "1000.00", "1000.00", "1.00"]  # 1.00 RUB cannot pay 10.00 CNY
    if poor_first:
        funds.reverse()
    poor = funds.index("1.00")
    one_payment = transfer(ids["issue CNY"], cheap_cny, "15.00", currency="CNY")  # of 10.00, not two
    codes = await _pay_cny_at_once(api, ids, funds, 900, one_payment)

    assert max(batches) > 1, batches
    assert codes == ["51" if k == poor else "00" for k in range(4)], codes
    if not poor_first:  # priced in one go: no request written twice
        assert sum(batches) == 4, batches
    assert (await balances(api, cheap_cny))["debitsPending"] == "10.00"
    assert (await balances(api, ids["fx CNY"]))["debitsPending"] == "20.00"
    assert (await balances(api, cheap_rub))["creditsPending"] != "0.00"
    await assert_ledger_balanced(api)


async def test_a_conversion_declined_for_funds_a_refused_hold_left_is_decided_again(api, batches):
    """A poor card's conversion priced first takes the only FX funds on paper; the ledger
    then refuses its holds (51). The next card's conversion, priced on those funds as
    spent, found no liquidity: the group is written again request by request, and that
    card pays, as it would have alone after the refusal."""
    ids = await build(api)
    drained = await send(api, transfer(ids["fx CNY"], ids["issue CNY"], "100000.00", currency="CNY"))
    assert drained[0]["errors"] == [], drained  # the only FX provider's CNY funds: none left
    refill = await send(api, transfer(ids["issue CNY"], ids["fx CNY"], "12.00", currency="CNY"))
    assert refill[0]["errors"] == [], refill  # enough for one payment of 10.00, not two
    codes = await _pay_cny_at_once(api, ids, ["1.00", "1000.00"], 950)

    assert max(batches) > 1, batches
    assert codes == ["51", "00"], codes
    assert (await balances(api, ids["fx CNY"]))["debitsPending"] == "10.00"
    await assert_ledger_balanced(api)
