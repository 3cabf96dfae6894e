"""GraphQL types of the dollar's cost on a corridor: its USD value by pair of local
currencies, with today's route through USD against today's route avoiding it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import strawberry
from strawberry.types import Info

from resolvers import analytics
from schema.analytics.shares import countries_of
from schema.base import Money, context, now, principal
from schema.loaders import loaders
from schema.reference import Country, Institution

USD = "USD"


@strawberry.type(description="A conversion today: its path, and its rate after the cheapest provider's spread per leg.")
class FxRoute:
    currencies: list[str] = strawberry.field(description="From the source currency to the target, in order.")
    rate: Decimal = strawberry.field(description="Units of the target for one unit of the source, spreads included.")
    _providers: strawberry.Private[tuple[int, ...]]

    @classmethod
    def maybe(cls, route: analytics.Route | None) -> FxRoute | None:
        if route is None:
            return None
        return cls(currencies=list(route.currencies), rate=route.rate, _providers=route.providers)

    @strawberry.field(description="The FX provider of each leg.")
    async def providers(self, info: Info) -> list[Institution]:
        rows = await loaders(info).institution.load_many(list(self._providers))
        return [Institution.of(row) for row in rows]


@strawberry.type
class DollarCostPair:
    from_currency: str = strawberry.field(description="The sending end's country currency.")
    to_currency: str = strawberry.field(description="The receiving end's country currency.")
    payment_count: int
    usd_value: Money = strawberry.field(description="What settled in USD between them.")
    via_usd: FxRoute | None = strawberry.field(description="Today's route through USD; null when none exists.")
    without_usd: FxRoute | None = strawberry.field(description="Today's route avoiding USD; null when none exists.")
    difference_bps: Decimal | None = strawberry.field(
        description="How much more (negative: less) the route avoiding USD gives, in bps of the one through it."
    )
    saving: Money | None = strawberry.field(description="That difference on usdValue, in USD (negative: a cost).")

    @classmethod
    def of(cls, pair: analytics.PairCost) -> DollarCostPair:
        return cls(
            from_currency=pair.source,
            to_currency=pair.target,
            payment_count=pair.count,
            usd_value=Money(amount=pair.usd_value, currency=USD),
            via_usd=FxRoute.maybe(pair.via_usd),
            without_usd=FxRoute.maybe(pair.without_usd),
            difference_bps=pair.difference_bps,
            saving=Money(amount=pair.saving, currency=USD) if pair.saving is not None else None,
        )


@strawberry.type
class CorridorDollarCost:
    payment_count: int = strawberry.field(description="Payments of the corridor that settled in USD.")
    usd_value: Money
    pairs: list[DollarCostPair]
    _countries: strawberry.Private[tuple[str, str]]

    @strawberry.field(description="The two countries, flows counted in both directions.")
    async def countries(self, info: Info) -> list[Country]:
        return await countries_of(info, self._countries)


@strawberry.type
class DollarCostQuery:
    @strawberry.field(
        description=(
            "What settled in USD on a corridor, per pair of local currencies, with today's conversion "
            "through USD against today's conversion avoiding it."
        )
    )
    async def corridor_dollar_cost(
        self,
        info: Info,
        country_a: str,
        country_b: str,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> CorridorDollarCost:
        caller, clock = principal(info), now(info)
        cost = await context(info).analyze(
            lambda session: analytics.dollar_cost(session, caller, country_a, country_b, since, until, now=clock)
        )
        return CorridorDollarCost(
            payment_count=cost.count,
            usd_value=Money(amount=cost.usd_value, currency=USD),
            pairs=[DollarCostPair.of(pair) for pair in cost.pairs],
            _countries=cost.countries,
        )
