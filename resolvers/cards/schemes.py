"""Card schemes: BIN ranges, memberships, links between schemes; a PAN's scheme.

A PAN is matched against the schemes' BIN ranges by longest prefix: ranges overlap
(UnionPay's 62 and 81, Elo inside Visa's 4), and the longest range that holds the
PAN's first digits names its scheme.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.cards import BinRange, CardScheme, ParticipationStatus, SchemeLink, SchemeMembership, SchemeRole
from models.messaging import PaymentNetwork
from models.reference import Country, Institution, InstitutionKind
from resolvers import reference
from resolvers.access import Action, Principal, require
from resolvers.errors import DomainError, ErrorCode, invalid, not_found

SCHEME_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,19}$")
BIN_MAX = 11
FEE_MAX_BPS = 10_000
REASON_MAX = 200


@dataclass(frozen=True)
class BinRangeSpec:
    """One BIN range of a new scheme, as the client gave it (bounds of equal length)."""

    low: str
    high: str


def _check_bin_ranges(bin_ranges: Sequence[BinRangeSpec]) -> None:
    """Refuse a scheme without ranges, or a range whose bounds are not digits of one length, in order."""
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
    """A new scheme with its BIN ranges, run by a SCHEME_OPERATOR: the operator's act alone."""
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
    _check_bin_ranges(bin_ranges)
    if (await session.exec(select(CardScheme.id).where(CardScheme.code == code))).first() is not None:
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"A scheme {code} exists.", ["code"])
    if (await session.exec(select(PaymentNetwork.id).where(PaymentNetwork.code == code))).first() is not None:
        # A code names one settlement scope: a scheme may not take a payment network's.
        raise DomainError(ErrorCode.ALREADY_EXISTS, f"{code} is a payment network's code.", ["code"])
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
    """The scheme with this code (any case), or NOT_FOUND on `field`: how inputs name a scheme."""
    scheme = (await session.exec(select(CardScheme).where(CardScheme.code == code.strip().upper()))).one_or_none()
    if scheme is None:
        raise not_found(f"No card scheme {code!r}.", *field)
    return scheme


async def list_schemes(session: AsyncSession) -> list[CardScheme]:
    """Every scheme, by code: the network's schemes are few and public."""
    return list(await session.exec(select(CardScheme).order_by(CardScheme.code)))


async def list_links(session: AsyncSession) -> list[SchemeLink]:
    """Every link between schemes, in the order they were made: few and public."""
    return list(await session.exec(select(SchemeLink).order_by(SchemeLink.id)))


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


# ---------------------------------------------------------------- memberships


def has_role(membership: SchemeMembership | None, role: SchemeRole) -> bool:
    """Whether the membership gives `role` (whatever its status)."""
    return membership is not None and role.value in membership.roles.split(",")


def active_in(membership: SchemeMembership | None, role: SchemeRole) -> bool:
    """Whether the membership gives `role` and is ACTIVE."""
    return has_role(membership, role) and membership.status is ParticipationStatus.ACTIVE


async def require_member(
    session: AsyncSession, scheme: CardScheme, institution_id: int, role: SchemeRole, field: str
) -> None:
    """Refuse, on `field`, an institution that is not an ACTIVE `role` of the scheme: NOT_A_MEMBER or
    PARTICIPANT_SUSPENDED (with the reason), for issuing a card or acquiring a merchant."""
    membership = await session.get(SchemeMembership, (scheme.id, institution_id))
    if not has_role(membership, role):
        raise DomainError(ErrorCode.NOT_A_MEMBER, f"The institution is not a {role.value} of {scheme.code}.", [field])
    if membership.status is not ParticipationStatus.ACTIVE:
        raise DomainError(
            ErrorCode.PARTICIPANT_SUSPENDED,
            f"The institution's {scheme.code} membership is suspended ({membership.reason or 'no reason given'}).",
            [field],
        )


async def set_scheme_membership(
    session: AsyncSession,
    principal: Principal,
    *,
    scheme_code: str,
    institution_id: int,
    roles: Sequence[SchemeRole],
    status: ParticipationStatus,
    reason: str | None,
    now: dt.datetime,
) -> SchemeMembership:
    """Create or replace an institution's membership of a scheme (roles, status, reason),
    stamped `now`."""
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
    membership.roles, membership.status, membership.reason = ordered, status, reason
    membership.updated_at = now
    await session.flush()
    return membership


# ---------------------------------------------------------------- links


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
