"""API keys: only the SHA-256 of each secret is stored; a revoked key is kept, marked."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Column, Enum, ForeignKey, String
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime, utcnow


class Role(enum.StrEnum):
    OPERATOR = "OPERATOR"
    PARTICIPANT = "PARTICIPANT"
    ANALYST = "ANALYST"


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    key_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    role: Role = Field(
        sa_column=Column(Enum(Role, native_enum=False, length=12, create_constraint=True), nullable=False)
    )
    institution_id: int | None = Field(default=None, sa_column=Column(Id, ForeignKey("institution.id"), nullable=True))
    label: str = Field(sa_column=Column(String(100), nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # Set once, when the key is revoked: from then on it authenticates nothing.
    revoked_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
