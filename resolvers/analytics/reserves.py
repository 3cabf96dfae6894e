"""Reserve holdings: recording them (all or none, an upsert per country, asset, unit
and date), the series, the change between two dates, and a country's composition at a
date valued in one currency."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, tuple_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.analytics import ReserveHolding
from models.reference import Country
from resolvers import reference
from resolvers.access import Action, Principal, require
from resolvers.errors import DomainError, DomainErrors, ErrorCode, invalid, not_found
from resolvers.fx import VALUE_DIGITS_MAX, converted, rates_in_force
from resolvers.money import EXACT, WIDE, plain, quantize_half_even

TREASURIES = "UST"
GOLD = "XAU"
UNITS = ("USD", "TONNE")
# Amounts are stored exactly, as text, with at most this many decimal places, and are
# at most AMOUNT_MAX (a quadrillion: more than any country's reserves in USD or tonnes).
AMOUNT_PLACES = 6
AMOUNT_MAX = Decimal("1E+15")
SOURCE_MAX = 200
MAX_HOLDINGS = 1000
TROY_OUNCES_PER_TONNE = Decimal("32150.7466")


@dataclass(frozen=True)
class HoldingSpec:
    country_code: str
    asset: str
    unit: str
    amount: Decimal
    as_of: dt.date
    source: str | None = None


@dataclass(frozen=True)
class Recorded:
    """The holdings of a request, in its order, and how many of them were new or changed
    (a replay of the same holdings changes none)."""

    holdings: list[ReserveHolding]
    changed: int


@dataclass(frozen=True)
class Change:
    country_code: str
    asset: str
    unit: str
    start: ReserveHolding | None
    end: ReserveHolding | None
    change: Decimal | None
    change_percent: float | None


@dataclass(frozen=True)
class Component:
    asset: str
    unit: str
    amount: Decimal
    value: Decimal | None
    share: float | None


@dataclass(frozen=True)
class Composition:
    country_code: str
    at: dt.date
    currency: str
    total: Decimal
    components: list[Component]


# ---------------------------------------------------------------- recording


async def record_reserve_holdings(
    session: AsyncSession, principal: Principal, specs: Sequence[HoldingSpec], *, now: dt.datetime
) -> Recorded:
    """Store the holdings, all or none: a holding of the same country, asset, unit and
    date as a stored one replaces its amount and source. Every error of every holding
    is reported at ["<index>", field] (a DomainErrors when there are several)."""
    require(principal, Action.OPERATE)
    if not specs or len(specs) > MAX_HOLDINGS:
        raise invalid(f"Record 1 to {MAX_HOLDINGS} holdings at a time.")
    known = await reference.minor_units(session)
    countries = set((await session.exec(select(Country.code))).all())
    checked: list[HoldingSpec] = []
    errors: list[DomainError] = []
    seen: set[tuple[str, str, str, dt.date]] = set()
    for index, spec in enumerate(specs):
        holding, problems = _checked(spec, str(index), known, countries, now.date())
        key = (holding.country_code, holding.asset, holding.unit, holding.as_of)
        if not problems and key in seen:
            problems.append(invalid("The same country, asset, unit and asOf appear twice.", str(index), "asOf"))
        seen.add(key)
        errors.extend(problems)
        checked.append(holding)
    if errors:
        raise errors[0] if len(errors) == 1 else DomainErrors(errors)
    return await _upsert(session, checked)


def _checked(
    spec: HoldingSpec, index: str, known: dict[str, int], countries: set[str], today: dt.date
) -> tuple[HoldingSpec, list[DomainError]]:
    """The holding normalized (codes in capitals, source stripped), and what is wrong with it."""
    country, asset, unit = (value.strip().upper() for value in (spec.country_code, spec.asset, spec.unit))
    source = (spec.source or "").strip() or None
    problems: list[DomainError] = []
    if country not in countries:
        problems.append(not_found(f"No country {country!r}.", index, "countryCode"))
    if asset not in (TREASURIES, GOLD) and asset not in known:
        problems.append(invalid("asset is UST, XAU or a currency code.", index, "asset"))
    if unit not in UNITS:
        problems.append(invalid("unit is USD or TONNE.", index, "unit"))
    elif unit == "TONNE" and asset != GOLD:
        problems.append(invalid("Only gold (XAU) is held in tonnes.", index, "unit"))
    amount_problem = _amount_problem(spec.amount)
    if amount_problem is not None:
        problems.append(invalid(amount_problem, index, "amount"))
    if spec.as_of > today:
        problems.append(invalid("asOf is in the future.", index, "asOf"))
    if source is not None and len(source) > SOURCE_MAX:
        problems.append(invalid(f"source has at most {SOURCE_MAX} characters.", index, "source"))
    return HoldingSpec(country, asset, unit, spec.amount, spec.as_of, source), problems


def _amount_problem(amount: Decimal) -> str | None:
    if not amount.is_finite() or amount < 0:
        return "amount is a number, not negative."
    if amount > AMOUNT_MAX:
        return f"amount is at most {AMOUNT_MAX:f}."
    if amount.normalize(EXACT).as_tuple().exponent < -AMOUNT_PLACES:
        return f"amount has at most {AMOUNT_PLACES} decimal places."
    return None


async def _upsert(session: AsyncSession, specs: Sequence[HoldingSpec]) -> Recorded:
    """Update the stored holdings of the same keys, add the others (one lookup)."""
    keys = [(s.country_code, s.asset, s.unit, s.as_of) for s in specs]
    columns = (ReserveHolding.country_code, ReserveHolding.asset, ReserveHolding.unit, ReserveHolding.as_of)
    found = await session.exec(select(ReserveHolding).where(tuple_(*columns).in_(keys)))
    stored = {(row.country_code, row.asset, row.unit, row.as_of): row for row in found}
    rows, changed = [], 0
    for key, spec in zip(keys, specs, strict=True):
        row = stored.get(key) or ReserveHolding(
            country_code=spec.country_code, asset=spec.asset, unit=spec.unit, amount="0", as_of=spec.as_of
        )
        amount = str(plain(spec.amount))
        if row.id is None or row.amount != amount or row.source != spec.source:
            row.amount, row.source = amount, spec.source
            session.add(row)
            changed += 1
        rows.append(row)
    await session.flush()
    return Recorded(rows, changed)


# ---------------------------------------------------------------- reading


async def reserve_holdings(
    session: AsyncSession, principal: Principal, country_code: str, asset: str | None = None
) -> list[ReserveHolding]:
    """A country's holdings (of one asset, or all), by date, then asset and unit."""
    require(principal, Action.READ_ANALYTICS)
    statement = select(ReserveHolding).where(ReserveHolding.country_code == country_code.strip().upper())
    if asset is not None:
        statement = statement.where(ReserveHolding.asset == asset.strip().upper())
    order = (ReserveHolding.as_of, ReserveHolding.asset, ReserveHolding.unit)
    return list((await session.exec(statement.order_by(*order))).all())


async def _country(session: AsyncSession, country_code: str) -> str:
    code = country_code.strip().upper()
    if await session.get(Country, code) is None:
        raise not_found(f"No country {code!r}.", "countryCode")
    return code


def _default_unit(asset: str) -> str:
    return "TONNE" if asset == GOLD else "USD"


def _latest(rows: Sequence[ReserveHolding], unit: str, on: dt.date) -> ReserveHolding | None:
    """The holding in `unit` nearest at or before `on` (rows are by date, newest first)."""
    return next((row for row in rows if row.unit == unit and row.as_of <= on), None)


async def reserve_change(
    session: AsyncSession, principal: Principal, country_code: str, asset: str, start: dt.date, end: dt.date
) -> Change:
    """The holdings nearest at or before `start` and `end`, in one unit: that of the
    latest holding at or before `end` (else `start`; else TONNE for gold, USD for the
    rest); their difference and its percent of the start (None where a side is missing,
    the percent also when the start is zero)."""
    require(principal, Action.READ_ANALYTICS)
    if start > end:
        raise invalid("from is after to.", "from")
    code, asset = await _country(session, country_code), asset.strip().upper()
    statement = select(ReserveHolding).where(
        ReserveHolding.country_code == code, ReserveHolding.asset == asset, ReserveHolding.as_of <= end
    )
    rows = list((await session.exec(statement.order_by(ReserveHolding.as_of.desc(), ReserveHolding.unit))).all())
    latest = next((row for row in rows), None)
    earlier = next((row for row in rows if row.as_of <= start), None)
    unit = (latest or earlier).unit if (latest or earlier) else _default_unit(asset)
    first, last = _latest(rows, unit, start), _latest(rows, unit, end)
    change = percent = None
    if first is not None and last is not None:
        change = plain(Decimal(last.amount) - Decimal(first.amount))
        if Decimal(first.amount) != 0:
            percent = float(WIDE.divide(WIDE.multiply(change, 100), Decimal(first.amount)))
    return Change(code, asset, unit, first, last, change, percent)


async def _holdings_at(session: AsyncSession, code: str, at: dt.date) -> list[ReserveHolding]:
    """Each asset's holding nearest at or before `at`: of its units, the most recent
    (TONNE before USD on the same date), so no asset is counted twice."""
    ranked = (
        select(
            ReserveHolding.id,
            func.row_number()
            .over(partition_by=ReserveHolding.asset, order_by=(ReserveHolding.as_of.desc(), ReserveHolding.unit.desc()))
            .label("rank"),
        )
        .where(ReserveHolding.country_code == code, ReserveHolding.as_of <= at)
        .subquery()
    )
    statement = select(ReserveHolding).join(ranked, ranked.c.id == ReserveHolding.id).where(ranked.c.rank == 1)
    return list((await session.exec(statement.order_by(ReserveHolding.asset))).all())


def _quantity(row: ReserveHolding) -> tuple[Decimal, str]:
    """The holding as an amount of a currency: gold's tonnes as troy ounces of XAU, a
    holding in USD as US dollars."""
    if row.unit == "TONNE":
        return WIDE.multiply(Decimal(row.amount), TROY_OUNCES_PER_TONNE), GOLD
    return Decimal(row.amount), row.unit


async def reserve_composition(
    session: AsyncSession, principal: Principal, country_code: str, at: dt.date, currency: str
) -> Composition:
    """Each asset's holding at `at`, valued in `currency` at the rates in force at the
    end of that day (UTC), through the FX conversion paths, rounded half-even to the
    currency's minor units; None where no rate allows it. Shares are of the valued total."""
    require(principal, Action.READ_ANALYTICS)
    code, currency = await _country(session, country_code), currency.strip().upper()
    units = (await reference.minor_units(session)).get(currency)
    if units is None:
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {currency!r}.", ["currency"])
    rows = await _holdings_at(session, code, at)
    graph = await rates_in_force(session, dt.datetime.combine(at, dt.time.max, dt.UTC))
    values: list[Decimal | None] = []
    for row in rows:
        quantity, held = _quantity(row)
        value = converted(graph, quantity, held, currency)
        ok = value is not None and value.adjusted() <= VALUE_DIGITS_MAX
        values.append(quantize_half_even(value, units) if ok else None)
    total = sum((value for value in values if value is not None), Decimal(0))
    total = quantize_half_even(total, units)
    components = [
        Component(row.asset, row.unit, Decimal(row.amount), value, _share(value, total))
        for row, value in zip(rows, values, strict=True)
    ]
    return Composition(code, at, currency, total, components)


def _share(value: Decimal | None, total: Decimal) -> float | None:
    if value is None or total == 0:
        return None
    return float(WIDE.divide(value, total))
