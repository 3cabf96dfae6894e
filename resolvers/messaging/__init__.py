"""Interbank messaging: payment networks, routing, sending and tracking payments, and
their ISO 20022 messages.

Rules: ../shared/DESIGN.md, "Interbank payments". `from resolvers import messaging`
gives every name below; each module imports only the ones above it:
- `networks`: networks (code, operator, country, settlement currencies and mode),
  `network_by_code`, memberships (ACTIVE or SUSPENDED with a reason);
- `routing`: `judge` (can a network carry a payment, and why not, with the ISO reason
  code), the routing order and the choice (`NetworkMap`), `payment_routes`;
- `posting`: a received payment (`Received`; `move`, the one way a payment changes
  status), its legs (customer legs, FX conversion, the RTGS interbank leg) posted
  through the ledger's `post_leg_groups`, `Rejection`, and storing it with its events,
  transfer links and DEFERRED_NET obligation;
- `sending`: `send_payments` (`PaymentOrder`s): the requests and their UETRs, the
  checks in the design's order, routing, then posting, several requests at once;
- `tracking`: who sees a payment, the list of payments, a payment's transfers;
- `xml`, `pacs008`, `pacs009`, `pacs002`: safe XML parsing with element paths, and the
  ISO 20022 documents read and written (pure: no database);
- `iso20022`: a pacs.008 document submitted as payments, and a payment rendered as
  pacs.008 and pacs.002.
Amounts are minor units, and every rounding rule is `resolvers.money`'s.
"""

from resolvers.messaging.iso20022 import Parties, Submitted, render_payment, render_status, submit_document
from resolvers.messaging.networks import (
    Network,
    create_payment_network,
    list_networks,
    network_by_code,
    network_currencies,
    set_network_membership,
)
from resolvers.messaging.posting import ISO_STATUS, Rejection
from resolvers.messaging.routing import NetworkMap, RouteOption, judge, network_map, payment_routes
from resolvers.messaging.sending import PaymentOrder, PaymentRequest, payment_by_uetr, send_payments
from resolvers.messaging.tracking import list_payments, may_see_payment, payment_transfers

__all__ = [
    "ISO_STATUS",
    "Network",
    "NetworkMap",
    "Parties",
    "PaymentOrder",
    "PaymentRequest",
    "Rejection",
    "RouteOption",
    "Submitted",
    "create_payment_network",
    "judge",
    "list_networks",
    "list_payments",
    "may_see_payment",
    "network_by_code",
    "network_currencies",
    "network_map",
    "payment_by_uetr",
    "payment_routes",
    "payment_transfers",
    "render_payment",
    "render_status",
    "send_payments",
    "set_network_membership",
    "submit_document",
]
