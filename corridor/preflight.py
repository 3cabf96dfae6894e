"""What every `corridor` command checks before it starts: that DATABASE_URL parses and
names a supported async driver, that the database answers, and whether it is
migrated. Each problem is one line that says what is wrong and what to do; the CLI
prints it and exits with status 2, never a traceback."""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from corridor.migrate import alembic_config

EXAMPLES = "sqlite+aiosqlite:///./corridor.db or postgresql+asyncpg://user@host:5432/name"
CONNECT_SECONDS = 10
PASSWORD = re.compile(r"([^:/@]*):[^@/]*@")


class Problem(Exception):
    """A start-up problem, said in one line for the person running the command."""


def parse_url(url: str) -> URL:
    """The URL, or a Problem naming what is wrong with it."""
    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018 - a port that is not a number fails here, not at connect
    except (ArgumentError, ValueError):
        shown = PASSWORD.sub(r"\1:***@", url)
        raise Problem(f"DATABASE_URL does not parse as a database URL ({shown!r}): use {EXAMPLES}") from None
    # Read from the name itself: asking SQLAlchemy for the driver loads the dialect,
    # which fails on a name it does not know ("postgres").
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql") and driver != "asyncpg":
        raise Problem(f"{parsed.drivername}:// needs the async driver: use postgresql+asyncpg://...")
    if backend == "sqlite" and driver != "aiosqlite":
        raise Problem(f"{parsed.drivername}:// needs the async driver: use sqlite+aiosqlite:///...")
    if backend not in ("sqlite", "postgresql"):
        raise Problem(f"{backend} databases are not supported: use {EXAMPLES}")
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(parsed.database).expanduser().resolve().parent
        if not folder.is_dir():
            raise Problem(f"the SQLite file's folder {folder} does not exist: create it, or set DATABASE_URL")
    return parsed


def _connection_problem(url: URL, error: BaseException) -> Problem:
    original = getattr(error, "orig", None) or error
    name = type(original).__name__
    # PostgreSQL's SQLSTATE, which the asyncpg adapter keeps on its wrapped error.
    state = getattr(original, "sqlstate", None) or getattr(original.__cause__, "sqlstate", None)
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    if state == "3D000":
        return Problem(f"no such database {url.database!r} on {where}: create it, or set DATABASE_URL")
    if state in ("28P01", "28000"):
        return Problem(f"the database at {where} refused the login of {url.username!r}: check DATABASE_URL")
    if isinstance(original, OSError | socket.gaierror | TimeoutError):
        return Problem(f"cannot reach the database at {where} ({original}): is it running? or set DATABASE_URL")
    if url.get_backend_name() == "sqlite":
        return Problem(f"cannot open the SQLite database {url.database!r} ({original}): check DATABASE_URL")
    return Problem(f"the database at {where} refused the connection ({name}: {original}): check DATABASE_URL")


async def check_connection(engine: AsyncEngine) -> None:
    """The database answers a query, or a Problem saying why not."""
    try:
        async with asyncio.timeout(CONNECT_SECONDS):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except (DBAPIError, OSError, TimeoutError) as error:
        raise _connection_problem(engine.url, error) from None
    except (TypeError, ValueError, OverflowError) as error:
        # The driver refused an option of the URL (`?sslmode=` for asyncpg, a port past 65535).
        raise Problem(f"the database driver refused DATABASE_URL ({error}): check its port and options") from None


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's Alembic revision, or None when it was never migrated."""

    def read(connection) -> str | None:
        from alembic.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)


async def migration_problem(engine: AsyncEngine) -> str | None:
    """Why the database is behind the code's revision, or None when it is at it; a
    Problem when it is at a revision this code does not know (migrated by newer code)."""
    current, head = await current_revision(engine), head_revision()
    if current == head:
        return None
    if current is None:
        return "the database is not migrated"
    try:
        ScriptDirectory.from_config(alembic_config()).get_revision(current)
    except CommandError:
        raise Problem(
            f"the database is at revision {current}, which this code does not know "
            f"(newer code migrated it; this code's latest is {head}): run the newer code, or set DATABASE_URL"
        ) from None
    return f"the database is at revision {current}, the code needs {head}"
