"""Conversion paths: the shortest chain of pairs with a rate in force (fewest legs),
then the best product of rates, through none of the avoided currencies."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from resolvers import reference
from resolvers.errors import DomainError, ErrorCode, invalid
from resolvers.fx.rates import Graph, Rate, rates_in_force
from resolvers.money import ONE, WIDE, significant


@dataclass(frozen=True)
class Path:
    source: str
    target: str
    legs: tuple[Rate, ...]

    @functools.cached_property
    def rate(self) -> Decimal:
        product = ONE
        for leg in self.legs:
            product = WIDE.multiply(product, leg.rate)
        return significant(product)

    @property
    def via(self) -> list[str]:
        return [leg.quote for leg in self.legs[:-1]]


MAX_KEPT_PATHS = 1024  # per set of rates in force


def find_path(graph: Graph, source: str, target: str, avoid: Iterable[str] = ()) -> Path | None:
    """Fewest legs, then the best product of rates; never through an avoided currency.
    Over rates in force kept by the rate book (`InForce`), each path is found once."""
    banned = frozenset(avoid)
    kept = getattr(graph, "paths", None)
    if kept is None:
        return _search(graph, source, target, banned)
    key = (source, target, banned)
    if key not in kept:
        if len(kept) >= MAX_KEPT_PATHS:
            kept.clear()
        kept[key] = _search(graph, source, target, banned)
    return kept[key]


def _search(graph: Graph, source: str, target: str, banned: frozenset) -> Path | None:
    if source == target:
        return Path(source, target, ())
    edges: dict[str, list[Rate]] = {}
    for (base, quote), rate in graph.items():
        if base not in banned and quote not in banned:
            edges.setdefault(base, []).append(rate)
    # Breadth first, layer by layer; within the layer where a currency is first
    # reached, keep the best product (all ways to it there have the same length).
    best: dict[str, tuple[Decimal, tuple[Rate, ...]]] = {source: (ONE, ())}
    layer = [source]
    while layer and target not in best:
        reached: dict[str, tuple[Decimal, tuple[Rate, ...]]] = {}
        for currency in sorted(layer):
            product, legs = best[currency]
            for rate in edges.get(currency, ()):
                if rate.quote in best:
                    continue
                candidate = WIDE.multiply(product, rate.rate)
                if rate.quote not in reached or candidate > reached[rate.quote][0]:
                    reached[rate.quote] = (candidate, (*legs, rate))
        best.update(reached)
        layer = list(reached)
    if target not in best:
        return None
    return Path(source, target, best[target][1])


def check_avoid(source: str, target: str, avoid: Iterable[str]) -> list[str]:
    avoided = sorted({code.strip().upper() for code in avoid})
    for code in (source, target):
        if code in avoided:
            raise invalid(f"{code} is the conversion's own currency and cannot be avoided.", "avoid")
    return avoided


async def conversion_path(
    session: AsyncSession, source: str, target: str, avoid: Iterable[str], at: dt.datetime
) -> Path | None:
    source, target = source.strip().upper(), target.strip().upper()
    avoided = check_avoid(source, target, avoid)
    known = await reference.minor_units(session)
    for name, code in (("from", source), ("to", target)):
        if code not in known:
            raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {code!r}.", [name])
    return find_path(await rates_in_force(session, at), source, target, avoided)


def converted(graph: Graph, amount: Decimal, source: str, target: str) -> Decimal | None:
    """`amount` of `source` in `target` over the rates `graph` (the conversion path's rate,
    unrounded: the caller rounds once), or None when no path leads there."""
    path = find_path(graph, source, target)
    return WIDE.multiply(amount, path.rate) if path is not None else None
