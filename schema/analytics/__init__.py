"""GraphQL types of analytics: reserve holdings (`reserves`), currency shares of the flows (`shares`),
the dollar's cost on a corridor (`dollar_cost`)."""

from schema.analytics.dollar_cost import CorridorDollarCost, DollarCostPair, DollarCostQuery, FxRoute
from schema.analytics.reserves import (
    ReserveChange,
    ReserveComponent,
    ReserveComposition,
    ReserveHolding,
    ReserveHoldingInput,
    ReserveHoldingsPayload,
    ReservesMutation,
    ReservesQuery,
)
from schema.analytics.shares import CorridorPoint, CorridorStats, CurrencyShare, SharesQuery

__all__ = [
    "CorridorDollarCost",
    "CorridorPoint",
    "CorridorStats",
    "CurrencyShare",
    "DollarCostPair",
    "DollarCostQuery",
    "FxRoute",
    "ReserveChange",
    "ReserveComponent",
    "ReserveComposition",
    "ReserveHolding",
    "ReserveHoldingInput",
    "ReserveHoldingsPayload",
    "ReservesMutation",
    "ReservesQuery",
    "SharesQuery",
]
