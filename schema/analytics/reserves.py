"""GraphQL types of reserve holdings: the series, the change between two dates, the
composition at a date, and recording them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.types import Info

from models.analytics import ReserveHolding as HoldingRow
from resolvers import analytics
from resolvers.errors import DomainError
from schema.base import Money, UserError, context, mutate, now, principal
from schema.reference import Country


@strawberry.type
class ReserveHolding:
    asset: str = strawberry.field(description="UST for US treasuries, XAU for gold, or a currency code.")
    unit: str = strawberry.field(description="USD for a valuation in US dollars, TONNE for gold by weight.")
    amount: Decimal
    as_of: dt.date
    source: str | None
    _country_code: strawberry.Private[str]

    @classmethod
    def of(cls, row: HoldingRow) -> ReserveHolding:
        return cls(
            asset=row.asset,
            unit=row.unit,
            amount=Decimal(row.amount),
            as_of=row.as_of,
            source=row.source,
            _country_code=row.country_code,
        )

    @classmethod
    def maybe(cls, row: HoldingRow | None) -> ReserveHolding | None:
        return cls.of(row) if row is not None else None

    @strawberry.field
    async def country(self, info: Info) -> Country:
        return await Country.resolve(info, self._country_code)


@strawberry.input
class ReserveHoldingInput:
    country_code: str
    asset: str
    unit: str
    amount: Decimal
    as_of: dt.date
    source: str | None = None


@strawberry.type
class ReserveHoldingsPayload:
    holdings: list[ReserveHolding] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReserveChange:
    asset: str
    unit: str
    start: ReserveHolding | None
    end: ReserveHolding | None
    change: Decimal | None
    change_percent: float | None
    _country_code: strawberry.Private[str]

    @classmethod
    def of(cls, change: analytics.Change) -> ReserveChange:
        return cls(
            asset=change.asset,
            unit=change.unit,
            start=ReserveHolding.maybe(change.start),
            end=ReserveHolding.maybe(change.end),
            change=change.change,
            change_percent=change.change_percent,
            _country_code=change.country_code,
        )

    @strawberry.field
    async def country(self, info: Info) -> Country:
        return await Country.resolve(info, self._country_code)


@strawberry.type
class ReserveComponent:
    asset: str
    unit: str
    amount: Decimal
    value: Money | None = strawberry.field(
        description=(
            "The holding valued in the requested currency at the rates in force at that date; "
            "null when no rate allows it."
        )
    )
    share: float | None = strawberry.field(description="Share of the valued total (0..1); null when not valued.")


@strawberry.type
class ReserveComposition:
    at: dt.date
    total: Money
    components: list[ReserveComponent]
    _country_code: strawberry.Private[str]

    @classmethod
    def of(cls, composition: analytics.Composition) -> ReserveComposition:
        currency = composition.currency
        components = [
            ReserveComponent(
                asset=c.asset,
                unit=c.unit,
                amount=c.amount,
                value=Money(amount=c.value, currency=currency) if c.value is not None else None,
                share=c.share,
            )
            for c in composition.components
        ]
        return cls(
            at=composition.at,
            total=Money(amount=composition.total, currency=currency),
            components=components,
            _country_code=composition.country_code,
        )

    @strawberry.field
    async def country(self, info: Info) -> Country:
        return await Country.resolve(info, self._country_code)


@strawberry.type
class ReservesQuery:
    @strawberry.field
    async def reserve_holdings(self, info: Info, country_code: str, asset: str | None = None) -> list[ReserveHolding]:
        caller = principal(info)
        rows = await context(info).analyze(
            lambda session: analytics.reserve_holdings(session, caller, country_code, asset)
        )
        return [ReserveHolding.of(row) for row in rows]

    @strawberry.field
    async def reserve_change(
        self,
        info: Info,
        country_code: str,
        asset: str,
        from_: Annotated[dt.date, strawberry.argument(name="from")],
        to: dt.date,
    ) -> ReserveChange:
        caller = principal(info)
        change = await context(info).analyze(
            lambda session: analytics.reserve_change(session, caller, country_code, asset, from_, to)
        )
        return ReserveChange.of(change)

    @strawberry.field(
        description="A country's reserves at a date (the holdings nearest at or before it), valued in one currency."
    )
    async def reserve_composition(
        self, info: Info, country_code: str, at: dt.date, currency: str | None = "USD"
    ) -> ReserveComposition:
        caller = principal(info)
        composition = await context(info).analyze(
            lambda session: analytics.reserve_composition(session, caller, country_code, at, currency or "USD")
        )
        return ReserveComposition.of(composition)


@strawberry.type
class ReservesMutation:
    @strawberry.mutation
    async def record_reserve_holdings(self, info: Info, holdings: list[ReserveHoldingInput]) -> ReserveHoldingsPayload:
        specs = [analytics.HoldingSpec(h.country_code, h.asset, h.unit, h.amount, h.as_of, h.source) for h in holdings]
        try:
            recorded = await mutate(info, analytics.record_reserve_holdings, specs, now=now(info))
        except DomainError as error:
            found = error.under("holdings")
            return ReserveHoldingsPayload(errors=[UserError.of(e) for e in getattr(found, "errors", [found])])
        return ReserveHoldingsPayload(holdings=[ReserveHolding.of(row) for row in recorded.holdings])
