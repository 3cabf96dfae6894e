"""Group commit: concurrent requests of one kind share one database transaction.

While one transaction is being written, the requests that arrive queue up; the next
transaction takes all of them (up to a limit). An idle server writes a request at
once, with no added wait; a busy one pays for the locks, the lookups, the inserts,
the account updates and the commit once per group of requests instead of once per
request. Each request is still decided as if alone (the write function's promise:
`resolvers.ledger.create_transfer_groups` for createTransfers,
`resolvers.messaging.send_payments` for sendPayment), and each gets its own outcome,
which the write function leaves on the request's item. A transaction that fails for
one request's fault is written again request by request, so only that request fails.

The TigerBeetle idea: throughput comes from batching, so batch what arrives together.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.context import with_retries
from corridor.db import WRITE_OPTION
from corridor.settings import Settings
from models.base import utcnow
from resolvers import cards, ledger, messaging

ATTEMPTS = 3
PAYMENTS_MAX = 1_000  # sendPayment requests in one transaction
CARD_ORDERS_MAX = 500  # authorizePayment and capturePayment requests in one transaction
log = logging.getLogger("corridor.batcher")
T = TypeVar("T")


def _settle(done: asyncio.Future, error: Exception | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


class GroupCommit(Generic[T]):
    """Requests' items written together: `write(session, items, now)` decides them all in
    one transaction (and leaves each item's outcome on it); `size(item)` counts an item
    against `limit` per transaction."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        write: Callable[[AsyncSession, list[T], dt.datetime], Awaitable[None]],
        *,
        name: str,
        limit: int,
        size: Callable[[T], int] = lambda _: 1,
    ) -> None:
        assert limit >= 1
        self._sessions = sessions
        self._write_items = write
        self._name = name
        self._limit = limit
        self._size = size
        self._queue: list[tuple[T, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def submit(self, item: T) -> T:
        """Write the item with whatever else is waiting; the item, its outcome on it."""
        done = asyncio.get_running_loop().create_future()
        self._queue.append((item, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        await asyncio.shield(done)  # a client that goes away does not cancel the others' write
        return item

    def _take(self) -> list[tuple[T, asyncio.Future]]:
        taken, size = [], 0
        while self._queue:
            item, done = self._queue[0]
            if taken and size + self._size(item) > self._limit:
                break
            self._queue.pop(0)
            taken.append((item, done))
            size += self._size(item)
        return taken

    async def _write_all(self) -> None:
        while self._queue:
            taken = self._take()
            try:
                await self._write([item for item, _ in taken])
            except Exception as error:
                if len(taken) == 1:  # the request's own fault: it learns of it; the server stays up
                    _settle(taken[0][1], error)
                    continue
                # One request's fault must not fail the others: each is written again alone,
                # so only the request at fault fails (the failed transaction wrote nothing).
                log.warning("%s batch of %d requests failed (%s); writing each alone", self._name, len(taken), error)
                for item, done in taken:
                    try:
                        await self._write([item])
                    except Exception as alone:
                        _settle(done, alone)
                    else:
                        _settle(done, None)
            else:
                for _, done in taken:
                    _settle(done, None)

    async def _write(self, items: list[T]) -> None:
        async def attempt() -> None:
            async with self._sessions() as session:
                await session.connection(execution_options={WRITE_OPTION: True})
                await self._write_items(session, items, utcnow())
                await session.commit()

        await with_retries(attempt, ATTEMPTS, f"{self._name} batch of {len(items)} requests")


def transfer_batcher(sessions: async_sessionmaker[AsyncSession]) -> GroupCommit[ledger.TransferGroup]:
    """createTransfers: each request's transfers a group, at most MAX_BATCH transfers per transaction."""
    return GroupCommit(
        sessions,
        lambda session, groups, now: ledger.create_transfer_groups(session, groups, now=now),
        name="transfer",
        limit=ledger.MAX_BATCH,
        size=lambda group: len(group.specs),
    )


def payment_batcher(sessions: async_sessionmaker[AsyncSession]) -> GroupCommit[messaging.PaymentOrder]:
    """sendPayment: each request one order, at most PAYMENTS_MAX per transaction."""
    return GroupCommit(
        sessions,
        lambda session, orders, now: messaging.send_payments(session, orders, now=now),
        name="payment",
        limit=PAYMENTS_MAX,
    )


def card_batcher(sessions: async_sessionmaker[AsyncSession], settings: Settings) -> GroupCommit[cards.CardOrder]:
    """authorizePayment and capturePayment: each request one order, at most CARD_ORDERS_MAX
    per transaction (`resolvers.cards.write_card_orders`)."""
    return GroupCommit(
        sessions,
        lambda session, orders, now: cards.write_card_orders(
            session, orders, secret=settings.secret, hold_seconds=settings.card_hold_seconds, now=now
        ),
        name="card",
        limit=CARD_ORDERS_MAX,
    )
