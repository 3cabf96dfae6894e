"""Settlement windows under concurrent clients, on PostgreSQL only (real concurrent
transactions: the FOR SHARE / FOR UPDATE fence between recording obligations and closing
a window; on SQLite writers only serialize on the write lock).

16 clients send SPFS payments and authorize and capture Mir card payments (Sberbank's
card at a VTB merchant) while another task closes the SPFS/RUB and MIR/RUB windows over
and over. Afterwards: every obligation is in exactly one window of its scope, the sum of
the windows' obligation counts is the number of obligations recorded (one per settled
payment and per capture), and each closed window's stored figures and positions equal a
recount of its obligations and what the close answered (nothing landed in a closed
window). Then concurrent settles of one window settle it once, and concurrent scheduled
closes close a due window once."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid

import pytest
from sqlalchemy import text

from corridor.sweeper import close_due_windows
from models.base import set_clock_skew
from tests import card_world
from tests.ledger_world import account, pk, send, transfer
from tests.messaging_world import SEND, build, payment
from tests.test_cards_schemes import schemes
from tests.test_messaging_concurrency import issuance
from tests.test_messaging_iso20022 import balances, check_ledger, moved
from tests.test_settlement import CLOSE, SETTLE, WINDOWS

# PostgreSQL only: the conftest's database_url fixture with its "postgres" parameter alone
# (it fails rather than skips when PostgreSQL is unreachable under CI=true).
pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("database_url", ["postgres"], indirect=True)]

CLIENTS = 16
ROUNDS = 6  # requests per client
BANKS = ("sber", "vtb", "melli")


async def world(api) -> dict:
    """The messaging world, customer accounts topped up, and Mir: Sberbank issues a card on a
    funded account, VTB acquires a Moscow merchant."""
    ids = await build(api)
    rub = await issuance(api, "RUB")
    await schemes(api)
    await card_world.membership(api, "MIR", ids["sber"], ["ISSUER"])
    await card_world.membership(api, "MIR", ids["vtb"], ["ACQUIRER"])
    ids["cardholder"] = await account(api, ids["sber"], "Cardholder", "RUB", "CUSTOMER")
    ids["shop"] = await account(api, ids["vtb"], "VTB shop", "RUB", "CUSTOMER")
    ids["merchant"] = await card_world.merchant(api, "VTB shop", "RU", ids["vtb"], "MIR", ids["shop"])
    await card_world.issue(api, card_world.PANS["mir"], ids["cardholder"])
    funding = [transfer(rub, ids[f"{bank}_rub"], "10000.00") for bank in BANKS]
    results = await send(api, *funding, transfer(rub, ids["cardholder"], "100000.00"))
    assert all(r["errors"] == [] for r in results), results
    return ids


async def all_windows(api) -> list[dict]:
    found, after = [], None
    while True:
        page = (await api(WINDOWS, {"first": 100, "after": after}))["settlementWindows"]
        found += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return found
        after = page["pageInfo"]["endCursor"]


async def recount(api) -> dict[int, dict]:
    """window id -> what its obligations add up to now: count, gross, and positions by institution."""
    async with api.engine.connect() as connection:
        rows = (
            await connection.execute(text("SELECT window_id, payer_id, payee_id, amount FROM settlement_obligation"))
        ).all()
    found: dict[int, dict] = {}
    for window, payer, payee, amount in rows:
        entry = found.setdefault(window, {"count": 0, "gross": 0, "positions": {}})
        entry["count"] += 1
        entry["gross"] += amount
        for who, receivable, payable in ((payee, amount, 0), (payer, 0, amount)):
            r, p = entry["positions"].get(who, (0, 0))
            entry["positions"][who] = (r + receivable, p + payable)
    for entry in found.values():
        entry["net"] = sum(r - p for r, p in entry["positions"].values() if r > p)
    return found


async def stored_windows(api) -> dict[int, dict]:
    async with api.engine.connect() as connection:
        windows = (
            await connection.execute(
                text("SELECT id, scope, currency_code, state, obligation_count, gross, net FROM settlement_window")
            )
        ).all()
        positions = (
            await connection.execute(
                text("SELECT window_id, institution_id, receivable, payable FROM settlement_position")
            )
        ).all()
    names = ("scope", "currency", "state", "count", "gross", "net")
    found = {w[0]: {**dict(zip(names, w[1:], strict=True)), "positions": {}} for w in windows}
    for window, institution, receivable, payable in positions:
        found[window]["positions"][institution] = (receivable, payable)
    return found


def minor(amount: str) -> int:
    whole, _, cents = amount.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int((cents + "00")[:2]))


async def test_obligations_written_while_windows_close_land_in_exactly_one_window(api):
    ids = await world(api)
    rng = random.Random(13)
    sent: list[int] = []  # SPFS payments settled
    captured: list[int] = []  # card captures
    closes: dict[str, tuple] = {}  # window global id -> its figures as the close answered

    async def spfs_client(_k: int) -> None:
        for _ in range(ROUNDS):
            sender, receiver = rng.sample(BANKS, 2)
            amount = rng.randint(1, 500)
            item = payment(ids, sender, receiver, f"{amount // 100}.{amount % 100:02d}", "RUB", networkCode="SPFS")
            body = await api.raw(SEND, {"input": item})
            assert "errors" not in body, body
            answer = body["data"]["sendPayment"]
            assert answer["errors"] == [] and answer["payment"]["status"] == "SETTLED", answer
            sent.append(amount)

    async def card_client(_k: int) -> None:
        for _ in range(ROUNDS):
            amount = rng.randint(100, 900)
            text_amount = f"{amount // 100}.{amount % 100:02d}"
            auth = await card_world.authorize(api, ids["merchant"], "mir", text_amount, "RUB")
            assert auth["errors"] == [] and auth["authorization"]["approved"], auth
            body = await api.raw(card_world.CAPTURE, {"id": auth["authorization"]["authorizationId"]})
            assert "errors" not in body, body
            assert body["data"]["capturePayment"]["errors"] == [], body
            captured.append(amount)

    done = asyncio.Event()

    async def closer() -> None:
        while not done.is_set():
            for scope in ("SPFS", "MIR"):
                body = await api.raw(CLOSE, {"scope": scope, "currency": "RUB"})
                assert "errors" not in body, body
                payload = body["data"]["closeSettlementWindow"]
                if payload["errors"]:
                    assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"], payload  # MIR before its first
                    continue
                window = payload["window"]
                closes[window["id"]] = (window["obligationCount"], window["grossValue"]["amount"],
                                        window["netValue"]["amount"], window["positions"])  # fmt: skip
            await asyncio.sleep(0.005)

    async def clients() -> None:
        try:
            await asyncio.gather(*((card_client if k % 4 == 3 else spfs_client)(k) for k in range(CLIENTS)))
        finally:
            done.set()

    await asyncio.gather(clients(), closer())
    assert len(sent) == 12 * ROUNDS and len(captured) == 4 * ROUNDS
    assert len(closes) >= 4, len(closes)  # the closes really ran among the writes

    async with api.engine.connect() as connection:
        obligations = (
            await connection.execute(
                text(
                    "SELECT o.transfer_id, o.window_id, w.scope, o.amount FROM settlement_obligation o "
                    "JOIN settlement_window w ON w.id = o.window_id"
                )
            )
        ).all()
    transfer_ids = [row[0] for row in obligations]
    assert len(transfer_ids) == len(set(transfer_ids))  # each leg owed once, in one window
    assert len(obligations) == len(sent) + len(captured)
    assert sorted(row[3] for row in obligations if row[2] == "SPFS") == sorted(sent)
    assert sorted(row[3] for row in obligations if row[2] == "MIR") == sorted(captured)

    windows = await all_windows(api)
    assert sum(w["obligationCount"] for w in windows) == len(obligations)
    assert sorted((w["scope"], w["state"]) for w in windows if w["state"] == "OPEN") == [
        ("MIR", "OPEN"),
        ("SPFS", "OPEN"),
    ]
    # No closed window changed after its close: its stored figures are a recount of its
    # obligations now, and what the close answered.
    counted, stored = await recount(api), await stored_windows(api)
    for key, window in stored.items():
        if str(window["state"]).endswith("OPEN"):
            continue
        now = counted.get(key, {"count": 0, "gross": 0, "net": 0, "positions": {}})
        assert (window["count"], window["gross"], window["net"]) == (now["count"], now["gross"], now["net"]), key
        assert window["positions"] == now["positions"], key
    for window in windows:
        if window["id"] in closes:
            answered = closes[window["id"]]
            assert (window["obligationCount"], window["grossValue"]["amount"], window["netValue"]["amount"],
                    window["positions"]) == answered, window["id"]  # fmt: skip
    check_ledger(await balances(api))


async def test_concurrent_settles_of_one_window_settle_it_once(api):
    ids = await world(api)
    for sender, receiver, amount in (("sber", "vtb", "300.00"), ("vtb", "melli", "120.00"), ("melli", "sber", "50.00")):
        item = payment(ids, sender, receiver, amount, "RUB", networkCode="SPFS")
        assert (await api(SEND, {"input": item}))["sendPayment"]["errors"] == []
    window = (await api(CLOSE, {"scope": "SPFS", "currency": "RUB"}))["closeSettlementWindow"]["window"]
    before = await balances(api)

    async def settle() -> dict:
        body = await api.raw(SETTLE, {"id": window["id"]})
        assert "errors" not in body, body
        return body["data"]["settleSettlementWindow"]

    answers = await asyncio.gather(*(settle() for _ in range(CLIENTS)))
    done = [a for a in answers if a["errors"] == []]
    assert len(done) == 1, answers
    assert all([e["code"] for e in a["errors"]] == ["INVALID_STATE"] for a in answers if a["errors"]), answers
    assert done[0]["window"]["state"] == "SETTLED" and len(done[0]["window"]["transfers"]) == 3
    # Sberbank -250.00, VTB +180.00, Melli +70.00: moved once.
    accounts = {bank: pk(ids[f"{bank}_rub_settlement"]) for bank in BANKS}
    assert moved(before, await balances(api)) == {
        accounts["sber"]: -250_00,
        accounts["vtb"]: 180_00,
        accounts["melli"]: 70_00,
    }
    async with api.engine.connect() as connection:
        links = await connection.scalar(text("SELECT count(*) FROM settlement_transfer"))
    assert links == 3


async def test_concurrent_scheduled_closes_close_a_due_window_once(api):
    ids = await world(api)
    item = payment(ids, "sber", "vtb", "10.00", "RUB", networkCode="SPFS")
    assert (await api(SEND, {"input": item}))["sendPayment"]["errors"] == []
    set_clock_skew(dt.timedelta(seconds=120))
    try:
        closed = await asyncio.gather(*(close_due_windows(api.sessions, (("SPFS", 60),)) for _ in range(8)))
    finally:
        set_clock_skew(dt.timedelta(0))
    assert sum(closed) == 1, closed
    states = sorted(w["state"] for w in await all_windows(api))
    assert states == ["CLOSED", "OPEN"]
    assert uuid.UUID(item["uetr"])
