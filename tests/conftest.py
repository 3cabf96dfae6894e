"""Fixtures: every test that takes `api` runs once on SQLite and once on PostgreSQL,
each time against a clean database (reference data only)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import models
from corridor import migrate
from corridor.app import create_app
from corridor.db import AUTHENTICATION_OPTION
from corridor.settings import Settings
from models.access import Role
from resolvers import access

# The server to test on; each test run makes a database of its own there (named
# after the process), so two runs at once never empty each other's tables.
POSTGRES_SERVER = os.environ.get(
    "CORRIDOR_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/corridor_test"
)
POSTGRES_URL = (
    make_url(POSTGRES_SERVER)
    .set(database=f"{make_url(POSTGRES_SERVER).database}_{os.getpid()}")
    .render_as_string(hide_password=False)
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Tables whose rows the migrations put there and every test keeps.
REFERENCE_TABLES = {"currency", "country", "country_bloc", "alembic_version"}


async def _drop_postgres(url: str) -> None:
    target = make_url(url)
    admin = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def _prepare_postgres(url: str) -> None:
    """Create the test database if needed and empty it."""
    target = make_url(url)
    admin = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            )
            if not exists:
                await connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        await admin.dispose()
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
async def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'corridor.db'}"
        return
    try:
        await _prepare_postgres(POSTGRES_URL)
    except Exception as error:  # unreachable server, refused login, ...
        reason = f"PostgreSQL not reachable at {POSTGRES_URL}: {type(error).__name__}: {error}"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: the PostgreSQL half must run)")
        pytest.skip(reason)
    yield POSTGRES_URL
    await _drop_postgres(POSTGRES_URL)


@pytest.fixture(scope="session")
async def app(database_url):
    application = create_app(Settings(database_url=database_url))
    await migrate.upgrade(application.state.engine)
    yield application
    await application.state.engine.dispose()


@dataclass
class Api:
    """The GraphQL endpoint as a client sees it, and the database behind it."""

    app: Any
    client: httpx.AsyncClient
    key: str  # an OPERATOR key

    @property
    def engine(self):
        return self.app.state.engine

    @property
    def sessions(self):
        return self.app.state.sessions

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def post(self, query: str, variables: dict | None = None, key: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def raw(self, query: str, variables: dict | None = None, key: str | None = None) -> dict:
        response = await self.post(query, variables, key)
        assert response.status_code == 200, response.text
        return response.json()

    async def __call__(self, query: str, variables: dict | None = None, key: str | None = None) -> dict:
        """The data of a request that must not fail."""
        body = await self.raw(query, variables, key)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def new_key(self, role: Role = Role.OPERATOR, institution_id: int | None = None) -> str:
        async with self.sessions() as session, session.begin():
            _, secret = await access.create_api_key(
                session, None, role=role, label=f"test {role.value}", institution_id=institution_id
            )
        return secret

    @contextmanager
    def count_statements(self):
        """Count the SQL statements sent while the block runs: `with api.count_statements() as n: ...; n[0]`.
        Authentication's statements are not counted: they happen once a second per key, not per request."""
        counter = [0]

        def before(connection, *_args, **_kwargs):
            if not connection.get_execution_options().get(AUTHENTICATION_OPTION):
                counter[0] += 1

        engines = [e.sync_engine for e in (self.engine, self.app.state.analytics_engine) if e is not None]
        for engine in engines:
            event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            for engine in engines:
                event.remove(engine, "before_cursor_execute", before)


async def _clean(engine) -> None:
    tables = [t for t in reversed(models.metadata.sorted_tables) if t.name not in REFERENCE_TABLES]
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await connection.execute(table.delete())


@pytest.fixture
async def api(app) -> AsyncIterator[Api]:
    await _clean(app.state.engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://corridor.test") as client:
        api = Api(app=app, client=client, key="")
        api.key = await api.new_key(Role.OPERATOR)
        yield api


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
async def served(request, tmp_path_factory):
    """`corridor serve` in a process of its own with the demo network, once per module
    and engine (tests.served)."""
    from tests.served import served_database, serving

    folder = tmp_path_factory.mktemp("served")
    url = served_database(request.param, folder, POSTGRES_URL)
    if request.param == "postgres":
        try:
            await _prepare_postgres(url)
        except Exception as error:
            reason = f"PostgreSQL not reachable at {url}: {type(error).__name__}: {error}"
            if IN_CI:
                pytest.fail(f"{reason} (CI=true: the PostgreSQL half must run)")
            pytest.skip(reason)
    log_path = folder / "server.log"
    running = serving(url, log_path)  # blocking subprocess work: off the event loop
    server = await asyncio.to_thread(running.__enter__)
    server.log_path = log_path
    try:
        yield server
    finally:
        await asyncio.to_thread(running.__exit__, None, None, None)
    if request.param == "postgres":
        await _drop_postgres(url)
