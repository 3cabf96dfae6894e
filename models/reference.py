"""Reference data: currencies, countries and the blocs they belong to, institutions."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Column, Enum, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime, utcnow


class InstitutionKind(enum.StrEnum):
    CENTRAL_BANK = "CENTRAL_BANK"
    COMMERCIAL_BANK = "COMMERCIAL_BANK"
    FX_PROVIDER = "FX_PROVIDER"
    SCHEME_OPERATOR = "SCHEME_OPERATOR"
    NETWORK_OPERATOR = "NETWORK_OPERATOR"


class Currency(SQLModel, table=True):
    __tablename__ = "currency"

    code: str = Field(sa_column=Column(String(3), primary_key=True))
    name: str = Field(sa_column=Column(String(80), nullable=False))
    # Decimal places of the minor unit: amounts are stored as integers of 10^-minor_units.
    minor_units: int = Field(sa_column=Column(Integer, nullable=False))


class Country(SQLModel, table=True):
    __tablename__ = "country"

    code: str = Field(sa_column=Column(String(2), primary_key=True))
    name: str = Field(sa_column=Column(String(80), nullable=False))
    currency_code: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), nullable=False))


class CountryBloc(SQLModel, table=True):
    """Membership of a country in a grouping such as BRICS."""

    __tablename__ = "country_bloc"

    country_code: str = Field(sa_column=Column(String(2), ForeignKey("country.code"), primary_key=True))
    bloc: str = Field(sa_column=Column(String(20), primary_key=True))


class Institution(SQLModel, table=True):
    __tablename__ = "institution"
    __table_args__ = (
        Index("ix_institution_kind_id", "kind", "id"),
        Index("ix_institution_country_id", "country_code", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    name: str = Field(sa_column=Column(String(140), nullable=False))
    bic: str = Field(sa_column=Column(String(11), nullable=False, unique=True))
    country_code: str = Field(sa_column=Column(String(2), ForeignKey("country.code"), nullable=False))
    kind: InstitutionKind = Field(
        sa_column=Column(Enum(InstitutionKind, native_enum=False, length=20, create_constraint=True), nullable=False)
    )
    # FX providers only: basis points taken from the mid rate.
    spread_bps: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
