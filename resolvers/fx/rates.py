"""Rates: their bounds, publishing them, and the rates in force at a time (stored pairs
and the inverses derived from them)."""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.fx import ExchangeRate
from models.reference import Institution, InstitutionKind
from resolvers import reference
from resolvers.access import Action, Principal, require
from resolvers.errors import DomainError, ErrorCode, invalid
from resolvers.money import ONE, SIGNIFICANT, WIDE, plain, significant, significant_digits

# Rates lie within these bounds (and so do their inverses): wide enough for gold in
# rials, narrow enough that products of a few legs stay inside the WIDE context; what
# is computed from them is bounded where it becomes an amount (resolvers.money, basket values).
# A stored rate outside them (from before they were enforced) is ignored, never allowed
# to break the pairs around it.
RATE_MIN = Decimal("1E-12")
RATE_MAX = Decimal("1E+12")
MAX_RATES = 1000
SOURCE_MAX = 100


def rate_in_range(rate: Decimal) -> bool:
    return rate.is_finite() and RATE_MIN <= rate <= RATE_MAX


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


# What a Rate is made of, read as plain rows: an ORM object per rate costs more than
# the query itself once a series replays a few years of weekly rates.
RATE_COLUMNS = (ExchangeRate.base, ExchangeRate.quote, ExchangeRate.rate, ExchangeRate.source, ExchangeRate.as_of)


def _row_rate(row) -> Rate | None:
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
    rows = [_rate_row(spec, str(index), known, now) for index, spec in enumerate(specs)]
    session.add_all(rows)
    await session.flush()
    return [_row_rate(row) for row in rows]


def _rate_row(spec: RateSpec, where: str, known: dict[str, int], now: dt.datetime) -> ExchangeRate:
    """The row that stores one published rate, after its checks (errors under `where`)."""
    base, quote = spec.base.strip().upper(), spec.quote.strip().upper()
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
    return ExchangeRate(base=base, quote=quote, rate=str(plain(spec.rate)), source=source, as_of=as_of)


async def _require_rate_publisher(session: AsyncSession, principal: Principal) -> None:
    """An operator, or a participant acting for an FX provider."""
    require(principal, Action.WRITE_OWN)
    if principal.institution_id is None:
        return  # an operator
    institution = await session.get(Institution, principal.institution_id)
    if institution is None or institution.kind is not InstitutionKind.FX_PROVIDER:
        raise DomainError(ErrorCode.FORBIDDEN, "Only operators and FX providers publish rates.")


Graph = Mapping[tuple[str, str], Rate]


class InForce(dict):
    """The rates in force at one moment, (base, quote) -> Rate, stored pairs and their
    inverses: read-only, since the rate book keeps and shares it; `paths` keeps the
    conversion paths found over it (`paths.find_path`)."""

    __slots__ = ("paths",)

    def __init__(self, rates: Mapping[tuple[str, str], Rate]) -> None:
        super().__init__(rates)
        self.paths: dict = {}

    def _read_only(self, *_args, **_kwargs):
        raise TypeError("the rates in force are read-only")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = __ior__ = _read_only


@functools.lru_cache(maxsize=4096)  # a series replays the same stored rates request after request
def inverse_of(rate: Rate) -> Rate:
    return rate.inverse()


def graph_of(stored: dict[tuple[str, str], Rate]) -> dict[tuple[str, str], Rate]:
    """The stored rates in force with their inverses (a stored pair wins over the inverse of
    its reverse only when it is as recent or more)."""
    graph = dict(stored)
    for (base, quote), rate in stored.items():
        reverse = stored.get((quote, base))
        if reverse is None or reverse.as_of < rate.as_of:
            graph[(quote, base)] = inverse_of(rate)
    return graph


class RateBook:
    """Every stored rate as of one state of the table, oldest first (ties by id), and the
    rates in force at any time from them: the latest of each pair published at or before
    it, with the inverses. What it computes for a number of rates in force is kept (at most
    MAX_KEPT of them), so a series or a set of rate epochs asked again costs lookups."""

    MAX_KEPT = 1024

    def __init__(self, rates: Sequence[Rate]) -> None:
        self.rates = tuple(rates)
        self.moments = [rate.as_of for rate in self.rates]
        assert self.moments == sorted(self.moments), "a rate book is in time order"
        self._kept: dict[int, tuple[dict, InForce]] = {}
        self._positions: list[int] = []  # of _kept, ascending

    def at(self, moment: dt.datetime) -> InForce:
        """The rates in force at `moment`."""
        return self._in_force(bisect.bisect_right(self.moments, moment))[1]

    def _in_force(self, position: int) -> tuple[dict, InForce]:
        """(the stored pairs, the graph) once the first `position` rates are published,
        replayed from the nearest kept position below."""
        kept = self._kept.get(position)
        if kept is not None:
            return kept
        if len(self._kept) >= self.MAX_KEPT:
            self._kept.clear()
            self._positions.clear()
        below = bisect.bisect_left(self._positions, position)
        start = self._positions[below - 1] if below else 0
        stored = dict(self._kept[start][0]) if below else {}
        for rate in self.rates[start:position]:
            stored[(rate.base, rate.quote)] = rate
        kept = self._kept[position] = (stored, InForce(graph_of(stored)))
        bisect.insort(self._positions, position)
        return kept


# The books read lately, by the state of the table they were read at. Rates are never
# updated or deleted by the service, so the rows a transaction sees only ever grow and
# their count tells one state from another; the newest id and creation time tell apart
# a table emptied and filled again by hand (a restore, a test's clean-up).
_BOOKS: OrderedDict[tuple, RateBook] = OrderedDict()
MAX_BOOKS = 8
# Built once: constructing them on each call cost 40% of the time of a book already kept.
_TABLE_STATE = select(func.count(), func.max(ExchangeRate.id), func.max(ExchangeRate.created_at))
_EVERY_RATE = select(*RATE_COLUMNS).order_by(ExchangeRate.as_of, ExchangeRate.id)


async def rate_book(session: AsyncSession) -> RateBook:
    """The stored rates as this transaction sees them: one aggregate statement, and the
    rows themselves only when the table changed since a book was last read."""
    connection = await session.connection()  # plain rows: no ORM state to set up for them
    key = tuple((await connection.execute(_TABLE_STATE)).one())
    book = _BOOKS.get(key)
    if book is None:
        rows = await connection.execute(_EVERY_RATE)
        book = _BOOKS[key] = RateBook([rate for row in rows if (rate := _row_rate(row)) is not None])
        while len(_BOOKS) > MAX_BOOKS:
            _BOOKS.popitem(last=False)
    _BOOKS.move_to_end(key)
    return book


async def rates_in_force(session: AsyncSession, at: dt.datetime) -> InForce:
    """The latest stored rate of every pair at `at`, inverses included (a stored pair
    wins over the inverse of its reverse only when it is as recent or more)."""
    return (await rate_book(session)).at(at)


async def exchange_rate(session: AsyncSession, base: str, quote: str, at: dt.datetime) -> Rate | None:
    return (await rates_in_force(session, at)).get((base.strip().upper(), quote.strip().upper()))
