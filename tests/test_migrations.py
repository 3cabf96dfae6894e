"""The migrations build exactly the tables the models declare, on both engines."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import models
from corridor import migrate


async def test_migrated_database_matches_the_models(api):
    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, models.metadata)

    async with api.engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def fresh_engine(request, tmp_path):
    """An empty database of its own, on each engine."""
    from tests.conftest import IN_CI, POSTGRES_URL, _drop_postgres, _prepare_postgres

    if request.param == "sqlite":
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
        yield engine
        await engine.dispose()
        return
    url = make_url(POSTGRES_URL).set(database=f"{make_url(POSTGRES_URL).database}_fresh")
    url = url.render_as_string(hide_password=False)
    try:
        await _prepare_postgres(url)
    except Exception as error:
        if IN_CI:
            pytest.fail(f"PostgreSQL not reachable: {error}")
        pytest.skip(f"PostgreSQL not reachable: {error}")
    engine = create_async_engine(url)
    yield engine
    await engine.dispose()
    await _drop_postgres(url)


async def test_quotes_executed_before_0009_keep_their_owner_and_legs(fresh_engine):
    """A quote executed under 0008 (legs with ids derived from the exchange's transferId,
    no owner recorded) belongs after 0009 to the institution its first leg debited, with
    its legs recorded in order; an open one lapses."""
    await migrate.upgrade(fresh_engine, "0008")
    key = uuid.uuid4()
    sqlite = fresh_engine.dialect.name == "sqlite"
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None) if sqlite else dt.datetime.now(dt.UTC)

    def uid(value: uuid.UUID):
        return value.hex if sqlite else value  # how sqlalchemy's Uuid stores it on each engine

    async with fresh_engine.begin() as connection:

        async def insert(table: str, **values) -> None:
            names = ", ".join(values)
            await connection.execute(text(f"INSERT INTO {table} ({names}) VALUES (:{', :'.join(values)})"), values)

        for number, (bic, country, kind) in enumerate(
            [("SABRRUMM", "RU", "COMMERCIAL_BANK"), ("CRFXAEAD", "AE", "FX_PROVIDER")]
        ):
            await insert(
                "institution", id=number + 1, name=bic, bic=bic, country_code=country, kind=kind, created_at=now
            )
        zero = {"debits_pending": 0, "debits_posted": 0, "credits_pending": 0, "credits_posted": 0, "created_at": now}
        for number, (owner, currency, kind) in enumerate(
            [(1, "RUB", "CUSTOMER"), (2, "RUB", "FX_POSITION"), (2, "CNY", "FX_POSITION"), (1, "CNY", "CUSTOMER")]
        ):
            await insert(
                "account", id=number + 1, owner_id=owner, name=f"a{number}", currency_code=currency, kind=kind, **zero
            )
        for number, (debit, credit, currency) in enumerate([(1, 2, "RUB"), (3, 4, "CNY")]):
            await insert(
                "transfer",
                transfer_id=uid(uuid.uuid5(key, f"exchange leg {number}")),
                debit_account_id=debit,
                credit_account_id=credit,
                amount=100,
                currency_code=currency,
                state="POSTED",
                posted_amount=100,
                pending=False,
                created_at=now,
            )
        for quote_id, used_by, state in [(1, uid(key), "USED"), (2, None, "OPEN")]:
            await insert(
                "quote",
                id=quote_id,
                sell_currency="RUB",
                buy_currency="CNY",
                sell_amount=100,
                buy_amount=100,
                rate="1",
                path="RUB,CNY",
                providers="2",
                leg_rates="1",
                amounts="100,100",
                state=state,
                expires_at=now + dt.timedelta(hours=1),
                created_at=now,
                used_by=used_by,
            )
    await migrate.upgrade(fresh_engine)
    async with fresh_engine.connect() as connection:
        owners = dict((await connection.execute(text("SELECT id, owner_id FROM quote ORDER BY id"))).all())
        legs = (
            await connection.execute(text("SELECT position FROM exchange_leg WHERE quote_id = 1 ORDER BY position"))
        ).all()
        lapsed = (await connection.execute(text("SELECT expires_at FROM quote WHERE id = 2"))).scalar_one()
    assert owners == {1: 1, 2: None}
    assert [position for (position,) in legs] == [0, 1]
    lapsed = lapsed if isinstance(lapsed, dt.datetime) else dt.datetime.fromisoformat(str(lapsed))
    assert lapsed.replace(tzinfo=None) <= dt.datetime.now(dt.UTC).replace(tzinfo=None)


async def test_basket_amounts_stored_before_0010_are_stated_at_six_places(fresh_engine):
    """0010 rounds a component's amount stored at 12 significant digits to six decimal
    places, keeps one that is already exact, and keeps the digits of one that would
    round to nothing."""
    await migrate.upgrade(fresh_engine, "0009")
    now = dt.datetime.now(dt.UTC)
    if fresh_engine.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    async with fresh_engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO basket (id, code, name, value_currency, initial_value, defined_at)"
                " VALUES (1, 'UNIT', 'unit', 'USD', '100', :now)"
            ),
            {"now": now},
        )
        for position, (currency, amount) in enumerate([("CNY", "433.800000001"), ("XAU", "0.02"), ("INR", "4E-7")]):
            await connection.execute(
                text(
                    "INSERT INTO basket_component (basket_id, currency, position, weight, amount)"
                    " VALUES (1, :currency, :position, '0.1', :amount)"
                ),
                {"currency": currency, "position": position, "amount": amount},
            )
    await migrate.upgrade(fresh_engine)
    async with fresh_engine.connect() as connection:
        rows = await connection.execute(text("SELECT currency, amount FROM basket_component ORDER BY position"))
        assert dict(rows.all()) == {"CNY": "433.8", "XAU": "0.02", "INR": "4E-7"}
