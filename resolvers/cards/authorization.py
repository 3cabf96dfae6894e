"""Authorization of card payments at merchants: the request and its idempotency key,
then the design's five steps (`steps`), and the outcome stored, approved or declined.

Several requests (the card group commit, corridor/batcher.py) are authorized together
in one transaction, each decided as if alone and in order: their keys are looked up in
one statement and claimed in one INSERT, their cards and card accounts read in one
statement each, and their holds placed by one `ledger.post_leg_groups` (each group all
or none, seeing the holds before it). The scheme links, operators' FEE accounts, rates
and FX providers' positions are read once for the group (`steps.Shared`): a
cross-currency hold is priced on the positions less what the holds before it will take.
Requests that cannot be an authorization at all (unknown merchant, a currency other
than the merchant's) are errors and store nothing; a decline is an outcome, stored.
"""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.cards import AuthorizationState, Card, CardAuthorization, CardPaymentTransfer, CardScheme, Merchant
from models.ledger import Account
from resolvers import fx, ledger, reference
from resolvers.access import Action, Principal, require
from resolvers.cards.issuing import may_see_merchant, pan_hash
from resolvers.cards.steps import (
    APPROVED,
    Decline,
    HoldLegs,
    Shared,
    amount_minor,
    check_card,
    check_memberships,
    find_card,
    hold_legs,
    refusal_decline,
    route_of,
)
from resolvers.errors import DomainError, ErrorCode, invalid, not_found
from resolvers.events import Change, Kind, changed

AMOUNT_TEXT_MAX = 40


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


def _replayed(
    known: dict[uuid.UUID, CardAuthorization], request: AuthorizeRequest, digest: str, amount_text: str
) -> CardAuthorization | None:
    """The stored outcome when the key was used by this same request, None for a new key;
    IDEMPOTENCY_CONFLICT for a key used by a different request."""
    existing = known.get(request.authorization_id)
    if existing is not None and not _same_request(existing, request, digest, amount_text):
        raise DomainError(
            ErrorCode.IDEMPOTENCY_CONFLICT,
            "An authorization with this authorizationId exists with different fields.",
            ["authorizationId"],
        )
    return existing


@dataclass
class AuthorizeOrder:
    """One request to authorize a payment, by its caller, and its outcome: the
    authorization (new, declined or replayed), or the error that stored nothing."""

    principal: Principal
    request: AuthorizeRequest
    result: CardAuthorization | DomainError | None = None


@dataclass
class _Claimed:
    """A new authorization claimed by the batch, and what its steps find."""

    row: CardAuthorization
    request: AuthorizeRequest
    merchant: Merchant
    merchant_account: Account
    units: dict[str, int]
    pan: str
    card: Card | None = None
    hold: HoldLegs | None = None
    transfers: list = field(default_factory=list)
    converted: bool = False  # priced on the FX funds the holds before it leave
    refused: bool = False  # its holds refused by the ledger


async def _claim(
    session: AsyncSession,
    order: AuthorizeOrder,
    known: dict[uuid.UUID, CardAuthorization],
    secret: str,
    now: dt.datetime,
) -> CardAuthorization | _Claimed:
    """The stored authorization for a replay, else the new row (added to the session,
    DECLINED until decided) with what the request names."""
    request = order.request
    require(order.principal, Action.WRITE_OWN)
    merchant, merchant_account, currency, units, amount_text = await _checked_request(session, order.principal, request)
    pan = request.pan.replace(" ", "")
    digest = pan_hash(pan, secret)
    existing = _replayed(known, request, digest, amount_text)
    if existing is not None:
        return existing
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
    known[request.authorization_id] = row
    return _Claimed(row, request, merchant, merchant_account, units, pan)


# ---------------------------------------------------------------- authorizing


async def authorize_payments(
    session: AsyncSession, orders: Sequence[AuthorizeOrder], *, secret: str, hold_seconds: int, now: dt.datetime
) -> None:
    """Authorize each order's payment (DESIGN.md, "Cards", five steps) as if alone and in
    order (see the module), leaving its outcome on it. `authorizationId` is the
    idempotency key: the same request again gets the stored outcome, a different one
    with the same key IDEMPOTENCY_CONFLICT."""
    keys = {order.request.authorization_id for order in orders}
    stored = await session.exec(select(CardAuthorization).where(CardAuthorization.authorization_id.in_(keys)))
    known = {row.authorization_id: row for row in stored}
    claimed: list[_Claimed] = []
    for order in orders:
        try:
            outcome = await _claim(session, order, known, secret, now)
        except DomainError as error:
            order.result = error
            continue
        if isinstance(outcome, _Claimed):
            claimed.append(outcome)
            outcome = outcome.row
        order.result = outcome
    if not claimed:
        return
    # Claim the keys first: a concurrent request with the same key waits here (PostgreSQL's
    # unique index) until this one commits, then fails, is retried and answers as a replay.
    await session.flush()
    cards, accounts = await _cards_of(session, claimed)
    shared = Shared(fx.Market(session, now))
    waiting: list[_Claimed] = []
    # Each step's finding goes on the row at once (a decline stores what was found before
    # it); the rows are written once more at the end, not after each step.
    with session.no_autoflush:
        for item in claimed:
            try:
                await _steps(session, item, (cards, accounts), shared, waiting, now)
            except Decline as decline:
                _declined(item.row, decline)
        await _place_holds(session, waiting, hold_seconds, now)
    _check_pricing(claimed)
    session.add_all(
        CardPaymentTransfer(authorization_id=item.row.id, position=k, transfer_id=transfer.id, leg=leg)
        for item in claimed
        for k, (leg, transfer) in enumerate(item.transfers)
    )
    await session.flush()
    for item in claimed:
        noted(session, item.row)


async def _cards_of(session: AsyncSession, claimed: Sequence[_Claimed]) -> tuple[dict[str, Card], dict[int, Account]]:
    """The cards the requests name, by PAN hash, and their accounts by id (one statement
    each). The steps read an account's currency and id from them, never its balances,
    which the holds change by other means."""
    digests = {item.row.pan_hash for item in claimed}
    cards = {card.pan_hash: card for card in await session.exec(select(Card).where(Card.pan_hash.in_(digests)))}
    accounts: dict[int, Account] = {}
    if cards:
        ids = {card.account_id for card in cards.values()}
        accounts = {account.id: account for account in await session.exec(select(Account).where(Account.id.in_(ids)))}
    return cards, accounts


async def _steps(
    session: AsyncSession,
    item: _Claimed,
    found: tuple[dict[str, Card], dict[int, Account]],
    shared: Shared,
    waiting: list[_Claimed],
    now: dt.datetime,
) -> None:
    """Steps 1 to 4 for one request, its holds then waiting to be placed; or Decline."""
    row, request = item.row, item.request
    cards, accounts = found
    card = item.card = find_card(item.pan, cards.get(row.pan_hash))  # 1. the card and the request
    row.card_id, row.issuer_id = card.id, card.issuer_id
    row.amount = amount_minor(request.amount, row.currency_code, item.units)
    check_card(card, (request.expiry_year, request.expiry_month), now)
    accepting = await session.get(CardScheme, item.merchant.accepting_scheme_id)  # 2. the route
    row.scheme_id = accepting.id
    route = await route_of(session, card, accepting, shared)
    row.route, row.card_scheme_id, row.fee_bps = route.route, route.card_scheme_id, route.fee_bps
    await check_memberships(session, card, route, accepting, item.merchant)  # 3. the memberships
    card_account = accounts[card.account_id]
    # A conversion is priced on the FX funds less what the holds before it will take.
    item.converted = card_account.currency_code != row.currency_code
    spent = _spent(waiting) if item.converted else None
    hold = item.hold = await hold_legs(
        session, card_account, item.merchant_account, accepting, row.amount, route.fee_bps, shared, spent
    )
    row.cardholder_amount, row.cardholder_currency, row.fee_amount = (
        hold.cardholder_amount,
        hold.cardholder_currency,
        hold.fee,
    )
    waiting.append(item)


def _spent(waiting: Sequence[_Claimed]) -> dict[int, int]:
    """What the waiting requests' holds will take from each account, by account id."""
    spent: dict[int, int] = {}
    for item in waiting:
        for _, leg in item.hold.legs:
            spent[leg.debit_account_id] = spent.get(leg.debit_account_id, 0) + leg.amount
    return spent


class Regroup(Exception):
    """A conversion was priced on FX funds that a hold before it, refused, does not take:
    the card group commit writes the group again request by request (as for any error),
    each then priced on the funds as they are."""


def _check_pricing(claimed: Sequence[_Claimed]) -> None:
    """Regroup when a request after one whose holds the ledger refused was priced on FX
    funds that counted those holds spent (approved or declined for want of them)."""
    first = next((k for k, item in enumerate(claimed) if item.refused), None)
    if first is not None and any(item.converted for item in claimed[first + 1 :]):
        raise Regroup(f"a hold refused before a conversion priced after it ({len(claimed)} requests)")


async def _place_holds(session: AsyncSession, waiting: list[_Claimed], hold_seconds: int, now: dt.datetime) -> None:
    """Step 5 for the waiting requests: their holds placed, each request's all or none and
    in order; approved, or declined for what the ledger refused. Empties `waiting`."""
    if not waiting:
        return
    results = await ledger.post_leg_groups(
        session,
        [[leg for _, leg in item.hold.legs] for item in waiting],
        pending=True,
        timeout_seconds=hold_seconds,
        references=[f"card authorization {item.row.authorization_id}" for item in waiting],
        now=now,
    )
    for item, result in zip(waiting, results, strict=True):
        if isinstance(result, ledger.LegRefused):
            item.refused = True
            _declined(item.row, refusal_decline(result, item.hold, item.card))
            continue
        item.row.response_code, item.row.state = APPROVED, AuthorizationState.APPROVED
        item.row.expires_at = now + dt.timedelta(seconds=hold_seconds)
        item.transfers = [(kind, transfer) for (kind, _), transfer in zip(item.hold.legs, result, strict=True)]
    waiting.clear()


def _declined(row: CardAuthorization, decline: Decline) -> None:
    row.response_code, row.decline_reason, row.state = decline.code, decline.reason, AuthorizationState.DECLINED


async def authorize_payment(
    session: AsyncSession,
    principal: Principal,
    request: AuthorizeRequest,
    *,
    secret: str,
    hold_seconds: int,
    now: dt.datetime,
) -> CardAuthorization:
    """Authorize one card payment (`authorize_payments` with one order): the stored outcome,
    or the error of a request that cannot be an authorization at all."""
    order = AuthorizeOrder(principal, request)
    await authorize_payments(session, [order], secret=secret, hold_seconds=hold_seconds, now=now)
    if isinstance(order.result, DomainError):
        raise order.result
    return order.result


def noted(session: AsyncSession, row: CardAuthorization) -> None:
    """The authorization's new state, for the live updates once the transaction commits."""
    parties = tuple(party for party in (row.acquirer_id, row.issuer_id) if party is not None)
    changed(session, Change(Kind.AUTHORIZATION, row.id, row.state.value, row.merchant_id, parties))
