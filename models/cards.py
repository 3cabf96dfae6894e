"""Card schemes: their BIN ranges, member institutions, and links between schemes."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import CheckConstraint, Column, Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime, utcnow


class ParticipationStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


class SchemeRole(enum.StrEnum):
    ISSUER = "ISSUER"
    ACQUIRER = "ACQUIRER"


class CardScheme(SQLModel, table=True):
    __tablename__ = "card_scheme"

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    code: str = Field(sa_column=Column(String(20), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    operator_id: int = Field(sa_column=Column(Id, ForeignKey("institution.id"), nullable=False))
    country_code: str = Field(sa_column=Column(String(2), ForeignKey("country.code"), nullable=False))
    settlement_currency: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class BinRange(SQLModel, table=True):
    """Inclusive bounds of equal length: PANs whose first len(low) digits lie in [low, high]."""

    __tablename__ = "bin_range"
    __table_args__ = (CheckConstraint("length(low) = length(high) AND low <= high", name="bounds"),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    scheme_id: int = Field(sa_column=Column(Id, ForeignKey("card_scheme.id"), nullable=False, index=True))
    low: str = Field(sa_column=Column(String(11), nullable=False))
    high: str = Field(sa_column=Column(String(11), nullable=False))


class SchemeMembership(SQLModel, table=True):
    __tablename__ = "scheme_membership"

    scheme_id: int = Field(sa_column=Column(Id, ForeignKey("card_scheme.id"), primary_key=True))
    institution_id: int = Field(sa_column=Column(Id, ForeignKey("institution.id"), primary_key=True))
    # "ISSUER", "ACQUIRER" or "ISSUER,ACQUIRER"
    roles: str = Field(sa_column=Column(String(20), nullable=False))
    status: ParticipationStatus = Field(
        sa_column=Column(
            Enum(ParticipationStatus, native_enum=False, length=10, create_constraint=True), nullable=False
        )
    )
    reason: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class SchemeLink(SQLModel, table=True):
    """Cards of `card_scheme` are accepted at merchants acquired on `accepting_scheme`."""

    __tablename__ = "scheme_link"
    __table_args__ = (
        UniqueConstraint("card_scheme_id", "accepting_scheme_id", name="uq_scheme_link_pair"),
        CheckConstraint("fee_bps >= 0 AND fee_bps <= 10000", name="fee_bps"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    card_scheme_id: int = Field(sa_column=Column(Id, ForeignKey("card_scheme.id"), nullable=False))
    accepting_scheme_id: int = Field(sa_column=Column(Id, ForeignKey("card_scheme.id"), nullable=False))
    status: ParticipationStatus = Field(
        sa_column=Column(
            Enum(ParticipationStatus, native_enum=False, length=10, create_constraint=True), nullable=False
        )
    )
    fee_bps: int = Field(sa_column=Column(Integer, nullable=False))


class CardStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    BLOCKED = "BLOCKED"


class Card(SQLModel, table=True):
    """A card. The PAN itself is never stored: its keyed hash (HMAC-SHA-256 with the
    server secret), its first six and last four digits, and its length."""

    __tablename__ = "card"

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    pan_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    first6: str = Field(sa_column=Column(String(6), nullable=False))
    last4: str = Field(sa_column=Column(String(4), nullable=False))
    pan_length: int = Field(sa_column=Column(Integer, nullable=False))
    scheme_id: int = Field(sa_column=Column(Id, ForeignKey("card_scheme.id"), nullable=False))
    co_badge_scheme_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("card_scheme.id"), nullable=True)
    )
    issuer_id: int = Field(sa_column=Column(Id, ForeignKey("institution.id"), nullable=False, index=True))
    account_id: int = Field(sa_column=Column(Id, ForeignKey("account.id"), nullable=False))
    expiry_month: int = Field(sa_column=Column(Integer, nullable=False))
    expiry_year: int = Field(sa_column=Column(Integer, nullable=False))
    status: CardStatus = Field(
        sa_column=Column(Enum(CardStatus, native_enum=False, length=8, create_constraint=True), nullable=False)
    )
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Merchant(SQLModel, table=True):
    __tablename__ = "merchant"

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    country_code: str = Field(sa_column=Column(String(2), ForeignKey("country.code"), nullable=False))
    acquirer_id: int = Field(sa_column=Column(Id, ForeignKey("institution.id"), nullable=False, index=True))
    accepting_scheme_id: int = Field(sa_column=Column(Id, ForeignKey("card_scheme.id"), nullable=False))
    account_id: int = Field(sa_column=Column(Id, ForeignKey("account.id"), nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
