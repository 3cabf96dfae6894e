"""Interbank payments as a property, through the endpoint (both engines): random batches
of payments between the world's banks (tests/messaging_world.py), sent with sendPayment
or as pacs.008 documents of up to three transactions: random sender, receiver and
currency, a debtor account in the currency or another one (FX), amounts up to twice
the accounts' funds, the network named or left to routing, replays of earlier UETRs
(from this example, an earlier one, or the same document) and other content under an
earlier UETR.

Each request is predicted from the design's rules, worked out here: the network (named,
or the routing order: the issuing country's network, then global, then others; both
banks ACTIVE and the currency settled, else NO_ROUTE and nothing stored), RR04, AM03
(also for an FX pair without a rate), then funds on the debtor and, on RTGS, on the
sender's SETTLEMENT account (AM04); a stored UETR again with the same content is a
replay of it, with other content IDEMPOTENCY_CONFLICT. After each example:

- every currency's balances sum to zero (ISSUANCE included), nothing else is negative;
- a REJECTED payment has no transfers; a SETTLED one has exactly its legs' transfers,
  posted once (transfer rows per UETR = its legs), and its events once;
- each UETR is one payment, and the stored payments are exactly the predicted ones;
- replays answer the same payment id;
- the settled payments' transfers account for every balance change of the example.

The network is built once per test function (per engine); accounts that ran low are
topped up from the central banks before each example."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from schema.base import global_id
from tests.ledger_world import pk, send, transfer
from tests.messaging_world import HOLDINGS, build, send_payment
from tests.test_messaging_iso20022 import BICS, SUBMIT, TX, Tx, balances, check_ledger, moved, outcome, pacs008

BANKS = sorted({bank for bank, _ in HOLDINGS})
# Pairs of banks that share a network (drawn more often than any pair, so that more payments settle).
PAIRS = ["sber vtb", "sber boc", "vtb boc", "boc citi", "melli sber", "melli vtb"]
CORRIDORS = [tuple(p.split()) for p in PAIRS] + [tuple(reversed(p.split())) for p in PAIRS]
NETWORKS = {  # code -> (country, currencies, RTGS, ACTIVE members)
    "SWIFT": (None, {"USD", "EUR"}, True, {"boc", "citi"}),
    "SPFS": ("RU", {"RUB"}, False, {"sber", "vtb", "melli"}),
    "CIPS": ("CN", {"CNY", "RUB"}, True, {"sber", "vtb", "boc"}),
}
ISSUER = {"RU": "RUB", "CN": "CNY", "US": "USD"}
RATED = {("RUB", "CNY"), ("CNY", "RUB")}  # the pairs with a rate (CNYRUB)
# What one minor unit of the debtor's currency buys of the other, after the provider's spread.
FX_RATE = {"CNY": Decimal("12.5") * Decimal("0.9975"), "RUB": Decimal("0.08") * Decimal("0.9975")}
NETWORK_PATH = ["xml", "Document", "FIToFICstmrCdtTrf", "GrpHdr", "SttlmInf", "ClrSys", "Prtry"]
# Examples per engine; raise it for a longer search.
EXAMPLES = int(os.environ.get("CORRIDOR_MESSAGING_PROPERTY_EXAMPLES", "25"))
# kind -> (the available balance under which an account is topped up before an example, to what)
FUNDS = {"CUSTOMER": (300_00, 1000_00), "SETTLEMENT": (3000_00, 10000_00)}


@dataclass(frozen=True)
class Request:
    """One payment as asked for: world names, the debtor's currency, minor units."""

    uetr: str
    network: str | None
    sender: str
    receiver: str
    currency: str
    debtor_currency: str
    amount: int
    remittance: str | None

    def amount_text(self) -> str:
        return f"{self.amount // 100}.{self.amount % 100:02d}"

    def send_input(self, ids: dict) -> dict:
        item = {
            "uetr": self.uetr,
            "senderBic": BICS[self.sender],
            "receiverBic": BICS[self.receiver],
            "debtorAccountId": ids[f"{self.sender}_{self.debtor_currency.lower()}"],
            "creditorAccountId": ids[f"{self.receiver}_{self.currency.lower()}"],
            "amount": self.amount_text(),
            "currency": self.currency,
            "remittanceInformation": self.remittance,
        }
        return {**item, "networkCode": self.network} if self.network else item

    def tx(self, ids: dict) -> Tx:
        item = self.send_input(ids)
        debtor, creditor = item["debtorAccountId"], item["creditorAccountId"]
        amount, currency = item["amount"], self.currency
        return Tx(self.sender, self.receiver, amount, currency, debtor, creditor, self.uetr, self.remittance)


@dataclass
class Stored:
    """A payment the service stored: its request, id, network, status, reason and legs."""

    request: Request
    id: str
    network: str
    status: str
    reason: str | None
    legs: int


class World:
    """The network's ids, every payment stored so far (by UETR), and the model's view of
    each account's available balance during an example."""

    def __init__(self, ids: dict) -> None:
        self.ids = ids
        self.stored: dict[str, Stored] = {}
        self.available: dict[int, int] = {}
        self.changes: dict[int, int] = {}
        self.refused: set[str] = set()  # UETRs sent that stored nothing (NO_ROUTE)

    def account(self, bank: str, currency: str, settlement: bool = False) -> int | None:
        name = f"{bank}_{currency.lower()}" + ("_settlement" if settlement else "")
        return pk(self.ids[name]) if name in self.ids else None


_WORLDS: dict[str, World] = {}  # the `api` fixture's OPERATOR key (new for each test) -> its world


async def world(api) -> World:
    found = _WORLDS.get(api.key)
    if found is None:
        found = World(await build(api))
        _WORLDS.clear()
        _WORLDS[api.key] = found
    return found


async def top_up(api, ledger: dict) -> None:
    """Fund CUSTOMER and SETTLEMENT accounts that ran low from their currency's ISSUANCE account."""
    issuance = {row[0]: global_id("Account", key) for key, row in ledger.items() if row[1] == "ISSUANCE"}
    transfers = []
    for key, (currency, kind, balance, held) in ledger.items():
        floor, funds = FUNDS.get(kind, (None, None))
        if floor is not None and balance - held < floor:
            amount = Decimal(funds - balance + held).scaleb(-2)
            transfers.append(transfer(issuance[currency], global_id("Account", key), f"{amount:.2f}", currency))
    if transfers:
        results = await send(api, *transfers)
        assert all(r["errors"] == [] for r in results), results


# ---------------------------------------------------------------- the rules, worked out here


def routed(request: Request) -> str | None:
    """The network the service picks, or None (NO_ROUTE)."""

    def rank(code: str) -> tuple[int, str]:
        country = NETWORKS[code][0]
        return (0 if country and ISSUER.get(country) == request.currency else 1 if country is None else 2), code

    for code in sorted(NETWORKS, key=rank):
        _, currencies, _, members = NETWORKS[code]
        if {request.sender, request.receiver} <= members and request.currency in currencies:
            return code
    return None


def judged(request: Request, network: str) -> str | None:
    """The reason code of a rejection decided before any funds are looked at, or None."""
    _, currencies, _, members = NETWORKS[network]
    if not {request.sender, request.receiver} <= members:
        return "RR04"
    if request.currency not in currencies:
        return "AM03"
    if request.debtor_currency != request.currency and (request.debtor_currency, request.currency) not in RATED:
        return "AM03"
    return None


def debit_of(request: Request) -> int:
    """What the debtor pays, minor units: the amount, or converted at the provider's rate rounded up."""
    if request.debtor_currency == request.currency:
        return request.amount
    return int((request.amount / FX_RATE[request.debtor_currency]).to_integral_value(rounding=ROUND_CEILING))


def same_request(request: Request, stored: Stored) -> bool:
    """A replay: the same fields, naming the network it went on or, like it, none."""
    network_same = request.network == stored.network if request.network else stored.request.network is None
    fields = ("sender", "receiver", "currency", "debtor_currency", "amount", "remittance")
    return network_same and all(getattr(request, f) == getattr(stored.request, f) for f in fields)


def check_new(state: World, request: Request, answer: dict | None) -> Stored:
    """A new payment's answer against the rules; the model takes its transfers."""
    assert answer is not None, request
    network = request.network or routed(request)
    rtgs = NETWORKS[network][2]
    assert (answer["uetr"], answer["network"]["code"]) == (request.uetr, network), (request, answer)
    assert answer["amount"] == {"amount": request.amount_text(), "currency": request.currency}
    assert answer["remittanceInformation"] == request.remittance
    reason = judged(request, network)
    debtor = state.account(request.sender, request.debtor_currency)
    settlement = state.account(request.sender, request.currency, settlement=True)
    if reason is None and rtgs and None in (settlement, state.account(request.receiver, request.currency, True)):
        reason = "ED05"  # no SETTLEMENT account to settle gross
    legs = (1 if request.debtor_currency == request.currency else 2) + (1 if rtgs else 0)
    debit = debit_of(request) if reason is None else None
    if reason is None and (debit > state.available[debtor] or (rtgs and request.amount > state.available[settlement])):
        reason = "AM04"
    expected = ("REJECTED", "RJCT", reason) if reason else ("SETTLED", "ACCC", None)
    assert (answer["status"], answer["isoStatus"], answer["reasonCode"]) == expected, (request, answer, state.available)
    transfers = answer["transfers"]
    if reason:
        assert transfers == [] and [e["isoStatus"] for e in answer["events"]] == ["RCVD", "RJCT"], answer
        event(f"rejected {reason}")
        return Stored(request, answer["id"], network, "REJECTED", reason, 0)
    assert len(transfers) == legs and {t["state"] for t in transfers} == {"POSTED"}, answer
    assert [e["isoStatus"] for e in answer["events"]] == ["RCVD", "ACSP", "ACCC"]
    assert answer["debitAmount"] == {"amount": f"{Decimal(debit).scaleb(-2)}", "currency": request.debtor_currency}
    assert transfers[0]["debitAccount"]["id"] == state.ids[f"{request.sender}_{request.debtor_currency.lower()}"]
    assert transfers[0]["amount"]["amount"] == answer["debitAmount"]["amount"]
    for leg in transfers:
        amount = int(Decimal(leg["amount"]["amount"]).scaleb(2))
        for side, sign in (("debitAccount", -1), ("creditAccount", 1)):
            key = pk(leg[side]["id"])
            state.available[key] = state.available.get(key, 0) + sign * amount
            state.changes[key] = state.changes.get(key, 0) + sign * amount
    event(f"settled on {network}" + (" with FX" if legs - rtgs == 2 else ""))
    return Stored(request, answer["id"], network, "SETTLED", None, legs)


def check_answer(state: World, request: Request, answer: dict | None, errors: list[dict], error_path: list[str]):
    """One request's answer: a replay, a conflict, NO_ROUTE or a new payment (then stored in the model)."""
    earlier = state.stored.get(request.uetr)
    if earlier is not None and same_request(request, earlier):
        assert errors == [] and answer is not None, (request, errors)
        assert (answer["id"], answer["status"], answer["reasonCode"]) == (earlier.id, earlier.status, earlier.reason)
        event("replay")
    elif earlier is not None:
        assert answer is None and [(e["code"], e["field"]) for e in errors] == [("IDEMPOTENCY_CONFLICT", error_path)]
        event("other content for an earlier UETR")
    elif request.network is None and routed(request) is None:
        assert answer is None and [e["code"] for e in errors] == ["NO_ROUTE"], (request, answer, errors)
        state.refused.add(request.uetr)
        event("no route")
    else:
        assert errors == [], (request, errors)
        state.stored[request.uetr] = check_new(state, request, answer)


# ---------------------------------------------------------------- drawing requests


@st.composite
def new_requests(draw, network: str | None) -> Request:
    first, step = draw(st.integers(0, len(BANKS) - 1)), draw(st.integers(1, len(BANKS) - 1))
    anyone = (BANKS[first], BANKS[(first + step) % len(BANKS)])  # any two different banks
    sender, receiver = draw(st.sampled_from(CORRIDORS)) if draw(st.integers(0, 3)) else anyone
    currency = draw(st.sampled_from([c for bank, c in HOLDINGS if bank == receiver]))
    held = [c for bank, c in HOLDINGS if bank == sender]
    own = currency if currency in held else held[0]
    debtor_currency = draw(st.sampled_from(held)) if draw(st.integers(0, 3)) == 0 else own
    amount = draw(st.one_of(st.integers(1, 100), st.integers(1, 60000), st.integers(60000, 200000)))
    remittance = draw(st.sampled_from([None, "Invoice 7", "Rent for May"]))
    return Request(str(uuid.uuid4()), network, sender, receiver, currency, debtor_currency, amount, remittance)


def request_step(draw, state: World, batch: list[Request], network: str | None) -> Request:
    """A new request, a replay of an earlier one, or other content under an earlier UETR.
    Every draw is made whatever is chosen (the earlier requests are state across examples,
    which must not change the shape of what hypothesis draws)."""
    kind = draw(st.sampled_from(["new", "new", "new", "replay", "conflict"]))
    fresh = draw(new_requests(network))
    pick, other_amount = draw(st.integers(0, 10**6)), draw(st.booleans())
    earlier = [s.request for s in state.stored.values()] + batch
    earlier = [r for r in earlier if r.network == network]  # one document names one network
    if kind == "new" or not earlier:
        return fresh
    chosen = earlier[pick % len(earlier)]
    if kind == "replay":
        return chosen
    if other_amount:
        return replace(chosen, amount=chosen.amount + 1)
    return replace(chosen, remittance=(chosen.remittance or "") + " again")


async def send_batch(api, state: World, channel: str, batch: list[Request]) -> None:
    ids = state.ids
    if channel == "send":
        (request,) = batch
        payload = await send_payment(api, request.send_input(ids))
        check_answer(state, request, payload["payment"], payload["errors"], ["input", "uetr"])
        return
    payload = (await api(SUBMIT, {"xml": pacs008(*(r.tx(ids) for r in batch), network=batch[0].network)}))[
        "submitIso20022"
    ]
    assert len(payload["payments"]) == len(batch), payload
    report = outcome(payload["statusReport"])
    assert [uetr for uetr, _, _ in report] == [r.uetr for r in batch]
    errors = {tuple(e["field"][:5]): e for e in payload["errors"] if e["field"][:4] == TX}
    header = [e for e in payload["errors"] if e["field"] == NETWORK_PATH]
    for k, (request, answer) in enumerate(zip(batch, payload["payments"], strict=True)):
        path = [*TX, str(k), "PmtId", "UETR"]
        mine = [errors[tuple(path[:5])]] if tuple(path[:5]) in errors else []
        if answer is None and not mine:  # NO_ROUTE names the group header's network element
            mine = [header.pop(0)]
        check_answer(state, request, answer, mine, path)
        _, status, reason = report[k]
        if answer is not None:
            assert (status, reason) == (answer["isoStatus"], answer["reasonCode"]), (report[k], answer)
        else:
            assert status == "RJCT" and reason in ("DUPL", "AG03"), report[k]
    assert header == [], payload


# ---------------------------------------------------------------- what the database holds


async def stored_rows(api) -> dict[str, tuple[int, int, int, int]]:
    """UETR -> (payments with it, its transfer links, transfers whose reference names it, its events)."""
    async with api.engine.connect() as connection:
        payments = (await connection.execute(text("SELECT id, uetr FROM interbank_payment"))).all()
        links = dict(
            (
                await connection.execute(text("SELECT payment_id, count(*) FROM payment_transfer GROUP BY payment_id"))
            ).all()
        )
        events = dict(
            (await connection.execute(text("SELECT payment_id, count(*) FROM payment_event GROUP BY payment_id"))).all()
        )
        references = (
            await connection.scalars(text("SELECT reference FROM transfer WHERE reference LIKE 'payment %'"))
        ).all()
    posted: dict[str, int] = {}
    for reference in references:
        uetr = reference.split()[1]
        posted[uetr] = posted.get(uetr, 0) + 1
    found: dict[str, tuple[int, int, int, int]] = {}
    for key, value in payments:
        uetr = str(uuid.UUID(str(value)))
        count = found.get(uetr, (0,))[0] + 1
        found[uetr] = (count, links.get(key, 0), posted.get(uetr, 0), events.get(key, 0))
    return found


# ---------------------------------------------------------------- the property


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_random_payments_keep_the_ledger_whole_and_each_uetr_one_payment(api, data):
    state = await world(api)
    await top_up(api, await balances(api))
    start = await balances(api)
    check_ledger(start)
    state.available = {key: row[2] - row[3] for key, row in start.items()}
    state.changes, state.refused = {}, set()
    known = set(state.stored)
    stored_before = len(await stored_rows(api))

    for _ in range(data.draw(st.integers(1, 6), label="batches")):
        channel = data.draw(st.sampled_from(["send", "iso"]), label="channel")
        network = data.draw(st.sampled_from([None, None, None, "SWIFT", "SPFS", "CIPS"]), label="network")
        batch: list[Request] = []
        for _ in range(1 if channel == "send" else data.draw(st.integers(1, 3), label="transactions")):
            batch.append(request_step(data.draw, state, batch, network))
        event(f"channel {channel}")
        await send_batch(api, state, channel, batch)  # each answer checked, replays by their ids

    end = await balances(api)
    check_ledger(end)
    assert moved(start, end) == {key: change for key, change in state.changes.items() if change}
    rows = await stored_rows(api)
    # The stored payments are exactly the predicted ones: every one, and none more.
    assert set(state.stored) <= set(rows) and not state.refused & set(rows)
    assert len(rows) - stored_before == len(set(state.stored) - known)
    for uetr, stored in state.stored.items():
        events = 2 if stored.status == "REJECTED" else 3
        assert rows[uetr] == (1, stored.legs, stored.legs, events), (stored, rows[uetr])
