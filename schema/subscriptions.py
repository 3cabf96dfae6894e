"""The Subscription type: live updates over graphql-transport-ws (corridor/events.py
fans the committed changes out; resolvers/events.py says which a subscription wants).

Each event is what the matching query would answer at that moment: the type's own node
lookup loads the row through fresh loaders and applies its visibility (an event a
caller may not see is skipped). Between events the connection's database session is
given back, and the API key is checked again (a revoked key ends the subscription).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator

import strawberry
from strawberry.types import Info

from corridor.events import Dropped, SubscriptionLimit
from resolvers import messaging
from resolvers.access import Action, require
from resolvers.errors import DomainError, ErrorCode
from resolvers.events import Change, Kind, Wanted
from schema.base import context, decode_id, principal
from schema.cards.payments import Authorization
from schema.loaders import loaders
from schema.messaging.payments import InterbankPayment, PaymentEvent, PaymentStatus
from schema.settlement import SettlementWindow


async def _changes(info: Info, wanted: Wanted, ready=None) -> AsyncIterator[Change]:
    """The committed changes `wanted` asks for, from the moment of the call (`ready`,
    if given, runs once subscribed: what it reads is not missed by the stream)."""
    ctx = context(info)
    assert ctx.events is not None, "subscriptions run on the endpoint, which has the hub"
    try:
        with ctx.events.subscribe(wanted.kind) as subscriber:
            if ready is not None:
                await ready()
            await ctx.release()
            async for change in subscriber.changes():
                if not wanted.matches(change):
                    continue
                ctx.renew()
                if ctx.reauthenticate is not None and not await ctx.reauthenticate():
                    raise DomainError(ErrorCode.FORBIDDEN, "The API key of this connection is no longer valid.")
                yield change
                await ctx.release()
    except SubscriptionLimit as refused:
        raise DomainError(ErrorCode.SUBSCRIPTION_LIMIT, str(refused)) from None
    except Dropped as dropped:
        raise DomainError(ErrorCode.SUBSCRIBER_TOO_SLOW, str(dropped)) from None


@strawberry.type(description="Live updates over the graphql-transport-ws protocol; the same visibility as the queries.")
class Subscription:
    @strawberry.subscription(description="Each new status event of one payment.")
    async def payment_events(self, info: Info, uetr: uuid.UUID) -> AsyncGenerator[PaymentEvent, None]:
        ctx, seen = context(info), 0  # the latest event id already there or sent

        async def ready() -> None:  # what the payment already has is not new
            nonlocal seen
            row = await ctx.read(lambda session: messaging.payment_by_uetr(session, uetr))
            if row is not None:
                seen = max((event.id for event in await loaders(info).payment_events.load(row.id)), default=0)

        async for change in _changes(info, Wanted(Kind.PAYMENT, key=str(uetr)), ready):
            if await InterbankPayment.resolve_node(info, change.id) is None:
                continue
            for row in await loaders(info).payment_events.load(change.id):
                if row.id > seen:
                    seen = row.id
                    yield PaymentEvent.of(row)

    @strawberry.subscription(description="Payments as they are created or change status.")
    async def payments(
        self, info: Info, network_code: str | None = None, status: PaymentStatus | None = None
    ) -> AsyncGenerator[InterbankPayment, None]:
        require(principal(info), Action.READ_OWN)
        network = None
        if network_code is not None:
            found = await context(info).read(
                lambda session: messaging.network_by_code(session, network_code, "networkCode")
            )
            network = found.id
        wanted = Wanted(Kind.PAYMENT, scope=network, state=status.value if status is not None else None)
        async for change in _changes(info, wanted):
            payment = await InterbankPayment.resolve_node(info, change.id)
            if payment is not None:
                yield payment

    @strawberry.subscription(description="Windows as they open, close and settle.")
    async def settlement_windows(self, info: Info, scope: str | None = None) -> AsyncGenerator[SettlementWindow, None]:
        require(principal(info), Action.READ_REFERENCE)
        wanted = Wanted(Kind.WINDOW, scope=scope.strip().upper() if scope is not None else None)
        async for change in _changes(info, wanted):
            window = await SettlementWindow.resolve_node(info, change.id)
            if window is not None:
                yield window

    @strawberry.subscription(description="Card authorizations as they are decided.")
    async def authorizations(
        self, info: Info, merchant_id: strawberry.ID | None = None
    ) -> AsyncGenerator[Authorization, None]:
        require(principal(info), Action.READ_OWN)
        merchant = decode_id(merchant_id, "Merchant", "merchantId") if merchant_id is not None else None
        async for change in _changes(info, Wanted(Kind.AUTHORIZATION, scope=merchant)):
            authorization = await Authorization.resolve_node(info, change.id)
            if authorization is not None:
                yield authorization


__all__ = ["Subscription"]
