"""GraphQL types of the card schemes, in the stages of a card's life:

- `schemes`: schemes and their BIN ranges, memberships (with suspensions), links;
- `issuing`: cards (masked: the full number is never stored) and merchants;
- `payments`: authorizations, capture, reversal, refunds.
"""

from schema.cards.issuing import Card, CardIssuingMutation, CardIssuingQuery, Merchant
from schema.cards.payments import Authorization, CardPaymentMutation, CardPaymentQuery
from schema.cards.schemes import (
    CardScheme,
    CardsMutation,
    CardsQuery,
    SchemeLink,
    SchemeMembership,
    institution_memberships,
)

__all__ = [
    "Authorization",
    "Card",
    "CardIssuingMutation",
    "CardIssuingQuery",
    "CardPaymentMutation",
    "CardPaymentQuery",
    "CardScheme",
    "CardsMutation",
    "CardsQuery",
    "Merchant",
    "SchemeLink",
    "SchemeMembership",
    "institution_memberships",
]
