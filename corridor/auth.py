"""Bearer-key authentication for the HTTP endpoint.

Verified keys are remembered for at most CACHE_SECONDS (and at most CACHE_ENTRIES
of them) so a busy client does not pay a database lookup on every request. Only
the key's hash is kept, as in the database.

Revocation: a key revoked through this process is dropped from every cache of the
process at once (`forget_key`); one revoked by another worker is refused here as
soon as its entry is due, at most one second after it was read from the database:
each worker re-reads every key it serves at least once a second (one lookup by the
unique key hash). Concurrent requests with a key that is due share one lookup: a busy
client's 30 requests in flight when its entry expires cost one statement, not 30 (nor
30 connections, which the pool would open and close again).
"""

from __future__ import annotations

import asyncio
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
        # The lookups in flight, by key hash: a request for a key that is due joins one.
        self._lookups: dict[str, asyncio.Task[Principal | None]] = {}
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
        lookup = self._lookups.get(digest)
        if lookup is None:
            # A task of its own: a caller that gives up (a time limit) leaves it to the others.
            lookup = self._lookups[digest] = asyncio.ensure_future(self._lookup(digest, authorization, now))
            lookup.add_done_callback(lambda done: self._done(digest, done))
        return await asyncio.shield(lookup)

    async def _lookup(self, digest: str, authorization: str, now: float) -> Principal | None:
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

    def _done(self, digest: str, lookup: asyncio.Task) -> None:
        if self._lookups.get(digest) is lookup:
            del self._lookups[digest]
        if not lookup.cancelled():
            lookup.exception()  # retrieved: an error its callers saw is not logged again as lost

    def forget(self, key_id: int) -> None:
        """Drop every cached entry of the key (a header may be spelled several ways), and
        let no later request join a lookup that began before the revocation."""
        self._revocations += 1
        self._lookups.clear()
        for digest in [digest for digest, (_, principal) in self._cache.items() if principal.key_id == key_id]:
            del self._cache[digest]
