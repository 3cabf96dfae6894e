"""The steps of a card payment's authorization (../shared/DESIGN.md, "Cards"), each
returning what it found or raising Decline: 1. the card and the amount, 2. the route,
3. the memberships, 4. the hold legs (funds, FX conversion, link fee) and the scheme
operator's FEE account; and what the ledger's refusal of the holds means (step 5).
`authorization` runs them for each request and writes the outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.cards import (
    Card,
    CardRoute,
    CardScheme,
    CardStatus,
    Merchant,
    ParticipationStatus,
    PaymentLeg,
    SchemeLink,
    SchemeMembership,
    SchemeRole,
)
from models.ledger import Account, AccountKind
from models.reference import Institution
from resolvers import fx, ledger
from resolvers.access import SYSTEM
from resolvers.cards.issuing import luhn_valid, pan_shaped
from resolvers.cards.schemes import REASON_MAX, active_in, has_role
from resolvers.errors import DomainError, ErrorCode
from resolvers.money import divide_half_even, parse_amount

# ISO 8583 response codes and what they say.
APPROVED = "00"
RESPONSE_CODES = {
    APPROVED: "Approved",
    "05": "Do not honor",
    "13": "Invalid amount",
    "14": "Invalid card number",
    "51": "Insufficient funds",
    "54": "Expired card",
    "57": "Transaction not permitted to cardholder",
    "58": "Transaction not permitted to terminal",
    "62": "Restricted card",
    "91": "Issuer or switch inoperative",
}
# A cross-currency hold converts along a path that avoids these (unless one is the
# card's or the merchant's own currency).
AVOIDED_ON_CARDS = ("USD",)
BPS = 10_000


class Decline(Exception):
    """An authorization's outcome other than approval: stored, not an error."""

    def __init__(self, code: str, reason: str) -> None:
        assert code in RESPONSE_CODES and code != APPROVED
        reason = reason if len(reason) <= REASON_MAX else reason[: REASON_MAX - 3] + "..."
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Route:
    """Step 2's finding: how the payment runs, from which of the card's schemes, at what link fee."""

    route: CardRoute
    card_scheme_id: int
    fee_bps: int = 0


@dataclass(frozen=True)
class HoldLegs:
    """Step 4's finding: the holds to place (each with its leg of the payment), what the
    cardholder pays in the card account's currency, and the link's fee in the merchant's."""

    legs: list[tuple[PaymentLeg, ledger.Leg]]
    cardholder_amount: int
    cardholder_currency: str
    fee: int


@dataclass
class Shared:
    """What the authorizations of one transaction (a card group commit's) read once: the
    scheme links by (the card's schemes, the accepting scheme), the scheme operators' FEE
    accounts by (operator, currency), and the FX market at the group's moment. Each
    request is decided on them as first read, as a request alone would be on its single
    read; the funds are checked again by the ledger when the holds are placed."""

    market: fx.Market
    links: dict[tuple[tuple[int, ...], int], list[SchemeLink]] = field(default_factory=dict)
    fee_accounts: dict[tuple[int, str], int] = field(default_factory=dict)


def link_fee(amount: int, fee_bps: int) -> int:
    """A link's fee on `amount` minor units, rounded half-even to minor units."""
    return divide_half_even(amount * fee_bps, BPS)


def find_card(pan: str, card: Card | None) -> Card:
    """Step 1, the card: the one found by this PAN's hash, or decline 14 (not a PAN, or no card's)."""
    if not pan_shaped(pan) or not luhn_valid(pan):
        raise Decline("14", "The card number is not valid.")
    if card is None:
        raise Decline("14", "No card has this number.")
    return card


def amount_minor(amount: Decimal, currency: str, units: dict[str, int]) -> int:
    """Step 1, the request: the amount in minor units, or decline 13 for one the currency cannot hold."""
    try:
        return parse_amount(amount, currency, units[currency])
    except DomainError as error:
        raise Decline("13", error.message) from None


def check_card(card: Card, expiry: tuple[int, int], now: dt.datetime) -> None:
    """Step 1, the card's state: decline 54 for a wrong or past expiry date (year, month),
    62 for a blocked card."""
    if expiry != (card.expiry_year, card.expiry_month):
        raise Decline("54", "The expiry date does not match the card's.")
    if (card.expiry_year, card.expiry_month) < (now.year, now.month):
        raise Decline("54", "The card has expired.")
    if card.status is CardStatus.BLOCKED:
        raise Decline("62", "The card is blocked.")


async def _links(session: AsyncSession, card_schemes: list[int], accepting: CardScheme, shared: Shared) -> list:
    """The scheme links from the card's schemes to the accepting scheme (read once per group)."""
    key = (tuple(card_schemes), accepting.id)
    if key not in shared.links:
        statement = select(SchemeLink).where(
            SchemeLink.card_scheme_id.in_(card_schemes), SchemeLink.accepting_scheme_id == accepting.id
        )
        shared.links[key] = list((await session.exec(statement)).all())
    return shared.links[key]


async def route_of(session: AsyncSession, card: Card, accepting: CardScheme, shared: Shared) -> Route:
    """Step 2: DOMESTIC when the merchant's scheme is one of the card's, else INTERSCHEME
    over an ACTIVE link to it; decline 58 when none leads there."""
    card_schemes = [card.scheme_id] + ([card.co_badge_scheme_id] if card.co_badge_scheme_id else [])
    if accepting.id in card_schemes:
        return Route(CardRoute.DOMESTIC, accepting.id)
    links = await _links(session, card_schemes, accepting, shared)
    active = [link for link in links if link.status is ParticipationStatus.ACTIVE]
    if not active:
        word = "suspended" if links else "no"
        raise Decline("58", f"The card's schemes have {word} link to {accepting.code}.")
    # A co-badged card routes around a scheme that suspended its issuer: a link from a
    # scheme where the issuer is an ACTIVE ISSUER first, then the primary scheme's.
    issuing = set()
    if len(active) > 1:
        memberships = await session.exec(
            select(SchemeMembership).where(
                SchemeMembership.institution_id == card.issuer_id,
                SchemeMembership.scheme_id.in_([link.card_scheme_id for link in active]),
            )
        )
        issuing = {m.scheme_id for m in memberships if active_in(m, SchemeRole.ISSUER)}
    active.sort(key=lambda link: (link.card_scheme_id not in issuing, card_schemes.index(link.card_scheme_id)))
    return Route(CardRoute.INTERSCHEME, active[0].card_scheme_id, active[0].fee_bps)


async def check_memberships(
    session: AsyncSession, card: Card, route: Route, accepting: CardScheme, merchant: Merchant
) -> None:
    """Step 3: the issuer an ACTIVE ISSUER of the card's scheme used (else decline 62), the
    acquirer an ACTIVE ACQUIRER of the accepting scheme (else 91)."""
    issuer = await session.get(SchemeMembership, (route.card_scheme_id, card.issuer_id))
    if not has_role(issuer, SchemeRole.ISSUER):
        raise Decline("62", "The issuer is not an issuer of the card's scheme.")
    if issuer.status is not ParticipationStatus.ACTIVE:
        raise Decline(
            "62", f"The issuer's membership of the card's scheme is suspended ({issuer.reason or 'no reason given'})."
        )
    acquirer = await session.get(SchemeMembership, (accepting.id, merchant.acquirer_id))
    if not active_in(acquirer, SchemeRole.ACQUIRER):
        raise Decline("91", f"The acquirer is not an active acquirer on {accepting.code}.")


async def _conversion(
    session: AsyncSession, card_account: Account, currency: str, minor: int, market: fx.Market, spent: Mapping[int, int]
) -> fx.Conversion:
    """Step 4, FX: the conversion that buys `minor` of the merchant's currency with the card
    account's, avoiding USD; decline 57 (no path), 05 (no liquidity) or 13 (the amount)."""
    sell = card_account.currency_code
    avoid = [code for code in AVOIDED_ON_CARDS if code not in (sell, currency)]
    try:
        return await fx.price_conversion(
            session,
            sell=sell,
            buy=currency,
            sell_minor=None,
            buy_minor=minor,
            avoid=avoid,
            now=market.now,
            field="amount",
            spent=spent,
            market=market,
        )
    except DomainError as error:
        if error.code is ErrorCode.NO_RATE:
            raise Decline("57", f"No conversion from {sell} to {currency} avoiding {avoid or 'nothing'}.") from None
        if error.code is ErrorCode.INSUFFICIENT_LIQUIDITY:
            raise Decline("05", "No FX provider has the liquidity to convert the amount.") from None
        if error.code is ErrorCode.INVALID_INPUT:  # a leg rounds to zero, or the amount is too large
            raise Decline("13", error.message) from None
        raise


async def hold_legs(
    session: AsyncSession,
    card_account: Account,
    merchant_account: Account,
    accepting: CardScheme,
    minor: int,
    fee_bps: int,
    shared: Shared,
    spent: Mapping[int, int] | None = None,
) -> HoldLegs:
    """Step 4: the holds that move `minor` from the card's account (converted when its
    currency differs: priced on the group's FX market less what `spent` says holds not
    yet placed take) to the merchant, less the link's fee to the scheme operator's FEE
    account."""
    currency = merchant_account.currency_code
    legs: list[tuple[PaymentLeg, ledger.Leg]] = []
    if card_account.currency_code == currency:
        payer, cardholder_amount = card_account.id, minor
    else:
        conversion = await _conversion(session, card_account, currency, minor, shared.market, spent or {})
        cardholder_amount = conversion.sell_amount
        steps = [ledger.Leg(*step) for step in conversion.legs(card_account.id, merchant_account.id)]
        legs.append((PaymentLeg.CARDHOLDER, steps[0]))
        legs.extend((PaymentLeg.FX, step) for step in steps[1:-1])
        payer = steps[-1].debit_account_id
    fee = link_fee(minor, fee_bps)
    if minor - fee > 0:
        legs.append((PaymentLeg.MERCHANT, ledger.Leg(payer, merchant_account.id, minor - fee, currency)))
    if fee > 0:
        key = (accepting.operator_id, currency)
        if key not in shared.fee_accounts:
            shared.fee_accounts[key] = await fee_account_of(session, accepting.operator_id, currency)
        fee_account = shared.fee_accounts[key]
        legs.append((PaymentLeg.FEE, ledger.Leg(payer, fee_account, fee, currency)))
    return HoldLegs(legs, cardholder_amount, card_account.currency_code, fee)


def refusal_decline(refused: ledger.LegRefused, hold: HoldLegs, card: Card) -> Decline:
    """Step 5: the decline that the ledger's refusal of the holds means (51 for the card's
    own funds)."""
    if refused.code is ErrorCode.INSUFFICIENT_FUNDS:
        if hold.legs[refused.index][1].debit_account_id == card.account_id:
            return Decline("51", "The card's account has too little available.")
        return Decline("05", "An FX provider's position can no longer pay the conversion.")
    if refused.code is ErrorCode.SAME_ACCOUNT:
        return Decline("05", "The card draws on the merchant's own account.")
    if refused.code is ErrorCode.INVALID_INPUT:  # an amount the accounts' totals cannot hold
        return Decline("13", refused.message)
    raise AssertionError(f"a card hold failed unexpectedly: {refused.code}: {refused.message}") from refused


async def fee_account_of(session: AsyncSession, operator_id: int, currency: str) -> int:
    """The scheme operator's FEE account in `currency`, opened on first use (once, even
    when two requests need it at the same time: the second waits on the operator's row)."""

    async def find() -> int | None:
        statement = (
            select(Account.id)
            .where(Account.owner_id == operator_id, Account.kind == AccountKind.FEE, Account.currency_code == currency)
            .order_by(Account.id)
        )
        return (await session.exec(statement)).first()

    found = await find()
    if found is not None:
        return found
    await session.exec(select(Institution.id).where(Institution.id == operator_id).with_for_update())
    found = await find()
    if found is not None:
        return found
    opened = await ledger.open_account(
        session, SYSTEM, owner_id=operator_id, name=f"{currency} scheme fees", currency=currency, kind=AccountKind.FEE
    )
    return opened.id
