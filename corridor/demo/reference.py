"""The demo's institutions (the table is in `common`, since every domain reads it)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.demo.common import INSTITUTIONS, Created
from resolvers import reference
from resolvers.access import SYSTEM


async def load(session: AsyncSession, created: Created) -> None:
    """Every institution of INSTITUTIONS that is missing, by BIC."""
    for item in INSTITUTIONS:
        if await reference.institution_by_bic(session, item.bic) is None:
            await reference.create_institution(
                session,
                SYSTEM,
                name=item.name,
                bic=item.bic,
                country_code=item.country,
                kind=item.kind,
                spread_bps=item.spread_bps,
            )
            created["institutions"] += 1
