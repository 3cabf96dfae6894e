"""GraphQL types of FX: rates, conversion paths, baskets, the dollar index."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.types import Info

from models import fx as models
from resolvers import fx
from resolvers.errors import DomainError, ErrorCode
from schema.base import Money, Node, UserError, context, decode_id, global_id, mutate, now, principal, user_errors
from schema.ledger import Transfer, money
from schema.loaders import loaders, minor_units
from schema.reference import Institution


def _at(info: Info, at: dt.datetime | None) -> dt.datetime:
    """The time a rate-dependent field is asked at: given with a zone, or the request's now."""
    if at is None:
        return now(info)
    if at.tzinfo is None:
        raise DomainError(ErrorCode.INVALID_INPUT, "at needs a time zone (e.g. 2026-01-31T12:00:00Z).", ["at"])
    return at


@strawberry.type
class ExchangeRate:
    base: str
    quote: str
    rate: Decimal = strawberry.field(description="Units of quote for one unit of base.")
    source: str
    as_of: dt.datetime

    @classmethod
    def of(cls, rate: fx.Rate) -> ExchangeRate:
        return cls(base=rate.base, quote=rate.quote, rate=rate.rate, source=rate.source, as_of=rate.as_of)


@strawberry.input
class ExchangeRateInput:
    base: str
    quote: str
    rate: Decimal
    source: str | None = None
    as_of: dt.datetime | None = None


@strawberry.type
class PublishRatesPayload:
    rates: list[ExchangeRate] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ConversionPath:
    from_: str = strawberry.field(name="from")
    to: str
    rate: Decimal = strawberry.field(description="Product of the legs' rates.")
    via: list[str] = strawberry.field(description="Intermediate currencies, in order; empty for a direct pair.")
    legs: list[ExchangeRate]

    @classmethod
    def of(cls, path: fx.Path) -> ConversionPath:
        return cls(
            from_=path.source,
            to=path.target,
            rate=path.rate,
            via=path.via,
            legs=[ExchangeRate.of(leg) for leg in path.legs],
        )


@strawberry.type
class BasketComponent:
    currency: str
    weight: Decimal = strawberry.field(description="Share of the basket's value at definition time (0..1).")
    amount: Decimal = strawberry.field(description="Fixed quantity of this currency in one basket unit.")


Interval = strawberry.enum(fx.Interval, name="Interval")


@strawberry.type
class IndexPoint:
    at: dt.datetime
    value: Decimal | None = strawberry.field(description="Null where the rates in force at that time do not allow it.")

    @classmethod
    def of(cls, point: fx.Point) -> IndexPoint:
        return cls(at=point.at, value=point.value)


@strawberry.type
class Basket(Node):
    id: strawberry.ID
    code: str
    name: str
    defined_at: dt.datetime
    _row: strawberry.Private[models.Basket]

    @classmethod
    def of(cls, row: models.Basket) -> Basket:
        return cls(id=global_id("Basket", row.id), code=row.code, name=row.name, defined_at=row.defined_at, _row=row)

    @classmethod
    async def resolve_node(cls, info: Info, key: int) -> Basket | None:
        """Baskets are public figures: every caller sees them."""
        row = await loaders(info).basket.load(key)
        return cls.of(row) if row is not None else None

    @strawberry.field
    async def components(self, info: Info) -> list[BasketComponent]:
        rows = await loaders(info).basket_components.load(self._row.id)
        return [BasketComponent(currency=r.currency, weight=Decimal(r.weight), amount=Decimal(r.amount)) for r in rows]

    @strawberry.field(description="The value of one basket unit, from the rates in force at `at` (default: now).")
    async def value(self, info: Info, currency: str, at: dt.datetime | None = None) -> Money | None:
        when = _at(info, at)
        rows = await loaders(info).basket_components.load(self._row.id)
        valued = await context(info).read(lambda session: fx.basket_value(session, rows, currency, when))
        if valued is None:
            return None
        return Money(amount=valued[0], currency=currency.strip().upper())

    @strawberry.field(
        description="The value of one basket unit over time, from the stored rate history (at most 1,000 points)."
    )
    async def history(
        self,
        info: Info,
        currency: str,
        since: dt.datetime,
        until: dt.datetime,
        interval: Interval | None = fx.Interval.DAY,
    ) -> list[IndexPoint]:
        rows = await loaders(info).basket_components.load(self._row.id)
        every = interval or fx.Interval.DAY
        series = await context(info).read(
            lambda session: fx.basket_history(session, rows, currency, since, until, every)
        )
        return [IndexPoint.of(point) for point in series]


@strawberry.input
class BasketComponentInput:
    currency: str
    weight: Decimal


@strawberry.input
class DefineBasketInput:
    code: str
    name: str
    components: list[BasketComponentInput] = strawberry.field(description="Weights must sum to 1.")
    initial_value: Decimal = strawberry.field(
        description="One basket unit is worth this much of valueCurrency at definition."
    )
    value_currency: str


@strawberry.type
class BasketPayload:
    basket: Basket | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class FxQuery:
    @strawberry.field
    async def exchange_rate(
        self, info: Info, base: str, quote: str, at: dt.datetime | None = None
    ) -> ExchangeRate | None:
        when = _at(info, at)
        rate = await context(info).read(lambda session: fx.exchange_rate(session, base, quote, when))
        return ExchangeRate.of(rate) if rate is not None else None

    @strawberry.field
    async def conversion_path(
        self,
        info: Info,
        from_: Annotated[str, strawberry.argument(name="from")],
        to: str,
        avoid: list[str] | None = None,
    ) -> ConversionPath | None:
        path = await context(info).read(lambda session: fx.conversion_path(session, from_, to, avoid or [], now(info)))
        return ConversionPath.of(path) if path is not None else None

    @strawberry.field
    async def basket(self, info: Info, code: str) -> Basket | None:
        row = await context(info).read(lambda session: fx.basket_by_code(session, code))
        return Basket.of(row) if row is not None else None

    @strawberry.field(description="The US dollar index computed with the ICE formula from the rates in force at `at`.")
    async def dollar_index(self, info: Info, at: dt.datetime | None = None) -> Decimal | None:
        when = _at(info, at)
        return await context(info).read(lambda session: fx.dollar_index(session, when))

    @strawberry.field(description="The US dollar index over time, from the stored rate history (at most 1,000 points).")
    async def dollar_index_history(
        self, info: Info, since: dt.datetime, until: dt.datetime, interval: Interval | None = fx.Interval.DAY
    ) -> list[IndexPoint]:
        every = interval or fx.Interval.DAY
        series = await context(info).read(lambda session: fx.dollar_index_history(session, since, until, every))
        return [IndexPoint.of(point) for point in series]


@strawberry.type
class FxMutation:
    @strawberry.mutation
    async def publish_rates(self, info: Info, rates: list[ExchangeRateInput]) -> PublishRatesPayload:
        specs = [fx.RateSpec(r.base, r.quote, r.rate, r.source, r.as_of) for r in rates]
        try:
            stored = await mutate(info, fx.publish_rates, specs, now=now(info))
        except DomainError as error:
            return PublishRatesPayload(errors=[UserError.of(error.under("rates"))])
        return PublishRatesPayload(rates=[ExchangeRate.of(rate) for rate in stored])

    @strawberry.mutation
    @user_errors(BasketPayload, "input")
    async def define_basket(self, info: Info, input: DefineBasketInput) -> BasketPayload:
        components = [fx.ComponentSpec(c.currency, c.weight) for c in input.components]
        row = await mutate(
            info,
            fx.define_basket,
            code=input.code,
            name=input.name,
            components=components,
            initial_value=input.initial_value,
            value_currency=input.value_currency,
            now=now(info),
        )
        return BasketPayload(basket=Basket.of(row))


QuoteState = strawberry.enum(models.QuoteState, name="QuoteState")


@strawberry.type
class Quote(Node):
    id: strawberry.ID
    sell_amount: Money
    buy_amount: Money
    rate: Decimal = strawberry.field(
        description="Units of the buy currency for one unit of the sell currency, spreads included."
    )
    path: list[str] = strawberry.field(description='Currencies from sell to buy, e.g. ["RUB", "CNY", "INR"].')
    state: QuoteState
    expires_at: dt.datetime
    _row: strawberry.Private[models.Quote]

    @classmethod
    def of(cls, row: models.Quote, units: dict[str, int], at: dt.datetime) -> Quote:
        return cls(
            id=global_id("Quote", row.id),
            sell_amount=money(row.sell_amount, row.sell_currency, units),
            buy_amount=money(row.buy_amount, row.buy_currency, units),
            rate=Decimal(row.rate),
            path=row.path.split(","),
            state=fx.quote_state(row, at),
            expires_at=row.expires_at,
            _row=row,
        )

    @classmethod
    async def resolve_node(cls, info: Info, key: int) -> Quote | None:
        """A quote for its requester and the operator only."""
        row = await loaders(info).quote.load(key)
        if row is None or not fx.may_see_quote(principal(info), row):
            return None
        return cls.of(row, await minor_units(info), now(info))

    @strawberry.field
    async def providers(self, info: Info) -> list[Institution]:
        rows = await loaders(info).institution.load_many(fx.quote_providers(self._row))
        return [Institution.of(row) for row in rows]


@strawberry.input
class QuoteInput:
    sell_currency: str
    buy_currency: str
    sell_amount: Decimal | None = strawberry.field(default=None, description="Exactly one of sellAmount and buyAmount.")
    buy_amount: Decimal | None = None
    avoid: list[str] | None = strawberry.field(
        default=None, description='Currencies the conversion must not pass through, e.g. ["USD"].'
    )


@strawberry.type
class QuotePayload:
    quote: Quote | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class ExchangeInput:
    transfer_id: uuid.UUID
    quote_id: strawberry.ID
    debit_account_id: strawberry.ID = strawberry.field(description="An account in the sell currency.")
    credit_account_id: strawberry.ID = strawberry.field(description="An account in the buy currency.")


@strawberry.type
class ExchangePayload:
    transfers: list[Transfer] = strawberry.field(
        default_factory=list,
        description="The legs, posted atomically through the providers' FX_POSITION accounts.",
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class QuoteMutation:
    @strawberry.mutation
    @user_errors(QuotePayload, "input")
    async def request_quote(self, info: Info, input: QuoteInput) -> QuotePayload:
        row = await mutate(
            info,
            fx.request_quote,
            sell_currency=input.sell_currency,
            buy_currency=input.buy_currency,
            sell_amount=input.sell_amount,
            buy_amount=input.buy_amount,
            avoid=input.avoid or [],
            now=now(info),
            seconds=context(info).settings.quote_seconds,
        )
        return QuotePayload(quote=Quote.of(row, await minor_units(info), now(info)))

    @strawberry.mutation
    @user_errors(ExchangePayload, "input")
    async def exchange(self, info: Info, input: ExchangeInput) -> ExchangePayload:
        quote_id = decode_id(input.quote_id, "Quote", "quoteId")
        debit = decode_id(input.debit_account_id, "Account", "debitAccountId")
        credit = decode_id(input.credit_account_id, "Account", "creditAccountId")
        legs = await mutate(
            info,
            fx.exchange,
            transfer_id=input.transfer_id,
            quote_id=quote_id,
            debit_account_id=debit,
            credit_account_id=credit,
            now=now(info),
        )
        units = await minor_units(info)
        return ExchangePayload(transfers=[Transfer.of(leg, units, now(info)) for leg in legs])
