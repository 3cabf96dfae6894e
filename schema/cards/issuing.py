"""GraphQL types of card issuing: cards (never their full number) and merchants."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from models import cards as models
from resolvers import cards
from schema.base import (
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
from schema.cards.schemes import CardScheme
from schema.ledger import Account
from schema.loaders import loaders
from schema.reference import Country, Institution

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

    @classmethod
    async def resolve_node(cls, info: Info, key: int) -> Card | None:
        """A card for its issuer and the operator, and for an acquirer of one of its
        approved payments."""
        row = await loaders(info).card.load(key)
        if row is None:
            return None
        if not cards.may_see_card(principal(info), row) and not await loaders(info).acquired_card.load(key):
            return None
        return cls.of(row)

    @strawberry.field(
        description="The schemes whose BIN ranges hold this PAN, primary first; two for a co-badged card."
    )
    async def schemes(self, info: Info) -> list[CardScheme]:
        ids = [self._row.scheme_id] + ([self._row.co_badge_scheme_id] if self._row.co_badge_scheme_id else [])
        return [CardScheme.of(row) for row in await loaders(info).card_scheme.load_many(ids)]

    @strawberry.field
    async def issuer(self, info: Info) -> Institution:
        return await Institution.resolve_node(info, self._row.issuer_id)

    @strawberry.field
    async def account(self, info: Info) -> Account:
        return Account.of(await loaders(info).account.load(self._row.account_id))


@strawberry.type
class Merchant(Node):
    id: strawberry.ID
    name: str
    _row: strawberry.Private[models.Merchant]

    @classmethod
    def of(cls, row: models.Merchant) -> Merchant:
        return cls(id=global_id("Merchant", row.id), name=row.name, _row=row)

    @classmethod
    async def resolve_node(cls, info: Info, key: int) -> Merchant | None:
        """A merchant for its acquirer and the operator."""
        row = await loaders(info).merchant.load(key)
        if row is None or not cards.may_see_merchant(principal(info), row):
            return None
        return cls.of(row)

    @strawberry.field
    async def country(self, info: Info) -> Country:
        return await Country.resolve(info, self._row.country_code)

    @strawberry.field
    async def acquirer(self, info: Info) -> Institution:
        return await Institution.resolve_node(info, self._row.acquirer_id)

    @strawberry.field
    async def accepting_scheme(self, info: Info) -> CardScheme:
        return await CardScheme.resolve_node(info, self._row.accepting_scheme_id)

    @strawberry.field
    async def account(self, info: Info) -> Account:
        return Account.of(await loaders(info).account.load(self._row.account_id))


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
        row = await mutate(
            info,
            cards.issue_card,
            pan=input.pan,
            expiry_month=input.expiry_month,
            expiry_year=input.expiry_year,
            account_id=account_id,
            co_badge_scheme_code=input.co_badge_scheme_code,
            secret=context(info).settings.secret,
            now=now(info),
        )
        return CardPayload(card=Card.of(row))

    @strawberry.mutation(description="Block or unblock a card (operator, or the card's issuer).")
    @user_errors(CardPayload)
    async def set_card_status(self, info: Info, card_id: strawberry.ID, status: CardStatus) -> CardPayload:
        key = decode_id(card_id, "Card", "cardId")
        return CardPayload(card=Card.of(await mutate(info, cards.set_card_status, key, status)))

    @strawberry.mutation
    @user_errors(MerchantPayload, "input")
    async def create_merchant(self, info: Info, input: MerchantInput) -> MerchantPayload:
        acquirer_id = decode_id(input.acquirer_id, "Institution", "acquirerId")
        account_id = decode_id(input.account_id, "Account", "accountId")
        row = await mutate(
            info,
            cards.create_merchant,
            name=input.name,
            country_code=input.country_code,
            acquirer_id=acquirer_id,
            accepting_scheme_code=input.accepting_scheme_code,
            account_id=account_id,
        )
        return MerchantPayload(merchant=Merchant.of(row))


@strawberry.type
class CardEdge:
    cursor: str
    node: Card


@strawberry.type
class CardConnection:
    page_info: PageInfo
    edges: list[CardEdge]


@strawberry.type
class MerchantEdge:
    cursor: str
    node: Merchant


@strawberry.type
class MerchantConnection:
    page_info: PageInfo
    edges: list[MerchantEdge]


@strawberry.type
class CardIssuingQuery:
    @strawberry.field(description="Cards, oldest first: an issuer sees those it issued, the operator all.")
    async def cards(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        scheme_code: str | None = None,
        status: CardStatus | None = None,
    ) -> CardConnection:
        after_key = decode_cursor(after, "after")
        page = await context(info).read(
            lambda session: cards.list_cards(
                session, principal(info), first=first, after=after_key, scheme_code=scheme_code, status=status
            )
        )
        return connection(CardConnection, CardEdge, page, Card.of)

    @strawberry.field(description="Merchants, oldest first: an acquirer sees those it acquires, the operator all.")
    async def merchants(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        scheme_code: str | None = None,
        country_code: str | None = None,
    ) -> MerchantConnection:
        after_key = decode_cursor(after, "after")
        page = await context(info).read(
            lambda session: cards.list_merchants(
                session,
                principal(info),
                first=first,
                after=after_key,
                scheme_code=scheme_code,
                country_code=country_code,
            )
        )
        return connection(MerchantConnection, MerchantEdge, page, Merchant.of)
