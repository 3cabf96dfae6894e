"""FX: rates, conversion paths that can avoid a currency, basket units, the dollar index.

- A rate is (base, quote, rate, source, asOf): units of quote for one unit of base,
  a positive Decimal of at most 12 significant digits. Rates are history, never
  overwritten; the rate in force at a time is the latest published at or before it.
  The inverse pair is derived (1 / rate, to 12 significant digits).
- A conversion path is the shortest chain of pairs with a rate in force (fewest
  legs), then the best product of rates, through none of the avoided currencies.
- A basket fixes, at definition, an amount of each currency (weight x initial value
  / rate to the value currency: the SDR method); its value at any time is the sum of
  amount x rate.
- The dollar index follows ICE's formula over six pairs.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Context, Decimal, InvalidOperation

from sqlalchemy import bindparam, func, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.money import MAX_MINOR, AmountError, to_minor
from models.fx import Basket, BasketComponent, ExchangeLeg, ExchangeRate, Quote, QuoteState
from models.ledger import Account, AccountKind
from models.reference import Institution, InstitutionKind
from resolvers import ledger, reference
from resolvers.access import SYSTEM, Action, Principal, may_act_for, require, visible_institution
from resolvers.errors import DomainError, ErrorCode, invalid
from resolvers.pagination import grouped_in_key_order, in_key_order

SIGNIFICANT = 12
ONE = Decimal(1)
# Rates lie within these bounds (and so do their inverses): wide enough for gold in
# rials, narrow enough that products of a few legs stay inside the WIDE context; what
# is computed from them is bounded where it becomes an amount (`_round`, basket values).
# A stored rate outside them (from before they were enforced) is ignored, never allowed
# to break the pairs around it.
RATE_MIN = Decimal("1E-12")
RATE_MAX = Decimal("1E+12")
# A basket's initial value: positive, at most this, and of at most SIGNIFICANT digits.
BASKET_VALUE_MAX = Decimal("1E+12")
WEIGHT_PLACES = 12
# A value with more integer digits than this is no amount of money (the API's amounts
# are at most 40 characters); it is reported as no value, not computed further.
VALUE_DIGITS_MAX = 30
MAX_RATES = 1000
SOURCE_MAX = 100
# Wide enough that products and powers of 12-digit rates lose nothing before rounding.
WIDE = Context(prec=60, rounding=ROUND_HALF_EVEN)


def plain(value: Decimal) -> Decimal:
    """Without trailing zeros and without exponent notation ("80", not "8E+1"); exact
    for any finite value (no context precision involved)."""
    return Decimal(format(value.normalize(WIDE), "f"))


def significant(value: Decimal, digits: int = SIGNIFICANT) -> Decimal:
    """`value` rounded half-even to `digits` significant digits, in plain notation."""
    if value == 0:
        return Decimal(0)
    return plain(Context(prec=digits, rounding=ROUND_HALF_EVEN).plus(value))


def significant_digits(value: Decimal) -> int:
    return len(value.normalize(WIDE).as_tuple().digits)


def rate_in_range(rate: Decimal) -> bool:
    return rate.is_finite() and RATE_MIN <= rate <= RATE_MAX


# ---------------------------------------------------------------- rates


@dataclass(frozen=True)
class Rate:
    """A rate as the API shows it: stored, or derived as the inverse of a stored one."""

    base: str
    quote: str
    rate: Decimal
    source: str
    as_of: dt.datetime

    def inverse(self) -> Rate:
        return Rate(self.quote, self.base, significant(WIDE.divide(ONE, self.rate)), self.source, self.as_of)


@dataclass(frozen=True)
class RateSpec:
    base: str
    quote: str
    rate: Decimal
    source: str | None = None
    as_of: dt.datetime | None = None


def _row_rate(row: ExchangeRate) -> Rate | None:
    """The stored rate, or None for one that could never be used (outside the bounds)."""
    try:
        rate = Decimal(row.rate)
    except ArithmeticError:
        return None
    return Rate(row.base, row.quote, rate, row.source, row.as_of) if rate_in_range(rate) else None


async def publish_rates(
    session: AsyncSession, principal: Principal, specs: Sequence[RateSpec], *, now: dt.datetime
) -> list[Rate]:
    """Store the rates, all or none; errors point at ["<index>", field]."""
    await _require_rate_publisher(session, principal)
    if not specs or len(specs) > MAX_RATES:
        raise invalid(f"Publish 1 to {MAX_RATES} rates at a time.")
    known = await reference.minor_units(session)
    rows = []
    for index, spec in enumerate(specs):
        base, quote = spec.base.strip().upper(), spec.quote.strip().upper()
        where = str(index)
        for name, code in (("base", base), ("quote", quote)):
            if code not in known:
                raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {code!r}.", [where, name])
        if base == quote:
            raise invalid("base and quote must differ.", where, "quote")
        if not spec.rate.is_finite() or spec.rate <= 0:
            raise invalid("A rate is a positive number.", where, "rate")
        if not rate_in_range(spec.rate):
            raise invalid(f"A rate lies between {RATE_MIN} and {RATE_MAX:f}.", where, "rate")
        if significant_digits(spec.rate) > SIGNIFICANT:
            raise invalid(f"A rate has at most {SIGNIFICANT} significant digits.", where, "rate")
        source = (spec.source or "").strip() or "unspecified"
        if len(source) > SOURCE_MAX:
            raise invalid(f"source must be at most {SOURCE_MAX} characters.", where, "source")
        as_of = spec.as_of or now
        if as_of.tzinfo is None:
            raise invalid("asOf needs a time zone (e.g. 2026-01-31T12:00:00Z).", where, "asOf")
        if as_of > now + dt.timedelta(minutes=5):
            raise invalid("asOf is in the future.", where, "asOf")
        rows.append(ExchangeRate(base=base, quote=quote, rate=str(plain(spec.rate)), source=source, as_of=as_of))
    session.add_all(rows)
    await session.flush()
    return [_row_rate(row) for row in rows]


async def _require_rate_publisher(session: AsyncSession, principal: Principal) -> None:
    """An operator, or a participant acting for an FX provider."""
    require(principal, Action.WRITE_OWN)
    if principal.institution_id is None:
        return  # an operator
    institution = await reference.institutions_by_id(session, [principal.institution_id])
    if institution[0] is None or institution[0].kind is not InstitutionKind.FX_PROVIDER:
        raise DomainError(ErrorCode.FORBIDDEN, "Only operators and FX providers publish rates.")


async def rates_in_force(session: AsyncSession, at: dt.datetime) -> dict[tuple[str, str], Rate]:
    """The latest stored rate of every pair at `at`, inverses included (a stored pair
    wins over the inverse of its reverse only when it is as recent or more)."""
    ranked = (
        select(
            ExchangeRate.id,
            func.row_number()
            .over(
                partition_by=(ExchangeRate.base, ExchangeRate.quote),
                order_by=(ExchangeRate.as_of.desc(), ExchangeRate.id.desc()),
            )
            .label("rank"),
        )
        .where(ExchangeRate.as_of <= at)
        .subquery()
    )
    rows = await session.exec(
        select(ExchangeRate).join(ranked, ranked.c.id == ExchangeRate.id).where(ranked.c.rank == 1)
    )
    stored = {(row.base, row.quote): rate for row in rows if (rate := _row_rate(row)) is not None}
    graph = dict(stored)
    for (base, quote), rate in stored.items():
        reverse = stored.get((quote, base))
        if reverse is None or reverse.as_of < rate.as_of:
            graph[(quote, base)] = rate.inverse()
    return graph


async def exchange_rate(session: AsyncSession, base: str, quote: str, at: dt.datetime) -> Rate | None:
    return (await rates_in_force(session, at)).get((base.strip().upper(), quote.strip().upper()))


# ---------------------------------------------------------------- conversion paths


@dataclass(frozen=True)
class Path:
    source: str
    target: str
    legs: tuple[Rate, ...]

    @property
    def rate(self) -> Decimal:
        product = ONE
        for leg in self.legs:
            product = WIDE.multiply(product, leg.rate)
        return significant(product)

    @property
    def via(self) -> list[str]:
        return [leg.quote for leg in self.legs[:-1]]


def find_path(graph: dict[tuple[str, str], Rate], source: str, target: str, avoid: Iterable[str] = ()) -> Path | None:
    """Fewest legs, then the best product of rates; never through an avoided currency."""
    if source == target:
        return Path(source, target, ())
    banned = set(avoid)
    edges: dict[str, list[Rate]] = {}
    for (base, quote), rate in graph.items():
        if base not in banned and quote not in banned:
            edges.setdefault(base, []).append(rate)
    # Breadth first, layer by layer; within the layer where a currency is first
    # reached, keep the best product (all ways to it there have the same length).
    best: dict[str, tuple[Decimal, tuple[Rate, ...]]] = {source: (ONE, ())}
    layer = [source]
    while layer and target not in best:
        reached: dict[str, tuple[Decimal, tuple[Rate, ...]]] = {}
        for currency in sorted(layer):
            product, legs = best[currency]
            for rate in edges.get(currency, ()):
                if rate.quote in best:
                    continue
                candidate = WIDE.multiply(product, rate.rate)
                if rate.quote not in reached or candidate > reached[rate.quote][0]:
                    reached[rate.quote] = (candidate, (*legs, rate))
        best.update(reached)
        layer = list(reached)
    if target not in best:
        return None
    return Path(source, target, best[target][1])


def check_avoid(source: str, target: str, avoid: Iterable[str]) -> list[str]:
    avoided = sorted({code.strip().upper() for code in avoid})
    for code in (source, target):
        if code in avoided:
            raise invalid(f"{code} is the conversion's own currency and cannot be avoided.", "avoid")
    return avoided


async def conversion_path(
    session: AsyncSession, source: str, target: str, avoid: Iterable[str], at: dt.datetime
) -> Path | None:
    source, target = source.strip().upper(), target.strip().upper()
    avoided = check_avoid(source, target, avoid)
    known = await reference.minor_units(session)
    for name, code in (("from", source), ("to", target)):
        if code not in known:
            raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {code!r}.", [name])
    return find_path(await rates_in_force(session, at), source, target, avoided)


# ---------------------------------------------------------------- baskets

BASKET_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,11}$")


@dataclass(frozen=True)
class ComponentSpec:
    currency: str
    weight: Decimal


async def define_basket(
    session: AsyncSession,
    principal: Principal,
    *,
    code: str,
    name: str,
    components: Sequence[ComponentSpec],
    initial_value: Decimal,
    value_currency: str,
    now: dt.datetime,
) -> Basket:
    """Fix each component's amount from its weight and the rates in force now."""
    require(principal, Action.OPERATE)
    code, name, value_currency = code.strip().upper(), name.strip(), value_currency.strip().upper()
    if not BASKET_CODE.match(code):
        raise invalid("A basket code is 2 to 12 capital letters or digits, starting with a letter.", "code")
    if not name or len(name) > 100:
        raise invalid("name must be 1 to 100 characters.", "name")
    known = await reference.minor_units(session)
    if value_currency not in known:
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {value_currency!r}.", ["valueCurrency"])
    if not initial_value.is_finite() or not 0 < initial_value <= BASKET_VALUE_MAX:
        raise invalid(f"initialValue must be positive and at most {BASKET_VALUE_MAX:f}.", "initialValue")
    if significant_digits(initial_value) > SIGNIFICANT:
        raise invalid(f"initialValue has at most {SIGNIFICANT} significant digits.", "initialValue")
    if not components:
        raise invalid("A basket needs at least one component.", "components")
    seen: set[str] = set()
    total = Decimal(0)
    for index, component in enumerate(components):
        currency = component.currency.strip().upper()
        if currency not in known:
            raise DomainError(
                ErrorCode.UNSUPPORTED_CURRENCY,
                f"Unknown currency {currency!r}.",
                ["components", str(index), "currency"],
            )
        if currency in seen:
            raise invalid(f"{currency} appears twice.", "components", str(index), "currency")
        seen.add(currency)
        if not component.weight.is_finite() or not 0 < component.weight <= 1:
            raise invalid("A weight is more than 0 and at most 1.", "components", str(index), "weight")
        if component.weight.normalize(WIDE).as_tuple().exponent < -WEIGHT_PLACES:
            raise invalid(f"A weight has at most {WEIGHT_PLACES} decimal places.", "components", str(index), "weight")
        total += component.weight
    if total != 1:
        raise invalid(f"The weights sum to {total}, not 1.", "components")
    taken = await session.exec(select(Basket.id).where(Basket.code == code))
    if taken.first() is not None:
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"A basket {code} exists.", ["code"])

    graph = await rates_in_force(session, now)
    basket = Basket(
        code=code, name=name, value_currency=value_currency, initial_value=str(initial_value), defined_at=now
    )
    session.add(basket)
    await session.flush()
    for index, component in enumerate(components):
        currency = component.currency.strip().upper()
        path = find_path(graph, currency, value_currency)
        if path is None:
            raise DomainError(
                ErrorCode.NO_RATE, f"No rate converts {currency} to {value_currency}.", ["components", str(index)]
            )
        amount = significant(WIDE.divide(WIDE.multiply(component.weight, initial_value), path.rate))
        session.add(
            BasketComponent(
                basket_id=basket.id,
                currency=currency,
                position=index,
                weight=str(component.weight),
                amount=str(amount),
            )
        )
    await session.flush()
    return basket


async def basket_by_code(session: AsyncSession, code: str) -> Basket | None:
    return (await session.exec(select(Basket).where(Basket.code == code.strip().upper()))).one_or_none()


async def baskets_by_id(session: AsyncSession, ids: Sequence[int]) -> list[Basket | None]:
    return in_key_order(await session.exec(select(Basket).where(Basket.id.in_(set(ids)))), ids, lambda row: row.id)


async def components_by_basket(session: AsyncSession, ids: Sequence[int]) -> list[list[BasketComponent]]:
    rows = await session.exec(
        select(BasketComponent)
        .where(BasketComponent.basket_id.in_(set(ids)))
        .order_by(BasketComponent.basket_id, BasketComponent.position)
    )
    return grouped_in_key_order(rows, ids, lambda row: row.basket_id)


async def basket_value(
    session: AsyncSession, components: Sequence[BasketComponent], currency: str, at: dt.datetime
) -> tuple[Decimal, int] | None:
    """(value of one unit in `currency` rounded half-even to its minor units, minor units),
    or None when a component has no rate to `currency` at `at`, or when the value is
    beyond any amount (more than VALUE_DIGITS_MAX integer digits)."""
    currency = currency.strip().upper()
    units = (await reference.minor_units(session)).get(currency)
    if units is None:
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {currency!r}.", ["currency"])
    graph = await rates_in_force(session, at)
    total = Decimal(0)
    for component in components:
        path = find_path(graph, component.currency, currency)
        if path is None:
            return None
        total = WIDE.add(total, WIDE.multiply(Decimal(component.amount), path.rate))
    if total.adjusted() > VALUE_DIGITS_MAX:  # rates at their bounds along long paths: no amount shows it
        return None
    return total.quantize(Decimal(1).scaleb(-units), rounding=ROUND_HALF_EVEN, context=WIDE), units


# ---------------------------------------------------------------- the dollar index

# ICE's US dollar index: 50.14348112 x EURUSD^-0.576 x USDJPY^0.136 x GBPUSD^-0.119
# x USDCAD^0.091 x USDSEK^0.042 x USDCHF^0.036.
DXY_CONSTANT = Decimal("50.14348112")
DXY_WEIGHTS = (
    (("EUR", "USD"), Decimal("-0.576")),
    (("USD", "JPY"), Decimal("0.136")),
    (("GBP", "USD"), Decimal("-0.119")),
    (("USD", "CAD"), Decimal("0.091")),
    (("USD", "SEK"), Decimal("0.042")),
    (("USD", "CHF"), Decimal("0.036")),
)
DXY_PLACES = Decimal("0.000001")


def dollar_index_of(graph: dict[tuple[str, str], Rate]) -> Decimal | None:
    value = DXY_CONSTANT
    for pair, weight in DXY_WEIGHTS:
        rate = graph.get(pair)
        if rate is None:
            return None
        try:
            value = WIDE.multiply(value, WIDE.power(rate.rate, weight))
        except InvalidOperation:  # pragma: no cover - rates are positive by construction
            return None
    return value.quantize(DXY_PLACES, rounding=ROUND_HALF_EVEN, context=WIDE)


async def dollar_index(session: AsyncSession, at: dt.datetime) -> Decimal | None:
    return dollar_index_of(await rates_in_force(session, at))


# ---------------------------------------------------------------- quotes and exchange

BPS = Decimal(10_000)


@dataclass(frozen=True)
class Position:
    """An FX provider's position account in one currency, with what it can still pay."""

    provider_id: int
    spread_bps: int
    account_id: int
    available: int


async def _positions(session: AsyncSession, currencies: set[str], now: dt.datetime) -> dict[tuple[int, str], Position]:
    """(provider id, currency) -> the provider's FX_POSITION account in that currency."""
    rows = (
        await session.exec(
            select(Account, Institution.spread_bps)
            .join(Institution, Institution.id == Account.owner_id)
            .where(
                Institution.kind == InstitutionKind.FX_PROVIDER,
                Account.kind == AccountKind.FX_POSITION,
                Account.currency_code.in_(currencies),
            )
            .order_by(Account.id)
        )
    ).all()
    lapsed = await ledger.lapsed_holds(session, [account.id for account, _ in rows], now)
    positions: dict[tuple[int, str], Position] = {}
    for account, spread in rows:
        key = (account.owner_id, account.currency_code)
        if key not in positions:  # a provider's first position in a currency is the one quoted
            available = ledger.effective_balances(account, lapsed.get(account.id)).available
            positions[key] = Position(account.owner_id, spread or 0, account.id, available)
    return positions


def _round(amount: Decimal, units: int, rounding: str = ROUND_DOWN) -> int:
    """Decimal units of a currency -> its minor units. Quotes round against the client:
    what the client receives down, what the client pays up; so no conversion, and no
    round trip A -> B -> A, ever gives the client more than the rates do. An amount that
    no column could hold is refused (AmountError), never an arithmetic fault."""
    scaled = WIDE.multiply(amount, Decimal(1).scaleb(units))
    if scaled.adjusted() > 19:  # more than 20 integer digits: beyond any 64-bit column
        raise AmountError("The amount is too large to convert.")
    return int(scaled.quantize(ONE, rounding=rounding, context=WIDE))


@dataclass(frozen=True)
class Conversion:
    """A priced conversion: the currencies from sell to buy, one provider and its rate
    (spread included) per leg, the minor units that change hands at each currency (0
    inside one provider's run of legs), and each provider's position account per currency."""

    currencies: tuple[str, ...]
    providers: tuple[int, ...]
    rates: tuple[Decimal, ...]
    amounts: tuple[int, ...]
    positions: dict[tuple[int, str], int]

    @property
    def sell_amount(self) -> int:
        return self.amounts[0]

    @property
    def buy_amount(self) -> int:
        return self.amounts[-1]

    @property
    def rate(self) -> Decimal:
        """Units of the buy currency for one unit of the sell currency, spreads included."""
        product = ONE
        for rate in self.rates:
            product = WIDE.multiply(product, rate)
        return significant(product)

    def legs(self, debit_account_id: int, credit_account_id: int) -> list[tuple[int, int, int, str]]:
        return conversion_legs(
            self.currencies, self.providers, self.amounts, self.positions, debit_account_id, credit_account_id
        )


def conversion_legs(
    currencies: Sequence[str],
    providers: Sequence[int],
    amounts: Sequence[int],
    positions: dict[tuple[int, str], int],
    debit_account_id: int,
    credit_account_id: int,
) -> list[tuple[int, int, int, str]]:
    """The transfers (debit, credit, minor units, currency) of a conversion: the client
    pays the first provider's position in the sell currency, a provider pays the next
    one's position where the provider changes, the last provider's position in the buy
    currency pays the client."""
    legs = [(debit_account_id, positions[(providers[0], currencies[0])], amounts[0], currencies[0])]
    for k in range(1, len(currencies) - 1):
        if providers[k - 1] != providers[k]:
            currency = currencies[k]
            legs.append(
                (positions[(providers[k - 1], currency)], positions[(providers[k], currency)], amounts[k], currency)
            )
    legs.append((positions[(providers[-1], currencies[-1])], credit_account_id, amounts[-1], currencies[-1]))
    return legs


def _provider_rate(leg: Rate, position: Position) -> Decimal:
    """The leg's rate after the provider's spread."""
    return WIDE.multiply(leg.rate, WIDE.subtract(ONE, WIDE.divide(Decimal(position.spread_bps), BPS)))


def _choose_providers(
    legs: Sequence[Rate],
    positions: dict[tuple[int, str], Position],
    units: dict[str, int],
    known: Decimal,
    selling: bool,
) -> list[int]:
    """A provider per leg, walking from the known amount (in units of its currency), the
    best rate first among those with the liquidity to pay the leg."""
    providers = sorted({provider for provider, _ in positions})
    chosen: list[int] = [0] * len(legs)
    for k in range(len(legs)) if selling else range(len(legs) - 1, -1, -1):
        leg = legs[k]
        candidates = [p for p in providers if (p, leg.base) in positions and (p, leg.quote) in positions]
        candidates.sort(key=lambda p: (positions[(p, leg.quote)].spread_bps, p))
        for p in candidates:
            rate = _provider_rate(leg, positions[(p, leg.quote)])
            out = WIDE.multiply(known, rate) if selling else known
            if _round(out, units[leg.quote]) <= positions[(p, leg.quote)].available:
                chosen[k] = p
                known = out if selling else WIDE.divide(known, rate)
                break
        else:
            raise DomainError(
                ErrorCode.INSUFFICIENT_LIQUIDITY, f"No FX provider can pay {leg.quote} for the {leg.base} leg."
            )
    return chosen


def _leg_amounts(
    currencies: Sequence[str],
    chosen: Sequence[int],
    rates: Sequence[Decimal],
    units: dict[str, int],
    given: int,
    selling: bool,
) -> list[int]:
    """The minor units at each currency of the path, rounded once per provider's run of
    legs (0 inside a run, where nothing changes hands)."""
    count = len(rates)
    amounts = [0] * len(currencies)
    if selling:
        amounts[0] = given
        value = Decimal(given).scaleb(-units[currencies[0]])
        for k in range(count):
            value = WIDE.multiply(value, rates[k])
            if k == count - 1 or chosen[k + 1] != chosen[k]:
                amounts[k + 1] = _round(value, units[currencies[k + 1]])
                value = Decimal(amounts[k + 1]).scaleb(-units[currencies[k + 1]])
    else:
        amounts[-1] = given
        value = Decimal(given).scaleb(-units[currencies[-1]])
        for k in range(count - 1, -1, -1):
            value = WIDE.divide(value, rates[k])
            if k == 0 or chosen[k - 1] != chosen[k]:
                amounts[k] = _round(value, units[currencies[k]], ROUND_UP)
                value = Decimal(amounts[k]).scaleb(-units[currencies[k]])
    for k in range(1, len(amounts) - 1):
        if chosen[k - 1] == chosen[k]:
            amounts[k] = 0
    return amounts


async def price_conversion(
    session: AsyncSession,
    *,
    sell: str,
    buy: str,
    sell_minor: int | None,
    buy_minor: int | None,
    avoid: Sequence[str],
    now: dt.datetime,
    field: str,
) -> Conversion:
    """Price selling `sell_minor` of `sell` (or buying `buy_minor` of `buy`): a path that
    avoids `avoid`, a provider per leg (the best rate with the liquidity to pay the leg),
    the rates after spreads and the amounts, to minor units against the client by less
    than one minor unit (consecutive legs of one provider are rounded once).
    Raises NO_RATE, INSUFFICIENT_LIQUIDITY, or INVALID_INPUT on `field` when a leg
    rounds to zero or an amount is too large to hold."""
    units = await reference.minor_units(session)
    path = find_path(await rates_in_force(session, now), sell, buy, avoid)
    if path is None:
        raise DomainError(ErrorCode.NO_RATE, f"No rates convert {sell} to {buy} avoiding {list(avoid) or 'nothing'}.")
    selling = sell_minor is not None
    given_minor, given_currency = (sell_minor, sell) if selling else (buy_minor, buy)
    assert given_minor is not None and given_minor > 0, "the caller checks the amount"
    currencies = [sell, *path.via, buy]
    positions = await _positions(session, set(currencies), now)
    try:
        known = Decimal(given_minor).scaleb(-units[given_currency])
        chosen = _choose_providers(path.legs, positions, units, known, selling)
        rates = [_provider_rate(leg, positions[(chosen[k], leg.quote)]) for k, leg in enumerate(path.legs)]
        amounts = _leg_amounts(currencies, chosen, rates, units, given_minor, selling)
    except AmountError as error:
        raise invalid(str(error), field) from None
    changing_hands = [amounts[0], amounts[-1]] + [
        amounts[k] for k in range(1, len(amounts) - 1) if chosen[k - 1] != chosen[k]
    ]
    if min(changing_hands) <= 0:
        raise invalid("The amount is too small to convert: a leg rounds to zero.", field)
    if max(amounts) > MAX_MINOR:
        raise invalid("The amount is too large to convert.", field)
    return Conversion(
        currencies=tuple(currencies),
        providers=tuple(chosen),
        rates=tuple(rates),
        amounts=tuple(amounts),
        positions={key: position.account_id for key, position in positions.items()},
    )


async def request_quote(
    session: AsyncSession,
    principal: Principal,
    *,
    sell_currency: str,
    buy_currency: str,
    sell_amount: Decimal | None,
    buy_amount: Decimal | None,
    avoid: Iterable[str],
    now: dt.datetime,
    seconds: int,
) -> Quote:
    """Fix a priced conversion (`price_conversion`) and an expiry."""
    require(principal, Action.WRITE_OWN)
    sell, buy = sell_currency.strip().upper(), buy_currency.strip().upper()
    units = await reference.minor_units(session)
    for name, code in (("sellCurrency", sell), ("buyCurrency", buy)):
        if code not in units:
            raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {code!r}.", [name])
    if sell == buy:
        raise invalid("sellCurrency and buyCurrency must differ.", "buyCurrency")
    if (sell_amount is None) == (buy_amount is None):
        raise invalid("Give exactly one of sellAmount and buyAmount.", "sellAmount")
    given, given_currency, field = (
        (sell_amount, sell, "sellAmount") if sell_amount is not None else (buy_amount, buy, "buyAmount")
    )
    try:
        given_minor = to_minor(given, units[given_currency])
    except AmountError as error:
        raise invalid(str(error), field) from None
    if given_minor <= 0:
        raise invalid("The amount must be positive.", field)
    conversion = await price_conversion(
        session,
        sell=sell,
        buy=buy,
        sell_minor=given_minor if sell_amount is not None else None,
        buy_minor=given_minor if buy_amount is not None else None,
        avoid=check_avoid(sell, buy, avoid),
        now=now,
        field=field,
    )
    quote = Quote(
        sell_currency=sell,
        buy_currency=buy,
        sell_amount=conversion.sell_amount,
        buy_amount=conversion.buy_amount,
        rate=str(conversion.rate),
        path=",".join(conversion.currencies),
        providers=",".join(str(p) for p in conversion.providers),
        leg_rates=",".join(str(significant(rate)) for rate in conversion.rates),
        amounts=",".join(str(a) for a in conversion.amounts),
        state=QuoteState.OPEN,
        expires_at=now + dt.timedelta(seconds=seconds),
        created_at=now,
        owner_id=principal.institution_id,
    )
    session.add(quote)
    await session.flush()
    return quote


def quote_state(quote: Quote, now: dt.datetime) -> QuoteState:
    if quote.state is QuoteState.OPEN and quote.expires_at <= now:
        return QuoteState.EXPIRED
    return quote.state


def quote_providers(quote: Quote) -> list[int]:
    """The providers in order, each once."""
    seen: list[int] = []
    for provider in (int(p) for p in quote.providers.split(",")):
        if provider not in seen:
            seen.append(provider)
    return seen


def may_see_quote(principal: Principal, quote: Quote) -> bool:
    """A quote is its requester's: the institution a participant asked for it, or the
    operators for their own; operators see every quote."""
    institution = visible_institution(principal)
    return institution is None or (quote.owner_id is not None and quote.owner_id == institution)


async def quotes_by_id(session: AsyncSession, ids: Sequence[int]) -> list[Quote | None]:
    return in_key_order(await session.exec(select(Quote).where(Quote.id.in_(set(ids)))), ids, lambda row: row.id)


EXCHANGE_LEGS = ExchangeLeg.__table__
_EXCHANGE_TRANSFERS = (
    select(ledger.TRANSFERS)
    .join(EXCHANGE_LEGS, EXCHANGE_LEGS.c.transfer_id == ledger.TRANSFERS.c.id)
    .where(EXCHANGE_LEGS.c.quote_id == bindparam("quote"))
    .order_by(EXCHANGE_LEGS.c.position)
)


async def exchange_transfers(session: AsyncSession, quote_id: int) -> list:
    """The ledger transfers an exchange of the quote posted, in order."""
    connection = await session.connection()
    return list(await connection.execute(_EXCHANGE_TRANSFERS, {"quote": quote_id}))


async def _quote_for_exchange(
    session: AsyncSession, principal: Principal, quote_id: int, transfer_id: uuid.UUID
) -> tuple[Quote, bool]:
    """(the quote, whether this exchange already happened). NOT_FOUND for a quote the
    caller may not see; IDEMPOTENCY_CONFLICT for a transferId that executed another
    quote (saying nothing of it); QUOTE_USED for a quote another exchange used."""
    quote = await session.get(Quote, quote_id)
    if quote is None or not may_see_quote(principal, quote):
        raise DomainError(ErrorCode.NOT_FOUND, "No such quote.", ["quoteId"])
    if quote.state is QuoteState.USED and quote.used_by == transfer_id:
        return quote, True
    other = (await session.exec(select(Quote.id).where(Quote.used_by == transfer_id))).first()
    if other is not None:
        raise DomainError(
            ErrorCode.IDEMPOTENCY_CONFLICT, "This transferId was used by another exchange.", ["transferId"]
        )
    if quote.state is QuoteState.USED:
        raise DomainError(ErrorCode.QUOTE_USED, "The quote has been used.", ["quoteId"])
    return quote, False


async def _claim(session: AsyncSession, quote: Quote, transfer_id: uuid.UUID) -> bool:
    """Mark the quote used by this exchange; False when a concurrent one took it first."""
    connection = await session.connection()
    used = await connection.execute(
        update(Quote)
        .where(Quote.id == quote.id, Quote.state == QuoteState.OPEN)
        .values(state=QuoteState.USED, used_by=transfer_id)
    )
    return used.rowcount == 1


async def exchange(
    session: AsyncSession,
    principal: Principal,
    *,
    transfer_id: uuid.UUID,
    quote_id: int,
    debit_account_id: int,
    credit_account_id: int,
    now: dt.datetime,
) -> list:
    """Post the quote's legs atomically; a replay of the same transferId returns them.
    Only the quote's owner (or an operator) executes it, once."""
    require(principal, Action.WRITE_OWN)
    quote, done = await _quote_for_exchange(session, principal, quote_id, transfer_id)
    if done:
        return await exchange_transfers(session, quote.id)
    debit, credit = await ledger.accounts_by_id(session, [debit_account_id, credit_account_id])
    if debit is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such account.", ["debitAccountId"])
    if credit is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such account.", ["creditAccountId"])
    if not may_act_for(principal, debit.owner_id):
        raise DomainError(
            ErrorCode.FORBIDDEN, "A participant exchanges only from its own accounts.", ["debitAccountId"]
        )
    if quote_state(quote, now) is QuoteState.EXPIRED:
        raise DomainError(ErrorCode.QUOTE_EXPIRED, "The quote has expired; request a new one.", ["quoteId"])
    if debit.currency_code != quote.sell_currency:
        raise DomainError(
            ErrorCode.CURRENCY_MISMATCH, f"The debit account must be in {quote.sell_currency}.", ["debitAccountId"]
        )
    if credit.currency_code != quote.buy_currency:
        raise DomainError(
            ErrorCode.CURRENCY_MISMATCH, f"The credit account must be in {quote.buy_currency}.", ["creditAccountId"]
        )
    if not await _claim(session, quote, transfer_id):
        # A concurrent exchange took it first (it committed, or we would still be waiting):
        # ours replayed, or another.
        await session.refresh(quote)
        await _quote_for_exchange(session, principal, quote_id, transfer_id)  # raises unless it was ours
        return await exchange_transfers(session, quote.id)
    transfers = await _post_exchange_legs(session, quote, transfer_id, debit_account_id, credit_account_id, now)
    session.add_all(
        ExchangeLeg(quote_id=quote.id, position=k, transfer_id=transfer.id) for k, transfer in enumerate(transfers)
    )
    await session.flush()
    return transfers


async def _post_exchange_legs(
    session: AsyncSession, quote: Quote, transfer_id: uuid.UUID, debit_id: int, credit_id: int, now: dt.datetime
) -> list:
    currencies = quote.path.split(",")
    amounts = [int(a) for a in quote.amounts.split(",")]
    providers = [int(p) for p in quote.providers.split(",")]
    positions = await _positions(session, set(currencies), now)
    legs = conversion_legs(
        currencies, providers, amounts, {key: p.account_id for key, p in positions.items()}, debit_id, credit_id
    )
    units = await reference.minor_units(session)
    specs = [
        ledger.TransferSpec(
            uuid.uuid4(),  # the quote, claimed above, is what makes a replay
            source,
            target,
            Decimal(amount).scaleb(-units[currency]),
            currency,
            reference=f"exchange {transfer_id} leg {k + 1}",
        )
        for k, (source, target, amount, currency) in enumerate(legs)
    ]
    outcomes = await ledger.create_transfers(session, SYSTEM, specs, atomic=True, now=now)
    for k, outcome in enumerate(outcomes):
        error = outcome.error
        if error is None or error.code is ErrorCode.ATOMIC_BATCH_FAILED:
            continue
        if error.code is ErrorCode.INSUFFICIENT_FUNDS and k == 0:
            raise DomainError(
                ErrorCode.INSUFFICIENT_FUNDS, "The debit account's available balance is too low.", ["debitAccountId"]
            )
        if error.code is ErrorCode.INSUFFICIENT_FUNDS:
            raise DomainError(
                ErrorCode.INSUFFICIENT_LIQUIDITY, "An FX provider's position can no longer pay this quote."
            )
        raise DomainError(error.code, error.message)
    return [outcome.transfer for outcome in outcomes]
