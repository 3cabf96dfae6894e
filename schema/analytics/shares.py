"""GraphQL types of currency shares: a corridor's figures, its series over time, and the
network-wide shares."""

from __future__ import annotations

import asyncio
import datetime as dt

import strawberry
from strawberry.types import Info

from resolvers import analytics
from resolvers.fx import Interval as Every
from schema.base import Money, context, now, principal
from schema.fx import Interval
from schema.reference import Country

CURRENCY_SHARES = "Network-wide: value settled per currency (interbank and card), converted to the reporting currency."


@strawberry.type
class CurrencyShare:
    currency: str
    value: Money = strawberry.field(description="Value settled in this currency, converted to the reporting currency.")
    share: float = strawberry.field(description="Share of the total value (0..1).")
    payment_count: int = strawberry.field(description="Payments that settled in this currency.")
    unconverted: Money | None = strawberry.field(
        description=(
            "What settled in this currency when no rate in force converted it, in this currency "
            "(left out of value, the total and the shares); null when all of it converted."
        )
    )

    @classmethod
    def of(cls, share: analytics.Share, reporting: str) -> CurrencyShare:
        value = Money(amount=share.value, currency=reporting)
        left = Money(amount=share.unconverted, currency=share.currency) if share.unconverted is not None else None
        return cls(currency=share.currency, value=value, share=share.share, payment_count=share.count, unconverted=left)


async def countries_of(info: Info, codes: tuple[str, str]) -> list[Country]:
    """A corridor's two countries (one for a domestic corridor), through the loader in one batch."""
    return list(await asyncio.gather(*(Country.resolve(info, code) for code in dict.fromkeys(codes))))


def _shares(found: analytics.Figures, reporting: str) -> list[CurrencyShare]:
    return [CurrencyShare.of(share, reporting) for share in found.shares]


@strawberry.type
class CorridorStats:
    reporting_currency: str
    payment_count: int
    total_value: Money
    shares: list[CurrencyShare]
    usd_share: float = strawberry.field(description="Share of value settled in USD (0..1).")
    local_share: float = strawberry.field(description="Share of value settled in either country's own currency (0..1).")
    _countries: strawberry.Private[tuple[str, str]]

    @classmethod
    def of(cls, stats: analytics.CorridorStats) -> CorridorStats:
        found, reporting = stats.figures, stats.reporting
        return cls(
            reporting_currency=reporting,
            payment_count=found.count,
            total_value=Money(amount=found.total, currency=reporting),
            shares=_shares(found, reporting),
            usd_share=found.usd_share,
            local_share=found.local_share,
            _countries=stats.countries,
        )

    @strawberry.field(description="The two countries, flows counted in both directions.")
    async def countries(self, info: Info) -> list[Country]:
        return await countries_of(info, self._countries)


@strawberry.type
class CorridorPoint:
    start: dt.datetime = strawberry.field(description="Start of the interval.")
    payment_count: int
    total_value: Money
    usd_share: float
    local_share: float
    shares: list[CurrencyShare]

    @classmethod
    def of(cls, point: analytics.CorridorPoint, reporting: str) -> CorridorPoint:
        found = point.figures
        return cls(
            start=point.start,
            payment_count=found.count,
            total_value=Money(amount=found.total, currency=reporting),
            usd_share=found.usd_share,
            local_share=found.local_share,
            shares=_shares(found, reporting),
        )


@strawberry.type
class SharesQuery:
    @strawberry.field
    async def corridor_stats(
        self,
        info: Info,
        country_a: str,
        country_b: str,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        reporting_currency: str | None = "USD",
    ) -> CorridorStats:
        caller, clock, reporting = principal(info), now(info), reporting_currency or "USD"
        stats = await context(info).analyze(
            lambda session: analytics.corridor_stats(
                session, caller, country_a, country_b, since, until, reporting, now=clock
            )
        )
        return CorridorStats.of(stats)

    @strawberry.field
    async def corridor_series(
        self,
        info: Info,
        country_a: str,
        country_b: str,
        since: dt.datetime,
        until: dt.datetime,
        interval: Interval | None = Every.MONTH,
        reporting_currency: str | None = "USD",
    ) -> list[CorridorPoint]:
        caller, clock, every = principal(info), now(info), interval or Every.MONTH
        reporting = (reporting_currency or "USD").strip().upper()
        series = await context(info).analyze(
            lambda session: analytics.corridor_series(
                session, caller, country_a, country_b, since, until, every, reporting, now=clock
            )
        )
        return [CorridorPoint.of(point, reporting) for point in series]

    @strawberry.field(description=CURRENCY_SHARES)
    async def currency_shares(
        self,
        info: Info,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        reporting_currency: str | None = "USD",
    ) -> list[CurrencyShare]:
        caller, clock = principal(info), now(info)
        reporting = (reporting_currency or "USD").strip().upper()
        found = await context(info).analyze(
            lambda session: analytics.currency_shares(session, caller, since, until, reporting, now=clock)
        )
        return _shares(found, reporting)
