"""GraphQL types of the reference domain: currencies, countries, institutions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from models import reference as models
from resolvers import reference
from schema.base import (
    Node,
    PageInfo,
    UserError,
    connection,
    context,
    decode_cursor,
    global_id,
    mutate,
    user_errors,
)
from schema.loaders import loaders

if TYPE_CHECKING:
    from schema.cards import SchemeMembership
    from schema.ledger import AccountConnection
    from schema.messaging import NetworkMembership

InstitutionKind = strawberry.enum(models.InstitutionKind, name="InstitutionKind")


@strawberry.type
class Currency:
    code: str = strawberry.field(description="ISO 4217 alphabetic code. XAU is gold, counted in troy ounces.")
    name: str
    minor_units: int

    @classmethod
    def of(cls, row: models.Currency) -> Currency:
        return cls(code=row.code, name=row.name, minor_units=row.minor_units)


@strawberry.type
class Country:
    code: str = strawberry.field(description="ISO 3166-1 alpha-2 code.")
    name: str
    _currency_code: strawberry.Private[str]

    @classmethod
    def of(cls, row: models.Country) -> Country:
        return cls(code=row.code, name=row.name, _currency_code=row.currency_code)

    @classmethod
    async def resolve(cls, info: Info, code: str) -> Country:
        """A country by its code (through the request's loader)."""
        return cls.of(await loaders(info).country.load(code))

    @strawberry.field
    async def currency(self, info: Info) -> Currency:
        return Currency.of(await loaders(info).currency.load(self._currency_code))

    @strawberry.field(description='Groupings the country belongs to, e.g. ["BRICS"].')
    async def blocs(self, info: Info) -> list[str]:
        return [row.bloc for row in await loaders(info).blocs.load(self.code)]


@strawberry.type
class Institution(Node):
    id: strawberry.ID
    name: str
    bic: str = strawberry.field(description="ISO 9362 business identifier code, 8 or 11 characters.")
    kind: InstitutionKind
    spread_bps: int | None = strawberry.field(description="For FX providers: the spread in basis points.")
    _row: strawberry.Private[models.Institution]

    @classmethod
    def of(cls, row: models.Institution) -> Institution:
        return cls(
            id=global_id("Institution", row.id),
            name=row.name,
            bic=row.bic,
            kind=row.kind,
            spread_bps=row.spread_bps,
            _row=row,
        )

    @classmethod
    async def resolve_node(cls, info: Info, key: int) -> Institution | None:
        """Institutions are reference data: every caller sees them."""
        row = await loaders(info).institution.load(key)
        return cls.of(row) if row is not None else None

    @strawberry.field
    async def country(self, info: Info) -> Country:
        return await Country.resolve(info, self._row.country_code)

    @strawberry.field(description="The institution's accounts, oldest first; empty for a caller who may not see them.")
    async def accounts(
        self, info: Info, first: int | None = None, after: str | None = None, currency: str | None = None
    ) -> Annotated[AccountConnection, strawberry.lazy("schema.ledger")]:
        from schema.ledger import institution_accounts

        return await institution_accounts(info, self._row, first, after, currency)

    @strawberry.field
    async def scheme_memberships(
        self, info: Info
    ) -> list[Annotated[SchemeMembership, strawberry.lazy("schema.cards")]]:
        from schema.cards import institution_memberships

        return await institution_memberships(info, self._row.id)

    @strawberry.field(description="Its memberships of payment networks (SWIFT, SPFS, CIPS), by network.")
    async def network_memberships(
        self, info: Info
    ) -> list[Annotated[NetworkMembership, strawberry.lazy("schema.messaging")]]:
        from schema.messaging import institution_network_memberships

        return await institution_network_memberships(info, self._row.id)


@strawberry.type
class InstitutionEdge:
    cursor: str
    node: Institution


@strawberry.type
class InstitutionConnection:
    page_info: PageInfo
    edges: list[InstitutionEdge]


@strawberry.input
class InstitutionInput:
    name: str
    bic: str
    country_code: str
    kind: InstitutionKind
    spread_bps: int | None = strawberry.field(
        default=None, description="For FX providers: the spread, in basis points, taken from the mid rate."
    )


@strawberry.type
class InstitutionPayload:
    institution: Institution | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReferenceQuery:
    @strawberry.field
    async def currencies(self, info: Info) -> list[Currency]:
        return [Currency.of(row) for row in await context(info).read(reference.list_currencies)]

    @strawberry.field
    async def countries(self, info: Info) -> list[Country]:
        return [Country.of(row) for row in await context(info).read(reference.list_countries)]

    @strawberry.field
    async def institution(self, info: Info, bic: str) -> Institution | None:
        row = await context(info).read(lambda session: reference.institution_by_bic(session, bic))
        return Institution.of(row) if row is not None else None

    @strawberry.field
    async def institutions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        kind: InstitutionKind | None = None,
        country_code: str | None = None,
    ) -> InstitutionConnection:
        after_key = decode_cursor(after, "after")
        page = await context(info).read(
            lambda session: reference.list_institutions(
                session, first=first, after=after_key, kind=kind, country_code=country_code
            )
        )
        return connection(InstitutionConnection, InstitutionEdge, page, Institution.of)


@strawberry.type
class ReferenceMutation:
    @strawberry.mutation
    @user_errors(InstitutionPayload, "input")
    async def create_institution(self, info: Info, input: InstitutionInput) -> InstitutionPayload:
        row = await mutate(
            info,
            reference.create_institution,
            name=input.name,
            bic=input.bic,
            country_code=input.country_code,
            kind=input.kind,
            spread_bps=input.spread_bps,
        )
        return InstitutionPayload(institution=Institution.of(row))
