"""Card schemes: their BIN ranges, member institutions, and links between schemes."""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import BigInteger, CheckConstraint, Column, Enum, ForeignKey, Integer, String, UniqueConstraint, Uuid
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


class CardRoute(enum.StrEnum):
    DOMESTIC = "DOMESTIC"
    INTERSCHEME = "INTERSCHEME"


class AuthorizationState(enum.StrEnum):
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"
    CAPTURED = "CAPTURED"
    REVERSED = "REVERSED"
    EXPIRED = "EXPIRED"


class PaymentLeg(enum.StrEnum):
    """What a ledger transfer of a card payment does."""

    CARDHOLDER = "CARDHOLDER"  # the card account pays the first FX provider (cross-currency only)
    FX = "FX"  # one FX provider pays the next
    MERCHANT = "MERCHANT"  # the merchant is paid (from the card account, or the last FX provider)
    FEE = "FEE"  # the link's fee, to the accepting scheme operator's FEE account


class CardAuthorization(SQLModel, table=True):
    """One authorization request and its outcome, approved or declined. Amounts are minor
    units: `amount` and the captured, refunded and fee amounts in the merchant's
    currency, `cardholder_*` in the card account's. The request as sent (the PAN's keyed
    hash, expiry, amount text, currency, merchant) is kept to tell a replay of the
    `authorization_id` from a conflicting reuse of it."""

    __tablename__ = "card_authorization"
    __table_args__ = (
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
        CheckConstraint(
            "captured_amount IS NULL OR (captured_amount > 0 AND captured_amount <= amount)", name="captured"
        ),
        CheckConstraint("refunded_amount >= 0 AND refunded_amount <= coalesce(captured_amount, 0)", name="refunded"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    authorization_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, unique=True))
    merchant_id: int = Field(sa_column=Column(Id, ForeignKey("merchant.id"), nullable=False, index=True))
    acquirer_id: int = Field(sa_column=Column(Id, ForeignKey("institution.id"), nullable=False, index=True))
    card_id: int | None = Field(default=None, sa_column=Column(Id, ForeignKey("card.id"), nullable=True, index=True))
    issuer_id: int | None = Field(
        default=None, sa_column=Column(Id, ForeignKey("institution.id"), nullable=True, index=True)
    )
    # The request, as sent.
    pan_hash: str = Field(sa_column=Column(String(64), nullable=False))
    expiry_month: int = Field(sa_column=Column(Integer, nullable=False))
    expiry_year: int = Field(sa_column=Column(Integer, nullable=False))
    requested_amount: str = Field(sa_column=Column(String(40), nullable=False))
    currency_code: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), nullable=False))
    # The outcome.
    amount: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    response_code: str = Field(sa_column=Column(String(2), nullable=False))
    decline_reason: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    route: CardRoute | None = Field(
        default=None,
        sa_column=Column(Enum(CardRoute, native_enum=False, length=11, create_constraint=True), nullable=True),
    )
    # The scheme the payment ran on (the merchant's accepting scheme), and the card's
    # scheme it came from (the same for DOMESTIC).
    scheme_id: int | None = Field(default=None, sa_column=Column(Id, ForeignKey("card_scheme.id"), nullable=True))
    card_scheme_id: int | None = Field(default=None, sa_column=Column(Id, ForeignKey("card_scheme.id"), nullable=True))
    fee_bps: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    fee_amount: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    cardholder_amount: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    cardholder_currency: str | None = Field(
        default=None, sa_column=Column(String(3), ForeignKey("currency.code"), nullable=True)
    )
    state: AuthorizationState = Field(
        sa_column=Column(Enum(AuthorizationState, native_enum=False, length=8, create_constraint=True), nullable=False)
    )
    expires_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))
    captured_amount: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    cardholder_captured: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    refunded_amount: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    cardholder_refunded: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))
    # When it was captured or reversed.
    resolved_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class CardRefund(SQLModel, table=True):
    """A refund of a captured card payment; `refund_id` is the client's idempotency key."""

    __tablename__ = "card_refund"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    refund_id: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, unique=True))
    authorization_id: int = Field(sa_column=Column(Id, ForeignKey("card_authorization.id"), nullable=False, index=True))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    cardholder_amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class CardPaymentTransfer(SQLModel, table=True):
    """The ledger transfers of a card payment, in order: the holds of its authorization,
    then each refund's transfers back."""

    __tablename__ = "card_payment_transfer"

    authorization_id: int = Field(sa_column=Column(Id, ForeignKey("card_authorization.id"), primary_key=True))
    position: int = Field(sa_column=Column(Integer, primary_key=True))
    transfer_id: int = Field(sa_column=Column(Id, ForeignKey("transfer.id"), nullable=False, unique=True))
    leg: PaymentLeg = Field(
        sa_column=Column(Enum(PaymentLeg, native_enum=False, length=10, create_constraint=True), nullable=False)
    )
    refund_id: int | None = Field(default=None, sa_column=Column(Id, ForeignKey("card_refund.id"), nullable=True))
