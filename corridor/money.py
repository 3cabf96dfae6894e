"""Exact money: integer minor units in the database, Decimal in the API.

No float ever holds an amount. A currency's minor units say how many decimal
places one unit of storage is (2 for RUB: 1 = 0.01 RUB; 6 for XAU: millionths).
"""

from __future__ import annotations

from decimal import Context, Decimal

# Columns are signed 64-bit integers.
MAX_MINOR = (1 << 63) - 1
# Wide enough to hold any amount the API accepts exactly (the default context keeps 28
# digits, and would round a 30-digit amount before it is checked).
EXACT = Context(prec=80)


class AmountError(ValueError):
    """Why an amount cannot be stored exactly."""


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
