"""FX: published exchange rates (kept as history) and basket currency units.

Rates and basket quantities are exact decimals stored as text: SQLite has no exact
decimal column type, and a float would not do.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import BigInteger, Column, Enum, ForeignKey, Index, Integer, String, Uuid
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


class QuoteState(enum.StrEnum):
    OPEN = "OPEN"
    USED = "USED"
    EXPIRED = "EXPIRED"


class Quote(SQLModel, table=True):
    """A conversion fixed for a while: its path, a provider per leg, the rates after the
    providers' spreads, and both amounts (integers of minor units)."""

    __tablename__ = "quote"

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    sell_currency: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), nullable=False))
    buy_currency: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), nullable=False))
    sell_amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    buy_amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    rate: str = Field(sa_column=Column(String(40), nullable=False))
    # Currencies from sell to buy ("RUB,CNY,INR"); one provider id and one rate per leg.
    path: str = Field(sa_column=Column(String(200), nullable=False))
    providers: str = Field(sa_column=Column(String(400), nullable=False))
    leg_rates: str = Field(sa_column=Column(String(800), nullable=False))
    # The amount, in minor units, that changes hands at each currency of the path.
    amounts: str = Field(sa_column=Column(String(800), nullable=False))
    state: QuoteState = Field(
        sa_column=Column(Enum(QuoteState, native_enum=False, length=8, create_constraint=True), nullable=False)
    )
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # The exchange that used it: its transferId (idempotency key).
    used_by: uuid.UUID | None = Field(default=None, sa_column=Column(Uuid, nullable=True, unique=True))
    # Whose it is: the institution a participant requested it for, or None for an
    # operator's quote. Only they (and operators) see and execute it.
    owner_id: int | None = Field(default=None, sa_column=Column(Id, ForeignKey("institution.id"), nullable=True))


class ExchangeLeg(SQLModel, table=True):
    """The ledger transfers an exchange posted, in order."""

    __tablename__ = "exchange_leg"

    quote_id: int = Field(sa_column=Column(Id, ForeignKey("quote.id"), primary_key=True))
    position: int = Field(sa_column=Column(Integer, primary_key=True))
    transfer_id: int = Field(sa_column=Column(Id, ForeignKey("transfer.id"), nullable=False, unique=True))
