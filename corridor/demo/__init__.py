"""The demo network of ../shared/DESIGN.md, loaded idempotently by `corridor demo`.

Institutions carry their real BICs where the institution publishes one; the
operators of the schemes and the FX provider are illustrative (marked so in
their names). Loading twice changes nothing the second time.

One module per domain, each with its figures and a `load(session, created, ...)`
that adds what is missing, in one transaction that `load` here opens and commits:
- `common`: what the domains share: `demo_id` (the derived ids that make a second
  load replay), the INSTITUTIONS table, the `created` counts, opening an account and
  posting legs (the demo's money moves through `resolvers.ledger.post_legs` only);
- `reference`: the institutions;
- `ledger`: accounts, their funding, the payment history, the holds;
- `fx`: rates, the FX provider's positions, the basket;
- `cards`: schemes, memberships, links, cards, merchants, authorizations;
- `messaging`: payment networks, memberships, the banks' accounts for them, payments;
- `settlement`: the windows of the card and SPFS obligations, closed and settled (or not);
- `reserves`: reserve holdings (CN's and BE's US treasuries falling, CN's and RU's gold rising);
- `tour`: the ids a tour needs, printed after loading.
A new domain adds its module, its kinds to `common.CREATED_KINDS` and its step below.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.db import WRITE_OPTION
from corridor.demo import cards, fx, ledger, messaging, reference, reserves, settlement
from corridor.demo.cards import (
    AUTHORIZATIONS,
    CARD_EXPIRY,
    CARDS,
    LINKS,
    MEMBERSHIPS,
    MERCHANTS,
    SANCTIONS,
    SCHEMES,
)
from corridor.demo.common import DEMO_NAMESPACE, INSTITUTIONS, DemoInstitution, demo_id, new_created
from corridor.demo.fx import DEMO_RATE_SOURCE, FX_POSITIONS, RATES, UNIT
from corridor.demo.ledger import CUSTOMER_FUNDING, CUSTOMERS, HISTORY_LENGTH, SETTLEMENT_FUNDING
from corridor.demo.tour import tour
from corridor.settings import Settings

__all__ = [
    "AUTHORIZATIONS",
    "CARDS",
    "CARD_EXPIRY",
    "CUSTOMERS",
    "CUSTOMER_FUNDING",
    "DEMO_NAMESPACE",
    "DEMO_RATE_SOURCE",
    "FX_POSITIONS",
    "HISTORY_LENGTH",
    "INSTITUTIONS",
    "LINKS",
    "MEMBERSHIPS",
    "MERCHANTS",
    "RATES",
    "SANCTIONS",
    "SCHEMES",
    "SETTLEMENT_FUNDING",
    "UNIT",
    "DemoInstitution",
    "demo_id",
    "load",
    "tour",
]


async def load(sessions: async_sessionmaker[AsyncSession], settings: Settings | None = None) -> dict[str, int]:
    """Load what is missing; return how many of each thing were created. The settings
    give the secret that card numbers are hashed with and the card hold's duration."""
    settings = settings or Settings()
    created = new_created()
    async with sessions() as session:
        await session.connection(execution_options={WRITE_OPTION: True})
        await reference.load(session, created)
        await ledger.load(session, created)
        await fx.load(session, created)
        windows = await settlement.window_count(session)  # the payments below open windows
        await cards.load(session, created, settings)
        await messaging.load(session, created)
        await settlement.load(session, created, windows)
        await reserves.load(session, created)
        await session.commit()
    return created
