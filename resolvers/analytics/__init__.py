"""Analytics: what the network's own data and recorded figures say about the shift
away from the dollar.

Rules: ../shared/DESIGN.md, "Analytics". `from resolvers import analytics` gives every
name below; each module imports only the ones above it:
- `reserves`: central banks' reserve holdings (US treasuries, gold, currencies) as a
  time series per country, asset, unit and date: recording them (operators; all or
  none; an upsert), the series, the change between two dates (the holdings nearest at
  or before each), and a country's composition at a date valued in one currency with
  the FX module's rates in force and conversion paths;
- `flows`: the network's own flows (settled interbank payments, captured card payments
  net of refunds), grouped in one statement by currency and rate epoch, from the
  rollup for whole days and from the flows for the rest;
- `rollup`: the flows summed by corridor, currency, day and rate epoch as they are
  recorded (messaging's `record` and the cards' capture and refund call it), and built
  again from the stored flows by `backfill`;
- `shares`: the currency shares of those flows per corridor, over time and
  network-wide, converted at the rates in force when each settled;
- `dollar_cost`: without the dollar, what would it cost: a corridor's USD value per
  pair of local currencies, with today's route through USD and today's route avoiding it.

Reserves are public figures about countries, not an institution's flows: every role
that reads analytics (ANALYST, OPERATOR, and PARTICIPANT too, Action.READ_ANALYTICS)
reads them; only operators record them (Action.OPERATE). A corridor's flows are
ANALYST's and OPERATOR's (Action.READ_FLOWS): a participant reads only the network-wide
shares (see `shares`).
"""

from resolvers.analytics.dollar_cost import DollarCost, PairCost, Route, dollar_cost
from resolvers.analytics.flows import Corridor, Group, Scope, flow_groups
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
from resolvers.analytics.rollup import backfill, roll_up_card_payments, roll_up_payments
from resolvers.analytics.shares import (
    CorridorPoint,
    CorridorStats,
    Figures,
    Share,
    corridor_series,
    corridor_stats,
    currency_shares,
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
    "Corridor",
    "CorridorPoint",
    "CorridorStats",
    "DollarCost",
    "Figures",
    "Group",
    "HoldingSpec",
    "PairCost",
    "Recorded",
    "Route",
    "Scope",
    "Share",
    "backfill",
    "corridor_series",
    "corridor_stats",
    "currency_shares",
    "dollar_cost",
    "flow_groups",
    "record_reserve_holdings",
    "reserve_change",
    "reserve_composition",
    "reserve_holdings",
    "roll_up_card_payments",
    "roll_up_payments",
]
