"""Interbank messaging: payment networks (SWIFT, SPFS, CIPS) and their members,
interbank payments with their status events and ledger transfers. (The obligations a
DEFERRED_NET network's payments leave are settlement's: models/settlement.py.)"""

from __future__ import annotations

import datetime as dt
import enum
import uuid

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Column, Enum, ForeignKey, Index, Integer, String, Uuid
from sqlmodel import Field, SQLModel

from models.base import Id, UTCDateTime, utcnow
from models.cards import ParticipationStatus

__all__ = [
    "InterbankPayment",
    "MessageType",
    "NetworkCurrency",
    "NetworkMembership",
    "ParticipationStatus",
    "PaymentEvent",
    "PaymentLeg",
    "PaymentNetwork",
    "PaymentStatus",
    "PaymentTransfer",
    "SettlementMode",
]


class SettlementMode(enum.StrEnum):
    RTGS = "RTGS"  # each payment settles at once, gross
    DEFERRED_NET = "DEFERRED_NET"  # obligations accumulate in a settlement window and settle net


class MessageType(enum.StrEnum):
    PACS_008 = "PACS_008"  # FI-to-FI customer credit transfer
    PACS_009 = "PACS_009"  # financial institution credit transfer


class PaymentStatus(enum.StrEnum):
    RECEIVED = "RECEIVED"
    ACCEPTED = "ACCEPTED"
    SETTLED = "SETTLED"
    REJECTED = "REJECTED"


class PaymentNetwork(SQLModel, table=True):
    __tablename__ = "payment_network"

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    code: str = Field(sa_column=Column(String(20), nullable=False, unique=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    operator_id: int = Field(sa_column=Column(Id, ForeignKey("institution.id"), nullable=False))
    # The country whose network it is (None for a global one such as SWIFT): routing
    # prefers a network whose country issues the payment's currency.
    country_code: str | None = Field(default=None, sa_column=Column(String(2), ForeignKey("country.code")))
    settlement_mode: SettlementMode = Field(
        sa_column=Column(Enum(SettlementMode, native_enum=False, length=12, create_constraint=True), nullable=False)
    )
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class NetworkCurrency(SQLModel, table=True):
    """A currency the network settles, in the order the operator listed them."""

    __tablename__ = "network_currency"

    network_id: int = Field(sa_column=Column(Id, ForeignKey("payment_network.id"), primary_key=True))
    currency_code: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), primary_key=True))
    position: int = Field(sa_column=Column(Integer, nullable=False))


class NetworkMembership(SQLModel, table=True):
    __tablename__ = "network_membership"

    network_id: int = Field(sa_column=Column(Id, ForeignKey("payment_network.id"), primary_key=True))
    institution_id: int = Field(sa_column=Column(Id, ForeignKey("institution.id"), primary_key=True, index=True))
    status: ParticipationStatus = Field(
        sa_column=Column(
            Enum(ParticipationStatus, native_enum=False, length=10, create_constraint=True), nullable=False
        )
    )
    reason: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class InterbankPayment(SQLModel, table=True):
    """One interbank credit transfer and where it stands. `uetr` is the client's
    idempotency key; the request's fields are kept to tell a replay from a reuse of
    it. Amounts are minor units: `amount` in `currency_code` (the instructed amount,
    credited to the creditor), `debit_amount` in the debtor account's currency (set
    once the legs are priced)."""

    __tablename__ = "interbank_payment"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_amount IS NULL OR debit_amount > 0", name="debit_amount_positive"),
        Index("ix_interbank_payment_network_id", "network_id", "id"),
        Index("ix_interbank_payment_sender_id", "sender_id", "id"),
        Index("ix_interbank_payment_receiver_id", "receiver_id", "id"),
        Index("ix_interbank_payment_created_at", "created_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    uetr: uuid.UUID = Field(sa_column=Column(Uuid, nullable=False, unique=True, insert_sentinel=True))
    network_id: int = Field(sa_column=Column(Id, ForeignKey("payment_network.id"), nullable=False))
    # Whether the client named the network (a replay must name the same one) or the
    # service routed it (a replay may name it or not).
    network_requested: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    message_type: MessageType = Field(
        sa_column=Column(Enum(MessageType, native_enum=False, length=8, create_constraint=True), nullable=False)
    )
    sender_id: int = Field(sa_column=Column(Id, ForeignKey("institution.id"), nullable=False))
    receiver_id: int = Field(sa_column=Column(Id, ForeignKey("institution.id"), nullable=False))
    debtor_account_id: int = Field(sa_column=Column(Id, ForeignKey("account.id"), nullable=False))
    creditor_account_id: int = Field(sa_column=Column(Id, ForeignKey("account.id"), nullable=False))
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
    currency_code: str = Field(sa_column=Column(String(3), ForeignKey("currency.code"), nullable=False))
    debit_amount: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    debit_currency: str | None = Field(default=None, sa_column=Column(String(3), ForeignKey("currency.code")))
    remittance_information: str | None = Field(default=None, sa_column=Column(String(140), nullable=True))
    # The sender's own references, from its pacs.008 (or None for sendPayment).
    end_to_end_id: str | None = Field(default=None, sa_column=Column(String(35), nullable=True))
    instruction_id: str | None = Field(default=None, sa_column=Column(String(35), nullable=True))
    status: PaymentStatus = Field(
        sa_column=Column(Enum(PaymentStatus, native_enum=False, length=8, create_constraint=True), nullable=False)
    )
    iso_status: str = Field(sa_column=Column(String(4), nullable=False))
    reason_code: str | None = Field(default=None, sa_column=Column(String(4), nullable=True))
    created_at: dt.datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime, nullable=False))


class PaymentEvent(SQLModel, table=True):
    """One status change of a payment: the gpi tracker's line."""

    __tablename__ = "payment_event"
    __table_args__ = (Index("ix_payment_event_payment_id", "payment_id", "id"),)

    id: int | None = Field(default=None, sa_column=Column(Id, primary_key=True, autoincrement=True))
    payment_id: int = Field(sa_column=Column(Id, ForeignKey("interbank_payment.id"), nullable=False))
    status: PaymentStatus = Field(
        sa_column=Column(Enum(PaymentStatus, native_enum=False, length=8, create_constraint=True), nullable=False)
    )
    iso_status: str = Field(sa_column=Column(String(4), nullable=False))
    reason_code: str | None = Field(default=None, sa_column=Column(String(4), nullable=True))
    detail: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class PaymentLeg(enum.StrEnum):
    """What a ledger transfer of an interbank payment does."""

    DEBTOR = "DEBTOR"  # the debtor pays the creditor (or, cross-currency, the first FX provider)
    FX = "FX"  # one FX provider pays the next
    CREDITOR = "CREDITOR"  # the last FX provider pays the creditor (cross-currency only)
    INTERBANK = "INTERBANK"  # RTGS: the sender's SETTLEMENT account pays the receiver's


class PaymentTransfer(SQLModel, table=True):
    """The ledger transfers of an interbank payment, in order."""

    __tablename__ = "payment_transfer"

    payment_id: int = Field(sa_column=Column(Id, ForeignKey("interbank_payment.id"), primary_key=True))
    position: int = Field(sa_column=Column(Integer, primary_key=True))
    transfer_id: int = Field(sa_column=Column(Id, ForeignKey("transfer.id"), nullable=False, unique=True))
    leg: PaymentLeg = Field(
        sa_column=Column(Enum(PaymentLeg, native_enum=False, length=10, create_constraint=True), nullable=False)
    )
