"""Without the dollar, what would it cost: for a corridor and period, the value that
settled in USD, and for each pair of local currencies that those payments connected
(the sending end's country currency to the receiving end's), today's conversion
through USD against today's conversion avoiding USD.

Both routes are the FX module's: the conversion path (fewest legs, then the best
product of mid rates in force now; the route through USD is the path to USD then the
path from it), each leg at the rate of the cheapest FX provider holding both of its
currencies, after its spread (liquidity aside: a rate, not a quote for an amount).
`difference_bps` is how much more of the target currency the route avoiding USD gives
for one unit of the source, in basis points of the route through USD (negative: the
dollar is cheaper), and `saving` is that difference on the pair's USD value, in USD,
rounded half-even to the cent. A route that no rate or no provider makes today is None,
and so are the figures that need it.

Access as the corridor's shares (Action.READ_FLOWS).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from resolvers import reference
from resolvers.access import Action, Principal, require
from resolvers.analytics.flows import Scope, flow_groups
from resolvers.analytics.shares import USD, corridor, period
from resolvers.fx import BPS, Position, all_in_rate, find_path, provider_positions, rates_in_force
from resolvers.money import ONE, WIDE, quantize_half_even


@dataclass(frozen=True)
class Route:
    currencies: tuple[str, ...]  # from source to target
    rate: Decimal  # units of target for one of source, after the providers' spreads
    providers: tuple[int, ...]  # one per leg


@dataclass(frozen=True)
class PairCost:
    source: str
    target: str
    count: int
    usd_value: Decimal
    via_usd: Route | None
    without_usd: Route | None
    difference_bps: Decimal | None
    saving: Decimal | None  # in USD


@dataclass(frozen=True)
class DollarCost:
    countries: tuple[str, str]
    count: int
    usd_value: Decimal
    pairs: list[PairCost]


def _route(graph: dict, positions: dict[tuple[int, str], Position], hops: list[tuple[str, str, list[str]]]):
    """The route along `hops` (source, target, avoided) joined end to end, or None."""
    legs = []
    for source, target, avoid in hops:
        path = find_path(graph, source, target, avoid)
        if path is None:
            return None
        legs.extend(path.legs)
    priced = all_in_rate(legs, positions)
    if priced is None:
        return None
    rate, providers = priced
    currencies = (hops[0][0], *(leg.quote for leg in legs)) if legs else (hops[0][0], hops[-1][1])
    return Route(currencies, rate, tuple(providers))


def _pair(source: str, target: str, count: int, usd_value: Decimal, places: int, graph: dict, positions) -> PairCost:
    via = _route(graph, positions, [(source, USD, []), (USD, target, [])])
    without = None
    if USD not in (source, target):
        without = _route(graph, positions, [(source, target, [USD])])
    difference = saving = None
    if via is not None and without is not None:
        gain = WIDE.subtract(WIDE.divide(without.rate, via.rate), ONE)
        difference = quantize_half_even(WIDE.multiply(gain, BPS), 2)
        saving = quantize_half_even(WIDE.multiply(gain, usd_value), places)
    return PairCost(source, target, count, usd_value, via, without, difference, saving)


async def dollar_cost(
    session: AsyncSession,
    principal: Principal,
    country_a: str,
    country_b: str,
    since: dt.datetime | None,
    until: dt.datetime | None,
    *,
    now: dt.datetime,
) -> DollarCost:
    """The corridor's USD value in [since, until), by pair, with both routes today."""
    require(principal, Action.READ_FLOWS)
    span = period(since, until, now)
    ends, _ = await corridor(session, country_a, country_b)
    groups = await flow_groups(session, Scope(ends, span.since, span.until, currency=USD, by_ends=True))
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for group in groups:
        pair = tally[(group.source, group.target)]
        pair[0], pair[1] = pair[0] + group.count, pair[1] + group.minor
    graph = await rates_in_force(session, now)
    # Every currency a route may pass through: those of the rates in force.
    positions = await provider_positions(session, {code for pair in graph for code in pair}, now)
    places = (await reference.minor_units(session))[USD]
    pairs = [
        _pair(source, target, count, Decimal(minor).scaleb(-places), places, graph, positions)
        for (source, target), (count, minor) in sorted(tally.items())
    ]
    total = quantize_half_even(sum((pair.usd_value for pair in pairs), Decimal(0)), places)
    return DollarCost((ends.country_a, ends.country_b), sum(p.count for p in pairs), total, pairs)
