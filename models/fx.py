"""FX: published exchange rates (kept as history) and basket currency units.

Rates and basket quantities are exact decimals stored as text: SQLite has no exact
decimal column type, and a float would not do.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime, utcnow


class ExchangeRate(SQLModel, table=True):
    """Units of `quote` for one unit of `base`, as published at `as_of`."""

    __tablename__ = "exchange_rate"
    __table_args__ = (Index("ix_exchange_rate_pair_as_of", "base", "quote", "as_of"),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    base: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), nullable=False))
    quote: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), nullable=False))
    rate: str = Field(sa_column=Column(String(40), nullable=False))
    source: str = Field(sa_column=Column(String(100), nullable=False))
    as_of: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Basket(SQLModel, table=True):
    __tablename__ = "basket"

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    code: str = Field(sa_column=Column(String(12), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    value_currency: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), nullable=False))
    initial_value: str = Field(sa_column=Column(String(40), nullable=False))
    defined_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class BasketComponent(SQLModel, table=True):
    """A fixed quantity of one currency in one basket unit (the SDR method)."""

    __tablename__ = "basket_component"

    basket_id: int = Field(sa_column=Column(Id, ForeignKey("basket.id"), primary_key=True))
    currency: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), primary_key=True))
    position: int = Field(sa_column=Column(Integer, nullable=False))
    weight: str = Field(sa_column=Column(String(40), nullable=False))
    amount: str = Field(sa_column=Column(String(40), nullable=False))
