"""Analytics: central banks' reserve holdings, a time series per (country, asset, unit);
the network's flows summed by corridor, currency, day and rate epoch as they are recorded.

A reserve amount is an exact decimal stored as text (as FX's rates and basket quantities are:
SQLite has no exact decimal column type, and a float would not do), in plain notation
with at most `resolvers.analytics.AMOUNT_PLACES` decimal places.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Column, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime, utcnow
from models.cards import CardAuthorization
from models.fx import ExchangeRate


class ReserveHolding(SQLModel, table=True):
    """What a country held of one asset (UST, XAU or a currency code), in one unit (USD
    or TONNE), as of a date. Recording the same (country, asset, unit, date) again
    replaces the amount and source."""

    __tablename__ = "reserve_holding"
    __table_args__ = (
        UniqueConstraint("country_code", "asset", "unit", "as_of", name="uq_reserve_holding_country_asset_unit_as_of"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    country_code: str = Field(sa_column=Column(String(2), ForeignKey("country.code"), nullable=False))
    asset: str = Field(sa_column=Column(String(3), nullable=False))
    unit: str = Field(sa_column=Column(String(5), nullable=False))
    amount: str = Field(sa_column=Column(String(40), nullable=False))
    as_of: dt.date = Field(sa_column=Column(Date, nullable=False))
    source: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    recorded_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class FlowRollup(SQLModel, table=True):
    """The network's flows (resolvers/analytics/flows.py says what counts) summed as they
    are recorded, in the same transaction: one row per (sending end's country, receiving
    end's country, currency, UTC day, rate epoch when recorded). `minor_high` and
    `minor_low` are the sums of the amounts' high and low 32 bits (the value is
    minor_high * 2^32 + minor_low, and no sum overflows), `first_at` and `last_at` the
    earliest and latest time of the flows summed. A change (a card refund) adds its
    difference; `flows` counts the flows with a value.

    The epoch, the latest rate publication at or before the flows when they were recorded
    (NO_EPOCH: none), only keeps apart flows that rates in force then told apart; the
    queries take each row's epoch from the publications as they stand (a row whose
    [first_at, last_at] a later, back-dated publication splits is read from the flows)."""

    __tablename__ = "flow_rollup"

    source_country: str = Field(sa_column=Column(String(2), ForeignKey("country.code"), primary_key=True))
    target_country: str = Field(sa_column=Column(String(2), ForeignKey("country.code"), primary_key=True))
    currency_code: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), primary_key=True))
    day: dt.datetime = Field(sa_column=Column(UTCDateTime, primary_key=True))  # its midnight, UTC
    epoch: dt.datetime = Field(sa_column=Column(UTCDateTime, primary_key=True))
    flows: int = Field(sa_column=Column(BigInteger, nullable=False))
    minor_high: int = Field(sa_column=Column(BigInteger, nullable=False))
    minor_low: int = Field(sa_column=Column(BigInteger, nullable=False))
    first_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


# The epoch of flows recorded before any rate was published.
NO_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# The rollup finds the latest publication at or before a flow, and the queries the rate
# epochs, by publication time alone (FX's own index leads with the pair).
Index("ix_exchange_rate_as_of", ExchangeRate.__table__.c.as_of)
# The flows of a period's partial days are found by their time: an interbank payment's
# creation (messaging's own index), a card payment's resolution (this one).
Index("ix_card_authorization_resolved_at", CardAuthorization.__table__.c.resolved_at)


class UTCDay(FunctionElement):
    """The midnight (UTC) that starts the UTC day of a timestamp, as a timestamp of the
    column's type on both engines."""

    type = UTCDateTime()
    inherit_cache = True
    name = "utc_day"


@compiles(UTCDay, "sqlite")
def _utc_day_sqlite(element: UTCDay, compiler, **kw) -> str:
    # The text SQLAlchemy stores a DateTime as on SQLite, at midnight.
    return f"strftime('%Y-%m-%d 00:00:00.000000', {compiler.process(element.clauses, **kw)})"


@compiles(UTCDay, "postgresql")
def _utc_day_postgresql(element: UTCDay, compiler, **kw) -> str:
    return f"(date_trunc('day', {compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
