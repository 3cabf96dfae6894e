"""Pricing a conversion: the FX providers' positions, a provider per leg (the best rate
with the liquidity to pay the leg), the rates after spreads, and the minor units that
change hands, rounded against the client by less than one minor unit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.ledger import Account, AccountKind
from models.reference import Institution, InstitutionKind
from resolvers import ledger, reference
from resolvers.errors import DomainError, ErrorCode, invalid
from resolvers.fx.paths import find_path
from resolvers.fx.rates import InForce, Rate, rates_in_force
from resolvers.money import MAX_MINOR, ONE, WIDE, AmountError, minor_rounded_down, minor_rounded_up, significant

BPS = Decimal(10_000)


@dataclass(frozen=True)
class Position:
    """An FX provider's position account in one currency, with what it can still pay."""

    provider_id: int
    spread_bps: int
    account_id: int
    available: int


async def provider_positions(
    session: AsyncSession, currencies: set[str], now: dt.datetime
) -> dict[tuple[int, str], Position]:
    """(provider id, currency) -> the provider's FX_POSITION account in that currency,
    with its available funds at `now` (lapsed holds released)."""
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


def less_spent(positions: dict[tuple[int, str], Position], spent: Mapping[int, int]) -> dict[tuple[int, str], Position]:
    """The positions less what `spent` says holds not yet placed will take (by account id)."""
    if not spent:
        return positions
    return {
        key: replace(position, available=position.available - spent.get(position.account_id, 0))
        for key, position in positions.items()
    }


class Market:
    """The rates in force at one moment and the FX providers' positions, each read once
    for the conversions priced together (a card group commit's): what the holds of the
    earlier ones take is `price_conversion`'s `spent`, not a second read. The ledger
    still checks every hold when it is placed; a price is never more than the funds as read."""

    def __init__(self, session: AsyncSession, now: dt.datetime) -> None:
        self.session, self.now = session, now
        self._rates: InForce | None = None
        self._positions: dict[frozenset[str], dict[tuple[int, str], Position]] = {}

    async def rates(self) -> InForce:
        if self._rates is None:
            self._rates = await rates_in_force(self.session, self.now)
        return self._rates

    async def positions(self, currencies: set[str]) -> dict[tuple[int, str], Position]:
        key = frozenset(currencies)
        if key not in self._positions:
            self._positions[key] = await provider_positions(self.session, currencies, self.now)
        return self._positions[key]


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


def _candidates(leg: Rate, positions: dict[tuple[int, str], Position]) -> list[int]:
    """The providers that hold both currencies of the leg, the lowest spread first (then by id)."""
    providers = {p for p, currency in positions if currency == leg.base and (p, leg.quote) in positions}
    return sorted(providers, key=lambda p: (positions[(p, leg.quote)].spread_bps, p))


def all_in_rate(legs: Sequence[Rate], positions: dict[tuple[int, str], Position]) -> tuple[Decimal, list[int]] | None:
    """The product of the legs' rates after the spread of the cheapest provider of each
    leg (liquidity aside: what the rate would be today), with those providers; None
    when some leg has no provider."""
    product, chosen = ONE, []
    for leg in legs:
        found = _candidates(leg, positions)
        if not found:
            return None
        chosen.append(found[0])
        product = WIDE.multiply(product, _provider_rate(leg, positions[(found[0], leg.quote)]))
    return significant(product), chosen


def _choose_providers(
    legs: Sequence[Rate],
    positions: dict[tuple[int, str], Position],
    units: dict[str, int],
    known: Decimal,
    selling: bool,
) -> list[int]:
    """A provider per leg, walking from the known amount (in units of its currency), the
    best rate first among those with the liquidity to pay the leg."""
    chosen: list[int] = [0] * len(legs)
    for k in range(len(legs)) if selling else range(len(legs) - 1, -1, -1):
        leg = legs[k]
        for p in _candidates(leg, positions):
            rate = _provider_rate(leg, positions[(p, leg.quote)])
            out = WIDE.multiply(known, rate) if selling else known
            if minor_rounded_down(out, units[leg.quote]) <= positions[(p, leg.quote)].available:
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
                amounts[k + 1] = minor_rounded_down(value, units[currencies[k + 1]])
                value = Decimal(amounts[k + 1]).scaleb(-units[currencies[k + 1]])
    else:
        amounts[-1] = given
        value = Decimal(given).scaleb(-units[currencies[-1]])
        for k in range(count - 1, -1, -1):
            value = WIDE.divide(value, rates[k])
            if k == 0 or chosen[k - 1] != chosen[k]:
                amounts[k] = minor_rounded_up(value, units[currencies[k]])
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
    spent: Mapping[int, int] | None = None,
    market: Market | None = None,
) -> Conversion:
    """Price selling `sell_minor` of `sell` (or buying `buy_minor` of `buy`): a path that
    avoids `avoid`, a provider per leg (the best rate with the liquidity to pay the leg),
    the rates after spreads and the amounts, to minor units against the client by less
    than one minor unit (consecutive legs of one provider are rounded once).
    Raises NO_RATE, INSUFFICIENT_LIQUIDITY, or INVALID_INPUT on `field` when a leg
    rounds to zero or an amount is too large to hold. `spent`: what holds priced before
    and not yet placed take from each position (by account id); `market`: the rates and
    positions read once for conversions priced together (read here when None)."""
    market = market or Market(session, now)
    assert market.now == now, "a market is read at the moment of its conversions"
    units = await reference.minor_units(session)
    path = find_path(await market.rates(), sell, buy, avoid)
    if path is None:
        raise DomainError(ErrorCode.NO_RATE, f"No rates convert {sell} to {buy} avoiding {list(avoid) or 'nothing'}.")
    selling = sell_minor is not None
    given_minor, given_currency = (sell_minor, sell) if selling else (buy_minor, buy)
    assert given_minor is not None and given_minor > 0, "the caller checks the amount"
    currencies = [sell, *path.via, buy]
    positions = less_spent(await market.positions(set(currencies)), spent or {})
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
