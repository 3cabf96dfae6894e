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
receiver, or the card's issuer and the merchant's acquirer.

One statement groups every flow of a period, whatever their number: the flows and the
times at which rates were published are read as one stream in time order, and a running
maximum gives each flow its rate epoch (the latest publication at or before it), so the
flows of one currency and epoch convert with one rate. Amounts are summed as two exact
halves (high and low 32 bits), which no engine's integer sum can overflow.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, func, literal_column, null, or_, select, union_all
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import CalendarStart
from models.cards import AuthorizationState, CardAuthorization
from models.fx import ExchangeRate
from models.messaging import InterbankPayment, PaymentStatus
from models.reference import Country, Institution

HALF = 1 << 32


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


@dataclass(frozen=True)
class Group:
    """Flows of one currency within one rate epoch (and calendar interval, ends)."""

    currency: str
    epoch: dt.datetime | None  # the latest rate publication at or before them; None: none yet
    count: int
    minor: int  # their value, in minor units of `currency`
    start: dt.date | None = None
    source: str | None = None  # the sending end's country currency
    target: str | None = None


def _in_country(code: str, institution_id):
    return institution_id.in_(select(Institution.id).where(Institution.country_code == code).scalar_subquery())


def _ends(scope: Scope, left_id, right_id):
    """The condition that the flow's two ends are in the corridor, either way round (a
    semi-join on each country's institutions, no join per flow)."""
    a, b = scope.corridor.country_a, scope.corridor.country_b
    return or_(
        and_(_in_country(a, left_id), _in_country(b, right_id)),
        and_(_in_country(b, left_id), _in_country(a, right_id)),
    )


def _flow(scope: Scope, table, currency, at, value, left_id, right_id, *where):
    """One kind of flow as rows (kind 1, at, currency, value, source, target)."""
    columns = [literal_column("1").label("kind"), at.label("at"), currency.label("currency"), value.label("value")]
    if scope.by_ends:  # the ends' country currencies, through their institutions
        left, right = aliased(Institution), aliased(Institution)
        left_country, right_country = aliased(Country), aliased(Country)
        columns += [left_country.currency_code.label("source"), right_country.currency_code.label("target")]
        statement = (
            select(*columns)
            .select_from(table)
            .join(left, left.id == left_id)
            .join(right, right.id == right_id)
            .join(left_country, left_country.code == left.country_code)
            .join(right_country, right_country.code == right.country_code)
        )
    else:
        statement = select(*columns, null().label("source"), null().label("target")).select_from(table)
    if scope.corridor is not None:
        statement = statement.where(_ends(scope, left_id, right_id))
    statement = statement.where(*where, at < scope.until)
    if scope.since is not None:
        statement = statement.where(at >= scope.since)
    if scope.currency is not None:
        statement = statement.where(currency == scope.currency)
    return statement


def _flows(scope: Scope):
    payment, card = InterbankPayment, CardAuthorization
    net = card.captured_amount - card.refunded_amount
    interbank = _flow(
        scope,
        payment,
        payment.currency_code,
        payment.created_at,
        payment.amount,
        payment.sender_id,
        payment.receiver_id,
        payment.status == PaymentStatus.SETTLED,
    )
    cards = _flow(
        scope,
        card,
        card.currency_code,
        card.resolved_at,
        net,
        card.issuer_id,
        card.acquirer_id,
        card.state == AuthorizationState.CAPTURED,
        net > 0,
    )
    return interbank, cards


async def flow_groups(session: AsyncSession, scope: Scope) -> list[Group]:
    """Every flow of the scope, grouped by currency and rate epoch (and calendar
    interval, ends' currencies, as the scope asks), in one statement."""
    publications = select(
        literal_column("0").label("kind"),
        ExchangeRate.as_of.label("at"),
        null().label("currency"),
        null().label("value"),
        null().label("source"),
        null().label("target"),
    ).where(ExchangeRate.as_of < scope.until)
    rows = union_all(*_flows(scope), publications).subquery("stream")
    publication = case((rows.c.kind == 0, rows.c.at), else_=null())
    epoch = func.max(publication).over(order_by=(rows.c.at, rows.c.kind), rows=(None, 0)).label("epoch")
    stream = select(rows, epoch).subquery("epochs")
    keys = [stream.c.currency, stream.c.epoch]
    if scope.calendar is not None:
        keys.append(CalendarStart(scope.calendar, stream.c.at).label("start"))
    if scope.by_ends:
        keys += [stream.c.source, stream.c.target]
    statement = (
        select(
            *keys,
            func.count().label("count"),
            func.sum(stream.c.value // HALF).label("high"),
            func.sum(stream.c.value % HALF).label("low"),
        )
        .where(stream.c.kind == 1)
        .group_by(*keys)
    )
    result = await session.exec(statement)
    return [_group(scope, row) for row in result]


def _group(scope: Scope, row) -> Group:
    return Group(
        currency=row.currency,
        epoch=row.epoch,  # typed as its column: a UTC datetime on both engines
        count=int(row.count),
        minor=int(row.high) * HALF + int(row.low),
        start=dt.date.fromisoformat(row.start) if scope.calendar is not None else None,
        source=row.source if scope.by_ends else None,
        target=row.target if scope.by_ends else None,
    )
