"""Card schemes: BIN ranges, memberships, links between schemes; a PAN's scheme.

A PAN is matched against the schemes' BIN ranges by longest prefix: ranges overlap
(UnionPay's 62 and 81, Elo inside Visa's 4), and the longest range that holds the
PAN's first digits names its scheme.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.money import AmountError, from_minor, to_minor
from models.base import utcnow
from models.cards import (
    AuthorizationState,
    BinRange,
    Card,
    CardAuthorization,
    CardPaymentTransfer,
    CardRefund,
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
from models.reference import Country, Institution, InstitutionKind
from resolvers import fx, ledger, reference
from resolvers.access import SYSTEM, Action, Principal, may_act_for, require, visible_institution
from resolvers.errors import DomainError, ErrorCode, invalid, not_found
from resolvers.pagination import grouped_in_key_order, in_key_order

SCHEME_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,19}$")
BIN_MAX = 11
FEE_MAX_BPS = 10_000
REASON_MAX = 200


@dataclass(frozen=True)
class BinRangeSpec:
    low: str
    high: str


async def create_card_scheme(
    session: AsyncSession,
    principal: Principal,
    *,
    code: str,
    name: str,
    country_code: str,
    settlement_currency: str,
    operator_id: int,
    bin_ranges: Sequence[BinRangeSpec],
) -> CardScheme:
    require(principal, Action.OPERATE)
    code, name = code.strip().upper(), name.strip()
    if not SCHEME_CODE.match(code):
        raise invalid("A scheme code is 2 to 20 capital letters, digits or _, starting with a letter.", "code")
    if not name or len(name) > 100:
        raise invalid("name must be 1 to 100 characters.", "name")
    country_code, settlement_currency = country_code.strip().upper(), settlement_currency.strip().upper()
    if await session.get(Country, country_code) is None:
        raise not_found(f"No country with code {country_code!r}.", "countryCode")
    if settlement_currency not in await reference.minor_units(session):
        raise DomainError(
            ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {settlement_currency!r}.", ["settlementCurrency"]
        )
    operator = await session.get(Institution, operator_id)
    if operator is None:
        raise not_found("No such institution.", "operatorId")
    if operator.kind is not InstitutionKind.SCHEME_OPERATOR:
        raise invalid("A scheme's operator is a SCHEME_OPERATOR institution.", "operatorId")
    if not bin_ranges:
        raise invalid("A scheme needs at least one BIN range.", "binRanges")
    for index, bin_range in enumerate(bin_ranges):
        low, high = bin_range.low.strip(), bin_range.high.strip()
        for name_, value in (("low", low), ("high", high)):
            if not value.isdigit() or not 1 <= len(value) <= BIN_MAX or not value.isascii():
                raise invalid(f"A BIN bound is 1 to {BIN_MAX} digits.", "binRanges", str(index), name_)
        if len(low) != len(high):
            raise invalid("Both bounds of a BIN range have the same length.", "binRanges", str(index), "high")
        if low > high:
            raise invalid("low must not exceed high.", "binRanges", str(index), "high")
    if (await session.exec(select(CardScheme.id).where(CardScheme.code == code))).first() is not None:
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"A scheme {code} exists.", ["code"])
    scheme = CardScheme(
        code=code,
        name=name,
        operator_id=operator_id,
        country_code=country_code,
        settlement_currency=settlement_currency,
    )
    session.add(scheme)
    await session.flush()
    session.add_all(BinRange(scheme_id=scheme.id, low=r.low.strip(), high=r.high.strip()) for r in bin_ranges)
    await session.flush()
    return scheme


async def scheme_by_code(session: AsyncSession, code: str, *field: str) -> CardScheme:
    scheme = (await session.exec(select(CardScheme).where(CardScheme.code == code.strip().upper()))).one_or_none()
    if scheme is None:
        raise not_found(f"No card scheme {code!r}.", *field)
    return scheme


async def set_scheme_membership(
    session: AsyncSession,
    principal: Principal,
    *,
    scheme_code: str,
    institution_id: int,
    roles: Sequence[SchemeRole],
    status: ParticipationStatus,
    reason: str | None,
) -> SchemeMembership:
    """Create or replace an institution's membership of a scheme (roles, status, reason)."""
    require(principal, Action.OPERATE)
    scheme = await scheme_by_code(session, scheme_code, "schemeCode")
    if await session.get(Institution, institution_id) is None:
        raise not_found("No such institution.", "institutionId")
    if not roles or len(set(roles)) != len(roles):
        raise invalid("Give each role once, at least one.", "roles")
    reason = reason.strip() if reason else None
    if reason is not None and len(reason) > REASON_MAX:
        raise invalid(f"reason must be at most {REASON_MAX} characters.", "reason")
    membership = await session.get(SchemeMembership, (scheme.id, institution_id))
    ordered = ",".join(role.value for role in SchemeRole if role in roles)
    if membership is None:
        membership = SchemeMembership(scheme_id=scheme.id, institution_id=institution_id, roles=ordered, status=status)
        session.add(membership)
    membership.roles, membership.status, membership.reason, membership.updated_at = ordered, status, reason, utcnow()
    await session.flush()
    return membership


async def set_scheme_link(
    session: AsyncSession,
    principal: Principal,
    *,
    card_scheme_code: str,
    accepting_scheme_code: str,
    status: ParticipationStatus,
    fee_bps: int,
) -> SchemeLink:
    """Create or replace the link by which one scheme's cards are accepted on another."""
    require(principal, Action.OPERATE)
    card_scheme = await scheme_by_code(session, card_scheme_code, "cardSchemeCode")
    accepting = await scheme_by_code(session, accepting_scheme_code, "acceptingSchemeCode")
    if card_scheme.id == accepting.id:
        raise invalid("A scheme accepts its own cards without a link.", "acceptingSchemeCode")
    if not 0 <= fee_bps <= FEE_MAX_BPS:
        raise invalid(f"feeBps must be between 0 and {FEE_MAX_BPS}.", "feeBps")
    link = (
        await session.exec(
            select(SchemeLink).where(
                SchemeLink.card_scheme_id == card_scheme.id, SchemeLink.accepting_scheme_id == accepting.id
            )
        )
    ).one_or_none()
    if link is None:
        link = SchemeLink(card_scheme_id=card_scheme.id, accepting_scheme_id=accepting.id, status=status, fee_bps=0)
        session.add(link)
    link.status, link.fee_bps = status, fee_bps
    await session.flush()
    return link


async def list_schemes(session: AsyncSession) -> list[CardScheme]:
    return list(await session.exec(select(CardScheme).order_by(CardScheme.code)))


async def list_links(session: AsyncSession) -> list[SchemeLink]:
    return list(await session.exec(select(SchemeLink).order_by(SchemeLink.id)))


async def schemes_by_id(session: AsyncSession, ids: Sequence[int]) -> list[CardScheme | None]:
    rows = await session.exec(select(CardScheme).where(CardScheme.id.in_(set(ids))))
    return in_key_order(rows, ids, lambda row: row.id)


async def links_by_id(session: AsyncSession, ids: Sequence[int]) -> list[SchemeLink | None]:
    rows = await session.exec(select(SchemeLink).where(SchemeLink.id.in_(set(ids))))
    return in_key_order(rows, ids, lambda row: row.id)


async def ranges_by_scheme(session: AsyncSession, ids: Sequence[int]) -> list[list[BinRange]]:
    rows = await session.exec(
        select(BinRange).where(BinRange.scheme_id.in_(set(ids))).order_by(BinRange.scheme_id, BinRange.id)
    )
    return grouped_in_key_order(rows, ids, lambda row: row.scheme_id)


async def memberships_by_institution(session: AsyncSession, ids: Sequence[int]) -> list[list[SchemeMembership]]:
    rows = await session.exec(
        select(SchemeMembership)
        .where(SchemeMembership.institution_id.in_(set(ids)))
        .order_by(SchemeMembership.institution_id, SchemeMembership.scheme_id)
    )
    return grouped_in_key_order(rows, ids, lambda row: row.institution_id)


def longest_prefix(pan: str, ranges: Sequence[BinRange]) -> BinRange | None:
    """The longest BIN range holding the PAN's first digits (ranges overlap)."""
    best: BinRange | None = None
    for bin_range in ranges:
        length = len(bin_range.low)
        if len(pan) >= length and bin_range.low <= pan[:length] <= bin_range.high:
            if best is None or length > len(best.low):
                best = bin_range
    return best


async def scheme_for_pan(session: AsyncSession, pan: str) -> CardScheme | None:
    """The scheme whose longest BIN range holds the PAN, or None."""
    best = longest_prefix(pan, list(await session.exec(select(BinRange))))
    return await session.get(CardScheme, best.scheme_id) if best is not None else None


# ---------------------------------------------------------------- cards and merchants

PAN_LENGTHS = range(13, 20)


def luhn_valid(pan: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(pan)):
        value = int(digit)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def pan_hash(pan: str, secret: str) -> str:
    """The keyed hash under which a PAN is stored and found (HMAC-SHA-256)."""
    return hmac.new(secret.encode(), pan.encode(), hashlib.sha256).hexdigest()


def pan_shaped(pan: str) -> bool:
    """13 to 19 ASCII digits (the Luhn check aside)."""
    return pan.isascii() and pan.isdigit() and len(pan) in PAN_LENGTHS


def check_pan(pan: str) -> str:
    """The PAN's digits, or INVALID_INPUT. No message ever repeats the PAN."""
    pan = pan.replace(" ", "")
    if not pan_shaped(pan):
        raise invalid("A card number is 13 to 19 digits.", "pan")
    if not luhn_valid(pan):
        raise invalid("The card number fails the Luhn check.", "pan")
    return pan


def has_role(membership: SchemeMembership | None, role: SchemeRole) -> bool:
    """Whether the membership gives `role` (whatever its status)."""
    return membership is not None and role.value in membership.roles.split(",")


def active_in(membership: SchemeMembership | None, role: SchemeRole) -> bool:
    """Whether the membership gives `role` and is ACTIVE."""
    return has_role(membership, role) and membership.status is ParticipationStatus.ACTIVE


async def _require_member(
    session: AsyncSession, scheme: CardScheme, institution_id: int, role: SchemeRole, field: str
) -> None:
    membership = await session.get(SchemeMembership, (scheme.id, institution_id))
    if not has_role(membership, role):
        raise DomainError(ErrorCode.NOT_A_MEMBER, f"The institution is not a {role.value} of {scheme.code}.", [field])
    if membership.status is not ParticipationStatus.ACTIVE:
        raise DomainError(
            ErrorCode.PARTICIPANT_SUSPENDED,
            f"The institution's {scheme.code} membership is suspended ({membership.reason or 'no reason given'}).",
            [field],
        )


async def issue_card(
    session: AsyncSession,
    principal: Principal,
    *,
    pan: str,
    expiry_month: int,
    expiry_year: int,
    account_id: int,
    co_badge_scheme_code: str | None,
    secret: str,
    now: dt.datetime,
) -> Card:
    """A card on a CUSTOMER account, issued by the account's institution, which must be an
    ACTIVE ISSUER of the card's scheme (and of the co-badge scheme)."""
    require(principal, Action.WRITE_OWN)
    pan = check_pan(pan)
    if not 1 <= expiry_month <= 12:
        raise invalid("expiryMonth is 1 to 12.", "expiryMonth")
    if not now.year <= expiry_year <= now.year + 30 or (expiry_year, expiry_month) < (now.year, now.month):
        raise invalid("The expiry date is in the past or too far ahead.", "expiryYear")
    account = await session.get(Account, account_id)
    if account is None:
        raise not_found("No such account.", "accountId")
    if not may_act_for(principal, account.owner_id):
        raise DomainError(ErrorCode.FORBIDDEN, "A participant issues cards only on its own accounts.", ["accountId"])
    if account.kind is not AccountKind.CUSTOMER:
        raise invalid("A card draws on a CUSTOMER account.", "accountId")
    scheme = await scheme_for_pan(session, pan)
    if scheme is None:
        raise invalid("No scheme's BIN range holds this card number.", "pan")
    await _require_member(session, scheme, account.owner_id, SchemeRole.ISSUER, "pan")
    co_badge = None
    if co_badge_scheme_code:
        co_badge = await scheme_by_code(session, co_badge_scheme_code, "coBadgeSchemeCode")
        if co_badge.id == scheme.id:
            raise invalid("The co-badge scheme is the card's own scheme.", "coBadgeSchemeCode")
        await _require_member(session, co_badge, account.owner_id, SchemeRole.ISSUER, "coBadgeSchemeCode")
    digest = pan_hash(pan, secret)
    if (await session.exec(select(Card.id).where(Card.pan_hash == digest))).first() is not None:
        raise DomainError(ErrorCode.ALREADY_EXISTS, "This card number is already issued.", ["pan"])
    card = Card(
        pan_hash=digest,
        first6=pan[:6],
        last4=pan[-4:],
        pan_length=len(pan),
        scheme_id=scheme.id,
        co_badge_scheme_id=co_badge.id if co_badge else None,
        issuer_id=account.owner_id,
        account_id=account.id,
        expiry_month=expiry_month,
        expiry_year=expiry_year,
        status=CardStatus.ACTIVE,
    )
    session.add(card)
    await session.flush()
    return card


def masked_pan(card: Card) -> str:
    return card.first6 + "*" * (card.pan_length - 10) + card.last4


def may_see_card(principal: Principal, card: Card) -> bool:
    return may_act_for(principal, card.issuer_id)


async def set_card_status(session: AsyncSession, principal: Principal, card_id: int, status: CardStatus) -> Card:
    """Block or unblock a card: the operator, or the card's issuer."""
    require(principal, Action.WRITE_OWN)
    card = await session.get(Card, card_id)
    if card is None or not may_see_card(principal, card):
        raise not_found("No such card.", "cardId")
    card.status = status
    await session.flush()
    return card


async def cards_by_id(session: AsyncSession, ids: Sequence[int]) -> list[Card | None]:
    return in_key_order(await session.exec(select(Card).where(Card.id.in_(set(ids)))), ids, lambda row: row.id)


async def create_merchant(
    session: AsyncSession,
    principal: Principal,
    *,
    name: str,
    country_code: str,
    acquirer_id: int,
    accepting_scheme_code: str,
    account_id: int,
) -> Merchant:
    """A merchant acquired by an ACTIVE ACQUIRER of the accepting scheme, paid into a
    CUSTOMER account of the acquirer in the merchant country's currency."""
    require(principal, Action.WRITE_OWN)
    name = name.strip()
    if not name or len(name) > 100:
        raise invalid("name must be 1 to 100 characters.", "name")
    country = await session.get(Country, country_code.strip().upper())
    if country is None:
        raise not_found(f"No country with code {country_code!r}.", "countryCode")
    if await session.get(Institution, acquirer_id) is None:
        raise not_found("No such institution.", "acquirerId")
    if not may_act_for(principal, acquirer_id):
        raise DomainError(
            ErrorCode.FORBIDDEN, "A participant creates merchants only as their acquirer.", ["acquirerId"]
        )
    scheme = await scheme_by_code(session, accepting_scheme_code, "acceptingSchemeCode")
    await _require_member(session, scheme, acquirer_id, SchemeRole.ACQUIRER, "acquirerId")
    account = await session.get(Account, account_id)
    if account is None:
        raise not_found("No such account.", "accountId")
    if account.owner_id != acquirer_id or account.kind is not AccountKind.CUSTOMER:
        raise invalid("The merchant's account is a CUSTOMER account of its acquirer.", "accountId")
    if account.currency_code != country.currency_code:
        raise DomainError(
            ErrorCode.CURRENCY_MISMATCH,
            f"The merchant's account must be in {country.currency_code}, its country's currency.",
            ["accountId"],
        )
    merchant = Merchant(
        name=name,
        country_code=country.code,
        acquirer_id=acquirer_id,
        accepting_scheme_id=scheme.id,
        account_id=account_id,
    )
    session.add(merchant)
    await session.flush()
    return merchant


def may_see_merchant(principal: Principal, merchant: Merchant) -> bool:
    return may_act_for(principal, merchant.acquirer_id)


async def merchants_by_id(session: AsyncSession, ids: Sequence[int]) -> list[Merchant | None]:
    return in_key_order(await session.exec(select(Merchant).where(Merchant.id.in_(set(ids)))), ids, lambda row: row.id)


# ---------------------------------------------------------------- authorization and its lifecycle

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
    authorization_id: uuid.UUID
    merchant_id: int
    pan: str
    expiry_month: int
    expiry_year: int
    amount: Decimal
    currency: str


def half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-even, in integers (both non-negative)."""
    quotient, remainder = divmod(numerator, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def link_fee(amount: int, fee_bps: int) -> int:
    """A link's fee on `amount` minor units, rounded half-even to minor units."""
    return half_even(amount * fee_bps, BPS)


def authorization_state(row: CardAuthorization, now: dt.datetime) -> AuthorizationState:
    """An approved authorization whose holds have lapsed reads EXPIRED (before any sweep)."""
    if row.state is AuthorizationState.APPROVED and row.expires_at is not None and row.expires_at <= now:
        return AuthorizationState.EXPIRED
    return row.state


def may_see_payment_card(principal: Principal, row: CardAuthorization) -> bool:
    """Whether an authorization shows its card: to the operator and the issuer; to the
    acquirer only once approved (a declined PAN reveals nothing about the card)."""
    if row.issuer_id is not None and may_act_for(principal, row.issuer_id):
        return True
    return row.response_code == APPROVED and may_act_for(principal, row.acquirer_id)


def fee_due(row: CardAuthorization, now: dt.datetime) -> int | None:
    """What the accepting scheme's operator holds or has earned from an INTERSCHEME
    payment's link fee: the fee held while APPROVED, the fee on the captured amount less
    what refunds gave back once CAPTURED, nothing once reversed or expired; None for a
    decline or a DOMESTIC payment."""
    if row.route is not CardRoute.INTERSCHEME or row.response_code != APPROVED:
        return None
    state = authorization_state(row, now)
    if state is AuthorizationState.APPROVED:
        return row.fee_amount
    if state is AuthorizationState.CAPTURED:
        return link_fee(row.captured_amount, row.fee_bps) - link_fee(row.refunded_amount, row.fee_bps)
    return 0


def may_see_authorization(principal: Principal, row: CardAuthorization) -> bool:
    """The operator, the card's issuer and the merchant's acquirer."""
    return may_act_for(principal, row.acquirer_id) or (
        row.issuer_id is not None and may_act_for(principal, row.issuer_id)
    )


def _same_request(row: CardAuthorization, request: AuthorizeRequest, digest: str, amount_text: str) -> bool:
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


async def authorization_by_key(session: AsyncSession, authorization_id: uuid.UUID) -> CardAuthorization | None:
    statement = select(CardAuthorization).where(CardAuthorization.authorization_id == authorization_id)
    return (await session.exec(statement)).one_or_none()


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
    pan = request.pan.replace(" ", "")
    digest = pan_hash(pan, secret)
    existing = await authorization_by_key(session, request.authorization_id)
    if existing is not None:
        if not _same_request(existing, request, digest, amount_text):
            raise DomainError(
                ErrorCode.IDEMPOTENCY_CONFLICT,
                "An authorization with this authorizationId exists with different fields.",
                ["authorizationId"],
            )
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
        # The row is written once more at the end, not after each step (autoflush).
        with session.no_autoflush:
            holds = await _approve(
                session, row, merchant, merchant_account, pan, request.amount, units, hold_seconds, now
            )
    except Decline as decline:
        row.response_code, row.decline_reason, row.state = decline.code, decline.reason, AuthorizationState.DECLINED
        await session.flush()
        return row
    row.response_code, row.state = APPROVED, AuthorizationState.APPROVED
    row.expires_at = now + dt.timedelta(seconds=hold_seconds)
    session.add_all(
        CardPaymentTransfer(authorization_id=row.id, position=k, transfer_id=transfer.id, leg=leg)
        for k, (leg, transfer) in enumerate(holds)
    )
    await session.flush()
    return row


async def _approve(
    session: AsyncSession,
    row: CardAuthorization,
    merchant: Merchant,
    merchant_account: Account,
    pan: str,
    amount: Decimal,
    units: dict[str, int],
    hold_seconds: int,
    now: dt.datetime,
) -> list[tuple[PaymentLeg, object]]:
    """Steps 1 to 5: fill in what the request resolves to and hold the funds; returns the
    holds (leg, transfer) or raises Decline, having held nothing."""
    # 1. The card and the request.
    if not pan_shaped(pan) or not luhn_valid(pan):
        raise Decline("14", "The card number is not valid.")
    card = (await session.exec(select(Card).where(Card.pan_hash == row.pan_hash))).one_or_none()
    if card is None:
        raise Decline("14", "No card has this number.")
    row.card_id, row.issuer_id = card.id, card.issuer_id
    try:
        minor = to_minor(amount, units[row.currency_code])
    except AmountError as error:
        raise Decline("13", f"{error} ({row.currency_code} has {units[row.currency_code]} decimal places.)") from None
    if minor <= 0:
        raise Decline("13", "The amount must be positive.")
    row.amount = minor
    if (row.expiry_year, row.expiry_month) != (card.expiry_year, card.expiry_month):
        raise Decline("54", "The expiry date does not match the card's.")
    if (card.expiry_year, card.expiry_month) < (now.year, now.month):
        raise Decline("54", "The card has expired.")
    if card.status is CardStatus.BLOCKED:
        raise Decline("62", "The card is blocked.")

    # 2. The route: the merchant's scheme is one of the card's, or an ACTIVE link leads there.
    accepting = await session.get(CardScheme, merchant.accepting_scheme_id)
    card_schemes = [card.scheme_id] + ([card.co_badge_scheme_id] if card.co_badge_scheme_id else [])
    row.scheme_id = accepting.id
    if accepting.id in card_schemes:
        row.route, row.card_scheme_id = CardRoute.DOMESTIC, accepting.id
    else:
        links = (
            await session.exec(
                select(SchemeLink).where(
                    SchemeLink.card_scheme_id.in_(card_schemes), SchemeLink.accepting_scheme_id == accepting.id
                )
            )
        ).all()
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
        row.route, row.card_scheme_id, row.fee_bps = CardRoute.INTERSCHEME, active[0].card_scheme_id, active[0].fee_bps

    # 3. The issuer on the card's scheme used, the acquirer on the accepting scheme.
    issuer = await session.get(SchemeMembership, (row.card_scheme_id, card.issuer_id))
    if not has_role(issuer, SchemeRole.ISSUER):
        raise Decline("62", "The issuer is not an issuer of the card's scheme.")
    if issuer.status is not ParticipationStatus.ACTIVE:
        raise Decline(
            "62", f"The issuer's membership of the card's scheme is suspended ({issuer.reason or 'no reason given'})."
        )
    acquirer = await session.get(SchemeMembership, (accepting.id, merchant.acquirer_id))
    if not active_in(acquirer, SchemeRole.ACQUIRER):
        raise Decline("91", f"The acquirer is not an active acquirer on {accepting.code}.")

    # 4. Funds: hold the amount on the card's account, converted when its currency differs.
    card_account = await session.get(Account, card.account_id)
    currency = row.currency_code
    legs: list[tuple[PaymentLeg, int, int, int, str]] = []
    if card_account.currency_code == currency:
        payer = card_account.id
        row.cardholder_amount, row.cardholder_currency = minor, currency
    else:
        avoid = [code for code in AVOIDED_ON_CARDS if code not in (card_account.currency_code, currency)]
        try:
            conversion = await fx.price_conversion(
                session,
                sell=card_account.currency_code,
                buy=currency,
                sell_minor=None,
                buy_minor=minor,
                avoid=avoid,
                now=now,
                field="amount",
            )
        except DomainError as error:
            if error.code is ErrorCode.NO_RATE:
                raise Decline(
                    "57",
                    f"No conversion from {card_account.currency_code} to {currency} avoiding {avoid or 'nothing'}.",
                ) from None
            if error.code is ErrorCode.INSUFFICIENT_LIQUIDITY:
                raise Decline("05", "No FX provider has the liquidity to convert the amount.") from None
            if error.code is ErrorCode.INVALID_INPUT:  # a leg rounds to zero, or the amount is too large
                raise Decline("13", error.message) from None
            raise
        row.cardholder_amount, row.cardholder_currency = conversion.sell_amount, card_account.currency_code
        steps = conversion.legs(card_account.id, merchant_account.id)
        legs.append((PaymentLeg.CARDHOLDER, *steps[0]))
        legs.extend((PaymentLeg.FX, *step) for step in steps[1:-1])
        payer = steps[-1][0]
    fee = link_fee(minor, row.fee_bps)
    row.fee_amount = fee
    if minor - fee > 0:
        legs.append((PaymentLeg.MERCHANT, payer, merchant_account.id, minor - fee, currency))
    if fee > 0:
        fee_account = await fee_account_of(session, accepting.operator_id, currency)
        legs.append((PaymentLeg.FEE, payer, fee_account, fee, currency))

    specs = [
        ledger.TransferSpec(
            uuid.uuid4(),  # the authorization row, claimed above, is what makes a replay
            debit,
            credit,
            from_minor(leg_amount, units[leg_currency]),
            leg_currency,
            pending=True,
            timeout_seconds=hold_seconds,
            reference=f"card authorization {row.authorization_id}",
        )
        for _, debit, credit, leg_amount, leg_currency in legs
    ]
    outcomes = await ledger.create_transfers(session, SYSTEM, specs, atomic=True, now=now)
    for (_, debit, _credit, _amount, _currency), outcome in zip(legs, outcomes, strict=True):
        error = outcome.error
        if error is None or error.code is ErrorCode.ATOMIC_BATCH_FAILED:
            continue
        if error.code is ErrorCode.INSUFFICIENT_FUNDS:
            if debit == card_account.id:
                raise Decline("51", "The card's account has too little available.")
            raise Decline("05", "An FX provider's position can no longer pay the conversion.")
        if error.code is ErrorCode.SAME_ACCOUNT:
            raise Decline("05", "The card draws on the merchant's own account.")
        if error.code is ErrorCode.INVALID_INPUT:  # an amount the accounts' totals cannot hold
            raise Decline("13", error.message)
        raise AssertionError(f"a card hold failed unexpectedly: {error!r}")
    assert all(outcome.created for outcome in outcomes), "hold ids are new uuid4s"
    return [(leg[0], outcome.transfer) for leg, outcome in zip(legs, outcomes, strict=True)]


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


async def _locked_authorization(
    session: AsyncSession, principal: Principal, authorization_id: uuid.UUID
) -> CardAuthorization:
    """The authorization, its row locked (one change at a time), for its acquirer or the
    operator; NOT_FOUND for whoever may not see it, FORBIDDEN for its issuer."""
    require(principal, Action.WRITE_OWN)
    statement = (
        select(CardAuthorization)
        .where(CardAuthorization.authorization_id == authorization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row = (await session.exec(statement)).one_or_none()
    if row is None or not may_see_authorization(principal, row):
        raise not_found("No authorization with this authorizationId.", "authorizationId")
    if not may_act_for(principal, row.acquirer_id):
        raise DomainError(
            ErrorCode.FORBIDDEN, "Only the merchant's acquirer captures, reverses or refunds.", ["authorizationId"]
        )
    return row


LINKS = CardPaymentTransfer.__table__
# A payment's transfers in order, each row with its authorization and leg.
_PAYMENT_TRANSFERS = (
    select(LINKS.c.authorization_id, LINKS.c.leg, ledger.TRANSFERS)
    .join(ledger.TRANSFERS, ledger.TRANSFERS.c.id == LINKS.c.transfer_id)
    .order_by(LINKS.c.authorization_id, LINKS.c.position)
)


async def payment_holds(session: AsyncSession, row: CardAuthorization) -> list[tuple[PaymentLeg, object]]:
    """The authorization's holds, (leg, transfer row), in order."""
    connection = await session.connection()
    result = await connection.execute(
        _PAYMENT_TRANSFERS.where(LINKS.c.authorization_id == row.id, LINKS.c.refund_id.is_(None))
    )
    return [(PaymentLeg(r.leg), r) for r in result]


def _invalid_state(state: AuthorizationState, wanted: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_STATE, f"The authorization is {state.value}; {wanted}.", ["authorizationId"])


def _amount_of(amount: Decimal, units: int, currency: str, *field: str) -> int:
    try:
        minor = to_minor(amount, units)
    except AmountError as error:
        raise invalid(f"{error} ({currency} has {units} decimal places.)", *field) from None
    if minor <= 0:
        raise invalid("The amount must be positive.", *field)
    return minor


async def capture_payment(
    session: AsyncSession,
    principal: Principal,
    authorization_id: uuid.UUID,
    amount: Decimal | None,
    *,
    now: dt.datetime,
) -> CardAuthorization:
    """Post the holds for `amount` (default: all of it; once), releasing the rest. A
    partial capture takes the link's fee on the captured amount and scales the
    cardholder amount at the authorization's rate (rounded up, within the hold).
    Capturing again for the same amount is a replay."""
    row = await _locked_authorization(session, principal, authorization_id)
    state = authorization_state(row, now)
    if row.amount is None:
        raise _invalid_state(state, "only an APPROVED authorization is captured")
    capture = row.amount
    if amount is not None:
        capture = _amount_of(
            amount, (await reference.minor_units(session))[row.currency_code], row.currency_code, "amount"
        )
    if state is AuthorizationState.CAPTURED and capture == row.captured_amount:
        return row
    if state is not AuthorizationState.APPROVED:
        raise _invalid_state(state, "only an APPROVED authorization is captured")
    if capture > row.amount:
        raise DomainError(ErrorCode.AMOUNT_EXCEEDS_PENDING, "The amount exceeds the authorized amount.", ["amount"])
    fee = link_fee(capture, row.fee_bps)
    cardholder = ceil_div(row.cardholder_amount * capture, row.amount)
    posts = {PaymentLeg.MERCHANT: capture - fee, PaymentLeg.FEE: fee, PaymentLeg.CARDHOLDER: cardholder}
    changes = []
    for leg, transfer in await payment_holds(session, row):
        post = posts[leg] if leg is not PaymentLeg.FX else half_even(transfer.amount * capture, row.amount)
        assert 0 <= post <= transfer.amount, "a capture posts at most what was held"
        changes.append(ledger.HoldChange(transfer.transfer_id, post or None))
    await ledger.resolve_holds(session, changes, now=now)
    row.state, row.captured_amount, row.resolved_at = AuthorizationState.CAPTURED, capture, now
    row.cardholder_captured = cardholder
    await session.flush()
    return row


async def reverse_payment(
    session: AsyncSession, principal: Principal, authorization_id: uuid.UUID, *, now: dt.datetime
) -> CardAuthorization:
    """Void the holds of an uncaptured authorization. Reversing again is a replay."""
    row = await _locked_authorization(session, principal, authorization_id)
    state = authorization_state(row, now)
    if state is AuthorizationState.REVERSED:
        return row
    if state is not AuthorizationState.APPROVED:
        raise _invalid_state(state, "only an APPROVED authorization is reversed")
    changes = [ledger.HoldChange(transfer.transfer_id, None) for _, transfer in await payment_holds(session, row)]
    await ledger.resolve_holds(session, changes, now=now)
    row.state, row.resolved_at = AuthorizationState.REVERSED, now
    await session.flush()
    return row


async def refund_payment(
    session: AsyncSession,
    principal: Principal,
    *,
    refund_id: uuid.UUID,
    authorization_id: uuid.UUID,
    amount: Decimal,
    now: dt.datetime,
) -> CardAuthorization:
    """Pay back part or all of a captured payment: new transfers, the holds' legs reversed,
    at the authorization's rate. Refunds add up to at most the captured amount; the link's
    fee is returned in proportion, and refunding everything returns exactly what was
    captured. `refund_id` is the idempotency key."""
    row = await _locked_authorization(session, principal, authorization_id)
    units = await reference.minor_units(session)
    refund = _amount_of(amount, units[row.currency_code], row.currency_code, "amount")
    known = (await session.exec(select(CardRefund).where(CardRefund.refund_id == refund_id))).one_or_none()
    if known is not None:
        if known.authorization_id == row.id and known.amount == refund:
            return row
        raise DomainError(
            ErrorCode.IDEMPOTENCY_CONFLICT, "A refund with this refundId exists with different fields.", ["refundId"]
        )
    state = authorization_state(row, now)
    if state is not AuthorizationState.CAPTURED:
        raise _invalid_state(state, "only a CAPTURED payment is refunded")
    captured, before = row.captured_amount, row.refunded_amount
    if refund > captured - before:
        left = from_minor(captured - before, units[row.currency_code])
        raise invalid(f"At most {left} {row.currency_code} of the captured amount is left to refund.", "amount")
    after = before + refund
    fee = link_fee(after, row.fee_bps) - link_fee(before, row.fee_bps)
    cardholder = row.cardholder_captured * after // captured - row.cardholder_captured * before // captured
    holds = await payment_holds(session, row)
    legs: list[tuple[PaymentLeg, int, int, int, str]] = []
    for leg, transfer in reversed(holds):
        if leg is PaymentLeg.MERCHANT:
            back = refund - fee
        elif leg is PaymentLeg.FEE:
            back = fee
        elif leg is PaymentLeg.CARDHOLDER:
            back = cardholder
        else:
            posted = transfer.posted_amount or 0
            back = half_even(posted * after, captured) - half_even(posted * before, captured)
        if back > 0:
            legs.append((leg, transfer.credit_account_id, transfer.debit_account_id, back, transfer.currency_code))
    if cardholder <= 0:
        raise invalid("The amount is too small to refund: the cardholder's share rounds to zero.", "amount")
    record = CardRefund(
        refund_id=refund_id, authorization_id=row.id, amount=refund, cardholder_amount=cardholder, created_at=now
    )
    session.add(record)
    await session.flush()  # claims refund_id: a concurrent twin waits here, then is retried as a replay
    specs = [
        ledger.TransferSpec(
            uuid.uuid4(),  # the refund row, claimed above, is what makes a replay
            debit,
            credit,
            from_minor(leg_amount, units[leg_currency]),
            leg_currency,
            reference=f"card refund {refund_id}",
        )
        for _, debit, credit, leg_amount, leg_currency in legs
    ]
    outcomes = await ledger.create_transfers(session, SYSTEM, specs, atomic=True, now=now)
    for (leg, *_), outcome in zip(legs, outcomes, strict=True):
        error = outcome.error
        if error is None or error.code is ErrorCode.ATOMIC_BATCH_FAILED:
            continue
        if error.code is ErrorCode.INSUFFICIENT_FUNDS and leg in (PaymentLeg.CARDHOLDER, PaymentLeg.FX):
            raise DomainError(ErrorCode.INSUFFICIENT_LIQUIDITY, "An FX provider's position cannot pay the refund.")
        if error.code is ErrorCode.INSUFFICIENT_FUNDS:
            whose = "scheme operator's fee account" if leg is PaymentLeg.FEE else "merchant's account"
            raise DomainError(
                ErrorCode.INSUFFICIENT_FUNDS, f"The {whose} has too little available to refund.", ["amount"]
            )
        if error.code is ErrorCode.INVALID_INPUT:  # an amount the accounts' totals cannot hold
            raise invalid(error.message, "amount")
        raise AssertionError(f"a card refund failed unexpectedly: {error!r}")
    start = await session.exec(
        select(func.count()).select_from(CardPaymentTransfer).where(CardPaymentTransfer.authorization_id == row.id)
    )
    position = start.one()
    session.add_all(
        CardPaymentTransfer(
            authorization_id=row.id,
            position=position + k,
            transfer_id=outcome.transfer.id,
            leg=leg,
            refund_id=record.id,
        )
        for k, ((leg, *_), outcome) in enumerate(zip(legs, outcomes, strict=True))
    )
    row.refunded_amount, row.cardholder_refunded = after, row.cardholder_refunded + cardholder
    await session.flush()
    return row


async def authorizations_by_id(session: AsyncSession, ids: Sequence[int]) -> list[CardAuthorization | None]:
    rows = await session.exec(select(CardAuthorization).where(CardAuthorization.id.in_(set(ids))))
    return in_key_order(rows, ids, lambda row: row.id)


async def payment_transfers(session: AsyncSession, ids: Sequence[int]) -> list[list]:
    """authorization id -> its ledger transfers in order (holds, then refunds)."""
    connection = await session.connection()
    result = await connection.execute(_PAYMENT_TRANSFERS.where(LINKS.c.authorization_id.in_(set(ids))))
    return grouped_in_key_order(result, ids, lambda row: row.authorization_id)


async def acquires_for_card(session: AsyncSession, principal: Principal, card_id: int) -> bool:
    """Whether the caller acquired an approved payment of this card (and so sees the card).
    A declined attempt shows nothing: a PAN alone must not reveal a card's details."""
    institution = visible_institution(principal)
    if institution is None or institution < 0:
        return institution is None
    statement = select(CardAuthorization.id).where(
        CardAuthorization.card_id == card_id,
        CardAuthorization.acquirer_id == institution,
        CardAuthorization.response_code == APPROVED,
    )
    return (await session.exec(statement.limit(1))).first() is not None
