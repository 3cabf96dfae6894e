"""GraphQL types of the card schemes: schemes, BIN ranges, memberships, links."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from models import cards as models
from resolvers import cards
from schema.base import Node, UserError, context, decode_id, global_id, mutate, now, user_errors
from schema.loaders import loaders
from schema.reference import Country, Currency, Institution

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

    @classmethod
    async def resolve_node(cls, info: Info, key: int) -> CardScheme | None:
        """Schemes are reference data: every caller sees them."""
        row = await loaders(info).card_scheme.load(key)
        return cls.of(row) if row is not None else None

    @strawberry.field
    async def operator(self, info: Info) -> Institution:
        return await Institution.resolve_node(info, self._row.operator_id)

    @strawberry.field
    async def country(self, info: Info) -> Country:
        return await Country.resolve(info, self._row.country_code)

    @strawberry.field
    async def settlement_currency(self, info: Info) -> Currency:
        return Currency.of(await loaders(info).currency.load(self._row.settlement_currency))

    @strawberry.field
    async def bin_ranges(self, info: Info) -> list[BinRange]:
        return [BinRange(low=r.low, high=r.high) for r in await loaders(info).bin_ranges.load(self._row.id)]


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
        return await Institution.resolve_node(info, self._row.institution_id)

    @strawberry.field
    async def scheme(self, info: Info) -> CardScheme:
        return await CardScheme.resolve_node(info, self._row.scheme_id)


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

    @classmethod
    async def resolve_node(cls, info: Info, key: int) -> SchemeLink | None:
        """Links are reference data: every caller sees them."""
        row = await loaders(info).scheme_link.load(key)
        return cls.of(row) if row is not None else None

    @strawberry.field(description="Cards of this scheme ...")
    async def card_scheme(self, info: Info) -> CardScheme:
        return await CardScheme.resolve_node(info, self._row.card_scheme_id)

    @strawberry.field(description="... are accepted at merchants acquired on this scheme.")
    async def accepting_scheme(self, info: Info) -> CardScheme:
        return await CardScheme.resolve_node(info, self._row.accepting_scheme_id)


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
        row = await mutate(
            info,
            cards.create_card_scheme,
            code=input.code,
            name=input.name,
            country_code=input.country_code,
            settlement_currency=input.settlement_currency,
            operator_id=operator_id,
            bin_ranges=[cards.BinRangeSpec(r.low, r.high) for r in input.bin_ranges],
        )
        return CardSchemePayload(scheme=CardScheme.of(row))

    @strawberry.mutation
    @user_errors(SchemeMembershipPayload, "input")
    async def set_scheme_membership(self, info: Info, input: SchemeMembershipInput) -> SchemeMembershipPayload:
        institution_id = decode_id(input.institution_id, "Institution", "institutionId")
        row = await mutate(
            info,
            cards.set_scheme_membership,
            scheme_code=input.scheme_code,
            institution_id=institution_id,
            roles=list(input.roles),
            status=input.status,
            reason=input.reason,
            now=now(info),
        )
        return SchemeMembershipPayload(membership=SchemeMembership.of(row))

    @strawberry.mutation
    @user_errors(SchemeLinkPayload, "input")
    async def set_scheme_link(self, info: Info, input: SchemeLinkInput) -> SchemeLinkPayload:
        row = await mutate(
            info,
            cards.set_scheme_link,
            card_scheme_code=input.card_scheme_code,
            accepting_scheme_code=input.accepting_scheme_code,
            status=input.status,
            fee_bps=input.fee_bps if input.fee_bps is not None else 0,
        )
        return SchemeLinkPayload(link=SchemeLink.of(row))
