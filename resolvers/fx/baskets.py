"""Baskets: a basket fixes, at definition, an amount of each currency (weight x initial
value / rate to the value currency: the SDR method); its value at any time is the sum
of amount x rate."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.fx import Basket, BasketComponent
from resolvers import reference
from resolvers.access import Action, Principal, require
from resolvers.errors import DomainError, ErrorCode, invalid
from resolvers.fx.paths import converted, find_path
from resolvers.fx.rates import Rate, rates_in_force
from resolvers.money import SIGNIFICANT, WIDE, plain, quantize_half_even, significant_digits

BASKET_CODE = re.compile(r"^[A-Z][A-Z0-9]{1,11}$")
# A component's fixed amount is stated to this many decimal places.
AMOUNT_PLACES = 6
# A basket's initial value: positive, at most this, and of at most SIGNIFICANT digits.
BASKET_VALUE_MAX = Decimal("1E+12")
WEIGHT_PLACES = 12
# A value with more integer digits than this is no amount of money (the API's amounts
# are at most 40 characters); it is reported as no value, not computed further.
VALUE_DIGITS_MAX = 30


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
    _check_code_and_name(code, name)
    known = await reference.minor_units(session)
    _check_value(initial_value, value_currency, known)
    currencies = _component_currencies(components, known)
    taken = await session.exec(select(Basket.id).where(Basket.code == code))
    if taken.first() is not None:
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"A basket {code} exists.", ["code"])

    graph = await rates_in_force(session, now)
    basket = Basket(
        code=code, name=name, value_currency=value_currency, initial_value=str(initial_value), defined_at=now
    )
    session.add(basket)
    await session.flush()
    weights = [component.weight for component in components]
    amounts = _fixed_amounts(graph, currencies, weights, initial_value, value_currency)
    session.add_all(
        BasketComponent(basket_id=basket.id, currency=currency, position=index, weight=str(weight), amount=str(amount))
        for index, (currency, weight, amount) in enumerate(zip(currencies, weights, amounts, strict=True))
    )
    await session.flush()
    return basket


def _check_code_and_name(code: str, name: str) -> None:
    if not BASKET_CODE.match(code):
        raise invalid("A basket code is 2 to 12 capital letters or digits, starting with a letter.", "code")
    if not name or len(name) > 100:
        raise invalid("name must be 1 to 100 characters.", "name")


def _check_value(initial_value: Decimal, value_currency: str, known: dict[str, int]) -> None:
    if value_currency not in known:
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {value_currency!r}.", ["valueCurrency"])
    if not initial_value.is_finite() or not 0 < initial_value <= BASKET_VALUE_MAX:
        raise invalid(f"initialValue must be positive and at most {BASKET_VALUE_MAX:f}.", "initialValue")
    if significant_digits(initial_value) > SIGNIFICANT:
        raise invalid(f"initialValue has at most {SIGNIFICANT} significant digits.", "initialValue")


def _component_currencies(components: Sequence[ComponentSpec], known: dict[str, int]) -> list[str]:
    """The components' currencies, in order, once each known, distinct, and with weights
    (each in (0, 1], of at most WEIGHT_PLACES places) that sum to 1."""
    if not components:
        raise invalid("A basket needs at least one component.", "components")
    currencies: list[str] = []
    total = Decimal(0)
    for index, component in enumerate(components):
        where = ("components", str(index))
        currency = component.currency.strip().upper()
        if currency not in known:
            raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {currency!r}.", [*where, "currency"])
        if currency in currencies:
            raise invalid(f"{currency} appears twice.", *where, "currency")
        currencies.append(currency)
        if not component.weight.is_finite() or not 0 < component.weight <= 1:
            raise invalid("A weight is more than 0 and at most 1.", *where, "weight")
        if component.weight.normalize(WIDE).as_tuple().exponent < -WEIGHT_PLACES:
            raise invalid(f"A weight has at most {WEIGHT_PLACES} decimal places.", *where, "weight")
        total += component.weight
    if total != 1:
        raise invalid(f"The weights sum to {total}, not 1.", "components")
    return currencies


def _fixed_amounts(
    graph: dict[tuple[str, str], Rate],
    currencies: Sequence[str],
    weights: Sequence[Decimal],
    initial_value: Decimal,
    value_currency: str,
) -> list[Decimal]:
    """Each component's amount: its weight of the initial value, at the rate of its path
    to the value currency, at AMOUNT_PLACES decimal places (as the IMF states the SDR's
    currency amounts). NO_RATE on the first component without a rate; INVALID_INPUT on
    one whose amount rounds to nothing at those places."""
    amounts = []
    for index, (currency, weight) in enumerate(zip(currencies, weights, strict=True)):
        path = find_path(graph, currency, value_currency)
        if path is None:
            raise DomainError(
                ErrorCode.NO_RATE, f"No rate converts {currency} to {value_currency}.", ["components", str(index)]
            )
        amount = plain(quantize_half_even(WIDE.divide(WIDE.multiply(weight, initial_value), path.rate), AMOUNT_PLACES))
        if amount == 0:
            raise invalid(
                f"The {currency} amount rounds to nothing at {AMOUNT_PLACES} decimal places: raise initialValue.",
                "components",
                str(index),
                "weight",
            )
        amounts.append(amount)
    return amounts


async def basket_by_code(session: AsyncSession, code: str) -> Basket | None:
    return (await session.exec(select(Basket).where(Basket.code == code.strip().upper()))).one_or_none()


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
    valued = value_in(await rates_in_force(session, at), components, currency, units)
    return (valued, units) if valued is not None else None


def value_in(graph: dict, components: Sequence[BasketComponent], currency: str, units: int) -> Decimal | None:
    """One basket unit's value in `currency` over the rates `graph`, rounded half-even to
    `units` places; None when a component has no path or the value is beyond any amount."""
    total = Decimal(0)
    for component in components:
        value = converted(graph, Decimal(component.amount), component.currency, currency)
        if value is None:
            return None
        total = WIDE.add(total, value)
    if total.adjusted() > VALUE_DIGITS_MAX:  # rates at their bounds along long paths: no amount shows it
        return None
    return quantize_half_even(total, units)
