"""Card payments as a property, through the endpoint: a random payment on one of five
routes, a random authorized amount, a capture in full or in part, then a random
sequence of refunds (parts, a few minor units, the rest), over-refunds and replays;
amounts, captures and refunded totals are drawn often at the link fee's rounding edges.

After every step the whole ledger is read back (SQL over `account`) and compared with
the state before the example, account by account, against a model of the README's
rules worked out here in integers:

- hold: the card's account holds `cardholderAmount` H (the merchant's amount A when the
  currencies agree; else A converted at the provider's rate, rounded up); the merchant
  is held A - fee(A), the scheme operator's FEE account fee(A), fee = feeBps of the
  amount rounded half-even;
- capture of C: the cardholder pays cc = ceil(H x C / A) (never more than was held), the
  merchant and the fee account get C between them, fee(C) to the fee account;
- refunds totalling R: the cardholder gets back floor(cc x R / C) on running totals, the
  merchant and the operator pay back R between them, the fee in proportion (within one
  minor unit of fee(C) x R / C); refunding all of C returns every account of the ledger
  to its balances before the authorization;
- a refund beyond what is left (or whose cardholder share rounds to zero) is
  INVALID_INPUT on ["input", "amount"] and changes nothing; a replayed refundId or
  capture changes nothing;
- always: every currency sums to zero (posted and pending) and no account but an
  ISSUANCE account has negative available.

The network is built once per test function (per engine); each example uses new
authorization and refund ids and compares with a snapshot taken at its start."""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from math import gcd

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.card_world import CAPTURE, LOOKUP, REFUND, authorize, build, issue
from tests.ledger_world import account, pk, send, transfer
from tests.test_cards_issuing import luhn

CENT = Decimal("0.01")  # RUB and CNY both have two decimal places
SPREAD = Decimal("0.9975")  # the FX provider's 25 bps (tests/card_world.py)
RUB_CNY = Decimal("0.0781")
with localcontext() as _context:
    _context.prec = 12  # an inverse rate is 1 / rate to 12 significant digits
    CNY_RUB = Decimal(1) / RUB_CNY
# The provider's rate after its spread, from the card's currency to the merchant's.
PROVIDER_RATE = {("RUB", "CNY"): RUB_CNY * SPREAD, ("CNY", "RUB"): CNY_RUB * SPREAD}
# A UnionPay card of Sberbank (an ACTIVE UnionPay issuer) on a RUB account: in Moscow it
# pays through the UNIONPAY -> MIR link (30 bps) with no conversion.
SBER_UNIONPAY = luhn("6299887")
# Before each example the card's account and both FX positions have at least this
# available (minor units): far more than one payment moves (at most about 40,000 RUB
# or 3,200 CNY), so no example is declined 51 or 05.
FLOOR = 100_000_00


@dataclass(frozen=True)
class Route:
    merchant: str  # keys of the network's ids
    card: str  # a key of card_world's PANS, or a PAN
    card_account: str
    merchant_account: str
    currency: str  # the merchant's
    card_currency: str
    route: str
    fee_bps: int
    max_amount: int  # minor units of the merchant's currency


ROUTES = {
    "mir in shanghai": Route("shanghai", "mir", "ivan", "shop_cny", "CNY", "RUB", "INTERSCHEME", 50, 3000_00),
    "unionpay in moscow": Route("moscow", "unionpay", "li", "shop_rub", "RUB", "CNY", "INTERSCHEME", 30, 40000_00),
    "mir in moscow": Route("moscow", "mir", "ivan", "shop_rub", "RUB", "RUB", "DOMESTIC", 0, 40000_00),
    "sber unionpay in moscow": Route(
        "moscow", SBER_UNIONPAY, "olga", "shop_rub", "RUB", "RUB", "INTERSCHEME", 30, 40000_00
    ),
    "co-badged in shanghai": Route("shanghai", "cobadge", "anna", "shop_cny", "CNY", "RUB", "DOMESTIC", 0, 3000_00),
}
# Examples per engine; raise it for a longer search (300 take about a minute per engine).
EXAMPLES = int(os.environ.get("CORRIDOR_CARD_PROPERTY_EXAMPLES", "40"))
STEPS = ("part", "small", "edge", "rest", "over", "replay")


# ---------------------------------------------------------------- arithmetic, independent of the service


def half_even(numerator: int, denominator: int) -> int:
    return int((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), ROUND_HALF_EVEN))


def link_fee(amount: int, bps: int) -> int:
    return half_even(amount * bps, 10_000)


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def near_fee_edges(bps: int, most: int) -> st.SearchStrategy[int]:
    """Amounts (1 to `most`) at or next to where the fee rounds half-even (amount x bps
    ends in exactly half a minor unit), where a rounding slip shows; any amount when the
    route takes no fee."""
    if not bps:
        return st.integers(1, most)
    period = 10_000 // gcd(bps, 10_000)
    first = next(a for a in range(1, period + 1) if a * bps % 10_000 == 5_000)
    edges = st.builds(lambda k, d: first + period * k + d, st.integers(0, most // period), st.integers(-1, 1))
    return edges.map(lambda a: min(max(a, 1), most))


def minor(amount: str) -> int:
    value = Decimal(amount).scaleb(2)
    assert value == value.to_integral_value(), amount
    return int(value)


def text_of(amount: int) -> str:
    return str(Decimal(amount).scaleb(-2).quantize(CENT))


# ---------------------------------------------------------------- the ledger, read back


@dataclass(frozen=True)
class Row:
    currency: str
    kind: str
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int

    @property
    def balance(self) -> int:
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        return self.balance - self.debits_pending


async def snapshot(api) -> dict[int, Row]:
    async with api.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT id, currency_code, kind, debits_pending, debits_posted, credits_pending, credits_posted "
                "FROM account"
            )
        )
        return {row[0]: Row(row[1], str(row[2]), *(int(v) for v in row[3:])) for row in rows}


def check_ledger(ledger: dict[int, Row]) -> None:
    """Every currency sums to zero, posted and pending; nothing but ISSUANCE below zero."""
    posted: dict[str, int] = defaultdict(int)
    pending: dict[str, int] = defaultdict(int)
    for row in ledger.values():
        posted[row.currency] += row.credits_posted - row.debits_posted
        pending[row.currency] += row.credits_pending - row.debits_pending
    assert all(total == 0 for total in posted.values()), dict(posted)
    assert all(total == 0 for total in pending.values()), dict(pending)
    short = {k: row for k, row in ledger.items() if row.kind != "ISSUANCE" and row.available < 0}
    assert not short, short


def deltas(start: dict[int, Row], now: dict[int, Row]) -> dict[int, tuple[int, int, int]]:
    """Per account that moved: (balance, debits pending, credits pending) less at the start."""
    zero = Row("", "", 0, 0, 0, 0)
    moved = {}
    for key in start.keys() | now.keys():
        before, after = start.get(key, zero), now.get(key, zero)
        change = (
            after.balance - before.balance,
            after.debits_pending - before.debits_pending,
            after.credits_pending - before.credits_pending,
        )
        if any(change):
            moved[key] = change
    return moved


def fee_account(ledger: dict[int, Row], currency: str) -> int | None:
    found = [key for key, row in ledger.items() if row.kind == "FEE" and row.currency == currency]
    assert len(found) <= 1, found  # one scheme operator takes fees in each currency here
    return found[0] if found else None


class Model:
    """The expected change of every account since the example's start."""

    def __init__(self) -> None:
        self.change: dict[int | None, list[int]] = defaultdict(lambda: [0, 0, 0])

    def hold(self, debit: int, credit: int | None, amount: int) -> None:
        if amount:
            assert credit is not None, "a positive hold needs its account"
            self.change[debit][1] += amount
            self.change[credit][2] += amount

    def move(self, debit: int, credit: int | None, amount: int) -> None:
        if amount:
            assert credit is not None, "a positive transfer needs its account"
            self.change[debit][0] -= amount
            self.change[credit][0] += amount

    def expected(self) -> dict[int, tuple[int, int, int]]:
        return {key: tuple(value) for key, value in self.change.items() if any(value)}


# ---------------------------------------------------------------- the network, once per test function

_WORLDS: dict[str, dict] = {}  # the `api` fixture's OPERATOR key (new for each test) -> its network


async def world(api) -> dict:
    ids = _WORLDS.get(api.key)
    if ids is None:
        ids = await build(api)
        ids["olga"] = await account(api, ids["sber"], "Olga Sokolova", "RUB", "CUSTOMER")
        await issue(api, SBER_UNIONPAY, ids["olga"])
        _WORLDS.clear()
        _WORLDS[api.key] = ids
    return ids


async def top_up(api, ids: dict, route: Route) -> None:
    """Fund the card's account and the FX positions from the central banks when low."""
    ledger = await snapshot(api)
    wanted = [(ids[route.card_account], route.card_currency), (ids["fx RUB"], "RUB"), (ids["fx CNY"], "CNY")]
    transfers = [
        transfer(ids[f"issue {currency}"], global_id, text_of(2 * FLOOR - ledger[pk(global_id)].available), currency)
        for global_id, currency in wanted
        if ledger[pk(global_id)].available < FLOOR
    ]
    if transfers:
        results = await send(api, *transfers)
        assert all(r["errors"] == [] for r in results), results


# ---------------------------------------------------------------- the property


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(route_name=st.sampled_from(list(ROUTES)), data=st.data())
async def test_capture_and_refunds_keep_the_ledger_whole_and_unwind_exactly(api, route_name, data):
    ids = await world(api)
    route = ROUTES[route_name]
    event(route_name)
    cross = route.card_currency != route.currency
    await top_up(api, ids, route)
    start = await snapshot(api)
    check_ledger(start)

    card, merchant = pk(ids[route.card_account]), pk(ids[route.merchant_account])
    fx_card, fx_merchant = pk(ids[f"fx {route.card_currency}"]), pk(ids[f"fx {route.currency}"])
    bps = route.fee_bps

    # ---- authorize A
    amount = data.draw(
        st.one_of(st.integers(1, 500), st.integers(1, route.max_amount), near_fee_edges(bps, route.max_amount)),
        label="amount",
    )
    payload = await authorize(api, ids[route.merchant], route.card, text_of(amount), route.currency)
    assert payload["errors"] == [], payload
    auth = payload["authorization"]
    key = auth["authorizationId"]
    assert (auth["responseCode"], auth["approved"], auth["state"], auth["route"]) == (
        "00",
        True,
        "APPROVED",
        route.route,
    ), auth
    assert auth["amount"] == {"amount": text_of(amount), "currency": route.currency}
    assert auth["cardholderAmount"]["currency"] == route.card_currency
    held = minor(auth["cardholderAmount"]["amount"])
    if cross:  # converted at the provider's rate and rounded up: never in the cardholder's favour
        rate = PROVIDER_RATE[(route.card_currency, route.currency)]
        assert held * rate >= amount > (held - 1) * rate, (held, amount, rate)
    else:
        assert held == amount
    if route.route == "INTERSCHEME":
        assert auth["fee"] == {"amount": text_of(link_fee(amount, bps)), "currency": route.currency}
    else:
        assert auth["fee"] is None

    ledger = await snapshot(api)
    check_ledger(ledger)
    fees = fee_account(ledger, route.currency)
    payer = fx_merchant if cross else card
    model = Model()
    if cross:
        model.hold(card, fx_card, held)
    model.hold(payer, merchant, amount - link_fee(amount, bps))
    model.hold(payer, fees, link_fee(amount, bps))
    assert deltas(start, ledger) == model.expected()
    assert ledger[card].available - start[card].available == -held

    # ---- capture C (in full, without an amount, or a part)
    capture = data.draw(st.sampled_from(("full", "part", "edge")), label="capture")
    if capture == "full":
        captured, variables = amount, {"id": key}
    else:
        part = st.integers(1, amount) if capture == "part" else near_fee_edges(bps, amount)
        captured = data.draw(part, label="captured")
        variables = {"id": key, "amount": text_of(captured)}
    event(f"capture: {capture}")
    answer = (await api(CAPTURE, variables))["capturePayment"]
    assert answer["errors"] == [], answer
    auth = answer["authorization"]
    assert auth["state"] == "CAPTURED"
    assert auth["capturedAmount"] == {"amount": text_of(captured), "currency": route.currency}
    assert auth["refundedAmount"]["amount"] == "0.00"
    paid = ceil_div(held * captured, amount)  # the cardholder's share of the capture, rounded up
    assert paid <= held
    fee_charged = link_fee(captured, bps)

    refunded, given_back, fee_left = 0, 0, fee_charged
    done: list[dict] = []  # refunds that took effect, to replay

    async def verify(previous: dict[int, Row] | None = None) -> dict[int, Row]:
        """The ledger after a step: the invariants, the properties, the whole model."""
        nonlocal fee_left
        now = await snapshot(api)
        check_ledger(now)
        if previous is not None:  # a refused or replayed request
            assert now == previous
        stored = (await api(LOOKUP, {"id": key}))["authorization"]
        assert stored["state"] == "CAPTURED"
        assert minor(stored["capturedAmount"]["amount"]) == captured
        assert minor(stored["refundedAmount"]["amount"]) == refunded <= captured
        fee_id = fee_account(now, route.currency)
        assert fees is None or fee_id == fees
        fee_now = 0 if fee_id is None else now[fee_id].balance - (start[fee_id].balance if fee_id in start else 0)
        merchant_now = now[merchant].balance - start[merchant].balance
        card_now = now[card].balance - start[card].balance
        # The cardholder pays at most what was held, and gets back floor(paid x R / C).
        assert -held <= card_now == -(paid - given_back), (card_now, held, paid, given_back)
        # The merchant and the scheme operator hold between them what was captured and not refunded.
        assert merchant_now + fee_now == captured - refunded, (merchant_now, fee_now, captured, refunded)
        # The fee left is the fee on the capture less its proportional return (within a minor unit).
        assert 0 <= fee_now <= fee_left, (fee_now, fee_left)
        assert abs(fee_now * captured - fee_charged * (captured - refunded)) <= captured, (fee_now, refunded)
        assert merchant_now >= 0
        if route.route == "INTERSCHEME":
            assert minor(stored["fee"]["amount"]) == fee_now
        else:
            assert stored["fee"] is None and fee_now == 0
        fee_left = fee_now
        # Every account of the ledger, not only these: nothing else moved, nothing is held.
        model = Model()
        if cross:
            model.move(card, fx_card, paid - given_back)
        model.move(payer, merchant, captured - refunded - fee_now)
        model.move(payer, fee_id, fee_now)
        assert deltas(start, now) == model.expected()
        if refunded == captured:  # everything refunded: every account back where it was
            assert deltas(start, now) == {}
            assert fee_now == 0
        return now

    ledger = await verify()
    assert fee_left == fee_charged  # the fee is charged on the captured amount
    # Capturing again for the same amount is a replay and moves nothing.
    again = (await api(CAPTURE, variables))["capturePayment"]
    assert again["errors"] == [] and again["authorization"]["capturedAmount"] == auth["capturedAmount"]
    ledger = await verify(ledger)

    async def attempt_refund(value: int) -> None:
        nonlocal refunded, given_back, ledger
        left = captured - refunded
        item = {"refundId": str(uuid.uuid4()), "authorizationId": key, "amount": text_of(value)}
        answer = (await api(REFUND, {"input": item}))["refundPayment"]
        share = paid * (refunded + value) // captured - given_back if value <= left else 0
        if value > left or share == 0:
            # Beyond the captured amount, or a refund whose cardholder share rounds to zero.
            assert [(e["code"], e["field"]) for e in answer["errors"]] == [("INVALID_INPUT", ["input", "amount"])], (
                value,
                left,
                answer,
            )
            if value > left:
                assert text_of(left) in answer["errors"][0]["message"]
            event("refund refused: over the captured amount" if value > left else "refund refused: no cardholder share")
            ledger = await verify(ledger)
            return
        assert answer["errors"] == [], (value, left, answer)
        assert minor(answer["authorization"]["refundedAmount"]["amount"]) == refunded + value
        refunded += value
        given_back += share
        assert given_back == paid * refunded // captured
        done.append(item)
        ledger = await verify()
        if refunded == captured:
            event("refunded everything")

    steps = data.draw(st.lists(st.sampled_from(STEPS), max_size=6), label="steps")
    for step in steps:
        left = captured - refunded
        if step == "part":
            await attempt_refund(data.draw(st.integers(1, max(left, 1)), label="part"))
        elif step == "edge":  # a refund taking the refunded total to a fee rounding edge
            total = data.draw(near_fee_edges(bps, captured), label="refunded total")
            await attempt_refund(total - refunded if total > refunded else max(left, 1))
        elif step == "small":
            await attempt_refund(data.draw(st.integers(1, 5), label="small"))
        elif step == "rest":
            await attempt_refund(max(left, 1))
        elif step == "over":
            await attempt_refund(left + data.draw(st.integers(1, 100_000_00), label="over by"))
        elif done:  # a replay of a refund that took effect moves nothing
            item = data.draw(st.sampled_from(done), label="replayed")
            answer = (await api(REFUND, {"input": item}))["refundPayment"]
            assert answer["errors"] == [], answer
            assert minor(answer["authorization"]["refundedAmount"]["amount"]) == refunded
            ledger = await verify(ledger)
    if data.draw(st.booleans(), label="refund the rest") and refunded < captured:
        await attempt_refund(captured - refunded)
        assert refunded == captured
        # Nothing is left to refund: even a minor unit more is refused.
        await attempt_refund(1)
    assert refunded <= captured
