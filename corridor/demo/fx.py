"""The demo's FX: rates, the FX provider's funded positions, and the basket UNIT."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.demo.common import Created, DemoLeg, account, post
from models.base import utcnow
from models.fx import ExchangeRate
from models.ledger import Account, AccountKind
from resolvers import fx, reference
from resolvers.access import SYSTEM
from resolvers.money import significant

# Illustrative rates (units of quote per unit of base), with pairs between the local
# currencies so that conversions can avoid USD; and the six pairs of the dollar index
# at levels that give an index of about 104.2.
DEMO_RATE_SOURCE = "demo (illustrative)"
# The rates are published as of this fixed time, so that an example asking for the
# rate in force at a date after it answers the same on every machine.
RATES_AS_OF = dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
RATES: tuple[tuple[str, str, str], ...] = (
    ("USD", "RUB", "92.50"),
    ("USD", "CNY", "7.2300"),
    ("USD", "INR", "83.30"),
    ("USD", "IRR", "42000"),
    ("USD", "BRL", "5.0500"),
    ("USD", "ZAR", "18.60"),
    ("XAU", "USD", "2350"),
    ("CNY", "RUB", "12.80"),
    ("CNY", "INR", "11.52"),
    ("RUB", "IRR", "454.0"),
    ("INR", "IRR", "504.0"),
    ("EUR", "USD", "1.0870"),
    ("USD", "JPY", "151.50"),
    ("GBP", "USD", "1.2630"),
    ("USD", "CAD", "1.3640"),
    ("USD", "SEK", "10.7100"),
    ("USD", "CHF", "0.9070"),
)
# Months of history before RATES (illustrative levels near the markets' path, published
# on the first of each month from January 2021 to December 2023), so that the dollar
# index, the basket and conversions at past dates (the 2021 USD payments) have rates of
# their time: the dollar index's six pairs, BRL and ZAR move with the index; RUB, CNY,
# INR and gold follow their own paths; IRR stays at its official rate; the pairs between
# local currencies are the crosses of those paths.
HISTORY_SOURCE = "demo history (illustrative)"
HISTORY_START = dt.date(2021, 1, 1)
DXY_PATH = (
    "90.6 90.9 93.2 91.3 90.0 92.4 92.2 92.6 94.2 94.1 96.0 95.7 "
    "96.5 96.7 98.3 102.9 101.8 104.7 105.9 108.7 112.1 111.5 105.9 103.5 "
    "102.1 104.9 102.5 101.7 104.3 102.9 101.9 103.6 106.2 106.7 103.5 101.3"
)
RUB_PATH = (
    "74.0 74.4 75.7 75.0 73.6 72.4 73.2 73.2 72.7 71.1 72.8 73.7 "
    "77.5 83.5 103.0 77.0 63.0 55.0 60.0 60.5 58.0 61.5 61.0 70.3 "
    "70.0 75.2 77.3 80.4 80.8 87.0 90.6 96.4 97.4 93.2 89.3 89.7"
)
CNY_PATH = (
    "6.46 6.46 6.55 6.48 6.37 6.46 6.46 6.47 6.45 6.41 6.37 6.36 "
    "6.36 6.31 6.36 6.61 6.67 6.70 6.75 6.90 7.11 7.30 7.10 6.90 "
    "6.78 6.93 6.87 6.91 7.09 7.25 7.14 7.28 7.30 7.31 7.13 7.10"
)
GOLD_PATH = (
    "1850 1810 1710 1770 1900 1770 1810 1815 1760 1780 1775 1830 "
    "1800 1900 1940 1910 1840 1810 1765 1715 1670 1640 1770 1820 "
    "1930 1830 1980 2000 1960 1920 1965 1940 1870 1990 2040 2060"
)
INR_FROM = Decimal("73.0")
# The FX provider's liquidity, from the central banks of each currency (illustrative).
FX_POSITIONS = {"RUB": "500000000", "CNY": "50000000", "INR": "500000000", "IRR": "300000000000", "USD": "5000000"}
UNIT = {"XAU": "0.40", "BRL": "0.12", "RUB": "0.12", "INR": "0.12", "CNY": "0.12", "ZAR": "0.12"}


async def load(session: AsyncSession, created: Created) -> None:
    """Rates, the FX provider's funded positions, and the basket UNIT."""
    now = utcnow()
    await _rates(session, created, now)
    await _history(session, created, now)
    await _positions(session, created, now)
    await _basket(session, created, now)


async def _rates(session: AsyncSession, created: Created, now: dt.datetime) -> None:
    """RATES, published once (as a set: none of them if any of the demo's is there)."""
    published = await session.exec(select(ExchangeRate.id).where(ExchangeRate.source == DEMO_RATE_SOURCE))
    if published.first() is None:
        specs = [fx.RateSpec(base, quote, Decimal(rate), DEMO_RATE_SOURCE, RATES_AS_OF) for base, quote, rate in RATES]
        created["rates"] += len(await fx.publish_rates(session, SYSTEM, specs, now=now))


def history() -> list[fx.RateSpec]:
    """The monthly rates of HISTORY_START's three years, each to 6 significant digits."""
    final = {(base, quote): Decimal(rate) for base, quote, rate in RATES}
    paths = [[Decimal(level) for level in path.split()] for path in (DXY_PATH, RUB_PATH, CNY_PATH, GOLD_PATH)]
    months = len(paths[0])
    specs = []
    for k, (dxy, rub, cny, gold) in enumerate(zip(*paths, strict=True)):
        f = dxy / Decimal("104.2")  # the dollar's strength against RATES
        inr = INR_FROM + (final[("USD", "INR")] - INR_FROM) * k / months
        moved = {
            ("USD", "RUB"): rub / final[("USD", "RUB")],
            ("USD", "CNY"): cny / final[("USD", "CNY")],
            ("USD", "INR"): inr / final[("USD", "INR")],
            ("USD", "IRR"): Decimal(1),
            ("XAU", "USD"): gold / final[("XAU", "USD")],
            ("CNY", "RUB"): (rub / final[("USD", "RUB")]) / (cny / final[("USD", "CNY")]),
            ("CNY", "INR"): (inr / final[("USD", "INR")]) / (cny / final[("USD", "CNY")]),
            ("RUB", "IRR"): final[("USD", "RUB")] / rub,
            ("INR", "IRR"): final[("USD", "INR")] / inr,
        }
        year, month = HISTORY_START.year + k // 12, k % 12 + 1
        as_of = dt.datetime(year, month, 1, tzinfo=dt.UTC)
        for (base, quote), rate in final.items():
            factor = moved.get((base, quote), f if base == "USD" else 1 / f)
            specs.append(fx.RateSpec(base, quote, significant(rate * factor, 6), HISTORY_SOURCE, as_of))
    return specs


async def _history(session: AsyncSession, created: Created, now: dt.datetime) -> None:
    """The months of history, published once (as a set, like RATES)."""
    published = await session.exec(select(ExchangeRate.id).where(ExchangeRate.source == HISTORY_SOURCE))
    if published.first() is None:
        created["rates"] += len(await fx.publish_rates(session, SYSTEM, history(), now=now))


async def _positions(session: AsyncSession, created: Created, now: dt.datetime) -> None:
    """An FX_POSITION account of the provider per currency, funded from that currency's
    ISSUANCE account."""
    provider = await reference.institution_by_bic(session, "CRFXAEAD")
    legs = []
    for currency, amount in FX_POSITIONS.items():
        position = await account(
            session, created, provider.id, f"{currency} position", currency, AccountKind.FX_POSITION
        )
        issuance = (
            await session.exec(
                select(Account.id).where(Account.currency_code == currency, Account.kind == AccountKind.ISSUANCE)
            )
        ).first()
        legs.append(DemoLeg(f"fund fx {currency}", issuance, position, Decimal(amount), currency))
    await post(session, created, legs, reference="FX provider liquidity", now=now)


async def _basket(session: AsyncSession, created: Created, now: dt.datetime) -> None:
    """The basket UNIT, defined once."""
    if await fx.basket_by_code(session, "UNIT") is None:
        await fx.define_basket(
            session,
            SYSTEM,
            code="UNIT",
            name="BRICS basket unit: 40% gold, 12% each BRL, RUB, INR, CNY, ZAR (illustrative)",
            components=[fx.ComponentSpec(currency, Decimal(weight)) for currency, weight in UNIT.items()],
            initial_value=Decimal("100"),
            value_currency="USD",
            now=now,
        )
        created["baskets"] += 1
