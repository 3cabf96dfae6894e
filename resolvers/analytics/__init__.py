"""Analytics: what the network's own data and recorded figures say about the shift
away from the dollar.

Rules: ../shared/DESIGN.md, "Analytics". `from resolvers import analytics` gives every
name below; each module imports only the ones above it:
- `reserves`: central banks' reserve holdings (US treasuries, gold, currencies) as a
  time series per country, asset, unit and date: recording them (operators; all or
  none; an upsert), the series, the change between two dates (the holdings nearest at
  or before each), and a country's composition at a date valued in one currency with
  the FX module's rates in force and conversion paths.

Reserves are public figures about countries, not an institution's flows: every role
that reads analytics (ANALYST, OPERATOR, and PARTICIPANT too, Action.READ_ANALYTICS)
reads them; only operators record them (Action.OPERATE).
"""

from resolvers.analytics.reserves import (
    AMOUNT_MAX,
    AMOUNT_PLACES,
    GOLD,
    MAX_HOLDINGS,
    TREASURIES,
    TROY_OUNCES_PER_TONNE,
    UNITS,
    Change,
    Component,
    Composition,
    HoldingSpec,
    Recorded,
    record_reserve_holdings,
    reserve_change,
    reserve_composition,
    reserve_holdings,
)

__all__ = [
    "AMOUNT_MAX",
    "AMOUNT_PLACES",
    "GOLD",
    "MAX_HOLDINGS",
    "TREASURIES",
    "TROY_OUNCES_PER_TONNE",
    "UNITS",
    "Change",
    "Component",
    "Composition",
    "HoldingSpec",
    "Recorded",
    "record_reserve_holdings",
    "reserve_change",
    "reserve_composition",
    "reserve_holdings",
]
