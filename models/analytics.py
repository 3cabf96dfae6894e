"""Analytics: central banks' reserve holdings, a time series per (country, asset, unit).

An amount is an exact decimal stored as text (as FX's rates and basket quantities are:
SQLite has no exact decimal column type, and a float would not do), in plain notation
with at most `resolvers.analytics.AMOUNT_PLACES` decimal places.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Date, ForeignKey, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime, utcnow


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
