"""The double-entry ledger: accounts with four balance columns, and transfers.

All amounts are integers in the currency's minor units. A transfer is immutable
but for a pending transfer's state (and the amount it was posted for).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Uuid,
    text,
)
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime, utcnow


class AccountKind(enum.StrEnum):
    ISSUANCE = "ISSUANCE"
    SETTLEMENT = "SETTLEMENT"
    CUSTOMER = "CUSTOMER"
    FX_POSITION = "FX_POSITION"
    FEE = "FEE"


class TransferState(enum.StrEnum):
    PENDING = "PENDING"
    POSTED = "POSTED"
    VOIDED = "VOIDED"
    EXPIRED = "EXPIRED"


# Pending transfers with an expiry: the rows the partial indexes below hold.
LAPSING = text("state = 'PENDING' AND expires_at IS NOT NULL")


class Account(SQLModel, table=True):
    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0",
            name="columns_not_negative",
        ),
        # The last line of defence for "no account but an ISSUANCE one goes below zero":
        # the service checks `available` (which also counts holds) before every debit.
        CheckConstraint("kind = 'ISSUANCE' OR credits_posted >= debits_posted", name="balance_not_negative"),
        Index("ix_account_owner_id", "owner_id", "id"),
        Index(
            "uq_account_issuance",
            "owner_id",
            "currency_code",
            unique=True,
            sqlite_where=text("kind = 'ISSUANCE'"),
            postgresql_where=text("kind = 'ISSUANCE'"),
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    owner_id: int = Field(sa_column=Column(Id, ForeignKey("institution.id"), nullable=False))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    currency_code: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), nullable=False))
    kind: AccountKind = Field(
        sa_column=Column(Enum(AccountKind, native_enum=False, length=12, create_constraint=True), nullable=False)
    )
    debits_pending: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    debits_posted: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    credits_pending: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    credits_posted: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class Transfer(SQLModel, table=True):
    __tablename__ = "transfer"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="different_accounts"),
        CheckConstraint("posted_amount IS NULL OR (posted_amount >= 0 AND posted_amount <= amount)", name="posted"),
        # An account's history, newest first, from either side.
        Index("ix_transfer_debit_account", "debit_account_id", "id"),
        Index("ix_transfer_credit_account", "credit_account_id", "id"),
        # Holds that lapse (pending, with an expiry): by expiry for the sweep, by account
        # for the lapsed holds of the accounts a request touches.
        Index("ix_transfer_pending_expiry", "expires_at", sqlite_where=LAPSING, postgresql_where=LAPSING),
        Index(
            "ix_transfer_lapsing_debit",
            "debit_account_id",
            "expires_at",
            sqlite_where=LAPSING,
            postgresql_where=LAPSING,
        ),
        Index(
            "ix_transfer_lapsing_credit",
            "credit_account_id",
            "expires_at",
            sqlite_where=LAPSING,
            postgresql_where=LAPSING,
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    # The client's idempotency key.
    transfer_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, unique=True, insert_sentinel=True))
    debit_account_id: int = Field(sa_column=Column(Id, ForeignKey("account.id"), nullable=False))
    credit_account_id: int = Field(sa_column=Column(Id, ForeignKey("account.id"), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency_code: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), nullable=False))
    state: TransferState = Field(
        sa_column=Column(Enum(TransferState, native_enum=False, length=8, create_constraint=True), nullable=False)
    )
    # For a pending transfer: its timeout as asked, when it lapses, and what it was posted for.
    timeout_seconds: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    expires_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    posted_amount: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    pending: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    reference: str | None = Field(default=None, sa_column=Column(String(140), nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # When a pending transfer was posted, voided or expired.
    resolved_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
