"""Cards: schemes and their links, issuing, authorization of a payment, its lifecycle.

Rules: ../shared/DESIGN.md, "Cards". `from resolvers import cards` gives every name
below; each module imports only the ones above it:
- `schemes`: card schemes and their BIN ranges, a PAN's scheme by longest prefix,
  memberships (roles and status; `has_role`, `active_in`), links between schemes;
- `issuing`: PAN checks (shape, Luhn) and the PAN's keyed hash, issuing cards and
  their status, the masked PAN, merchants, and who sees a card or a merchant;
- `steps`: ISO 8583 response codes, `Decline`, the design's steps of an authorization
  (card, route, memberships, hold legs, what a refused hold means), the link fee, the
  scheme operator's FEE account;
- `authorization`: authorizing payments, several at once (group commit) each as if
  alone, through the steps; an authorization by its key;
- `lifecycle`: capture (several at once too), reversal and refunds (the refund's legs a pure function,
  `refund_legs`), and what a payment shows: its state, the fee due, who sees it and
  its card (`acquired_cards`: the cards a caller sees through payments it acquired),
  its holds and transfers;
- `orders`: authorizations and captures written together (the card group commit);
- `listing`: the lists of cards, merchants and authorizations, each row as visible
  as its node.
Amounts are minor units, and every rounding rule is `resolvers.money`'s; holds and
refunds post through the ledger's `post_legs`; what a capture or refund posts between
two institutions is an obligation in the settlement window of the scheme the payment
ran on (`resolvers.settlement.record_obligations`).
"""

from resolvers.cards.authorization import (
    AuthorizeOrder,
    AuthorizeRequest,
    authorization_by_key,
    authorize_payment,
    authorize_payments,
)
from resolvers.cards.issuing import (
    check_pan,
    create_merchant,
    issue_card,
    luhn_valid,
    masked_pan,
    may_see_card,
    may_see_merchant,
    pan_hash,
    pan_shaped,
    set_card_status,
)
from resolvers.cards.lifecycle import (
    CaptureOrder,
    RefundLegs,
    acquired_cards,
    authorization_state,
    capture_payment,
    capture_payments,
    fee_due,
    may_see_authorization,
    may_see_payment_card,
    payment_holds,
    payment_transfers,
    refund_legs,
    refund_payment,
    reverse_payment,
)
from resolvers.cards.listing import list_authorizations, list_cards, list_merchants
from resolvers.cards.orders import CardOrder, write_card_orders
from resolvers.cards.schemes import (
    BinRangeSpec,
    active_in,
    create_card_scheme,
    has_role,
    list_links,
    list_schemes,
    longest_prefix,
    scheme_by_code,
    scheme_for_pan,
    set_scheme_link,
    set_scheme_membership,
)
from resolvers.cards.steps import APPROVED, RESPONSE_CODES, Decline, fee_account_of, link_fee

__all__ = [
    "APPROVED",
    "RESPONSE_CODES",
    "AuthorizeOrder",
    "AuthorizeRequest",
    "BinRangeSpec",
    "CaptureOrder",
    "CardOrder",
    "Decline",
    "RefundLegs",
    "acquired_cards",
    "active_in",
    "authorization_by_key",
    "authorization_state",
    "authorize_payment",
    "authorize_payments",
    "capture_payment",
    "capture_payments",
    "check_pan",
    "create_card_scheme",
    "create_merchant",
    "fee_account_of",
    "fee_due",
    "has_role",
    "issue_card",
    "link_fee",
    "list_authorizations",
    "list_cards",
    "list_links",
    "list_merchants",
    "list_schemes",
    "longest_prefix",
    "luhn_valid",
    "masked_pan",
    "may_see_authorization",
    "may_see_card",
    "may_see_merchant",
    "may_see_payment_card",
    "pan_hash",
    "pan_shaped",
    "payment_holds",
    "payment_transfers",
    "refund_legs",
    "refund_payment",
    "reverse_payment",
    "scheme_by_code",
    "scheme_for_pan",
    "set_card_status",
    "set_scheme_link",
    "set_scheme_membership",
    "write_card_orders",
]
