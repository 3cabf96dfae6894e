"""Bearer-key authentication for the HTTP endpoint.

Verified keys are remembered for at most CACHE_SECONDS (and at most CACHE_ENTRIES
of them) so a busy client does not pay a database lookup on every request. Only
the key's hash is kept, as in the database.

Revocation: a key revoked through this process is dropped from every cache of the
process at once (`forget_key`); one revoked by another worker is refused here as
soon as its entry is due, at most one second after it was read from the database:
each worker re-reads every key it serves at least once a second (one lookup by the
unique key hash).
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.db import AUTHENTICATION_OPTION
from resolvers.access import Principal, authenticate, hash_secret

CACHE_SECONDS = 1.0
CACHE_ENTRIES = 1024

# Every authenticator of the process, so a revocation reaches them all.
_live: weakref.WeakSet[Authenticator] = weakref.WeakSet()


def forget_key(key_id: int) -> None:
    """Drop the key from the cache of every authenticator of this process. Call it once
    the revocation has committed: the next request with that key reads the database."""
    for authenticator in list(_live):
        authenticator.forget(key_id)


class Authenticator:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions = sessions
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        # Counts `forget` calls: a lookup that a revocation overtook is not cached.
        self._revocations = 0
        _live.add(self)

    async def __call__(self, authorization: str | None) -> Principal | None:
        if not authorization:
            return None
        digest = hash_secret(authorization)
        now = self._clock()
        hit = self._cache.get(digest)
        if hit is not None:
            if hit[0] > now:
                self._cache.move_to_end(digest)
                return hit[1]
            del self._cache[digest]
        revocations = self._revocations
        async with self._sessions() as session:
            await session.connection(execution_options={AUTHENTICATION_OPTION: True})
            principal = await authenticate(session, authorization)
        # The entry's age counts from before the read, so it never outlives the
        # database state it was read from by more than CACHE_SECONDS.
        if principal is not None and revocations == self._revocations:
            self._cache[digest] = (now + CACHE_SECONDS, principal)
            if len(self._cache) > CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return principal

    def forget(self, key_id: int) -> None:
        """Drop every cached entry of the key (a header may be spelled several ways)."""
        self._revocations += 1
        for digest in [digest for digest, (_, principal) in self._cache.items() if principal.key_id == key_id]:
            del self._cache[digest]
