"""Issuing: PAN checks and the PAN's keyed hash, cards and their status, merchants.

Only a keyed hash of a PAN (HMAC-SHA-256 with a server secret), its first six and
its last four digits are stored; no message ever repeats a PAN.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.cards import Card, CardStatus, Merchant, SchemeRole
from models.ledger import Account, AccountKind
from models.reference import Country, Institution
from resolvers.access import Action, Principal, may_act_for, require
from resolvers.cards.schemes import require_member, scheme_by_code, scheme_for_pan
from resolvers.errors import DomainError, ErrorCode, invalid, not_found

PAN_LENGTHS = range(13, 20)


# ---------------------------------------------------------------- PANs


def luhn_valid(pan: str) -> bool:
    """Whether the digits pass the Luhn check: a mistyped PAN fails it."""
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


# ---------------------------------------------------------------- cards


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
    await require_member(session, scheme, account.owner_id, SchemeRole.ISSUER, "pan")
    co_badge = None
    if co_badge_scheme_code:
        co_badge = await scheme_by_code(session, co_badge_scheme_code, "coBadgeSchemeCode")
        if co_badge.id == scheme.id:
            raise invalid("The co-badge scheme is the card's own scheme.", "coBadgeSchemeCode")
        await require_member(session, co_badge, account.owner_id, SchemeRole.ISSUER, "coBadgeSchemeCode")
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
    """The PAN as shown: its first six and last four digits, the rest starred (all that is stored)."""
    return card.first6 + "*" * (card.pan_length - 10) + card.last4


def may_see_card(principal: Principal, card: Card) -> bool:
    """The operator and the card's issuer (an acquirer sees it through an approved payment)."""
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


# ---------------------------------------------------------------- merchants


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
    await require_member(session, scheme, acquirer_id, SchemeRole.ACQUIRER, "acquirerId")
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
    """The operator and the merchant's acquirer: a merchant is its acquirer's business."""
    return may_act_for(principal, merchant.acquirer_id)
