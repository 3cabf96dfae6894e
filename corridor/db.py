"""The database engine and sessions.

SQLite (the embedded default) runs in WAL mode with a busy timeout and foreign
keys on, through one connection per process: SQLite has a single writer, and a
larger pool only makes writers spin on the lock (../shared/PERFORMANCE.md).
PostgreSQL runs through asyncpg with a small pool per process, and the analytics' reads
through a second, smaller one (`create_analytics_engine`).
"""

from __future__ import annotations

from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.settings import Settings

# Execution option that marks a connection's transaction as one that writes.
WRITE_OPTION = "corridor_write"
# Execution option that marks the key lookup of authentication (not a request's own work).
AUTHENTICATION_OPTION = "corridor_authentication"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _closed(dbapi_connection) -> bool:
    """Whether the driver's connection behind SQLAlchemy's adapter has been closed."""
    driver = getattr(dbapi_connection, "_connection", None)
    if driver is None:
        return False
    is_closed = getattr(driver, "is_closed", None)
    if callable(is_closed):  # asyncpg
        return bool(is_closed())
    return getattr(driver, "_connection", True) is None  # aiosqlite: its sqlite3 connection


def _replace_closed_connections(engine: AsyncEngine) -> AsyncEngine:
    """A statement cancelled half-way (graphql-core cancels the fields a null parent no
    longer needs) can leave a closed connection in the pool; checking it out replaces it
    with a new one instead of failing the next request. Costs no statement."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _check(dbapi_connection, _record, _proxy):
        if _closed(dbapi_connection):
            raise exc.DisconnectionError("the pooled connection was closed")

    return engine


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            pool_size=settings.pool_size or 1,
            max_overflow=0,
            pool_timeout=30,
            connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
        )
        busy_ms = settings.sqlite_busy_timeout_ms

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # The driver's own implicit BEGIN is off; `_sqlite_begin` says how to begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(connection):
            # A writing transaction takes the write lock up front (BEGIN IMMEDIATE): a
            # reader that later writes could otherwise fail at once with SQLITE_BUSY
            # when another process wrote in between, without waiting for busy_timeout.
            immediate = connection.get_execution_options().get(WRITE_OPTION, False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return _replace_closed_connections(engine)
    return _replace_closed_connections(
        create_async_engine(
            url,
            # As many as the requests a worker has in flight at 32 clients: a smaller pool
            # opened and closed about 10 connections a second (new PostgreSQL backends)
            # under the reads' load, its overflow closed whenever the demand dipped.
            pool_size=settings.pool_size or 20,
            max_overflow=10,
            pool_pre_ping=False,
            # The connection used last is handed out first: its prepared statements (asyncpg's
            # cache, PostgreSQL's plans) are warm, where a queue would rotate through them all.
            pool_use_lifo=True,
        )
    )


# The analytics pool: a few connections per process, whose statements PostgreSQL plans
# once (a generic plan) instead of on each execution. The analytics' statements are
# built once per shape of query and their plans do not depend on the values (the time
# indexes and the rollup's key serve any period); their planning cost up to a third of
# their execution. The ledger's pool keeps PostgreSQL's choice: some of its statements
# use partial indexes, which only a plan that sees the values can.
ANALYTICS_POOL = 4
ANALYTICS_SETTINGS = {"plan_cache_mode": "force_generic_plan"}


def create_analytics_engine(settings: Settings) -> AsyncEngine | None:
    """The engine of the analytics' reads on PostgreSQL; None on SQLite, whose one
    connection per process serves them too."""
    if is_sqlite(settings.database_url):
        return None
    return _replace_closed_connections(
        create_async_engine(
            settings.database_url,
            pool_size=ANALYTICS_POOL,
            max_overflow=ANALYTICS_POOL,
            pool_pre_ping=False,
            pool_use_lifo=True,
            connect_args={"server_settings": ANALYTICS_SETTINGS},
        )
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
