"""The per-request context: who calls, one database session, and the request's DataLoaders.

GraphQL resolves sibling fields concurrently, but an AsyncSession serves one
statement at a time, so every use of the session goes through `read()` or
`transaction()`, which take the request's lock.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.settings import Settings
from resolvers.access import Principal


@dataclass
class Context:
    sessions: async_sessionmaker[AsyncSession]
    settings: Settings
    principal: Principal | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    # Filled by the schema layer on first use (schema.loaders.loaders).
    loaders: Any = None
    _session: AsyncSession | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def _get_session(self) -> AsyncSession:
        if self._session is None:
            self._session = self.sessions()
        return self._session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """The session, for reads. They share one transaction until a write or the end."""
        async with self._lock:
            yield self._get_session()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A transaction of its own: committed when the block ends, rolled back if it raises."""
        async with self._lock:
            session = self._get_session()
            if session.in_transaction():
                await session.commit()  # end the reads before (commit keeps loaded objects usable)
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
