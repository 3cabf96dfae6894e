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
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import utcnow
from models.cards import (
    BinRange,
    Card,
    CardScheme,
    CardStatus,
    Merchant,
    ParticipationStatus,
    SchemeLink,
    SchemeMembership,
    SchemeRole,
)
from models.ledger import Account, AccountKind
from models.reference import Country, Institution, InstitutionKind
from resolvers import reference
from resolvers.access import Action, Principal, may_act_for, require
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


def check_pan(pan: str) -> str:
    """The PAN's digits, or INVALID_INPUT. No message ever repeats the PAN."""
    pan = pan.replace(" ", "")
    if not pan.isascii() or not pan.isdigit() or len(pan) not in PAN_LENGTHS:
        raise invalid("A card number is 13 to 19 digits.", "pan")
    if not luhn_valid(pan):
        raise invalid("The card number fails the Luhn check.", "pan")
    return pan


async def _require_member(
    session: AsyncSession, scheme: CardScheme, institution_id: int, role: SchemeRole, field: str
) -> None:
    membership = await session.get(SchemeMembership, (scheme.id, institution_id))
    if membership is None or role.value not in membership.roles.split(","):
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
