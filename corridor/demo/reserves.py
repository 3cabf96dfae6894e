"""The demo's reserve holdings: the seeds' story of countries moving away from the
dollar, as two quarter-end observations per series (2023-12-31 and 2024-03-31):
- China's US treasuries falling by 53.3 billion USD over the first quarter of 2024, and
  Belgium's by 22 billion (the changes as the sources report them: US Treasury TIC
  data; the levels are illustrative);
- China's and Russia's gold rising, in tonnes (levels and changes illustrative).
Each source says so. Only the holdings missing are recorded (through the resolver, as
an operator would): loading again changes nothing and creates nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.demo.common import Created
from models.analytics import ReserveHolding
from models.base import utcnow
from resolvers import analytics
from resolvers.access import SYSTEM

Q4_2023, Q1_2024 = dt.date(2023, 12, 31), dt.date(2024, 3, 31)
TIC = "demo: level illustrative; the Q1 2024 change as reported from US Treasury TIC data"
GOLD = "demo (illustrative)"
# (country, asset, unit, amount at Q4_2023, amount at Q1_2024, source)
SERIES: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("CN", "UST", "USD", "816300000000", "763000000000", TIC),  # -53.3 billion
    ("BE", "UST", "USD", "376600000000", "354600000000", TIC),  # -22 billion
    ("CN", "XAU", "TONNE", "2235.39", "2262.45", GOLD),
    ("RU", "XAU", "TONNE", "2332.74", "2335.85", GOLD),
)


def holdings() -> list[analytics.HoldingSpec]:
    return [
        analytics.HoldingSpec(country, asset, unit, Decimal(amount), as_of, source)
        for country, asset, unit, first, second, source in SERIES
        for amount, as_of in ((first, Q4_2023), (second, Q1_2024))
    ]


async def load(session: AsyncSession, created: Created) -> None:
    """SERIES's holdings that are not recorded yet, counted as "reserves"."""
    rows = await session.exec(
        select(ReserveHolding.country_code, ReserveHolding.asset, ReserveHolding.unit, ReserveHolding.as_of)
    )
    stored = set(rows.all())
    missing = [spec for spec in holdings() if (spec.country_code, spec.asset, spec.unit, spec.as_of) not in stored]
    if missing:
        await analytics.record_reserve_holdings(session, SYSTEM, missing, now=utcnow())
    created["reserves"] += len(missing)
