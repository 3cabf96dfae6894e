"""One client's bad request never fails another client's transfers. Concurrent
createTransfers requests share a transaction (group commit); input the database would
refuse never joins one, and a shared transaction that fails for one request's fault is
written again request by request, so only that request fails. On both engines (real
concurrent transactions on PostgreSQL)."""

from __future__ import annotations

import asyncio
import base64
import json
from decimal import Decimal

from resolvers import ledger
from tests.ledger_world import TRANSFERS, balances, build, transfer

HOSTILE_REFERENCES = ["inv\x00oice", "inv\ud800oice"]
HOSTILE_IDS = ["Account:9223372036854775808", "Account:\u00b2", "Account:-5"]


def _gid(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def _send(api, items: list[dict]):
    body = json.dumps({"query": TRANSFERS, "variables": {"transfers": items}}).encode()
    return await api.client.post(
        "/graphql", content=body, headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}
    )


async def test_hostile_requests_never_fail_innocent_transfers(api):
    world = await build(api, fund="100000.00")
    innocent_ok: list[bool] = []
    hostile_answers: list[str] = []

    async def innocent() -> None:
        for _ in range(15):
            response = await _send(api, [transfer(world.sber_settlement, world.vtb_settlement, "1.00")])
            results = response.json()["data"]["createTransfers"]["results"] if response.status_code == 200 else []
            innocent_ok.append(bool(results) and results[0]["created"] and results[0]["errors"] == [])

    async def hostile(number: int) -> None:
        for k in range(15):
            item = transfer(world.vtb_settlement, world.sber_settlement, "1.00")
            if (number + k) % 2:
                item["reference"] = HOSTILE_REFERENCES[k % len(HOSTILE_REFERENCES)]
            else:
                item["debitAccountId"] = _gid(HOSTILE_IDS[k % len(HOSTILE_IDS)])
            response = await _send(api, [item, transfer(world.vtb_settlement, world.sber_settlement, "1.00")])
            hostile_answers.append(response.text)

    await asyncio.gather(*(innocent() for _ in range(6)), *(hostile(n) for n in range(3)))
    assert innocent_ok == [True] * 90
    assert not any("Unexpected error" in answer for answer in hostile_answers)
    # Each innocent transfer moved 1.00 from Sber to VTB; a hostile request's valid twin
    # moved 1.00 back only where its request was not refused as a whole.
    sber = Decimal((await balances(api, world.sber_settlement))["balance"])
    vtb = Decimal((await balances(api, world.vtb_settlement))["balance"])
    assert sber + vtb == Decimal("200000.00")
    back = sum('"created":true' in answer for answer in hostile_answers)
    assert vtb - Decimal("100000.00") == Decimal(90 - back)


async def test_a_shared_transaction_failing_for_one_request_fails_that_request_only(api, monkeypatch):
    """A fault the checks cannot foresee (here: injected into the ledger for a marked
    request) fails the marked request; the requests written with it are written again,
    alone, and succeed."""
    world = await build(api, fund="100000.00")
    original = ledger.create_transfer_groups
    shared_with_poison: list[int] = []

    async def faulty(session, groups, *, now):
        poisoned = any(spec.reference == "poison" for group in groups for spec in group.specs)
        if poisoned:
            shared_with_poison.append(len(groups))
            raise RuntimeError("the database refused something nobody checked")
        return await original(session, groups, now=now)

    monkeypatch.setattr(ledger, "create_transfer_groups", faulty)
    for _ in range(5):  # until the poisoned request has shared a transaction at least once
        answers = await asyncio.gather(
            *(
                _send(api, [transfer(world.sber_settlement, world.vtb_settlement, "1.00", reference=reference)])
                for reference in ["ok"] * 6 + ["poison"] + ["ok"] * 6
            )
        )
        bodies = [answer.json() for answer in answers]
        poisoned = bodies.pop(6)
        assert poisoned["errors"][0]["message"] == "Unexpected error."
        for body in bodies:
            assert body["data"]["createTransfers"]["results"][0]["created"], body
        if max(shared_with_poison) > 1:
            break
    assert max(shared_with_poison) > 1, "the poisoned request never shared a transaction"
