"""Currency shares of the network's own flows (`flows`): per corridor between two
countries, over time by calendar DAY, WEEK or MONTH, and network-wide.

Each group of flows (one currency, one rate epoch) converts to the reporting currency
at the rates in force in that epoch, through the FX conversion paths (fewest legs,
best product), unrounded; each currency's value is then rounded half-even to the
reporting currency's minor units once, and the total is the sum of those values, so
the shares shown add up to the total. A group that no rate in force converts is
reported with its currency's share (`unconverted`, in its own currency), never dropped
silently nor counted in the total. Python works per group, never per payment: the statements are
`flows.flow_groups`, the rate history and the reference lookups, whatever the number
of payments.

Access: ANALYST and OPERATOR read a corridor's flows (Action.READ_FLOWS); a PARTICIPANT
is refused them (FORBIDDEN), since a corridor with one bank at an end would show that
bank's flows, and reads only the network-wide `currency_shares` (Action.READ_ANALYTICS).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from resolvers import reference
from resolvers.access import Action, Principal, require
from resolvers.analytics.flows import Corridor, Group, Scope, flow_groups
from resolvers.errors import DomainError, ErrorCode, invalid, not_found
from resolvers.fx import MAX_POINTS, Interval, converted, rate_book
from resolvers.money import WIDE, quantize_half_even

USD = "USD"


@dataclass(frozen=True)
class Share:
    currency: str
    count: int
    value: Decimal  # in the reporting currency: what converted
    share: float
    # What settled in `currency` when no rate in force converted it (in `currency`), or None.
    unconverted: Decimal | None = None


@dataclass(frozen=True)
class Figures:
    count: int
    total: Decimal
    shares: list[Share] = field(default_factory=list)
    usd_share: float = 0.0
    local_share: float = 0.0


@dataclass(frozen=True)
class CorridorStats:
    countries: tuple[str, str]
    reporting: str
    figures: Figures


@dataclass(frozen=True)
class CorridorPoint:
    start: dt.datetime
    figures: Figures


@dataclass(frozen=True)
class Period:
    since: dt.datetime | None
    until: dt.datetime


def period(since: dt.datetime | None, until: dt.datetime | None, now: dt.datetime) -> Period:
    """[since, until): until defaults to now, since to the beginning; both need a zone."""
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise invalid(f"{name} needs a time zone (e.g. 2026-01-31T12:00:00Z).", name)
    until = until or now
    if since is not None and until < since:
        raise invalid("until must not be before since.", "until")
    return Period(since, until)


async def corridor(session: AsyncSession, country_a: str, country_b: str) -> tuple[Corridor, set[str]]:
    """The corridor between two known countries, and their currencies."""
    codes = {"countryA": country_a.strip().upper(), "countryB": country_b.strip().upper()}
    currencies = await reference.country_currencies(session)
    for name, code in codes.items():
        if code not in currencies:
            raise not_found(f"No country {code[:10]!r}.", name)
    return Corridor(codes["countryA"], codes["countryB"]), {currencies[code] for code in codes.values()}


async def reporting_units(session: AsyncSession, currency: str) -> tuple[str, dict[str, int]]:
    """The reporting currency's code, and every currency's minor units."""
    code = currency.strip().upper()
    units = await reference.minor_units(session)
    if code not in units:
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {code[:10]!r}.", ["reportingCurrency"])
    return code, units


@dataclass
class _Tally:
    """Per currency: how many flows, their converted value (unrounded), what did not convert."""

    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    values: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    unconverted: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # minor units


async def converted_groups(
    session: AsyncSession, groups: Sequence[Group], reporting: str, units: dict[str, int]
) -> list[Decimal | None]:
    """Each group's value in `reporting` at the rates of its epoch (None: no rate converts it)."""
    book = await rate_book(session) if any(group.epoch is not None for group in groups) else None
    graphs = {epoch: book.at(epoch) for epoch in {group.epoch for group in groups} if epoch is not None}
    values: list[Decimal | None] = []
    for group in groups:
        amount = Decimal(group.minor).scaleb(-units[group.currency])
        values.append(converted(graphs.get(group.epoch, {}), amount, group.currency, reporting))
    return values


def figures(
    groups: Iterable[Group], values: Iterable[Decimal | None], reporting: str, units: dict[str, int], local: set[str]
) -> Figures:
    """The shares of a set of groups, each currency's value rounded once; a currency
    that did not convert, in part or in full, shows what did not."""
    tally = _Tally()
    for group, value in zip(groups, values, strict=True):
        tally.counts[group.currency] += group.count
        tally.values[group.currency] += value if value is not None else Decimal(0)
        if value is None:
            tally.unconverted[group.currency] += group.minor
    places = units[reporting]
    rounded = {currency: quantize_half_even(value, places) for currency, value in tally.values.items()}
    total = quantize_half_even(sum(rounded.values(), Decimal(0)), places)

    def share(value: Decimal) -> float:
        return float(WIDE.divide(value, total)) if total else 0.0

    def left(currency: str) -> Decimal | None:
        minor = tally.unconverted.get(currency)
        return Decimal(minor).scaleb(-units[currency]) if minor is not None else None

    order = sorted(rounded, key=lambda currency: (-rounded[currency], currency))
    return Figures(
        count=sum(tally.counts.values()),
        total=total,
        shares=[Share(c, tally.counts[c], rounded[c], share(rounded[c]), left(c)) for c in order],
        usd_share=share(rounded.get(USD, Decimal(0))),
        local_share=share(sum((rounded.get(c, Decimal(0)) for c in local), Decimal(0))),
    )


# ---------------------------------------------------------------- the queries


async def corridor_stats(
    session: AsyncSession,
    principal: Principal,
    country_a: str,
    country_b: str,
    since: dt.datetime | None,
    until: dt.datetime | None,
    reporting: str,
    *,
    now: dt.datetime,
) -> CorridorStats:
    """The flows between two countries in [since, until), by the currency they settled in."""
    require(principal, Action.READ_FLOWS)
    span = period(since, until, now)
    ends, local = await corridor(session, country_a, country_b)
    reporting, units = await reporting_units(session, reporting)
    groups = await flow_groups(session, Scope(ends, span.since, span.until))
    values = await converted_groups(session, groups, reporting, units)
    return CorridorStats((ends.country_a, ends.country_b), reporting, figures(groups, values, reporting, units, local))


async def currency_shares(
    session: AsyncSession,
    principal: Principal,
    since: dt.datetime | None,
    until: dt.datetime | None,
    reporting: str,
    *,
    now: dt.datetime,
) -> Figures:
    """Every flow of the network in [since, until), by the currency it settled in."""
    require(principal, Action.READ_ANALYTICS)
    span = period(since, until, now)
    reporting, units = await reporting_units(session, reporting)
    groups = await flow_groups(session, Scope(None, span.since, span.until))
    values = await converted_groups(session, groups, reporting, units)
    return figures(groups, values, reporting, units, set())


def calendar_starts(since: dt.datetime, until: dt.datetime, interval: Interval) -> list[dt.date]:
    """The first day of every calendar DAY, WEEK (from Monday) or MONTH, in UTC, that
    meets [since, until); at most MAX_POINTS."""
    first = since.astimezone(dt.UTC).date()
    if interval is Interval.WEEK:
        first -= dt.timedelta(days=first.weekday())
    elif interval is Interval.MONTH:
        first = first.replace(day=1)
    starts: list[dt.date] = []
    day = first
    while dt.datetime.combine(day, dt.time(), dt.UTC) < until or not starts:
        if len(starts) == MAX_POINTS:
            raise invalid(f"At most {MAX_POINTS} points: choose a shorter period or a longer interval.", "until")
        starts.append(day)
        if interval is Interval.MONTH:
            day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        else:
            day += dt.timedelta(days=7 if interval is Interval.WEEK else 1)
    return starts


async def corridor_series(
    session: AsyncSession,
    principal: Principal,
    country_a: str,
    country_b: str,
    since: dt.datetime,
    until: dt.datetime,
    interval: Interval,
    reporting: str,
    *,
    now: dt.datetime,
) -> list[CorridorPoint]:
    """The corridor's figures for each calendar interval that meets [since, until)
    (the first and last may be partial), empty intervals included."""
    require(principal, Action.READ_FLOWS)
    span = period(since, until, now)
    starts = calendar_starts(span.since, span.until, interval)
    ends, local = await corridor(session, country_a, country_b)
    reporting, units = await reporting_units(session, reporting)
    scope = Scope(ends, span.since, span.until, calendar=interval.value.lower())
    groups = await flow_groups(session, scope)
    values = await converted_groups(session, groups, reporting, units)
    by_start: dict[dt.date, list[tuple[Group, Decimal | None]]] = defaultdict(list)
    for group, value in zip(groups, values, strict=True):
        by_start[group.start].append((group, value))
    points = []
    for start in starts:
        pairs = by_start.get(start, [])
        found = figures([g for g, _ in pairs], [v for _, v in pairs], reporting, units, local)
        points.append(CorridorPoint(dt.datetime.combine(start, dt.time(), dt.UTC), found))
    return points
