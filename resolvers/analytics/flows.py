"""The network's own flows, grouped in the database: settled interbank payments and
captured card payments (net of refunds), by the currency they settled in and the
stretch of time over which the rates in force did not change.

A flow is an interbank payment in status SETTLED (at the time it was created: every
payment that is not rejected settles in the transaction that receives it; on a
DEFERRED_NET network the banks' obligation nets later, the customer's payment is
settled then), valued at its instructed amount in its currency; or a CAPTURED card
payment, valued at its captured amount less its refunds in the merchant's currency, at
the time it was captured (a payment refunded in full moved no value and is left out).
Its corridor is the two countries of the institutions at its ends: the sender and the
receiver, or the card's issuer and the merchant's acquirer. `SOURCES` says so once, for
these queries and for the rollup (`rollup`).

One statement groups every flow of a period, whatever their number. The whole UTC days
of the period are read from the rollup (`models.analytics.FlowRollup`: a few rows a day,
summed as the flows were recorded), and so is the last, partial day when its rows hold
no flow at or after the period's end (as for a period that ends now); the other partial
days, and any day whose rollup a later, back-dated rate publication split, from the flows
themselves. Either way, the rows and the times at which rates were published are read as
one stream in time order, and a running maximum gives each row its rate epoch (the latest
publication at or before it), so the flows of one currency and epoch convert with one rate. Amounts
are summed as two exact halves (high and low 32 bits), which no engine's integer sum
can overflow.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import and_, bindparam, case, func, literal_column, null, or_, select, union_all
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

from models.analytics import NO_EPOCH, FlowRollup, UTCDay
from models.base import CalendarStart, UTCDateTime
from models.cards import AuthorizationState, CardAuthorization
from models.fx import ExchangeRate
from models.messaging import InterbankPayment, PaymentStatus
from models.reference import Country, Institution

HALF = 1 << 32
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Corridor:
    """Two countries, flows counted in both directions (the same twice: domestic flows)."""

    country_a: str
    country_b: str


@dataclass(frozen=True)
class Scope:
    """Which flows: a corridor (or the whole network), a period [since, until)."""

    corridor: Corridor | None
    since: dt.datetime | None
    until: dt.datetime
    # Group by calendar interval too ("day", "week" or "month"), or not.
    calendar: str | None = None
    # Keep only flows that settled in this currency.
    currency: str | None = None
    # Group by the currencies of the ends' countries too (source, then target).
    by_ends: bool = False


class Group(NamedTuple):
    """Flows of one currency within one rate epoch (and calendar interval, ends). A named
    tuple: a query makes a few hundred, and a frozen dataclass costs several times more
    to make."""

    currency: str
    epoch: dt.datetime | None  # the latest rate publication at or before them; None: none yet
    count: int
    minor: int  # their value, in minor units of `currency`
    start: dt.date | None = None
    source: str | None = None  # the sending end's country currency
    target: str | None = None


@dataclass(frozen=True)
class Source:
    """One kind of flow: the table, the columns of a flow, and what makes a row one."""

    table: type
    currency: object
    at: object
    value: object
    left_id: object  # the sending end's institution
    right_id: object
    where: tuple


def _sources() -> tuple[Source, Source]:
    payment, card = InterbankPayment, CardAuthorization
    net = card.captured_amount - card.refunded_amount
    return (
        Source(
            payment,
            payment.currency_code,
            payment.created_at,
            payment.amount,
            payment.sender_id,
            payment.receiver_id,
            (payment.status == PaymentStatus.SETTLED,),
        ),
        Source(
            card,
            card.currency_code,
            card.resolved_at,
            net,
            card.issuer_id,
            card.acquirer_id,
            (card.state == AuthorizationState.CAPTURED, net > 0),
        ),
    )


SOURCES = INTERBANK, CARDS = _sources()


# ---------------------------------------------------------------- the flows themselves


def _either_way(scope: Scope, left_country, right_country):
    """The condition that a flow's ends' countries are the corridor's, either way round."""
    a, b = scope.corridor.country_a, scope.corridor.country_b
    return or_(and_(left_country == a, right_country == b), and_(left_country == b, right_country == a))


def _flow(scope: Scope, source: Source, when):
    """One kind of flow at the times `when(at)` as rows (kind 1, at, currency, value, source,
    target). The ends' institutions are joined by key, once the flows of those times are
    found (through the time's index: the flows read are a few days' at most)."""
    at, currency = source.at, source.currency
    columns = [
        literal_column("1").label("kind"),
        at.label("at"),
        currency.label("currency"),
        source.value.label("value"),
    ]
    left, right = aliased(Institution), aliased(Institution)
    # `+ 0`: SQLite, which keeps no statistics, would otherwise drive the join from the
    # institutions through the ends' indexes, reading every flow of the corridor.
    left_id, right_id = source.left_id + 0, source.right_id + 0
    if scope.by_ends:  # the ends' country currencies
        left_country, right_country = aliased(Country), aliased(Country)
        columns += [left_country.currency_code.label("source"), right_country.currency_code.label("target")]
        statement = (
            select(*columns)
            .select_from(source.table)
            .join(left, left.id == left_id)
            .join(right, right.id == right_id)
            .join(left_country, left_country.code == left.country_code)
            .join(right_country, right_country.code == right.country_code)
        )
    else:
        statement = select(*columns, null().label("source"), null().label("target")).select_from(source.table)
        if scope.corridor is not None:
            statement = statement.join(left, left.id == left_id).join(right, right.id == right_id)
    if scope.corridor is not None:
        statement = statement.where(_either_way(scope, left.country_code, right.country_code))
    statement = statement.where(*source.where, when(at))
    if scope.currency is not None:
        statement = statement.where(currency == scope.currency)
    return statement


def _keys(scope: Scope, rows, moment) -> list:
    keys = [rows.c.currency, rows.c.epoch]
    if scope.calendar is not None:
        keys.append(CalendarStart(scope.calendar, moment).label("start"))
    if scope.by_ends:
        keys += [rows.c.source, rows.c.target]
    return keys


def _raw(scope: Scope, when):
    """The flows at the times `when(at)`, grouped (currency, epoch, [start], [ends], count, high, low)."""
    publications = select(
        literal_column("0").label("kind"), ExchangeRate.as_of.label("at"), null(), null(), null(), null()
    ).where(ExchangeRate.as_of < scope.until)
    rows = union_all(*(_flow(scope, source, when) for source in SOURCES), publications).subquery("stream")
    publication = case((rows.c.kind == 0, rows.c.at), else_=null())
    epoch = func.max(publication).over(order_by=(rows.c.at, rows.c.kind), rows=(None, 0)).label("epoch")
    rows = select(rows, epoch).subquery("epochs")
    keys = _keys(scope, rows, rows.c.at)
    return (
        select(
            *keys,
            func.count().label("count"),
            func.sum(rows.c.value // HALF).label("high"),
            func.sum(rows.c.value % HALF).label("low"),
        )
        .where(rows.c.kind == 1)
        .group_by(*keys)
    )


# ---------------------------------------------------------------- the rollup


def _whole_days(scope: Scope) -> tuple[dt.datetime | None, dt.datetime] | None:
    """The UTC days wholly in the period, [first, end) (first None: from the beginning),
    or None when there is none."""
    end = scope.until.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if scope.since is None:
        return None, end
    since = scope.since.astimezone(dt.UTC)
    first = since.replace(hour=0, minute=0, second=0, microsecond=0)
    first += DAY if first < since else dt.timedelta(0)
    return (first, end) if first < end else None


def _rolled(scope: Scope, first: dt.datetime | None, end: dt.datetime, last):
    """The rollup's rows of the scope on the whole days [first, end) (the epoch written with,
    day, at = their latest flow, currency, flows, high, low, source, target)."""
    rollup = FlowRollup
    columns = [
        rollup.epoch.label("written"),
        rollup.day.label("day"),
        rollup.last_at.label("at"),
        rollup.currency_code.label("currency"),
        rollup.flows.label("flows"),
        rollup.minor_high.label("high"),
        rollup.minor_low.label("low"),
    ]
    if scope.by_ends:
        left, right = aliased(Country), aliased(Country)
        columns += [left.currency_code.label("source"), right.currency_code.label("target")]
        rows = select(*columns).join(left, left.code == rollup.source_country)
        rows = rows.join(right, right.code == rollup.target_country)
    else:
        rows = select(*columns, null().label("source"), null().label("target"))
    held_whole = select(last.c.later).scalar_subquery() == 0
    rows = rows.where(or_(rollup.day < end, and_(rollup.day == end, held_whole)))
    if first is not None:
        rows = rows.where(rollup.day >= first)
    if scope.corridor is not None:
        rows = rows.where(_either_way(scope, rollup.source_country, rollup.target_country))
    if scope.currency is not None:
        rows = rows.where(rollup.currency_code == scope.currency)
    return rows.cte("rolled")


def _last_day(scope: Scope, end):
    """One row, one column `later`: 1 when a rollup row of the scope on the period's last,
    partial day (from `end`, its midnight, to `until`) holds a flow at or after `until`, else
    0. When none does, those rows are the day's flows in the period, read from the rollup
    like a whole day's (a period that ends now ends after every flow recorded so far); else
    the day's flows are read. Both sides of that choice are in the one statement that reads
    the rows (one snapshot), which looks once (a CTE) whatever the number of its parts."""
    rollup = FlowRollup
    later = select(literal_column("1")).where(rollup.day == end, rollup.last_at >= scope.until)
    if scope.corridor is not None:
        later = later.where(_either_way(scope, rollup.source_country, rollup.target_country))
    if scope.currency is not None:
        later = later.where(rollup.currency_code == scope.currency)
    return select(case((later.exists(), 1), else_=0).label("later")).cte("last_day")


def _next_publication(written):
    """The first publication after the epoch a rollup row was written with (after none:
    the first of all)."""
    first = select(func.min(ExchangeRate.as_of)).scalar_subquery()
    following = select(func.min(ExchangeRate.as_of)).where(ExchangeRate.as_of > written).scalar_subquery()
    return case((written == NO_EPOCH, first), else_=following)


def _grouped(scope: Scope, rows):
    """The rollup's rows grouped by the keys and the epoch they were written with, with
    their latest flow."""
    keys = [rows.c.currency, rows.c.written]
    if scope.calendar is not None:
        keys.append(CalendarStart(scope.calendar, rows.c.day).label("start"))
    if scope.by_ends:
        keys += [rows.c.source, rows.c.target]
    sums = [
        func.sum(rows.c[name]).label(label) for name, label in (("flows", "count"), ("high", "high"), ("low", "low"))
    ]
    return select(*keys, *sums, func.max(rows.c.at).label("latest")).group_by(*keys)


def _epoch(written):
    """A rollup row's epoch, when no publication splits it: the one it was written with."""
    return case((written == NO_EPOCH, null()), else_=written).label("epoch")


def _edges(scope: Scope, first, end, last):
    """The times of the period outside its whole days [first, end) whose flows are read
    from the flows themselves (the last day's, unless the rollup holds them whole)."""
    since, until = scope.since, scope.until
    # The last day's flows up to `until`, or none (an empty range, which the time's index
    # answers at once) when the rollup holds them whole.
    stop = select(case((last.c.later == 1, until), else_=end)).scalar_subquery()
    return lambda at: or_(
        and_(at >= end, at < stop),
        *([and_(at >= since, at < first)] if since is not None else []),
    )


def _summed(groups):
    """The groups of a UNION ALL of grouped parts summed again by their keys (a flow
    group that adds up to no flow left out); `split` is kept when the parts have it."""
    keys = [column for column in groups.c if column.name not in ("count", "high", "low", "split")]
    count = func.sum(groups.c.count)
    totals = [count.label("count"), func.sum(groups.c.high).label("high"), func.sum(groups.c.low).label("low")]
    if "split" in groups.c:
        totals.append(func.max(groups.c.split).label("split"))
    return select(*keys, *totals).group_by(*keys).having(count != 0)


def _rolled_up(scope: Scope, first, end):
    """Every flow of the scope, grouped: the rollup's whole days [first, end), each group
    flagged `split` when a publication falls within (the epoch it was written with, its
    latest flow], and the flows of the partial days."""
    last = _last_day(scope, end)
    groups = _grouped(scope, _rolled(scope, first, end, last)).subquery("grouped")
    split = case((_next_publication(groups.c.written) <= groups.c.latest, 1), else_=0).label("split")
    keys = [column for column in list(groups.c)[2:] if column.name not in ("latest",)]
    rolled = select(groups.c.currency, _epoch(groups.c.written), *keys, split)
    edges = _raw(scope, _edges(scope, first, end, last)).add_columns(literal_column("0").label("split"))
    return _summed(union_all(rolled, edges).subquery("groups"))


def _split(rows, groups):
    """The days whose rollup rows a publication splits: one within (the epoch a row was
    written with, its latest flow], so that its flows had more than one epoch, or another.
    Each epoch's next publication is looked up once, and the rows only for the epochs
    where it falls before a group's latest flow."""
    written = select(groups.c.written).distinct().subquery("written")
    # Materialized: once per epoch, not once per group.
    nexts = select(written.c.written, _next_publication(written.c.written).label("next"))
    nexts = nexts.cte("nexts").prefix_with("MATERIALIZED")
    late = select(nexts).join(groups, groups.c.written == nexts.c.written).where(nexts.c.next <= groups.c.latest)
    late = late.subquery("late")
    days = select(rows.c.day).join(late, late.c.written == rows.c.written).where(late.c.next <= rows.c.at)
    return days.distinct().cte("split")


def _redone(scope: Scope, first, end):
    """As `_rolled_up`, when a publication split some of the days: those days' rollup
    rows taken out again, and their flows read instead."""
    last = _last_day(scope, end)
    rows = _rolled(scope, first, end, last)
    groups = _grouped(scope, rows).cte("grouped")
    split = _split(rows, groups)
    undone = _grouped(scope, rows).where(rows.c.day.in_(select(split.c.day))).subquery("undone")
    negated = [-undone.c[name] for name in ("count", "high", "low")]
    keys = [column for column in list(groups.c)[2:] if column.name not in ("count", "high", "low", "latest")]
    whole = select(groups.c.currency, _epoch(groups.c.written), *keys, groups.c.count, groups.c.high, groups.c.low)
    others = [column for column in list(undone.c)[2:] if column.name not in ("count", "high", "low", "latest")]
    taken = select(undone.c.currency, _epoch(undone.c.written), *others, *negated)
    lowest = select(func.min(split.c.day)).scalar_subquery()
    latest = select(func.max(rows.c.at)).where(rows.c.day.in_(select(split.c.day))).scalar_subquery()
    edges = _edges(scope, first, end, last)

    def when(at):
        return or_(edges(at), and_(at >= lowest, at <= latest, UTCDay(at).in_(select(split.c.day))))

    return _summed(union_all(whole, taken, _raw(scope, when)).subquery("groups"))


def _everything(scope: Scope):
    since, until = scope.since, scope.until
    return _raw(scope, lambda at: at < until if since is None else and_(at >= since, at < until))


@functools.cache
def _prepared(shape: tuple, kind: str):
    """The statement of `kind` (flows, rolled up, redone) for scopes of one shape (which of
    corridor, since, calendar, currency and ends they have), built once: its values are
    parameters."""
    corridor, since, calendar, currency, by_ends = shape
    moment = functools.partial(bindparam, type_=UTCDateTime)
    template = Scope(
        Corridor(bindparam("a"), bindparam("b")) if corridor else None,
        moment("since") if since else None,
        moment("until"),
        calendar,
        bindparam("currency") if currency else None,
        by_ends,
    )
    if kind == "flows":
        return _everything(template)
    build = _rolled_up if kind == "rolled up" else _redone
    return build(template, moment("first") if since else None, moment("end"))


async def flow_groups(session: AsyncSession, scope: Scope, *, from_flows: bool = False) -> list[Group]:
    """Every flow of the scope, grouped by currency and rate epoch (and calendar
    interval, ends' currencies, as the scope asks), in one statement (two when a rate
    published back-dated split rolled-up days); `from_flows`: read from the flows alone,
    never the rollup (what the rollup must agree with)."""
    days = None if from_flows else _whole_days(scope)
    corridor = scope.corridor
    shape = (corridor is not None, scope.since is not None, scope.calendar, scope.currency is not None, scope.by_ends)
    values = {"since": scope.since, "until": scope.until, "currency": scope.currency}
    if corridor is not None:
        values |= {"a": corridor.country_a, "b": corridor.country_b}
    connection = await session.connection()  # plain rows: no ORM state to set up for them
    if days is None:
        return [group for group, _ in _groups(scope, await connection.execute(_prepared(shape, "flows"), values))]
    values |= {"first": days[0], "end": days[1]}
    groups = _groups(scope, await connection.execute(_prepared(shape, "rolled up"), values))
    if any(split for _, split in groups):
        groups = _groups(scope, await connection.execute(_prepared(shape, "redone"), values))
    return [group for group, _ in groups]


def _groups(scope: Scope, result) -> list[tuple[Group, bool]]:
    """The groups of a statement's rows, each with whether a publication split it (False
    where the statement does not say). Columns are taken by position: a row's attributes
    cost several times more, and a page of a few hundred groups is read on every request."""
    at = {name: k for k, name in enumerate(result.keys())}
    currency, epoch, count, high, low = (at[name] for name in ("currency", "epoch", "count", "high", "low"))
    start, source, target, split = (at.get(name) for name in ("start", "source", "target", "split"))
    groups = []
    for row in result.all():
        group = Group(
            currency=row[currency],
            epoch=row[epoch],  # typed as its column: a UTC datetime on both engines
            count=int(row[count]),
            minor=int(row[high]) * HALF + int(row[low]),
            start=dt.date.fromisoformat(row[start]) if scope.calendar is not None else None,
            source=row[source] if scope.by_ends else None,
            target=row[target] if scope.by_ends else None,
        )
        groups.append((group, bool(row[split]) if split is not None else False))
    return groups
