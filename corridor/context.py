"""The per-request context: who calls, one database session, and the request's DataLoaders.

GraphQL resolves sibling fields concurrently, but an AsyncSession serves one
statement at a time, so every use of the session goes through `read()` or
`transaction()`, which take the request's lock.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.db import WRITE_OPTION
from corridor.settings import Settings
from resolvers.access import Principal

T = TypeVar("T")
log = logging.getLogger("corridor.context")

# PostgreSQL: serialization failure, deadlock detected, unique violation.
RETRY_SQLSTATES = frozenset({"40001", "40P01", "23505"})


def retryable(error: DBAPIError) -> bool:
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if sqlstate in RETRY_SQLSTATES:
        return True
    return "database is locked" in str(original)


async def with_retries(attempt: Callable[[], Awaitable[T]], attempts: int, what: str) -> T:
    """`attempt()` again (at most `attempts` times in all) when the database refuses it for
    a reason that a new try resolves: a deadlock or serialization failure, a unique key
    taken by a concurrent insert (the new try sees it and answers as a replay or
    conflict), or SQLite's lock timeout."""
    for number in range(1, attempts + 1):
        try:
            return await attempt()
        except DBAPIError as error:
            if number == attempts or not retryable(error):
                raise
            log.info("%s retried after %s", what, type(error.orig).__name__)
    raise AssertionError("unreachable")


@dataclass
class Context:
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    principal: Principal | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    # Filled by the schema layer on first use (schema.loaders.loaders).
    loaders: Any = None
    # The process's group commit for createTransfers (corridor.batcher).
    batcher: Any = None
    _session: AsyncSession | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Set when a use of the session was cancelled (graphql-core cancels the fields that a
    # null parent no longer needs), possibly in the middle of a statement: the session's
    # connection cannot be trusted again and is discarded, never pooled.
    _cancelled: bool = False

    async def _get_session(self) -> AsyncSession:
        if self._cancelled:
            self._cancelled = False
            await self._discard()
        if self._session is None:
            self._session = self.sessions()
        return self._session

    async def _discard(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            await session.invalidate()
        except Exception as error:  # the connection is already gone: nothing to give back
            log.info("request %s: discarding a cancelled connection: %s", self.request_id, error)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """The session, for reads. They share one transaction until a write or the end."""
        async with self._lock:
            try:
                yield await self._get_session()
            except asyncio.CancelledError:
                self._cancelled = True
                raise

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A transaction of its own: committed when the block ends, rolled back if it raises."""
        async with self._lock:
            session = await self._get_session()
            try:
                if session.in_transaction():
                    await session.commit()  # end the reads before (commit keeps loaded objects usable)
                await session.connection(execution_options={WRITE_OPTION: True})
                yield session
                await session.commit()
            except asyncio.CancelledError:
                self._cancelled = True
                raise
            except BaseException:
                await session.rollback()
                raise

    async def write(self, work: Callable[[AsyncSession], Awaitable[T]], attempts: int = 3) -> T:
        """Run `work` in a transaction of its own, retried as `with_retries` says."""

        async def attempt() -> T:
            async with self.transaction() as session:
                return await work(session)

        return await with_retries(attempt, attempts, f"request {self.request_id}: transaction")

    async def release(self) -> None:
        """End the request's read transaction and give its connection back to the pool,
        before waiting on work that needs a connection of its own (the batcher): with
        SQLite's single connection per process, holding it would make that work wait."""
        async with self._lock:
            if self._session is not None and not self._cancelled and self._session.in_transaction():
                await self._session.commit()

    async def close(self) -> None:
        """Give the request's connection back, or discard it after a cancelled use."""
        if self._cancelled:
            self._cancelled = False
            await self._discard()
            return
        session, self._session = self._session, None
        if session is None:
            return
        try:
            await session.close()
        except DBAPIError as error:  # left unusable in a way not seen above: never pool it
            log.info("request %s: connection discarded on close: %s", self.request_id, error.orig)
            await session.invalidate()
