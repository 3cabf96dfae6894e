"""Settlement: windows of obligations between institutions, per scope (a card scheme or
a payment network, by code) and currency, netted when a window closes and settled on
the ledger through the scope operator's SETTLEMENT account."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, CheckConstraint, Column, Enum, ForeignKey, Index, Integer, String, text
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime


class WindowState(enum.StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"
    SETTLED = "SETTLED"


class SettlementWindow(SQLModel, table=True):
    """A window of obligations. While OPEN it takes new obligations (one OPEN window per
    scope and currency); closing it fixes its figures and positions for good."""

    __tablename__ = "settlement_window"
    __table_args__ = (
        Index(
            "uq_settlement_window_open",
            "scope",
            "currency_code",
            unique=True,
            sqlite_where=text("state = 'OPEN'"),
            postgresql_where=text("state = 'OPEN'"),
        ),
        Index("ix_settlement_window_scope_id", "scope", "currency_code", "id"),
        CheckConstraint("gross >= 0 AND net >= 0 AND net <= gross", name="figures"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    scope: str = Field(sa_column=Column(String(20), nullable=False))
    currency_code: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), nullable=False))
    state: WindowState = Field(
        sa_column=Column(Enum(WindowState, native_enum=False, length=7, create_constraint=True), nullable=False)
    )
    opened_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    closed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    settled_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    # Fixed when the window closes (minor units of the currency).
    obligation_count: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    gross: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    net: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))


class Obligation(SQLModel, table=True):
    """`payer_id` owes `payee_id` `amount` (minor units of the window's currency): one posted
    leg between accounts of two institutions, `transfer_id` the ledger transfer."""

    __tablename__ = "settlement_obligation"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("payer_id <> payee_id", name="two_institutions"),
        Index("ix_settlement_obligation_window_id", "window_id", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    window_id: int = Field(sa_column=Column(Id, ForeignKey("settlement_window.id"), nullable=False))
    payer_id: int = Field(sa_column=Column(Id, ForeignKey("institution.id"), nullable=False))
    payee_id: int = Field(sa_column=Column(Id, ForeignKey("institution.id"), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    transfer_id: int = Field(sa_column=Column(Id, ForeignKey("transfer.id"), nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class NetPosition(SQLModel, table=True):
    """An institution's position in a closed window: what it is owed and owes in all."""

    __tablename__ = "settlement_position"

    window_id: int = Field(sa_column=Column(Id, ForeignKey("settlement_window.id"), primary_key=True))
    institution_id: int = Field(sa_column=Column(Id, ForeignKey("institution.id"), primary_key=True, index=True))
    receivable: int = Field(sa_column=Column(BigInteger, nullable=False))
    payable: int = Field(sa_column=Column(BigInteger, nullable=False))


class SettlementTransfer(SQLModel, table=True):
    """The ledger transfers that settled a window, in order."""

    __tablename__ = "settlement_transfer"

    window_id: int = Field(sa_column=Column(Id, ForeignKey("settlement_window.id"), primary_key=True))
    position: int = Field(sa_column=Column(Integer, primary_key=True))
    transfer_id: int = Field(sa_column=Column(Id, ForeignKey("transfer.id"), nullable=False, unique=True))
