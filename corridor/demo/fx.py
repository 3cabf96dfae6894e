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
# The FX provider's liquidity, from the central banks of each currency (illustrative).
FX_POSITIONS = {"RUB": "500000000", "CNY": "50000000", "INR": "500000000", "IRR": "300000000000", "USD": "5000000"}
UNIT = {"XAU": "0.40", "BRL": "0.12", "RUB": "0.12", "INR": "0.12", "CNY": "0.12", "ZAR": "0.12"}


async def load(session: AsyncSession, created: Created) -> None:
    """Rates, the FX provider's funded positions, and the basket UNIT."""
    now = utcnow()
    await _rates(session, created, now)
    await _positions(session, created, now)
    await _basket(session, created, now)


async def _rates(session: AsyncSession, created: Created, now: dt.datetime) -> None:
    """RATES, published once (as a set: none of them if any of the demo's is there)."""
    published = await session.exec(select(ExchangeRate.id).where(ExchangeRate.source == DEMO_RATE_SOURCE))
    if published.first() is None:
        specs = [fx.RateSpec(base, quote, Decimal(rate), DEMO_RATE_SOURCE, RATES_AS_OF) for base, quote, rate in RATES]
        created["rates"] += len(await fx.publish_rates(session, SYSTEM, specs, now=now))


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
