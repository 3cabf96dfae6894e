"""`resolvers.rows.insert_all`, the one way many rows of a table are inserted at once
(a pacs.008's payments, their events and transfer links): on PostgreSQL one INSERT from
arrays, elsewhere an executemany. What is stored is exactly what was given, whatever the
engine: enums by name, nulls, times, text at its column's length; a value too long for
its column is refused as by a plain INSERT, never cut; what is returned matches the rows."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from models.messaging import InterbankPayment, PaymentEvent, PaymentStatus
from resolvers.messaging.posting import DETAIL_MAX
from resolvers.rows import insert_all
from tests.messaging_world import build, payment, send_payment

EVENTS = PaymentEvent.__table__


async def _a_payment_id(api) -> int:
    ids = await build(api)
    uetr = str(uuid.uuid4())
    sent = await send_payment(api, payment(ids, "sber", "vtb", "1.00", "RUB", uetr=uetr))
    assert sent["errors"] == [], sent
    async with api.engine.connect() as connection:
        table = InterbankPayment.__table__
        return (await connection.execute(select(table.c.id).where(table.c.uetr == uuid.UUID(uetr)))).scalar_one()


COLUMNS = ("payment_id", "status", "iso_status", "reason_code", "detail", "at")


def _event(payment_id: int, status: PaymentStatus, detail: str | None, at: dt.datetime) -> tuple:
    return (payment_id, status, "RJCT", None, detail, at)


async def test_rows_are_stored_as_given_and_returned_in_full(api):
    payment_id = await _a_payment_id(api)
    at = dt.datetime(2026, 12, 4, 12, 30, 15, 123456, tzinfo=dt.UTC)
    rows = [
        _event(payment_id, PaymentStatus.REJECTED, "x" * DETAIL_MAX, at),
        _event(payment_id, PaymentStatus.SETTLED, None, at + dt.timedelta(microseconds=1)),
        _event(payment_id, PaymentStatus.RECEIVED, "Ünïcødé 汇款", at + dt.timedelta(days=1)),
    ]
    async with api.engine.begin() as connection:
        returned = await insert_all(connection, EVENTS, COLUMNS, rows, ("id", "detail"))
        ids = [r.id for r in returned]
        stored = (await connection.execute(select(*(EVENTS.c[c] for c in COLUMNS)).where(EVENTS.c.id.in_(ids)))).all()
    assert sorted(r.detail or "" for r in returned) == sorted(detail or "" for *_, detail, _ in rows)
    assert sorted(map(tuple, stored), key=lambda row: row[-1]) == rows  # by time: the order given


async def test_a_value_too_long_for_its_column_is_refused_not_cut(api):
    payment_id = await _a_payment_id(api)
    at = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
    too_long = [_event(payment_id, PaymentStatus.SETTLED, "y" * (DETAIL_MAX + 1), at)]
    if api.dialect != "postgresql":  # SQLite holds text to no length: what is given is kept whole
        async with api.engine.begin() as connection:
            await insert_all(connection, EVENTS, COLUMNS, too_long)
        return
    with pytest.raises(DBAPIError, match="too long"):
        async with api.engine.begin() as connection:
            await insert_all(connection, EVENTS, COLUMNS, too_long)
    async with api.engine.connect() as connection:
        kept = (await connection.execute(select(EVENTS.c.id).where(EVENTS.c.detail.like("yyy%")))).all()
    assert kept == []


async def test_no_rows_is_no_statement(api):
    async with api.engine.begin() as connection:
        with api.count_statements() as statements:
            assert await insert_all(connection, EVENTS, COLUMNS, []) == []
    assert statements[0] == 0
