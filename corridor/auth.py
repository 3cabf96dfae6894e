"""Bearer-key authentication for the HTTP endpoint.

Verified keys are remembered for a short while (bounded in size and time) so a
busy client does not pay a database lookup on every request. Only the key's hash
is kept, as in the database.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from resolvers.access import Principal, authenticate, hash_secret

CACHE_SECONDS = 30.0
CACHE_ENTRIES = 1024


class Authenticator:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._cache: OrderedDict[str, tuple[float, Principal]] = OrderedDict()

    async def __call__(self, authorization: str | None) -> Principal | None:
        if not authorization:
            return None
        digest = hash_secret(authorization)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            self._cache.move_to_end(digest)
            return hit[1]
        async with self._sessions() as session:
            principal = await authenticate(session, authorization)
        if principal is not None:
            self._cache[digest] = (now + CACHE_SECONDS, principal)
            if len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return principal
