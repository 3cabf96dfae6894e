"""Live updates: the changes that committed transactions noted (resolvers.events),
fanned out to the subscriptions of every worker process.

- Published after commit only. On PostgreSQL a transaction's changes go out as
  NOTIFY on CHANNEL inside the transaction itself (just before it commits), which
  PostgreSQL delivers only if it commits, in commit order, to every listening
  connection: each worker's hub LISTENs on a connection of its own (itself included),
  so a change made by any process (a worker, the command line) reaches the
  subscribers of every worker in the same order. On SQLite (one process) the changes
  go straight to the hub of the sessions' factory once the commit returned. A
  rolled-back or retried transaction publishes nothing (a retry notes its changes again).
- Bounded: at most `limit` subscriptions per process (a new one beyond is refused);
  each subscriber has a queue of `queue_size` changes, and one that falls that far
  behind is dropped (its stream ends with an error), never waited for: publishing
  never blocks a payment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Session

from resolvers.events import CHANGES, Change, take_changes

log = logging.getLogger("corridor.events")

CHANNEL = "corridor_changes"
HUB = "corridor.hub"  # the key of the hub in a session factory's `info`
PAYLOAD_MAX = 7_000  # bytes of one NOTIFY (PostgreSQL's limit is 8,000)
NOTIFY = text("SELECT pg_notify(:channel, :payload)")
RECONNECT_SECONDS = 1.0


class SubscriptionLimit(Exception):
    """The process holds as many subscriptions as it may."""


class Dropped(Exception):
    """The subscriber fell too far behind and was dropped."""


class Subscriber:
    """One subscription's queue of changes of one kind."""

    def __init__(self, kind: str, size: int) -> None:
        self.kind = kind
        self.queue: asyncio.Queue[Change] = asyncio.Queue(size)
        self.dropped = False

    def offer(self, change: Change) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.dropped = True
            log.warning("a %s subscriber fell %d changes behind and was dropped", self.kind, self.queue.maxsize)

    async def changes(self) -> AsyncIterator[Change]:
        while True:
            if self.dropped:
                raise Dropped(f"Dropped: more than {self.queue.maxsize} changes were waiting to be sent.")
            yield await self.queue.get()


def payloads(changes: list[Change]) -> list[str]:
    """The changes as JSON arrays, each NOTIFY's payload under PAYLOAD_MAX bytes."""
    found, batch, size = [], [], 2
    for change in changes:
        item = json.dumps(change.as_dict(), separators=(",", ":"))
        if batch and size + len(item) + 1 > PAYLOAD_MAX:
            found.append("[" + ",".join(batch) + "]")
            batch, size = [], 2
        batch.append(item)
        size += len(item) + 1
    if batch:
        found.append("[" + ",".join(batch) + "]")
    return found


class EventHub:
    """A process's subscribers, fed by its LISTEN connection (PostgreSQL) or its own
    sessions' commits (SQLite)."""

    def __init__(self, database_url: str, *, limit: int, queue_size: int) -> None:
        self.database_url = database_url
        self.postgres = make_url(database_url).get_backend_name() == "postgresql"
        self.limit, self.queue_size = limit, queue_size
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self._task: asyncio.Task | None = None
        self.listening = asyncio.Event()

    @property
    def count(self) -> int:
        return sum(len(group) for group in self._subscribers.values())

    def install(self, sessions: async_sessionmaker) -> None:
        """Make the sessions of `sessions` publish to this hub (SQLite) once they commit."""
        sessions.configure(info={HUB: self})

    @contextlib.contextmanager
    def subscribe(self, kind: str):
        """A subscriber to changes of `kind` for the block's duration; SubscriptionLimit when full."""
        if self.count >= self.limit:
            raise SubscriptionLimit(f"At most {self.limit} subscriptions at a time on this server.")
        subscriber = Subscriber(kind, self.queue_size)
        self._subscribers[kind].add(subscriber)
        try:
            yield subscriber
        finally:
            self._subscribers[kind].discard(subscriber)

    def deliver(self, changes: list[Change]) -> None:
        for change in changes:
            for subscriber in list(self._subscribers.get(change.kind, ())):
                subscriber.offer(change)

    # ------------------------------------------------------------ PostgreSQL's LISTEN

    async def start(self) -> None:
        if self.postgres and self._task is None:
            self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _on_notify(self, _connection, _pid, _channel, payload: str) -> None:
        try:
            changes = [Change.of(item) for item in json.loads(payload)]
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed notification on %s", CHANNEL)
            return
        self.deliver(changes)

    async def _listen_once(self, dsn: str) -> None:
        """LISTEN on one connection until it is lost."""
        connection = await asyncpg.connect(dsn)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            await connection.add_listener(CHANNEL, self._on_notify)
            self.listening.set()
            await lost.wait()
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await connection.close()

    async def _listen(self) -> None:
        """LISTEN on CHANNEL for as long as the process runs, reconnecting when the
        connection is lost (changes committed meanwhile are not delivered: a client
        reads the current state again after a gap)."""
        dsn = make_url(self.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            try:
                await self._listen_once(dsn)
                log.warning("the LISTEN connection was lost; reconnecting")
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("cannot LISTEN on %s (%s); retrying", CHANNEL, error)
            await asyncio.sleep(RECONNECT_SECONDS)


# ---------------------------------------------------------------- the sessions' hooks


@event.listens_for(Session, "before_commit")
def _notify_before_commit(session: Session) -> None:
    """PostgreSQL: the changes as NOTIFY in the committing transaction."""
    if not session.info.get(CHANGES) or session.get_bind().dialect.name != "postgresql":
        return
    connection = session.connection()
    for payload in payloads(take_changes(session.info)):
        connection.execute(NOTIFY, {"channel": CHANNEL, "payload": payload})


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    """SQLite: the changes, once committed, to the hub of the sessions' factory."""
    changes = take_changes(session.info)
    hub = session.info.get(HUB)
    if changes and hub is not None:
        hub.deliver(changes)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    take_changes(session.info)
