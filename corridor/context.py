"""The per-request context: who calls, one database session, and the request's DataLoaders.

GraphQL resolves sibling fields concurrently, but an AsyncSession serves one
statement at a time, so every use of the session goes through `read()` or `write()`,
which take the request's lock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.db import WRITE_OPTION
from corridor.settings import Settings
from models.base import utcnow
from resolvers.access import Principal

if TYPE_CHECKING:
    from corridor.batcher import GroupCommit
    from corridor.events import EventHub
    from resolvers.cards import CardOrder
    from resolvers.ledger import TransferGroup
    from resolvers.messaging import PaymentOrder

T = TypeVar("T")
log = logging.getLogger("corridor.context")

# PostgreSQL: serialization failure, deadlock detected, unique violation.
RETRY_SQLSTATES = frozenset({"40001", "40P01", "23505"})


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)


def retryable(error: DBAPIError) -> bool:
    if _sqlstate(error) in RETRY_SQLSTATES:
        return True
    return "database is locked" in str(error.orig)


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
            cause = error.orig.__cause__ or error.orig  # asyncpg's own error behind the adapter's
            log.info("%s retried after %s", what, type(cause).__name__)
    raise AssertionError("unreachable")


class RequestEnded(RuntimeError):
    """Database work asked for after its request was answered and its connection returned."""


@dataclass
class Context:
    """One request's view of the service.

    Database work never stops half-way: each use of the session runs in a task of its
    own that a cancellation of its caller does not reach (graphql-core cancels the
    sibling fields of a field whose error nulls their parent; a request can hit its time
    limit). The caller stops waiting; the work finishes, holding the session until it
    does, and `close()` waits for all of it before giving the connection back. So no
    statement is ever interrupted, no connection is left in an unknown state, and nothing
    a request started outlives it.
    """

    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    # The analytics pool's sessions (corridor.db.create_analytics_engine); None: `sessions`.
    analytics: async_sessionmaker[AsyncSession] | None = None
    principal: Principal | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    # The request's clock, read once: every rule of the request sees the same time.
    now: dt.datetime = field(default_factory=utcnow)
    # The operation's name as the client gave it (for the access log).
    operation_name: str | None = None
    # Filled by the schema layer on first use (schema.loaders.loaders).
    loaders: Any = None
    # The process's group commits (corridor/batcher.py).
    batcher: GroupCommit[TransferGroup] | None = None  # createTransfers' group commit
    payments: GroupCommit[PaymentOrder] | None = None  # sendPayment's
    cards: GroupCommit[CardOrder] | None = None  # authorizePayment's and capturePayment's
    # The process's live updates (corridor/events.py), for subscriptions.
    events: EventHub | None = None
    # A subscription connection's init payload (graphql-transport-ws), set by strawberry.
    connection_params: dict | None = None
    # For a subscription connection: whether its key still holds (checked before each event).
    reauthenticate: Callable[[], Awaitable[bool]] | None = None
    _session: AsyncSession | None = None
    _analysis: AsyncSession | None = None  # the analytics' session, once they read
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _work: set[asyncio.Task] = field(default_factory=set)
    _closed: bool = False

    def _session_now(self) -> AsyncSession:
        if self._closed:  # work that outlived its request (a load nobody waits for): no new connection
            raise RequestEnded(f"request {self.request_id} has ended")
        if self._session is None:
            self._session = self.sessions()
        return self._session

    async def _settled(self, work: Awaitable[T]) -> T:
        """Await `work` in a task that the caller's cancellation leaves running."""
        task = asyncio.ensure_future(work)
        self._work.add(task)
        task.add_done_callback(self._forget)
        return await asyncio.shield(task)

    def _forget(self, task: asyncio.Task) -> None:
        self._work.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: an abandoned task's error is not logged as lost

    async def read(self, fetch: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """`fetch(session)`, for reads. They share one transaction until a write or the end."""

        async def run() -> T:
            async with self._lock:
                return await fetch(self._session_now())

        return await self._settled(run())

    async def analyze(self, fetch: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """`fetch(session)`, for the analytics' reads: on a session of the analytics pool,
        shared by the request's analytics fields until it ends (as `read` where there is no
        such pool)."""
        if self.analytics is None:
            return await self.read(fetch)

        async def run() -> T:
            async with self._lock:
                if self._closed:
                    raise RequestEnded(f"request {self.request_id} has ended")
                if self._analysis is None:
                    self._analysis = self.analytics()
                return await fetch(self._analysis)

        return await self._settled(run())

    async def write(self, work: Callable[[AsyncSession], Awaitable[T]], attempts: int = 3) -> T:
        """`work(session)` in a transaction of its own, committed when it returns and rolled
        back if it raises; retried as `with_retries` says."""

        async def attempt() -> T:
            async with self._lock:
                session = self._session_now()
                try:
                    if session.in_transaction():
                        await session.commit()  # end the reads before (loaded objects stay usable)
                    await session.connection(execution_options={WRITE_OPTION: True})
                    result = await work(session)
                    await session.commit()
                    return result
                except BaseException:
                    await session.rollback()
                    raise

        return await self._settled(with_retries(attempt, attempts, f"request {self.request_id}: transaction"))

    async def release(self) -> None:
        """End the request's read transactions (its own and the analytics') and give their
        connections back, before waiting on work that needs a connection of its own (the
        batcher): with SQLite's single connection per process, holding it would make that
        work wait."""

        async def run() -> None:
            async with self._lock:
                for session in (self._session, self._analysis):
                    if session is not None and session.in_transaction():
                        await session.commit()

        await self._settled(run())

    def renew(self) -> None:
        """A new clock and fresh loaders, for the next event of a subscription (whose
        context lives as long as its connection)."""
        self.now, self.loaders = utcnow(), None

    async def close(self) -> None:
        """Wait for the request's database work to settle, then give its connection back."""
        while self._work:
            await asyncio.gather(*self._work, return_exceptions=True)
        self._closed = True
        sessions = [self._session, self._analysis]
        self._session = self._analysis = None
        for session in sessions:
            if session is None:
                continue
            try:
                await session.close()
            except DBAPIError as error:  # left unusable in a way not foreseen: never pool it
                log.info("request %s: connection discarded on close: %s", self.request_id, error.orig)
                await session.invalidate()
