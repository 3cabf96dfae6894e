"""Exact money, and every rounding rule of the service, each named for what it does.

Amounts are integers of minor units in the database and Decimals in the API; no float
ever holds one. A currency's minor units say how many decimal places one unit of
storage is (2 for RUB: 1 = 0.01 RUB; 6 for XAU: millionths of a troy ounce).

Rounding, in one place:
- `to_minor` never rounds: an amount with more places than its currency is refused.
- `divide_half_even` / `divide_down` / `divide_up`: integer shares (a link's fee, a partial capture's
  cardholder share, a leg scaled by a partial capture or a refund).
- `minor_rounded_down` / `minor_rounded_up`: a Decimal value (a converted amount) to
  minor units, against the client by less than one unit: what the client receives is
  rounded down, what it pays up.
- `quantize_half_even`: a Decimal value shown at a fixed number of places (a basket's
  value in minor units, the dollar index's six decimals).
- `significant` / `plain`: a rate to 12 significant digits, in plain notation.
"""

from __future__ import annotations

import functools
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Context, Decimal

from resolvers.errors import invalid

# Columns are signed 64-bit integers.
MAX_MINOR = (1 << 63) - 1
# Wide enough to hold any amount the API accepts exactly (the default context keeps 28
# digits, and would round a 30-digit amount before it is checked).
EXACT = Context(prec=80)
# For products and powers of 12-digit rates: wide enough that nothing is lost before
# the one rounding that a result gets.
WIDE = Context(prec=60, rounding=ROUND_HALF_EVEN)
ONE = Decimal(1)
SIGNIFICANT = 12


class AmountError(ValueError):
    """Why an amount cannot be stored exactly."""


# ---------------------------------------------------------------- amounts


def to_minor(amount: Decimal, minor_units: int) -> int:
    """`amount` in minor units, exactly: refuses NaN, infinities, more decimal places
    than the currency has (trailing zeros aside), and what a 64-bit column cannot hold."""
    if not isinstance(amount, Decimal):
        raise AmountError("The amount must be a decimal number.")
    if not amount.is_finite():
        raise AmountError("The amount must be a finite number.")
    try:
        if amount.normalize(EXACT).as_tuple().exponent < -minor_units:
            raise AmountError(f"The amount has more than {minor_units} decimal places.")
        if amount.adjusted() > 19:  # more than 20 integer digits: no 64-bit column holds it
            raise AmountError("The amount is too large.")
        minor = int(amount.scaleb(minor_units, context=EXACT))
    except ArithmeticError:  # InvalidOperation, Overflow (1E+999999) and the like
        raise AmountError("The amount is out of range.") from None
    if abs(minor) > MAX_MINOR:
        raise AmountError("The amount is too large.")
    return minor


def from_minor(minor: int, minor_units: int) -> Decimal:
    """The Decimal for `minor` minor units, with exactly `minor_units` places."""
    return Decimal(minor).scaleb(-minor_units)


def parse_amount(amount: Decimal, currency: str, minor_units: int, *field: str) -> int:
    """An API amount as positive minor units of `currency`, or INVALID_INPUT on `field`
    saying why (too many places, too large, not positive)."""
    try:
        minor = to_minor(amount, minor_units)
    except AmountError as error:
        raise invalid(f"{error} ({currency} has {minor_units} decimal places.)", *field) from None
    if minor <= 0:
        raise invalid("The amount must be positive.", *field)
    return minor


def fits(*values: int) -> bool:
    """Whether every value fits a 64-bit column."""
    return all(value <= MAX_MINOR for value in values)


# ---------------------------------------------------------------- integer shares


def divide_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-even, in integers (both non-negative)."""
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def divide_down(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded down, in integers (both non-negative)."""
    return numerator // denominator


def divide_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded up, in integers (both non-negative)."""
    return -(-numerator // denominator)


# ---------------------------------------------------------------- converted values


def _minor_rounded(value: Decimal, minor_units: int, rounding: str) -> int:
    scaled = WIDE.multiply(value, ONE.scaleb(minor_units))
    if scaled.adjusted() > 19:  # more than 20 integer digits: beyond any 64-bit column
        raise AmountError("The amount is too large to convert.")
    return int(scaled.quantize(ONE, rounding=rounding, context=WIDE))


def minor_rounded_down(value: Decimal, minor_units: int) -> int:
    """A value the client receives, in minor units, rounded down (AmountError when no
    column could hold it, never an arithmetic fault)."""
    return _minor_rounded(value, minor_units, ROUND_DOWN)


def minor_rounded_up(value: Decimal, minor_units: int) -> int:
    """A value the client pays, in minor units, rounded up (AmountError as above)."""
    return _minor_rounded(value, minor_units, ROUND_UP)


def quantize_half_even(value: Decimal, places: int) -> Decimal:
    """`value` rounded half-even to `places` decimal places (the caller bounds its size)."""
    return value.quantize(ONE.scaleb(-places), rounding=ROUND_HALF_EVEN, context=WIDE)


# ---------------------------------------------------------------- rates


def plain(value: Decimal) -> Decimal:
    """Without trailing zeros and without exponent notation ("80", not "8E+1"); exact
    for any finite value (no context precision involved)."""
    return Decimal(format(value.normalize(WIDE), "f"))


def significant(value: Decimal, digits: int = SIGNIFICANT) -> Decimal:
    """`value` rounded half-even to `digits` significant digits, in plain notation."""
    if value == 0:
        return Decimal(0)
    return plain(_significant_context(digits).plus(value))


@functools.cache
def _significant_context(digits: int) -> Context:
    return Context(prec=digits, rounding=ROUND_HALF_EVEN)


def significant_digits(value: Decimal) -> int:
    return len(value.normalize(WIDE).as_tuple().digits)
