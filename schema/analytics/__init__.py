"""GraphQL types of analytics: reserve holdings (`reserves`)."""

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

__all__ = [
    "ReserveChange",
    "ReserveComponent",
    "ReserveComposition",
    "ReserveHolding",
    "ReserveHoldingInput",
    "ReserveHoldingsPayload",
    "ReservesMutation",
    "ReservesQuery",
]
