"""The background work of a worker: the sweep that releases holds past their expiry in
the stored columns, and the scheduled close of settlement windows.

Reads and writes already treat a lapsed hold as released (resolvers.ledger); the
sweep makes the stored columns and the transfer's state say so too, in bounded
batches, so lapsed holds never pile up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.db import WRITE_OPTION
from models.base import utcnow
from resolvers import ledger, settlement

log = logging.getLogger("corridor.sweeper")

BATCH = 500
MAX_BATCHES_PER_ROUND = 100


async def sweep_once(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Release every lapsed hold (in batches of BATCH, at most MAX_BATCHES_PER_ROUND)."""
    total = 0
    for _ in range(MAX_BATCHES_PER_ROUND):
        async with sessions() as session:
            await session.connection(execution_options={WRITE_OPTION: True})
            released = await ledger.expire_lapsed(session, utcnow(), limit=BATCH)
            await session.commit()
        total += released
        if released < BATCH:
            break
    return total


async def _every(interval: float, work: Callable[[], Awaitable[int]], did: str, what: str) -> None:
    """`work()` every `interval` seconds until cancelled, logging what it did (`did` % its
    count); a failed round is logged and tried again the next time."""
    while True:
        try:
            count = await work()
            if count:
                log.info(did, count)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; retrying in %s s", what, interval)
        await asyncio.sleep(interval)


async def run(sessions: async_sessionmaker[AsyncSession], interval: float) -> None:
    """Sweep every `interval` seconds until cancelled."""
    await _every(interval, lambda: sweep_once(sessions), "released %d lapsed holds", "sweep")


async def close_due_windows(sessions: async_sessionmaker[AsyncSession], schedule) -> int:
    """Close each scheduled scope's windows that are due (resolvers.settlement.close_due):
    once across worker processes, each close locking its window and finding it OPEN."""
    total = 0
    for scope, seconds in schedule:
        async with sessions() as session:
            await session.connection(execution_options={WRITE_OPTION: True})
            total += await settlement.close_due(session, scope, seconds, utcnow())
            await session.commit()
    return total


async def run_schedule(sessions: async_sessionmaker[AsyncSession], schedule, interval: float) -> None:
    """Close due windows every `interval` seconds until cancelled."""
    did = "closed %d settlement windows on schedule"
    await _every(interval, lambda: close_due_windows(sessions, schedule), did, "scheduled close")
