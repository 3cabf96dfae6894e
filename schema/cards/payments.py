"""GraphQL types of card payments: authorizations, their capture, reversal and refunds."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import strawberry
from strawberry.types import Info

from models import cards as models
from resolvers import cards
from resolvers.errors import DomainError
from schema.base import (
    Money,
    Node,
    PageInfo,
    UserError,
    connection,
    context,
    decode_cursor,
    decode_id,
    global_id,
    mutate,
    now,
    principal,
    user_errors,
)
from schema.cards.issuing import Card, Merchant
from schema.cards.schemes import CardScheme
from schema.ledger import Transfer, money
from schema.loaders import loaders, minor_units

CardRoute = strawberry.enum(models.CardRoute, name="CardRoute")
AuthorizationState = strawberry.enum(models.AuthorizationState, name="AuthorizationState")


@strawberry.type
class Authorization(Node):
    id: strawberry.ID
    authorization_id: uuid.UUID
    amount: Money = strawberry.field(description="In the merchant's currency.")
    cardholder_amount: Money | None = strawberry.field(
        description="In the card account's currency; differs from amount for a cross-currency payment."
    )
    response_code: str = strawberry.field(
        description="ISO 8583 response code: 00 approved; 05, 13, 14, 51, 54, 57, 58, 62, 91 declined."
    )
    approved: bool
    decline_reason: str | None
    route: CardRoute | None
    state: AuthorizationState
    captured_amount: Money | None
    refunded_amount: Money | None
    fee: Money | None = strawberry.field(
        description="The link's fee for the accepting scheme's operator (INTERSCHEME): held at authorization, "
        "then charged on the captured amount, and returned in proportion by refunds."
    )
    expires_at: dt.datetime | None = strawberry.field(description="When the holds of an uncaptured approval lapse.")
    created_at: dt.datetime
    _row: strawberry.Private[models.CardAuthorization]

    @classmethod
    def of(cls, row: models.CardAuthorization, units: dict[str, int], now: dt.datetime) -> Authorization:
        code = row.currency_code
        amount = (
            money(row.amount, code, units)
            if row.amount is not None
            else Money(amount=Decimal(row.requested_amount), currency=code)
        )
        captured = row.captured_amount
        fee = cards.fee_due(row, now)
        return cls(
            id=global_id("Authorization", row.id),
            authorization_id=row.authorization_id,
            amount=amount,
            cardholder_amount=(
                money(row.cardholder_amount, row.cardholder_currency, units)
                if row.cardholder_amount is not None
                else None
            ),
            response_code=row.response_code,
            approved=row.response_code == cards.APPROVED,
            decline_reason=row.decline_reason,
            route=row.route,
            state=cards.authorization_state(row, now),
            captured_amount=money(captured, code, units) if captured is not None else None,
            refunded_amount=money(row.refunded_amount, code, units) if captured is not None else None,
            fee=money(fee, code, units) if fee is not None else None,
            expires_at=row.expires_at,
            created_at=row.created_at,
            _row=row,
        )

    @classmethod
    async def resolve_node(cls, info: Info, key: int) -> Authorization | None:
        return await visible_authorization(info, await loaders(info).authorization.load(key))

    @strawberry.field(description="The card paid with: null for an unknown number, and for the acquirer of a decline.")
    async def card(self, info: Info) -> Card | None:
        if self._row.card_id is None or not cards.may_see_payment_card(principal(info), self._row):
            return None
        return Card.of(await loaders(info).card.load(self._row.card_id))

    @strawberry.field
    async def merchant(self, info: Info) -> Merchant:
        return Merchant.of(await loaders(info).merchant.load(self._row.merchant_id))

    @strawberry.field(description="The scheme the payment ran on.")
    async def scheme(self, info: Info) -> CardScheme | None:
        return await CardScheme.resolve_node(info, self._row.scheme_id) if self._row.scheme_id is not None else None

    @strawberry.field(description="The holds, then each refund's transfers back, in order.")
    async def transfers(self, info: Info) -> list[Transfer]:
        rows = await loaders(info).payment_transfers.load(self._row.id)
        units, clock = await minor_units(info), now(info)
        return [Transfer.of(row, units, clock) for row in rows]


async def visible_authorization(info: Info, row) -> Authorization | None:
    """The authorization, for the operator, the card's issuer and the merchant's acquirer."""
    if row is None or not cards.may_see_authorization(principal(info), row):
        return None
    return Authorization.of(row, await minor_units(info), now(info))


@strawberry.input
class AuthorizeInput:
    authorization_id: uuid.UUID
    merchant_id: strawberry.ID
    pan: str
    expiry_month: int
    expiry_year: int
    amount: Decimal
    currency: str


@strawberry.input
class RefundInput:
    refund_id: uuid.UUID
    authorization_id: uuid.UUID
    amount: Decimal


@strawberry.type
class AuthorizationPayload:
    authorization: Authorization | None = strawberry.field(
        default=None, description="A decline is an authorization with approved = false, not an error."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AuthorizationEdge:
    cursor: str
    node: Authorization


@strawberry.type
class AuthorizationConnection:
    page_info: PageInfo
    edges: list[AuthorizationEdge]


@strawberry.type
class CardPaymentQuery:
    @strawberry.field(
        description="Authorizations, newest first: a participant sees those it acquired or issued the card of."
    )
    async def authorizations(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        merchant_id: strawberry.ID | None = None,
        state: AuthorizationState | None = None,
    ) -> AuthorizationConnection:
        after_key = decode_cursor(after, "after")
        merchant = decode_id(merchant_id, "Merchant", "merchantId") if merchant_id is not None else None
        page = await context(info).read(
            lambda session: cards.list_authorizations(
                session, principal(info), now=now(info), first=first, after=after_key, merchant_id=merchant, state=state
            )
        )
        units, clock = await minor_units(info), now(info)
        return connection(
            AuthorizationConnection, AuthorizationEdge, page, lambda row: Authorization.of(row, units, clock)
        )

    @strawberry.field
    async def authorization(self, info: Info, authorization_id: uuid.UUID) -> Authorization | None:
        row = await context(info).read(lambda session: cards.authorization_by_key(session, authorization_id))
        return await visible_authorization(info, row)


async def _answer(info: Info, work, *args, **kwargs) -> AuthorizationPayload:
    """Run a step of a card payment (`work`) and answer with the authorization it leaves."""
    row = await mutate(info, work, *args, now=now(info), **kwargs)
    return AuthorizationPayload(authorization=Authorization.of(row, await minor_units(info), now(info)))


async def _submitted(info: Info, order: cards.CardOrder) -> AuthorizationPayload:
    """Write an authorization or a capture through the card group commit (corridor/batcher.py)
    and answer with the authorization it leaves."""
    ctx = context(info)
    await ctx.release()  # the group commit writes on a connection of its own
    await ctx.cards.submit(order)
    if isinstance(order.result, DomainError):
        raise order.result
    return AuthorizationPayload(authorization=Authorization.of(order.result, await minor_units(info), now(info)))


@strawberry.type
class CardPaymentMutation:
    @strawberry.mutation
    @user_errors(AuthorizationPayload, "input")
    async def authorize_payment(self, info: Info, input: AuthorizeInput) -> AuthorizationPayload:
        request = cards.AuthorizeRequest(
            authorization_id=input.authorization_id,
            merchant_id=decode_id(input.merchant_id, "Merchant", "merchantId"),
            pan=input.pan,
            expiry_month=input.expiry_month,
            expiry_year=input.expiry_year,
            amount=input.amount,
            currency=input.currency,
        )
        return await _submitted(info, cards.AuthorizeOrder(principal(info), request))

    @strawberry.mutation
    @user_errors(AuthorizationPayload)
    async def capture_payment(
        self, info: Info, authorization_id: uuid.UUID, amount: Decimal | None = None
    ) -> AuthorizationPayload:
        return await _submitted(info, cards.CaptureOrder(principal(info), authorization_id, amount))

    @strawberry.mutation
    @user_errors(AuthorizationPayload)
    async def reverse_payment(self, info: Info, authorization_id: uuid.UUID) -> AuthorizationPayload:
        return await _answer(info, cards.reverse_payment, authorization_id)

    @strawberry.mutation
    @user_errors(AuthorizationPayload, "input")
    async def refund_payment(self, info: Info, input: RefundInput) -> AuthorizationPayload:
        return await _answer(
            info,
            cards.refund_payment,
            refund_id=input.refund_id,
            authorization_id=input.authorization_id,
            amount=input.amount,
        )
