"""GraphQL types of interbank messaging:

- `networks`: payment networks, their memberships (with suspensions), routes;
- `payments`: interbank payments, their status events, sending, the tracker, and
  ISO 20022 documents in and out.
"""

from schema.messaging.networks import (
    NetworkMembership,
    NetworkMutation,
    NetworkQuery,
    PaymentNetwork,
    institution_network_memberships,
)
from schema.messaging.payments import InterbankPayment, PaymentMutation, PaymentQuery

__all__ = [
    "InterbankPayment",
    "NetworkMembership",
    "NetworkMutation",
    "NetworkQuery",
    "PaymentMutation",
    "PaymentNetwork",
    "PaymentQuery",
    "institution_network_memberships",
]
