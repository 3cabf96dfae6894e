"""Series over time from the stored rate history: the dollar index and a basket's value
at the start of each DAY, WEEK or MONTH of a period, at most MAX_POINTS points.

The history is the rate book (`rates.rate_book`: every stored rate, read again only when
the table changed): at each point the rates in force are those published at or before it,
as `rates_in_force` gives them. A point where the rates do not allow
the figure has no value (null), rather than being left out.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from models.fx import BasketComponent
from resolvers import reference
from resolvers.errors import DomainError, ErrorCode, invalid
from resolvers.fx.baskets import value_in
from resolvers.fx.index import dollar_index_of
from resolvers.fx.rates import rate_book

MAX_POINTS = 1_000


class Interval(enum.StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


@dataclass(frozen=True)
class Point:
    at: dt.datetime
    value: Decimal | None


def _add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """`moment` `months` later, the day kept or clamped to the month's last (31 Jan -> 29 Feb)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def points(since: dt.datetime, until: dt.datetime, interval: Interval) -> list[dt.datetime]:
    """since, then one interval after another, up to `until` included; INVALID_INPUT for a
    period that is empty, has no zone, or holds more than MAX_POINTS points."""
    for name, moment in (("since", since), ("until", until)):
        if moment.tzinfo is None:
            raise invalid(f"{name} needs a time zone (e.g. 2026-01-31T12:00:00Z).", name)
    if until < since:
        raise invalid("until must not be before since.", "until")
    step = {Interval.DAY: dt.timedelta(days=1), Interval.WEEK: dt.timedelta(weeks=1)}.get(interval)
    if step is not None and (until - since) // step >= MAX_POINTS:
        raise invalid(f"At most {MAX_POINTS} points: choose a shorter period or a longer interval.", "until")
    found, k = [], 0
    while True:
        at = since + k * step if step is not None else _add_months(since, k)
        if at > until:
            return found
        if len(found) == MAX_POINTS:
            raise invalid(f"At most {MAX_POINTS} points: choose a shorter period or a longer interval.", "until")
        found.append(at)
        k += 1


async def _series(
    session: AsyncSession, since: dt.datetime, until: dt.datetime, interval: Interval, figure: Callable
) -> list[Point]:
    moments = points(since, until, interval)
    book = await rate_book(session)
    return [Point(at, figure(book.at(at))) for at in moments]


async def dollar_index_history(
    session: AsyncSession, since: dt.datetime, until: dt.datetime, interval: Interval
) -> list[Point]:
    """The dollar index at each point of the period."""
    return await _series(session, since, until, interval, dollar_index_of)


async def basket_history(
    session: AsyncSession,
    components: Sequence[BasketComponent],
    currency: str,
    since: dt.datetime,
    until: dt.datetime,
    interval: Interval,
) -> list[Point]:
    """One basket unit's value in `currency` at each point of the period."""
    currency = currency.strip().upper()
    units = (await reference.minor_units(session)).get(currency)
    if units is None:
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {currency[:10]!r}.", ["currency"])
    return await _series(session, since, until, interval, lambda graph: value_in(graph, components, currency, units))
