"""The background work of a worker: the sweep that releases holds past their expiry in
the stored columns, and the scheduled close of settlement windows.

Reads and writes already treat a lapsed hold as released (resolvers.ledger); the
sweep makes the stored columns and the transfer's state say so too, in bounded
batches, so lapsed holds never pile up.
"""

from __future__ import annotations

import asyncio
import logging

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


async def run(sessions: async_sessionmaker[AsyncSession], interval: float) -> None:
    """Sweep every `interval` seconds until cancelled; a failed round is logged and retried."""
    while True:
        try:
            released = await sweep_once(sessions)
            if released:
                log.info("released %d lapsed holds", released)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sweep failed; retrying in %s s", interval)
        await asyncio.sleep(interval)


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
    """Close due windows every `interval` seconds until cancelled; a failed round is logged and retried."""
    while True:
        try:
            closed = await close_due_windows(sessions, schedule)
            if closed:
                log.info("closed %d settlement windows on schedule", closed)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("scheduled close failed; retrying in %s s", interval)
        await asyncio.sleep(interval)
