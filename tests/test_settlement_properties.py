"""Settlement netting as a property, through the endpoint (both engines): random SPFS
payments (DEFERRED_NET, RUB) with random amounts between random pairs of its members
(tests/messaging_world.py), then the window closed and settled. After each example:

- the window counts exactly the payments, its gross value is their sum, and each bank's
  receivable, payable and net are those worked out here from the payments;
- the nets sum to zero and the net value is the sum of the positive nets; the efficiency
  is 1 - net / gross;
- settling moves exactly each net: the change of each bank's RUB SETTLEMENT account is
  its net, and no other account changes (the operator's pool ends where it started);
- every currency's ledger still sums to zero.

The network is built once per test function (per engine); accounts that ran low are
topped up from the central banks before each example."""

from __future__ import annotations

import os
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ledger_world import pk
from tests.messaging_world import build, payment, send_payment
from tests.test_messaging_iso20022 import balances, check_ledger, moved
from tests.test_messaging_properties import top_up
from tests.test_settlement import closed, settle

BANKS = ("sber", "vtb", "melli")  # SPFS's ACTIVE members, each with RUB accounts
BICS = {"sber": "SABRRUMM", "vtb": "VTBRRUMM", "melli": "MELIIRTH"}
EXAMPLES = int(os.environ.get("CORRIDOR_SETTLEMENT_PROPERTY_EXAMPLES", "12"))

_WORLDS: dict[str, dict] = {}  # the `api` fixture's OPERATOR key (new for each test) -> its world's ids


async def world(api) -> dict:
    found = _WORLDS.get(api.key)
    if found is None:
        found = await build(api)
        _WORLDS.clear()
        _WORLDS[api.key] = found
    return found


def minor(amount: str) -> int:
    return int(Decimal(amount) * 100)


def text_of(value: int) -> str:
    return f"{value // 100}.{value % 100:02d}"


pairs = st.sampled_from([(a, b) for a in BANKS for b in BANKS if a != b])
# Up to 8 payments of up to 30.00: within what the top-up leaves every customer account (300.00).
obligations = st.lists(st.tuples(pairs, st.integers(1, 30_00)), min_size=1, max_size=8)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=obligations)
async def test_random_obligations_net_to_zero_and_settle_exactly_each_net(api, drawn):
    ids = await world(api)
    await top_up(api, await balances(api))
    check_ledger(await balances(api))

    receivable, payable = dict.fromkeys(BANKS, 0), dict.fromkeys(BANKS, 0)
    for (sender, receiver), amount in drawn:
        payload = await send_payment(api, payment(ids, sender, receiver, text_of(amount), "RUB", networkCode="SPFS"))
        assert payload["errors"] == [] and payload["payment"]["status"] == "SETTLED", payload
        payable[sender] += amount
        receivable[receiver] += amount

    window = await closed(api)
    gross = sum(amount for _, amount in drawn)
    nets = {bank: receivable[bank] - payable[bank] for bank in BANKS}
    expected_net = sum(n for n in nets.values() if n > 0)
    assert window["obligationCount"] == len(drawn)
    assert minor(window["grossValue"]["amount"]) == gross
    assert minor(window["netValue"]["amount"]) == expected_net
    assert window["nettingEfficiency"] == float(1 - Fraction(expected_net, gross))
    found = {
        p["institution"]["bic"]: tuple(minor(p[part]["amount"]) for part in ("receivable", "payable", "net"))
        for p in window["positions"]
    }
    involved = {bank for bank in BANKS if receivable[bank] or payable[bank]}
    assert found == {BICS[b]: (receivable[b], payable[b], nets[b]) for b in involved}
    assert sum(net for _, _, net in found.values()) == 0
    assert sum(r for r, _, _ in found.values()) == gross == sum(p for _, p, _ in found.values())
    assert minor(window["netValue"]["amount"]) == sum(net for _, _, net in found.values() if net > 0)

    before = await balances(api)
    settled = await settle(api, window["id"])
    assert settled["errors"] == [], settled
    assert settled["window"]["state"] == "SETTLED"
    after = await balances(api)
    check_ledger(after)
    # Exactly each net moves on its bank's SETTLEMENT account; nothing else changes (the pool
    # takes the payers' nets and pays them all out again).
    accounts = {bank: pk(ids[f"{bank}_rub_settlement"]) for bank in BANKS}
    assert moved(before, after) == {accounts[bank]: nets[bank] for bank in BANKS if nets[bank]}
    transfers = settled["window"]["transfers"]
    assert sum(minor(t["amount"]["amount"]) for t in transfers) == 2 * expected_net
    assert len(transfers) == sum(1 for n in nets.values() if n)
