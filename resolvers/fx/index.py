"""The dollar index: ICE's formula over six pairs of the rates in force."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from sqlmodel.ext.asyncio.session import AsyncSession

from resolvers.fx.rates import Rate, rates_in_force
from resolvers.money import WIDE, quantize_half_even

# ICE's US dollar index: 50.14348112 x EURUSD^-0.576 x USDJPY^0.136 x GBPUSD^-0.119
# x USDCAD^0.091 x USDSEK^0.042 x USDCHF^0.036.
DXY_CONSTANT = Decimal("50.14348112")
DXY_WEIGHTS = (
    (("EUR", "USD"), Decimal("-0.576")),
    (("USD", "JPY"), Decimal("0.136")),
    (("GBP", "USD"), Decimal("-0.119")),
    (("USD", "CAD"), Decimal("0.091")),
    (("USD", "SEK"), Decimal("0.042")),
    (("USD", "CHF"), Decimal("0.036")),
)
DXY_PLACES = 6


def dollar_index_of(graph: dict[tuple[str, str], Rate]) -> Decimal | None:
    value = DXY_CONSTANT
    for pair, weight in DXY_WEIGHTS:
        rate = graph.get(pair)
        if rate is None:
            return None
        try:
            value = WIDE.multiply(value, WIDE.power(rate.rate, weight))
        except InvalidOperation:  # pragma: no cover - rates are positive by construction
            return None
    return quantize_half_even(value, DXY_PLACES)


async def dollar_index(session: AsyncSession, at: dt.datetime) -> Decimal | None:
    return dollar_index_of(await rates_in_force(session, at))
