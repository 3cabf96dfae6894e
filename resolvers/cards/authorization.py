"""Authorization of a card payment at a merchant: the request and its idempotency key,
then the five steps of ../shared/DESIGN.md, "Cards": 1. the card and the request,
2. the route, 3. the memberships, 4. the hold legs (funds, FX conversion, link fee),
5. approval (the holds placed). Each step returns what it found or raises Decline;
`authorize_payment` alone writes the row, after each step (a decline keeps what the
steps before it found).
"""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.cards import (
    AuthorizationState,
    Card,
    CardAuthorization,
    CardPaymentTransfer,
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
from resolvers import fx, ledger, reference
from resolvers.access import SYSTEM, Action, Principal, require
from resolvers.cards.issuing import luhn_valid, may_see_merchant, pan_hash, pan_shaped
from resolvers.cards.schemes import REASON_MAX, active_in, has_role
from resolvers.errors import DomainError, ErrorCode, invalid, not_found
from resolvers.events import Change, Kind, changed
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
AMOUNT_TEXT_MAX = 40
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
class AuthorizeRequest:
    """An authorization request as the acquirer sent it (the PAN in clear, never stored)."""

    authorization_id: uuid.UUID
    merchant_id: int
    pan: str
    expiry_month: int
    expiry_year: int
    amount: Decimal
    currency: str


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


def link_fee(amount: int, fee_bps: int) -> int:
    """A link's fee on `amount` minor units, rounded half-even to minor units."""
    return divide_half_even(amount * fee_bps, BPS)


async def authorization_by_key(session: AsyncSession, authorization_id: uuid.UUID) -> CardAuthorization | None:
    """The authorization with this idempotency key (authorizationId), or None."""
    statement = select(CardAuthorization).where(CardAuthorization.authorization_id == authorization_id)
    return (await session.exec(statement)).one_or_none()


# ---------------------------------------------------------------- the request


async def _checked_request(
    session: AsyncSession, principal: Principal, request: AuthorizeRequest
) -> tuple[Merchant, Account, str, dict[str, int], str]:
    """The merchant, its account, the currency, the currencies' minor units and the amount
    as text, or the error for a request that cannot be an authorization at all."""
    merchant = await session.get(Merchant, request.merchant_id)
    if merchant is None or not may_see_merchant(principal, merchant):
        raise not_found("No such merchant.", "merchantId")
    currency = request.currency.strip().upper()
    units = await reference.minor_units(session)
    if currency not in units:
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {currency!r}.", ["currency"])
    merchant_account = await session.get(Account, merchant.account_id)
    if currency != merchant_account.currency_code:
        raise DomainError(
            ErrorCode.CURRENCY_MISMATCH,
            f"The merchant takes payments in {merchant_account.currency_code}.",
            ["currency"],
        )
    amount_text = str(request.amount)
    if len(amount_text) > AMOUNT_TEXT_MAX:
        raise invalid(f"An amount is at most {AMOUNT_TEXT_MAX} characters.", "amount")
    if not 1 <= request.expiry_month <= 12:
        raise invalid("expiryMonth is 1 to 12.", "expiryMonth")
    if not 1000 <= request.expiry_year <= 9999:
        raise invalid("expiryYear has four digits.", "expiryYear")
    return merchant, merchant_account, currency, units, amount_text


def _same_request(row: CardAuthorization, request: AuthorizeRequest, digest: str, amount_text: str) -> bool:
    """Whether a stored authorization is this request again (a replay), not another reusing its key."""
    if amount_text != row.requested_amount:
        try:
            same_amount = Decimal(row.requested_amount) == request.amount
        except ArithmeticError:  # NaN and the like compare only as text
            same_amount = False
        if not same_amount:
            return False
    return (
        row.merchant_id == request.merchant_id
        and hmac.compare_digest(row.pan_hash, digest)
        and (row.expiry_month, row.expiry_year) == (request.expiry_month, request.expiry_year)
        and row.currency_code == request.currency.strip().upper()
    )


async def _replayed(
    session: AsyncSession, request: AuthorizeRequest, digest: str, amount_text: str
) -> CardAuthorization | None:
    """The stored outcome when the key was used by this same request, None for a new key;
    IDEMPOTENCY_CONFLICT for a key used by a different request."""
    existing = await authorization_by_key(session, request.authorization_id)
    if existing is not None and not _same_request(existing, request, digest, amount_text):
        raise DomainError(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            "An authorization with this authorizationId exists with different fields.",
            ["authorizationId"],
        )
    return existing


# ---------------------------------------------------------------- the steps


async def _card(session: AsyncSession, pan: str, digest: str) -> Card:
    """Step 1, the card: the one with this PAN, or decline 14 (not a PAN, or no card's)."""
    if not pan_shaped(pan) or not luhn_valid(pan):
        raise Decline("14", "The card number is not valid.")
    card = (await session.exec(select(Card).where(Card.pan_hash == digest))).one_or_none()
    if card is None:
        raise Decline("14", "No card has this number.")
    return card


def _amount(amount: Decimal, currency: str, units: dict[str, int]) -> int:
    """Step 1, the request: the amount in minor units, or decline 13 for one the currency cannot hold."""
    try:
        return parse_amount(amount, currency, units[currency])
    except DomainError as error:
        raise Decline("13", error.message) from None


def _check_card(card: Card, request: AuthorizeRequest, now: dt.datetime) -> None:
    """Step 1, the card's state: decline 54 for a wrong or past expiry date, 62 for a blocked card."""
    if (request.expiry_year, request.expiry_month) != (card.expiry_year, card.expiry_month):
        raise Decline("54", "The expiry date does not match the card's.")
    if (card.expiry_year, card.expiry_month) < (now.year, now.month):
        raise Decline("54", "The card has expired.")
    if card.status is CardStatus.BLOCKED:
        raise Decline("62", "The card is blocked.")


async def _route(session: AsyncSession, card: Card, accepting: CardScheme) -> Route:
    """Step 2: DOMESTIC when the merchant's scheme is one of the card's, else INTERSCHEME
    over an ACTIVE link to it; decline 58 when none leads there."""
    card_schemes = [card.scheme_id] + ([card.co_badge_scheme_id] if card.co_badge_scheme_id else [])
    if accepting.id in card_schemes:
        return Route(CardRoute.DOMESTIC, accepting.id)
    statement = select(SchemeLink).where(
        SchemeLink.card_scheme_id.in_(card_schemes), SchemeLink.accepting_scheme_id == accepting.id
    )
    links = (await session.exec(statement)).all()
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


async def _check_memberships(
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
    session: AsyncSession, card_account: Account, currency: str, minor: int, now: dt.datetime
) -> fx.Conversion:
    """Step 4, FX: the conversion that buys `minor` of the merchant's currency with the card
    account's, avoiding USD; decline 57 (no path), 05 (no liquidity) or 13 (the amount)."""
    sell = card_account.currency_code
    avoid = [code for code in AVOIDED_ON_CARDS if code not in (sell, currency)]
    try:
        return await fx.price_conversion(
            session, sell=sell, buy=currency, sell_minor=None, buy_minor=minor, avoid=avoid, now=now, field="amount"
        )
    except DomainError as error:
        if error.code is ErrorCode.NO_RATE:
            raise Decline("57", f"No conversion from {sell} to {currency} avoiding {avoid or 'nothing'}.") from None
        if error.code is ErrorCode.INSUFFICIENT_LIQUIDITY:
            raise Decline("05", "No FX provider has the liquidity to convert the amount.") from None
        if error.code is ErrorCode.INVALID_INPUT:  # a leg rounds to zero, or the amount is too large
            raise Decline("13", error.message) from None
        raise


async def _hold_legs(
    session: AsyncSession,
    card: Card,
    merchant_account: Account,
    accepting: CardScheme,
    minor: int,
    fee_bps: int,
    now: dt.datetime,
) -> HoldLegs:
    """Step 4: the holds that move `minor` from the card's account (converted when its
    currency differs) to the merchant, less the link's fee to the scheme operator's FEE account."""
    card_account = await session.get(Account, card.account_id)
    currency = merchant_account.currency_code
    legs: list[tuple[PaymentLeg, ledger.Leg]] = []
    if card_account.currency_code == currency:
        payer, cardholder_amount = card_account.id, minor
    else:
        conversion = await _conversion(session, card_account, currency, minor, now)
        cardholder_amount = conversion.sell_amount
        steps = [ledger.Leg(*step) for step in conversion.legs(card_account.id, merchant_account.id)]
        legs.append((PaymentLeg.CARDHOLDER, steps[0]))
        legs.extend((PaymentLeg.FX, step) for step in steps[1:-1])
        payer = steps[-1].debit_account_id
    fee = link_fee(minor, fee_bps)
    if minor - fee > 0:
        legs.append((PaymentLeg.MERCHANT, ledger.Leg(payer, merchant_account.id, minor - fee, currency)))
    if fee > 0:
        fee_account = await fee_account_of(session, accepting.operator_id, currency)
        legs.append((PaymentLeg.FEE, ledger.Leg(payer, fee_account, fee, currency)))
    return HoldLegs(legs, cardholder_amount, card_account.currency_code, fee)


async def _place_holds(
    session: AsyncSession,
    hold: HoldLegs,
    card: Card,
    authorization_id: uuid.UUID,
    hold_seconds: int,
    now: dt.datetime,
) -> list[tuple[PaymentLeg, object]]:
    """Step 5: place the holds as pending transfers, all or none; the (leg, transfer) pairs,
    or the decline that the ledger's refusal means (51 for the card's own funds)."""
    legs = [leg for _, leg in hold.legs]
    try:
        transfers = await ledger.post_legs(
            session,
            legs,
            pending=True,
            timeout_seconds=hold_seconds,
            reference=f"card authorization {authorization_id}",
            now=now,
        )
    except ledger.LegRefused as refused:
        if refused.code is ErrorCode.INSUFFICIENT_FUNDS:
            if legs[refused.index].debit_account_id == card.account_id:
                raise Decline("51", "The card's account has too little available.") from None
            raise Decline("05", "An FX provider's position can no longer pay the conversion.") from None
        if refused.code is ErrorCode.SAME_ACCOUNT:
            raise Decline("05", "The card draws on the merchant's own account.") from None
        if refused.code is ErrorCode.INVALID_INPUT:  # an amount the accounts' totals cannot hold
            raise Decline("13", refused.message) from None
        raise AssertionError(f"a card hold failed unexpectedly: {refused.code}: {refused.message}") from refused
    return [(kind, transfer) for (kind, _), transfer in zip(hold.legs, transfers, strict=True)]


# ---------------------------------------------------------------- authorizing


async def authorize_payment(
    session: AsyncSession,
    principal: Principal,
    request: AuthorizeRequest,
    *,
    secret: str,
    hold_seconds: int,
    now: dt.datetime,
) -> CardAuthorization:
    """Authorize a card payment at a merchant (DESIGN.md, "Cards", five steps) and store
    the outcome, approved or declined. Requests that cannot be an authorization at all
    (unknown merchant, a currency other than the merchant's) are errors and store
    nothing. `authorization_id` is the idempotency key: the same request again returns
    the stored outcome, a different one with the same key is IDEMPOTENCY_CONFLICT."""
    require(principal, Action.WRITE_OWN)
    merchant, merchant_account, currency, units, amount_text = await _checked_request(session, principal, request)
    pan = request.pan.replace(" ", "")
    digest = pan_hash(pan, secret)
    existing = await _replayed(session, request, digest, amount_text)
    if existing is not None:
        return existing
    # Claim the key first: a concurrent request with the same key waits here (PostgreSQL's
    # unique index) until this one commits, then fails, is retried and answers as a replay.
    row = CardAuthorization(
        authorization_id=request.authorization_id,
        merchant_id=merchant.id,
        acquirer_id=merchant.acquirer_id,
        pan_hash=digest,
        expiry_month=request.expiry_month,
        expiry_year=request.expiry_year,
        requested_amount=amount_text,
        currency_code=currency,
        response_code="05",
        state=AuthorizationState.DECLINED,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    try:
        # Each step's finding goes on the row at once (a decline stores what was found
        # before it); the row is written once more at the end, not after each step.
        with session.no_autoflush:
            card = await _card(session, pan, digest)  # 1. the card and the request
            row.card_id, row.issuer_id = card.id, card.issuer_id
            row.amount = _amount(request.amount, currency, units)
            _check_card(card, request, now)
            accepting = await session.get(CardScheme, merchant.accepting_scheme_id)  # 2. the route
            row.scheme_id = accepting.id
            route = await _route(session, card, accepting)
            row.route, row.card_scheme_id, row.fee_bps = route.route, route.card_scheme_id, route.fee_bps
            await _check_memberships(session, card, route, accepting, merchant)  # 3. the memberships
            hold = await _hold_legs(session, card, merchant_account, accepting, row.amount, route.fee_bps, now)  # 4.
            row.cardholder_amount, row.cardholder_currency = hold.cardholder_amount, hold.cardholder_currency
            row.fee_amount = hold.fee
            holds = await _place_holds(session, hold, card, row.authorization_id, hold_seconds, now)  # 5.
    except Decline as decline:
        row.response_code, row.decline_reason, row.state = decline.code, decline.reason, AuthorizationState.DECLINED
    else:
        row.response_code, row.state = APPROVED, AuthorizationState.APPROVED
        row.expires_at = now + dt.timedelta(seconds=hold_seconds)
        session.add_all(
            CardPaymentTransfer(authorization_id=row.id, position=k, transfer_id=transfer.id, leg=leg)
            for k, (leg, transfer) in enumerate(holds)
        )
    await session.flush()
    noted(session, row)
    return row


def noted(session: AsyncSession, row: CardAuthorization) -> None:
    """The authorization's new state, for the live updates once the transaction commits."""
    parties = tuple(party for party in (row.acquirer_id, row.issuer_id) if party is not None)
    changed(session, Change(Kind.AUTHORIZATION, row.id, row.state.value, row.merchant_id, parties))


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
