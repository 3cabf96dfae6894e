"""Group commit for createTransfers: concurrent requests share one database transaction.

While one transaction is being written, the requests that arrive queue up; the next
transaction takes all of them (up to MAX_BATCH transfers). An idle server writes a
request at once, with no added wait; a busy one pays for the locks, the id lookup,
the insert, the account update and the commit once per group of requests instead of
once per request. Each request's transfers are still applied as if alone
(resolvers.ledger.create_transfer_groups), and each request gets its own outcomes.
A transaction that fails for one request's fault is written again request by request,
so only that request fails.

The TigerBeetle idea: throughput comes from batching, so batch what arrives together.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.context import with_retries
from corridor.db import WRITE_OPTION
from models.base import utcnow
from resolvers import ledger
from resolvers.access import Principal

ATTEMPTS = 3
log = logging.getLogger("corridor.batcher")


def _settle(done: asyncio.Future, error: Exception | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


class TransferBatcher:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], max_transfers: int = ledger.MAX_BATCH) -> None:
        assert max_transfers >= 1
        self._sessions = sessions
        self._max = max_transfers
        self._queue: list[tuple[ledger.TransferGroup, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    async def submit(
        self, principal: Principal, specs: Sequence[ledger.TransferSpec], atomic: bool
    ) -> list[ledger.TransferOutcome]:
        """The outcomes of one request's transfers, written with whatever else is waiting."""
        group = ledger.TransferGroup(principal, list(specs), atomic)
        done = asyncio.get_running_loop().create_future()
        self._queue.append((group, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        await asyncio.shield(done)  # a client that goes away does not cancel the others' write
        if group.error is not None:
            raise group.error
        return group.outcomes

    def _take(self) -> list[tuple[ledger.TransferGroup, asyncio.Future]]:
        taken, size = [], 0
        while self._queue:
            group, done = self._queue[0]
            if taken and size + len(group.specs) > self._max:
                break
            self._queue.pop(0)
            taken.append((group, done))
            size += len(group.specs)
        return taken

    async def _write_all(self) -> None:
        while self._queue:
            taken = self._take()
            try:
                await self._write([group for group, _ in taken])
            except Exception as error:
                if len(taken) == 1:  # the request's own fault: it learns of it; the server stays up
                    _settle(taken[0][1], error)
                    continue
                # One request's fault must not fail the others: each is written again alone,
                # so only the request at fault fails (the failed transaction wrote nothing).
                log.warning("transfer batch of %d requests failed (%s); writing each alone", len(taken), error)
                for group, done in taken:
                    try:
                        await self._write([group])
                    except Exception as alone:
                        _settle(done, alone)
                    else:
                        _settle(done, None)
            else:
                for _, done in taken:
                    _settle(done, None)

    async def _write(self, groups: list[ledger.TransferGroup]) -> None:
        async def attempt() -> None:
            async with self._sessions() as session:
                await session.connection(execution_options={WRITE_OPTION: True})
                await ledger.create_transfer_groups(session, groups, now=utcnow())
                await session.commit()

        await with_retries(attempt, ATTEMPTS, f"transfer batch of {len(groups)} requests")
