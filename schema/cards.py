"""GraphQL types of the card schemes: schemes, BIN ranges, memberships, links."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import strawberry
from strawberry.types import Info

from models import cards as models
from models.base import utcnow
from resolvers import cards
from schema.base import Money, Node, UserError, context, decode_id, global_id, principal, user_errors
from schema.ledger import Account, Transfer, money
from schema.loaders import loaders, minor_units
from schema.node import register_node
from schema.reference import Country, Currency, Institution, load_country, load_institution

ParticipationStatus = strawberry.enum(models.ParticipationStatus, name="ParticipationStatus")
SchemeRole = strawberry.enum(models.SchemeRole, name="SchemeRole")


@strawberry.type
class BinRange:
    low: str = strawberry.field(description='Inclusive bounds of equal length, e.g. "2200" and "2204".')
    high: str


@strawberry.type
class CardScheme(Node):
    id: strawberry.ID
    code: str = strawberry.field(description="E.g. MIR, UNIONPAY, VISA, MASTERCARD.")
    name: str
    _row: strawberry.Private[models.CardScheme]

    @classmethod
    def of(cls, row: models.CardScheme) -> CardScheme:
        return cls(id=global_id("CardScheme", row.id), code=row.code, name=row.name, _row=row)

    @strawberry.field
    async def operator(self, info: Info) -> Institution:
        return await load_institution(info, self._row.operator_id)

    @strawberry.field
    async def country(self, info: Info) -> Country:
        return await load_country(info, self._row.country_code)

    @strawberry.field
    async def settlement_currency(self, info: Info) -> Currency:
        return Currency.of(await loaders(info).currency.load(self._row.settlement_currency))

    @strawberry.field
    async def bin_ranges(self, info: Info) -> list[BinRange]:
        return [BinRange(low=r.low, high=r.high) for r in await loaders(info).bin_ranges.load(self._row.id)]


async def load_scheme(info: Info, scheme_id: int) -> CardScheme | None:
    row = await loaders(info).card_scheme.load(scheme_id)
    return CardScheme.of(row) if row is not None else None


@strawberry.type
class SchemeMembership:
    roles: list[SchemeRole]
    status: ParticipationStatus
    reason: str | None
    _row: strawberry.Private[models.SchemeMembership]

    @classmethod
    def of(cls, row: models.SchemeMembership) -> SchemeMembership:
        roles = [models.SchemeRole(role) for role in row.roles.split(",")]
        return cls(roles=roles, status=row.status, reason=row.reason, _row=row)

    @strawberry.field
    async def institution(self, info: Info) -> Institution:
        return await load_institution(info, self._row.institution_id)

    @strawberry.field
    async def scheme(self, info: Info) -> CardScheme:
        return await load_scheme(info, self._row.scheme_id)


@strawberry.type
class SchemeLink(Node):
    id: strawberry.ID
    status: ParticipationStatus
    fee_bps: int = strawberry.field(
        description="Fee in basis points taken from the merchant's proceeds for the accepting scheme's operator."
    )
    _row: strawberry.Private[models.SchemeLink]

    @classmethod
    def of(cls, row: models.SchemeLink) -> SchemeLink:
        return cls(id=global_id("SchemeLink", row.id), status=row.status, fee_bps=row.fee_bps, _row=row)

    @strawberry.field(description="Cards of this scheme ...")
    async def card_scheme(self, info: Info) -> CardScheme:
        return await load_scheme(info, self._row.card_scheme_id)

    @strawberry.field(description="... are accepted at merchants acquired on this scheme.")
    async def accepting_scheme(self, info: Info) -> CardScheme:
        return await load_scheme(info, self._row.accepting_scheme_id)


async def load_link(info: Info, link_id: int) -> SchemeLink | None:
    (row,) = await context(info).read(lambda session: cards.links_by_id(session, [link_id]))
    return SchemeLink.of(row) if row is not None else None


register_node("CardScheme", load_scheme)
register_node("SchemeLink", load_link)


async def institution_memberships(info: Info, institution_id: int) -> list[SchemeMembership]:
    rows = await loaders(info).scheme_memberships.load(institution_id)
    return [SchemeMembership.of(row) for row in rows]


@strawberry.input
class BinRangeInput:
    low: str
    high: str


@strawberry.input
class CardSchemeInput:
    code: str
    name: str
    country_code: str
    settlement_currency: str
    operator_id: strawberry.ID = strawberry.field(
        description="The institution (kind SCHEME_OPERATOR) that runs the scheme and earns link fees."
    )
    bin_ranges: list[BinRangeInput]


@strawberry.type
class CardSchemePayload:
    scheme: CardScheme | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SchemeMembershipInput:
    scheme_code: str
    institution_id: strawberry.ID
    roles: list[SchemeRole]
    status: ParticipationStatus
    reason: str | None = None


@strawberry.type
class SchemeMembershipPayload:
    membership: SchemeMembership | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class SchemeLinkInput:
    card_scheme_code: str
    accepting_scheme_code: str
    status: ParticipationStatus
    fee_bps: int | None = 0


@strawberry.type
class SchemeLinkPayload:
    link: SchemeLink | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CardsQuery:
    @strawberry.field
    async def card_schemes(self, info: Info) -> list[CardScheme]:
        return [CardScheme.of(row) for row in await context(info).read(cards.list_schemes)]

    @strawberry.field
    async def scheme_links(self, info: Info) -> list[SchemeLink]:
        return [SchemeLink.of(row) for row in await context(info).read(cards.list_links)]


@strawberry.type
class CardsMutation:
    @strawberry.mutation
    @user_errors(CardSchemePayload, "input")
    async def create_card_scheme(self, info: Info, input: CardSchemeInput) -> CardSchemePayload:
        operator_id = decode_id(input.operator_id, "Institution", "operatorId")
        ranges = [cards.BinRangeSpec(r.low, r.high) for r in input.bin_ranges]

        async def work(session):
            return await cards.create_card_scheme(
                session,
                principal(info),
                code=input.code,
                name=input.name,
                country_code=input.country_code,
                settlement_currency=input.settlement_currency,
                operator_id=operator_id,
                bin_ranges=ranges,
            )

        return CardSchemePayload(scheme=CardScheme.of(await context(info).write(work)))

    @strawberry.mutation
    @user_errors(SchemeMembershipPayload, "input")
    async def set_scheme_membership(self, info: Info, input: SchemeMembershipInput) -> SchemeMembershipPayload:
        institution_id = decode_id(input.institution_id, "Institution", "institutionId")

        async def work(session):
            return await cards.set_scheme_membership(
                session,
                principal(info),
                scheme_code=input.scheme_code,
                institution_id=institution_id,
                roles=list(input.roles),
                status=input.status,
                reason=input.reason,
            )

        return SchemeMembershipPayload(membership=SchemeMembership.of(await context(info).write(work)))

    @strawberry.mutation
    @user_errors(SchemeLinkPayload, "input")
    async def set_scheme_link(self, info: Info, input: SchemeLinkInput) -> SchemeLinkPayload:
        async def work(session):
            return await cards.set_scheme_link(
                session,
                principal(info),
                card_scheme_code=input.card_scheme_code,
                accepting_scheme_code=input.accepting_scheme_code,
                status=input.status,
                fee_bps=input.fee_bps if input.fee_bps is not None else 0,
            )

        return SchemeLinkPayload(link=SchemeLink.of(await context(info).write(work)))


CardStatus = strawberry.enum(models.CardStatus, name="CardStatus")


@strawberry.type
class Card(Node):
    id: strawberry.ID
    masked_pan: str = strawberry.field(
        description="First six and last four digits shown, the rest masked: the full PAN is never stored."
    )
    last4: str
    expiry_month: int
    expiry_year: int
    status: CardStatus
    _row: strawberry.Private[models.Card]

    @classmethod
    def of(cls, row: models.Card) -> Card:
        return cls(
            id=global_id("Card", row.id),
            masked_pan=cards.masked_pan(row),
            last4=row.last4,
            expiry_month=row.expiry_month,
            expiry_year=row.expiry_year,
            status=row.status,
            _row=row,
        )

    @strawberry.field(
        description="The schemes whose BIN ranges hold this PAN, primary first; two for a co-badged card."
    )
    async def schemes(self, info: Info) -> list[CardScheme]:
        ids = [self._row.scheme_id] + ([self._row.co_badge_scheme_id] if self._row.co_badge_scheme_id else [])
        return [await load_scheme(info, scheme_id) for scheme_id in ids]

    @strawberry.field
    async def issuer(self, info: Info) -> Institution:
        return await load_institution(info, self._row.issuer_id)

    @strawberry.field
    async def account(self, info: Info) -> Account:
        return Account.of(await loaders(info).account.load(self._row.account_id))


async def load_card(info: Info, card_id: int) -> Card | None:
    """The card for its issuer, and for an acquirer of one of its payments."""
    caller = principal(info)

    async def fetch(session):
        (row,) = await cards.cards_by_id(session, [card_id])
        if row is None:
            return None
        if not cards.may_see_card(caller, row) and not await cards.acquires_for_card(session, caller, row.id):
            return None
        return row

    row = await context(info).read(fetch)
    return Card.of(row) if row is not None else None


@strawberry.type
class Merchant(Node):
    id: strawberry.ID
    name: str
    _row: strawberry.Private[models.Merchant]

    @classmethod
    def of(cls, row: models.Merchant) -> Merchant:
        return cls(id=global_id("Merchant", row.id), name=row.name, _row=row)

    @strawberry.field
    async def country(self, info: Info) -> Country:
        return await load_country(info, self._row.country_code)

    @strawberry.field
    async def acquirer(self, info: Info) -> Institution:
        return await load_institution(info, self._row.acquirer_id)

    @strawberry.field
    async def accepting_scheme(self, info: Info) -> CardScheme:
        return await load_scheme(info, self._row.accepting_scheme_id)

    @strawberry.field
    async def account(self, info: Info) -> Account:
        return Account.of(await loaders(info).account.load(self._row.account_id))


async def load_merchant(info: Info, merchant_id: int) -> Merchant | None:
    (row,) = await context(info).read(lambda session: cards.merchants_by_id(session, [merchant_id]))
    if row is None or not cards.may_see_merchant(principal(info), row):
        return None
    return Merchant.of(row)


register_node("Card", load_card)
register_node("Merchant", load_merchant)


@strawberry.input
class IssueCardInput:
    pan: str
    expiry_month: int
    expiry_year: int
    account_id: strawberry.ID
    co_badge_scheme_code: str | None = strawberry.field(
        default=None, description="A second scheme for a co-badged card."
    )


@strawberry.type
class CardPayload:
    card: Card | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class MerchantInput:
    name: str
    country_code: str
    acquirer_id: strawberry.ID
    accepting_scheme_code: str
    account_id: strawberry.ID


@strawberry.type
class MerchantPayload:
    merchant: Merchant | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CardIssuingMutation:
    @strawberry.mutation
    @user_errors(CardPayload, "input")
    async def issue_card(self, info: Info, input: IssueCardInput) -> CardPayload:
        account_id = decode_id(input.account_id, "Account", "accountId")
        ctx = context(info)
        now = utcnow()

        async def work(session):
            return await cards.issue_card(
                session,
                principal(info),
                pan=input.pan,
                expiry_month=input.expiry_month,
                expiry_year=input.expiry_year,
                account_id=account_id,
                co_badge_scheme_code=input.co_badge_scheme_code,
                secret=ctx.settings.secret,
                now=now,
            )

        return CardPayload(card=Card.of(await ctx.write(work)))

    @strawberry.mutation(description="Block or unblock a card (operator, or the card's issuer).")
    @user_errors(CardPayload)
    async def set_card_status(self, info: Info, card_id: strawberry.ID, status: CardStatus) -> CardPayload:
        key = decode_id(card_id, "Card", "cardId")

        async def work(session):
            return await cards.set_card_status(session, principal(info), key, status)

        return CardPayload(card=Card.of(await context(info).write(work)))

    @strawberry.mutation
    @user_errors(MerchantPayload, "input")
    async def create_merchant(self, info: Info, input: MerchantInput) -> MerchantPayload:
        acquirer_id = decode_id(input.acquirer_id, "Institution", "acquirerId")
        account_id = decode_id(input.account_id, "Account", "accountId")

        async def work(session):
            return await cards.create_merchant(
                session,
                principal(info),
                name=input.name,
                country_code=input.country_code,
                acquirer_id=acquirer_id,
                accepting_scheme_code=input.accepting_scheme_code,
                account_id=account_id,
            )

        return MerchantPayload(merchant=Merchant.of(await context(info).write(work)))


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
        return await load_scheme(info, self._row.scheme_id) if self._row.scheme_id is not None else None

    @strawberry.field(description="The holds, then each refund's transfers back, in order.")
    async def transfers(self, info: Info) -> list[Transfer]:
        rows = await loaders(info).payment_transfers.load(self._row.id)
        units, now = await minor_units(info), utcnow()
        return [Transfer.of(row, units, now) for row in rows]


async def load_authorization(info: Info, key: int) -> Authorization | None:
    row = await loaders(info).authorization.load(key)
    if row is None or not cards.may_see_authorization(principal(info), row):
        return None
    return Authorization.of(row, await minor_units(info), utcnow())


register_node("Authorization", load_authorization)


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
class CardPaymentQuery:
    @strawberry.field
    async def authorization(self, info: Info, authorization_id: uuid.UUID) -> Authorization | None:
        row = await context(info).read(lambda session: cards.authorization_by_key(session, authorization_id))
        if row is None or not cards.may_see_authorization(principal(info), row):
            return None
        return Authorization.of(row, await minor_units(info), utcnow())


async def _answer(info: Info, work) -> AuthorizationPayload:
    row = await context(info).write(work)
    return AuthorizationPayload(authorization=Authorization.of(row, await minor_units(info), utcnow()))


@strawberry.type
class CardPaymentMutation:
    @strawberry.mutation
    @user_errors(AuthorizationPayload, "input")
    async def authorize_payment(self, info: Info, input: AuthorizeInput) -> AuthorizationPayload:
        ctx = context(info)
        request = cards.AuthorizeRequest(
            authorization_id=input.authorization_id,
            merchant_id=decode_id(input.merchant_id, "Merchant", "merchantId"),
            pan=input.pan,
            expiry_month=input.expiry_month,
            expiry_year=input.expiry_year,
            amount=input.amount,
            currency=input.currency,
        )
        now = utcnow()

        async def work(session):
            return await cards.authorize_payment(
                session,
                principal(info),
                request,
                secret=ctx.settings.secret,
                hold_seconds=ctx.settings.card_hold_seconds,
                now=now,
            )

        return await _answer(info, work)

    @strawberry.mutation
    @user_errors(AuthorizationPayload)
    async def capture_payment(
        self, info: Info, authorization_id: uuid.UUID, amount: Decimal | None = None
    ) -> AuthorizationPayload:
        now = utcnow()

        async def work(session):
            return await cards.capture_payment(session, principal(info), authorization_id, amount, now=now)

        return await _answer(info, work)

    @strawberry.mutation
    @user_errors(AuthorizationPayload)
    async def reverse_payment(self, info: Info, authorization_id: uuid.UUID) -> AuthorizationPayload:
        now = utcnow()

        async def work(session):
            return await cards.reverse_payment(session, principal(info), authorization_id, now=now)

        return await _answer(info, work)

    @strawberry.mutation
    @user_errors(AuthorizationPayload, "input")
    async def refund_payment(self, info: Info, input: RefundInput) -> AuthorizationPayload:
        now = utcnow()

        async def work(session):
            return await cards.refund_payment(
                session,
                principal(info),
                refund_id=input.refund_id,
                authorization_id=input.authorization_id,
                amount=input.amount,
                now=now,
            )

        return await _answer(info, work)
