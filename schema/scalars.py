"""The API's own parsing of Decimal, DateTime and Date: strict, and never raising past
the GraphQL layer.

- A Decimal is ASCII digits with an optional sign and decimal point, at most
  DECIMAL_TEXT_MAX characters: " 10 ", "1_000", Arabic-Indic or full-width digits, "1E+30", "NaN" are not
  amounts. Send it as a string ("10.50"); a JSON integer is exact and taken too, a JSON
  fraction is not (it may already have lost digits on its way).
- A DateTime is ISO 8601. One with a time zone is converted to UTC, and must lie a day
  inside the calendar's ends, so that no arithmetic on it can overflow (year 9999 with
  -14:00 would). One without a zone passes as it is: the fields that need a zone say so.
- A Date is ISO 8601 (YYYY-MM-DD), likewise a day inside the calendar's ends.

Bad values are GraphQL errors raised while variables and literals are coerced, before
anything runs.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import Any

import dateutil.parser
from graphql import FloatValueNode, IntValueNode, StringValueNode, ValueNode
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition

DECIMAL_TEXT_MAX = 40
DECIMAL_PATTERN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
EARLIEST = dt.datetime(1, 1, 2, tzinfo=dt.UTC)
LATEST = dt.datetime(9999, 12, 30, tzinfo=dt.UTC)


def _refuse(message: str) -> StrawberryInputCoercionError:
    return StrawberryInputCoercionError(message, extensions={"code": "BAD_USER_INPUT"})


def parse_decimal_text(text: str) -> decimal.Decimal:
    if len(text) > DECIMAL_TEXT_MAX or DECIMAL_PATTERN.fullmatch(text) is None:
        shown = text if len(text) <= DECIMAL_TEXT_MAX else text[:DECIMAL_TEXT_MAX] + "..."
        raise _refuse(
            f"Not a Decimal: {shown!r}. Write ASCII digits with an optional sign and decimal point, "
            f'at most {DECIMAL_TEXT_MAX} characters, such as "1500.00".'
        )
    return decimal.Decimal(text)


def parse_decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, str):
        return parse_decimal_text(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return parse_decimal_text(str(value))
    raise _refuse('A Decimal is sent as a string, such as "1500.00" (a JSON fraction may have lost digits).')


def parse_decimal_literal(node: ValueNode, _variables: Any = None) -> decimal.Decimal:
    """Literals keep their text: `amount: 10.50` is exactly 10.50, not a float."""
    if isinstance(node, StringValueNode | IntValueNode | FloatValueNode):
        return parse_decimal_text(node.value)
    raise _refuse("A Decimal is a string or a number literal.")


def _inside_calendar(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value
    try:
        utc = value.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise _refuse("The DateTime is out of range.") from None
    if not EARLIEST <= utc <= LATEST:
        raise _refuse("The DateTime is out of range (years 1 to 9999, a day inside either end).")
    return utc


def parse_datetime(value: Any) -> dt.datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise _refuse("A DateTime is an ISO 8601 string, such as 2026-01-31T12:00:00Z.")
    try:
        parsed = dateutil.parser.isoparse(value)
    except (ValueError, OverflowError):
        raise _refuse(f"Not an ISO 8601 DateTime: {value!r}.") from None
    return _inside_calendar(parsed)


def parse_date(value: Any) -> dt.date:
    if not isinstance(value, str) or len(value) > 10:
        raise _refuse("A Date is an ISO 8601 string, such as 2024-03-31.")
    try:
        parsed = dt.date.fromisoformat(value)
    except ValueError:
        raise _refuse(f"Not an ISO 8601 Date: {value!r}.") from None
    if not EARLIEST.date() <= parsed <= LATEST.date():
        raise _refuse("The Date is out of range.")
    return parsed


def _literal(parse):
    def parse_literal(node: ValueNode, _variables: Any = None):
        if isinstance(node, StringValueNode):
            return parse(node.value)
        raise _refuse("Expected a string.")

    return parse_literal


def _definition(name: str, description: str, origin: type, serialize, parse_value, parse_literal) -> ScalarDefinition:
    return ScalarDefinition(
        name=name,
        description=description,
        specified_by_url=None,
        serialize=serialize,
        parse_value=parse_value,
        parse_literal=parse_literal,
        origin=origin,
    )


def _isoformat(value: dt.date) -> str:
    return value.isoformat()


def _fixed_point(value: decimal.Decimal) -> str:
    """Plain notation always ("1000", never "1E+3")."""
    return format(value, "f") if isinstance(value, decimal.Decimal) else str(value)


SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {
    decimal.Decimal: _definition(
        "Decimal", "Decimal (fixed-point)", decimal.Decimal, _fixed_point, parse_decimal, parse_decimal_literal
    ),
    dt.datetime: _definition(
        "DateTime", "Date with time (isoformat)", dt.datetime, _isoformat, parse_datetime, _literal(parse_datetime)
    ),
    dt.date: _definition("Date", "Date (isoformat)", dt.date, _isoformat, parse_date, _literal(parse_date)),
}
