"""Lists of the card network, each with the visibility of its rows: the cards an issuer
issued, the merchants an acquirer acquires, and the authorizations an institution
issued the card of or acquired, for a participant; everything for the operator;
nothing of them for an analyst. Keyset pages: cards and merchants oldest first,
authorizations newest first."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.cards import AuthorizationState, Card, CardAuthorization, CardStatus, Merchant
from resolvers.access import Principal, visible_institution
from resolvers.cards.schemes import scheme_by_code
from resolvers.pagination import Page, empty_page, keyset_page


async def list_cards(
    session: AsyncSession,
    principal: Principal,
    *,
    first: int | None = None,
    after: int | None = None,
    scheme_code: str | None = None,
    status: CardStatus | None = None,
) -> Page[Card]:
    """Cards, oldest first: a participant's own issue only; with `scheme_code`, those
    on that scheme (primary or co-badge)."""
    institution = visible_institution(principal)
    if institution is not None and institution < 0:
        return empty_page(first, after)
    statement = select(Card)
    if institution is not None:
        statement = statement.where(Card.issuer_id == institution)
    if scheme_code is not None:
        scheme = (await scheme_by_code(session, scheme_code, "schemeCode")).id
        statement = statement.where(or_(Card.scheme_id == scheme, Card.co_badge_scheme_id == scheme))
    if status is not None:
        statement = statement.where(Card.status == status)
    return await keyset_page(session, statement, Card.id, first=first, after=after)


async def list_merchants(
    session: AsyncSession,
    principal: Principal,
    *,
    first: int | None = None,
    after: int | None = None,
    scheme_code: str | None = None,
    country_code: str | None = None,
) -> Page[Merchant]:
    """Merchants, oldest first: a participant's own acquiring only."""
    institution = visible_institution(principal)
    if institution is not None and institution < 0:
        return empty_page(first, after)
    statement = select(Merchant)
    if institution is not None:
        statement = statement.where(Merchant.acquirer_id == institution)
    if scheme_code is not None:
        scheme = (await scheme_by_code(session, scheme_code, "schemeCode")).id
        statement = statement.where(Merchant.accepting_scheme_id == scheme)
    if country_code is not None:
        statement = statement.where(Merchant.country_code == country_code.strip().upper())
    return await keyset_page(session, statement, Merchant.id, first=first, after=after)


def _in_state(state: AuthorizationState, now: dt.datetime):
    """The rows whose effective state (`authorization_state`) is `state`: an approval
    whose holds have lapsed reads EXPIRED before any sweep."""
    column, expires = CardAuthorization.state, CardAuthorization.expires_at
    lapsed = and_(column == AuthorizationState.APPROVED, expires.is_not(None), expires <= now)
    if state is AuthorizationState.EXPIRED:
        return or_(column == AuthorizationState.EXPIRED, lapsed)
    if state is AuthorizationState.APPROVED:
        return and_(column == AuthorizationState.APPROVED, or_(expires.is_(None), expires > now))
    return column == state


async def list_authorizations(
    session: AsyncSession,
    principal: Principal,
    *,
    now: dt.datetime,
    first: int | None = None,
    after: int | None = None,
    merchant_id: int | None = None,
    state: AuthorizationState | None = None,
) -> Page[CardAuthorization]:
    """Authorizations, newest first: for a participant, those it acquired or issued the
    card of."""
    institution = visible_institution(principal)
    if institution is not None and institution < 0:
        return empty_page(first, after)
    statement = select(CardAuthorization)
    if institution is not None:
        statement = statement.where(
            or_(CardAuthorization.acquirer_id == institution, CardAuthorization.issuer_id == institution)
        )
    if merchant_id is not None:
        statement = statement.where(CardAuthorization.merchant_id == merchant_id)
    if state is not None:
        statement = statement.where(_in_state(state, now))
    return await keyset_page(session, statement, CardAuthorization.id, first=first, after=after, descending=True)
