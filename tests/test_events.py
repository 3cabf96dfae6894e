"""The live-update hub on both engines, in-process: a committed transaction's changes
reach the subscribers in commit order (on PostgreSQL through NOTIFY and the hub's own
LISTEN connection), a rolled-back one's never; a subscriber that falls behind is
dropped without holding up a commit; the hub holds at most its limit."""

from __future__ import annotations

import asyncio

import pytest

from corridor.db import session_factory
from corridor.events import Dropped, EventHub, SubscriptionLimit, payloads
from resolvers.events import Change, Kind, changed


async def _hub(api, **bounds) -> tuple[EventHub, object]:
    hub = EventHub(api.engine.url.render_as_string(hide_password=False), **{"limit": 10, "queue_size": 10, **bounds})
    sessions = session_factory(api.engine)
    hub.install(sessions)
    await hub.start()
    if hub.postgres:
        await asyncio.wait_for(hub.listening.wait(), 10)
    return hub, sessions


async def _commit(sessions, *ids: int, rollback: bool = False) -> None:
    async with sessions() as session:
        await session.connection()  # a transaction, as a write has
        changed(session, *(Change(Kind.PAYMENT, k, "SETTLED", 1, (1, 2), f"uetr-{k}") for k in ids))
        if rollback:
            await session.rollback()
        else:
            await session.commit()


async def _received(subscriber, count: int) -> list[int]:
    found = []
    stream = subscriber.changes()
    for _ in range(count):
        found.append((await asyncio.wait_for(anext(stream), 10)).id)
    return found


async def test_committed_changes_arrive_in_order_and_rolled_back_ones_never(api):
    hub, sessions = await _hub(api)
    try:
        with hub.subscribe(Kind.PAYMENT) as subscriber, hub.subscribe(Kind.WINDOW) as other:
            await _commit(sessions, 1, 2)
            await _commit(sessions, 3, rollback=True)
            await _commit(sessions, 4)
            await _commit(sessions, 5, 6)
            assert await _received(subscriber, 5) == [1, 2, 4, 5, 6]
            await asyncio.sleep(0.2)
            assert subscriber.queue.empty() and other.queue.empty()  # nothing of 3; no window changed
    finally:
        await hub.stop()


async def test_a_slow_subscriber_is_dropped_and_never_holds_a_commit(api):
    hub, sessions = await _hub(api, queue_size=2)
    try:
        with hub.subscribe(Kind.PAYMENT) as slow, hub.subscribe(Kind.PAYMENT) as keeping_up:
            stream = keeping_up.changes()
            for k in range(1, 6):
                await asyncio.wait_for(_commit(sessions, k), 10)  # never waits for the slow one
                assert (await asyncio.wait_for(anext(stream), 10)).id == k
            assert slow.dropped
            with pytest.raises(Dropped):
                await anext(slow.changes())
    finally:
        await hub.stop()


async def test_the_hub_holds_at_most_its_limit(api):
    hub, _ = await _hub(api, limit=2)
    try:
        with hub.subscribe(Kind.PAYMENT), hub.subscribe(Kind.WINDOW):
            with pytest.raises(SubscriptionLimit), hub.subscribe(Kind.PAYMENT):
                pass
        with hub.subscribe(Kind.PAYMENT):  # the first two ended: room again
            assert hub.count == 1
    finally:
        await hub.stop()


def test_notifications_stay_under_postgresqls_payload_limit():
    changes = [Change(Kind.PAYMENT, k, "SETTLED", 1, (1, 2), f"{k:036d}") for k in range(1_000)]
    found = payloads(changes)
    assert len(found) > 1 and all(len(payload.encode()) < 8_000 for payload in found)
    assert sum(payload.count('"kind"') for payload in found) == 1_000
