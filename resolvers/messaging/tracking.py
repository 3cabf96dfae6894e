"""Tracking interbank payments, as SWIFT gpi's tracker does: a payment by its UETR with
every status change, and the list of payments, newest first.

Who sees a payment: the operator every one; a participant those its institution sent
or received; an analyst none (an individual payment is no analytics).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import or_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.messaging import InterbankPayment, PaymentStatus, PaymentTransfer
from resolvers import ledger, reference
from resolvers.access import Principal, visible_institution
from resolvers.errors import invalid
from resolvers.messaging.networks import network_by_code
from resolvers.pagination import Page, empty_page, grouped_in_key_order, keyset_page

LINKS = PaymentTransfer.__table__
# A payment's transfers in order, each row with its payment and leg.
_PAYMENT_TRANSFERS = (
    select(LINKS.c.payment_id, LINKS.c.leg, ledger.TRANSFERS)
    .join(ledger.TRANSFERS, ledger.TRANSFERS.c.id == LINKS.c.transfer_id)
    .order_by(LINKS.c.payment_id, LINKS.c.position)
)


def may_see_payment(principal: Principal, row: InterbankPayment) -> bool:
    """The operator; the sender's or the receiver's participant."""
    institution = visible_institution(principal)
    return institution is None or institution in (row.sender_id, row.receiver_id)


async def _institution_id(session: AsyncSession, bic: str, field: str) -> int:
    return (await reference.named_institution(session, bic, field)).id


async def list_payments(
    session: AsyncSession,
    principal: Principal,
    *,
    first: int | None = None,
    after: int | None = None,
    network_code: str | None = None,
    status: PaymentStatus | None = None,
    sender_bic: str | None = None,
    receiver_bic: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Page[InterbankPayment]:
    """Payments the caller sees, newest first, filtered: `since` inclusive, `until` exclusive."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise invalid(f"{name} needs a time zone (e.g. 2026-01-31T12:00:00Z).", name)
    institution = visible_institution(principal)
    if institution is not None and institution < 0:
        return empty_page(first, after)
    statement = select(InterbankPayment)
    if institution is not None:
        statement = statement.where(
            or_(InterbankPayment.sender_id == institution, InterbankPayment.receiver_id == institution)
        )
    if network_code is not None:
        network = await network_by_code(session, network_code, "networkCode")
        statement = statement.where(InterbankPayment.network_id == network.id)
    if status is not None:
        statement = statement.where(InterbankPayment.status == status)
    if sender_bic is not None:
        statement = statement.where(
            InterbankPayment.sender_id == await _institution_id(session, sender_bic, "senderBic")
        )
    if receiver_bic is not None:
        receiver = await _institution_id(session, receiver_bic, "receiverBic")
        statement = statement.where(InterbankPayment.receiver_id == receiver)
    if since is not None:
        statement = statement.where(InterbankPayment.created_at >= since)
    if until is not None:
        statement = statement.where(InterbankPayment.created_at < until)
    return await keyset_page(session, statement, InterbankPayment.id, first=first, after=after, descending=True)


async def payment_transfers(session: AsyncSession, ids: Sequence[int]) -> list[list]:
    """payment id -> its ledger transfers in order (a DataLoader's batch)."""
    connection = await session.connection()
    result = await connection.execute(_PAYMENT_TRANSFERS.where(LINKS.c.payment_id.in_(set(ids))))
    return grouped_in_key_order(result, ids, lambda row: row.payment_id)
