"""The rollup of the network's flows (`models.analytics.FlowRollup`), kept as the flows
are recorded, in the transaction that records them, so that the analytics read a few
rows a day instead of every flow (`flows`).

A flow is added by one statement: its ends' countries, currency, UTC day and the latest
rate publication at or before it are looked up in the database, and its count and
amount (as two 32-bit halves) are added to the row of that key with an upsert that
increments it, `INSERT ... ON CONFLICT DO UPDATE SET flows = flows + excluded.flows`
(and `first_at`/`last_at` widened), on both engines. Concurrent transactions adding to
one row wait on its row lock in turn, each adding its own: no increment is lost. The
rows of one statement are locked in key order, so two recorders never deadlock on them.

What counts is `flows.SOURCES`: an interbank payment counts when it is stored SETTLED
(it is stored in its final state and never changes), a card payment when it is captured
(its captured amount) and again, by the difference, at each refund; refunded in full
it no longer counts (`flows` goes down by one). `backfill` builds the rollup from the
stored flows (the migration that made the table, and the analytics benchmark, which
writes its payments straight into the database, call it): the same statement over all
of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, bindparam, cast, delete, func, literal_column, select, true, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

from models.analytics import NO_EPOCH, FlowRollup, UTCDay
from models.base import UTCDateTime
from models.cards import CardAuthorization
from models.fx import ExchangeRate
from models.reference import Institution
from resolvers.analytics.flows import CARDS, HALF, INTERBANK, SOURCES, Source

ROLLUP = FlowRollup.__table__
KEY = ("source_country", "target_country", "currency_code", "day", "epoch")
SUMS = ("flows", "minor_high", "minor_low")
DIALECTS = {"postgresql": (postgresql.insert, func.least, func.greatest), "sqlite": (sqlite.insert, func.min, func.max)}


def _contributions(source: Source, flows, value, *where):
    """Rows (left_id, right_id, currency, at, flows, value) of one kind of flow."""
    columns = (source.left_id, source.right_id, source.currency, source.at, flows, value)
    names = ("left_id", "right_id", "currency", "at", "flows", "value")
    return select(*(column.label(name) for column, name in zip(columns, names, strict=True))).where(*where)


def _upsert(dialect: str, contributions):
    """Add `contributions` to the rollup: summed per corridor, currency and time (the flows
    recorded together share one), keyed by day and epoch, summed per key, and upserted in
    key order."""
    insert, least, greatest = DIALECTS[dialect]
    rows = contributions.subquery("contributions")
    left, right = aliased(Institution), aliased(Institution)
    timed = (
        select(
            left.country_code.label("source_country"),
            right.country_code.label("target_country"),
            rows.c.currency.label("currency_code"),
            rows.c.at,
            func.sum(rows.c.flows).label("flows"),
            func.sum(rows.c.value // HALF).label("high"),
            func.sum(rows.c.value % HALF).label("low"),
        )
        .select_from(rows)
        .join(left, left.id == rows.c.left_id)
        .join(right, right.id == rows.c.right_id)
        .group_by(left.country_code, right.country_code, rows.c.currency, rows.c.at)
        .subquery("timed")
    )
    latest = (
        select(ExchangeRate.as_of)
        .where(ExchangeRate.as_of <= timed.c.at)
        .order_by(ExchangeRate.as_of.desc())
        .limit(1)
        .scalar_subquery()
    )
    keyed = select(
        *(timed.c[name] for name in KEY[:3]),
        UTCDay(timed.c.at).label("day"),
        func.coalesce(latest, bindparam("no_epoch", NO_EPOCH, type_=UTCDateTime)).label("epoch"),
        timed.c.flows,
        timed.c.high,
        timed.c.low,
        timed.c.at,
    ).subquery("keyed")
    keys = [keyed.c[name] for name in KEY]
    summed = (
        select(
            *keys,
            func.sum(keyed.c.flows),
            func.sum(keyed.c.high),
            func.sum(keyed.c.low),
            func.min(keyed.c.at),
            func.max(keyed.c.at),
        )
        .where(true())  # SQLite reads ON CONFLICT after a join as the join's condition without one
        .group_by(*keys)
        .order_by(*keys)
    )
    statement = insert(ROLLUP).from_select([*KEY, *SUMS, "first_at", "last_at"], summed)
    excluded = statement.excluded
    changes = {name: ROLLUP.c[name] + excluded[name] for name in SUMS}
    changes["first_at"] = least(ROLLUP.c.first_at, excluded.first_at)
    changes["last_at"] = greatest(ROLLUP.c.last_at, excluded.last_at)
    return statement.on_conflict_do_update(index_elements=list(KEY), set_=changes)


def _statements(contributions) -> dict:
    return {dialect: _upsert(dialect, contributions) for dialect in DIALECTS}


ONE = literal_column("1", BigInteger)
# The SETTLED payments among some just stored.
_PAYMENTS = _statements(
    _contributions(
        INTERBANK, ONE, INTERBANK.value, *INTERBANK.where, INTERBANK.table.id.in_(bindparam("ids", expanding=True))
    )
)
# A card payment's change, whatever it is now: how many flows and how much value it adds (a refund: less).
_CARD = _statements(
    _contributions(
        CARDS,
        cast(bindparam("flows"), BigInteger),
        cast(bindparam("value"), BigInteger),
        CardAuthorization.id == bindparam("id"),
    )
)
# Every flow stored.
_ALL = _statements(union_all(*(_contributions(source, ONE, source.value, *source.where) for source in SOURCES)))


async def roll_up_payments(session: AsyncSession, payment_ids: list[int]) -> None:
    """Add the SETTLED payments among the stored `payment_ids` (one statement)."""
    if payment_ids:
        connection = await session.connection()
        await connection.execute(_PAYMENTS[connection.dialect.name], {"ids": payment_ids})


async def roll_up_card_payments(session: AsyncSession, changes: Sequence[tuple[CardAuthorization, int]]) -> None:
    """Add captured card payments' changes, once they are stored, in one statement: each
    (authorization, before) its value net of refunds now against `before` (0 when it is
    captured, the net value before a refund)."""
    values = []
    for row, before in changes:
        now = row.captured_amount - row.refunded_amount
        flows = int(now > 0) - int(before > 0)
        if now != before or flows:
            values.append({"id": row.id, "flows": flows, "value": now - before})
    if values:
        connection = await session.connection()
        await connection.execute(_CARD[connection.dialect.name], values)


def backfill(dialect: str) -> list:
    """The statements that build the rollup again from every stored flow, in order (the
    migration runs them on its connection, the benchmark on its own)."""
    return [delete(ROLLUP), _ALL[dialect]]
