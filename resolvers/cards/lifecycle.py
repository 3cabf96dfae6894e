"""A payment after its authorization: capture (the holds posted, in full or for less),
reversal (the holds voided) and refunds (new transfers back, at most the captured
amount in total), and what the payment shows as it goes: its state (EXPIRED once the
holds lapse), the link fee due, who sees it and its card, its transfers (holds, then
refunds).

Only the merchant's acquirer (or the operator) changes a payment, one change at a
time: each locks the authorization's row first.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.cards import (
    AuthorizationState,
    CardAuthorization,
    CardPaymentTransfer,
    CardRefund,
    CardRoute,
    CardScheme,
    PaymentLeg,
)
from resolvers import analytics, ledger, reference, settlement
from resolvers.access import Action, Principal, may_act_for, require, visible_institution
from resolvers.cards.authorization import noted
from resolvers.cards.steps import APPROVED, link_fee
from resolvers.errors import DomainError, ErrorCode, invalid, not_found
from resolvers.money import divide_down, divide_half_even, divide_up, from_minor, parse_amount
from resolvers.pagination import grouped_in_key_order

LINKS = CardPaymentTransfer.__table__
# A payment's transfers in order, each row with its authorization and leg.
_PAYMENT_TRANSFERS = (
    select(LINKS.c.authorization_id, LINKS.c.leg, ledger.TRANSFERS)
    .join(ledger.TRANSFERS, ledger.TRANSFERS.c.id == LINKS.c.transfer_id)
    .order_by(LINKS.c.authorization_id, LINKS.c.position)
)


@dataclass(frozen=True)
class RefundLegs:
    """What one refund moves: its transfers back (each with the leg of the payment it
    returns), the part of the link's fee it gives back, and the cardholder's share."""

    legs: list[tuple[PaymentLeg, ledger.Leg]]
    fee: int
    cardholder: int


# ---------------------------------------------------------------- what a payment shows


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


async def acquired_cards(session: AsyncSession, principal: Principal, card_ids: Sequence[int]) -> list[bool]:
    """For each card, whether the caller acquired an approved payment of it (and so sees
    the card; the operator sees every card). A declined attempt shows nothing: a PAN
    alone must not reveal a card's details."""
    institution = visible_institution(principal)
    if institution is None or institution < 0:
        return [institution is None] * len(card_ids)
    statement = select(CardAuthorization.card_id).where(
        CardAuthorization.card_id.in_(set(card_ids)),
        CardAuthorization.acquirer_id == institution,
        CardAuthorization.response_code == APPROVED,
    )
    acquired = set((await session.exec(statement.distinct())).all())
    return [card_id in acquired for card_id in card_ids]


async def payment_holds(session: AsyncSession, row: CardAuthorization) -> list[tuple[PaymentLeg, object]]:
    """The authorization's holds, (leg, transfer row), in order."""
    return (await _holds_of(session, [row.id]))[0]


async def _holds_of(session: AsyncSession, ids: Sequence[int]) -> list[list[tuple[PaymentLeg, object]]]:
    """For each authorization id, its holds, (leg, transfer row), in order (one statement)."""
    connection = await session.connection()
    result = await connection.execute(
        _PAYMENT_TRANSFERS.where(LINKS.c.authorization_id.in_(set(ids)), LINKS.c.refund_id.is_(None))
    )
    groups = grouped_in_key_order(result, ids, lambda r: r.authorization_id)
    return [[(PaymentLeg(r.leg), r) for r in rows] for rows in groups]


async def payment_transfers(session: AsyncSession, ids: Sequence[int]) -> list[list]:
    """authorization id -> its ledger transfers in order (holds, then refunds)."""
    connection = await session.connection()
    result = await connection.execute(_PAYMENT_TRANSFERS.where(LINKS.c.authorization_id.in_(set(ids))))
    return grouped_in_key_order(result, ids, lambda row: row.authorization_id)


# ---------------------------------------------------------------- capture and reversal


async def _lock_authorizations(session: AsyncSession, keys: Sequence[uuid.UUID]) -> dict[uuid.UUID, CardAuthorization]:
    """The authorizations of `keys` that exist, their rows locked (one change at a time) in
    id order (so two groups never deadlock on them), by authorizationId. Their schemes come
    with them, into the session (for `_scheme_code`, with no statement of its own)."""
    statement = (
        select(CardAuthorization, CardScheme)
        .join(CardScheme, CardScheme.id == CardAuthorization.scheme_id, isouter=True)
        .where(CardAuthorization.authorization_id.in_(set(keys)))
        .order_by(CardAuthorization.id)
        .with_for_update(of=CardAuthorization)
        .execution_options(populate_existing=True)
    )
    return {row.authorization_id: row for row, _ in await session.exec(statement)}


async def _locked_authorization(
    session: AsyncSession,
    principal: Principal,
    authorization_id: uuid.UUID,
    locked: dict[uuid.UUID, CardAuthorization] | None = None,
) -> CardAuthorization:
    """The authorization, its row locked (by `_lock_authorizations`, or now when `locked`
    is None), for its acquirer or the operator; NOT_FOUND for whoever may not see it,
    FORBIDDEN for its issuer."""
    require(principal, Action.WRITE_OWN)
    if locked is None:
        locked = await _lock_authorizations(session, [authorization_id])
    row = locked.get(authorization_id)
    if row is None or not may_see_authorization(principal, row):
        raise not_found("No authorization with this authorizationId.", "authorizationId")
    if not may_act_for(principal, row.acquirer_id):
        raise DomainError(
            ErrorCode.FORBIDDEN, "Only the merchant's acquirer captures, reverses or refunds.", ["authorizationId"]
        )
    return row


def _invalid_state(state: AuthorizationState, wanted: str) -> DomainError:
    """INVALID_STATE for a change the authorization's state does not allow, saying which state would."""
    return DomainError(ErrorCode.INVALID_STATE, f"The authorization is {state.value}; {wanted}.", ["authorizationId"])


async def _scheme_code(session: AsyncSession, row: CardAuthorization) -> str:
    """The code of the scheme the payment ran on: the scope of its settlement window (loaded
    with the locked authorization; a scheme's code never changes)."""
    return (await session.get(CardScheme, row.scheme_id)).code


@dataclass
class CaptureOrder:
    """One request to capture a payment, by its caller, and its outcome: the authorization
    (captured now or before), or the error that changed nothing."""

    principal: Principal
    authorization_id: uuid.UUID
    amount: Decimal | None
    result: CardAuthorization | DomainError | None = None


async def capture_payments(session: AsyncSession, orders: Sequence[CaptureOrder], *, now: dt.datetime) -> None:
    """Capture each order's payment as if alone and in order, leaving its outcome on it: the
    authorizations locked in one statement (in id order), then checked one by one (a
    request refused there gets its error, before anything is written), then every hold
    resolved in one `ledger.resolve_holds`, the obligations recorded once per scheme. A
    refusal while resolving (a hold changed by other means) raises, so that the caller's
    transaction is rolled back: the card group commit then writes each request alone. The
    same payment twice: the second after."""
    checked: list[tuple[CaptureOrder, CardAuthorization, int]] = []
    later: list[CaptureOrder] = []
    locked = await _lock_authorizations(session, [order.authorization_id for order in orders])
    for order in orders:
        try:
            found = await _checked_capture(session, order, locked, now)
        except DomainError as error:
            order.result = error
            continue
        if isinstance(found, CardAuthorization):
            order.result = found
        elif any(row is found[0] for _, row, _ in checked):
            later.append(order)
        else:
            checked.append((order, *found))
    if checked:
        await _captured(session, [(row, capture) for _, row, capture in checked], now)
        for order, row, _ in checked:
            order.result = row
    if later:
        await capture_payments(session, later, now=now)


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
    order = CaptureOrder(principal, authorization_id, amount)
    await capture_payments(session, [order], now=now)
    if isinstance(order.result, DomainError):
        raise order.result
    return order.result


async def _checked_capture(
    session: AsyncSession, order: CaptureOrder, locked: dict[uuid.UUID, CardAuthorization], now: dt.datetime
) -> CardAuthorization | tuple[CardAuthorization, int]:
    """The order's authorization (its row locked) and the amount to capture; the row alone
    for a replay; or the error, before anything is written."""
    row = await _locked_authorization(session, order.principal, order.authorization_id, locked)
    amount = order.amount
    state = authorization_state(row, now)
    if row.amount is None:
        raise _invalid_state(state, "only an APPROVED authorization is captured")
    capture = row.amount
    if amount is not None:
        capture = parse_amount(
            amount, row.currency_code, (await reference.minor_units(session))[row.currency_code], "amount"
        )
    if state is AuthorizationState.CAPTURED and capture == row.captured_amount:
        return row
    if state is not AuthorizationState.APPROVED:
        raise _invalid_state(state, "only an APPROVED authorization is captured")
    if capture > row.amount:
        raise DomainError(ErrorCode.AMOUNT_EXCEEDS_PENDING, "The amount exceeds the authorized amount.", ["amount"])
    return row, capture


async def _captured(session: AsyncSession, captures: Sequence[tuple[CardAuthorization, int]], now: dt.datetime) -> None:
    """Post each (authorization, amount)'s holds for the amount, and record what they owe
    between institutions."""
    changes: list[ledger.HoldChange] = []
    spans: list[tuple[int, int, int]] = []  # per capture: its changes' span, the cardholder amount
    for (row, capture), holds in zip(captures, await _holds_of(session, [row.id for row, _ in captures]), strict=True):
        fee = link_fee(capture, row.fee_bps)
        cardholder = divide_up(row.cardholder_amount * capture, row.amount)
        posts = {PaymentLeg.MERCHANT: capture - fee, PaymentLeg.FEE: fee, PaymentLeg.CARDHOLDER: cardholder}
        start = len(changes)
        for leg, transfer in holds:
            post = posts[leg] if leg is not PaymentLeg.FX else divide_half_even(transfer.amount * capture, row.amount)
            assert 0 <= post <= transfer.amount, "a capture posts at most what was held"
            accounts = (transfer.debit_account_id, transfer.credit_account_id)
            changes.append(ledger.HoldChange(transfer.transfer_id, post or None, accounts))
        spans.append((start, len(changes), cardholder))
    resolved = await ledger.resolve_holds(session, changes, now=now)  # a void posts nothing: it owes nothing
    owed: dict[str, list] = {}
    for (row, capture), (start, end, cardholder) in zip(captures, spans, strict=True):
        owed.setdefault(await _scheme_code(session, row), []).extend(resolved[start:end])
        row.state, row.captured_amount, row.resolved_at = AuthorizationState.CAPTURED, capture, now
        row.cardholder_captured = cardholder
    for scope in sorted(owed):
        await settlement.record_obligations(session, scope, owed[scope], now=now)
    await session.flush()
    await analytics.roll_up_card_payments(session, [(row, 0) for row, _ in captures])
    for row, _ in captures:
        noted(session, row)


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
    noted(session, row)
    return row


# ---------------------------------------------------------------- refunds


def refund_legs(
    holds: Sequence[tuple[PaymentLeg, object]],
    *,
    refund: int,
    captured: int,
    refunded: int,
    cardholder_captured: int,
    fee_bps: int,
) -> RefundLegs:
    """The legs that pay back `refund` of a payment that captured `captured` and refunded
    `refunded` so far: the holds' legs reversed, newest first, each its share of what the
    refunds then total (so that refunding everything returns exactly what was captured)."""
    after = refunded + refund
    fee = link_fee(after, fee_bps) - link_fee(refunded, fee_bps)
    cardholder = divide_down(cardholder_captured * after, captured) - divide_down(
        cardholder_captured * refunded, captured
    )
    legs: list[tuple[PaymentLeg, ledger.Leg]] = []
    for leg, transfer in reversed(holds):
        if leg is PaymentLeg.MERCHANT:
            back = refund - fee
        elif leg is PaymentLeg.FEE:
            back = fee
        elif leg is PaymentLeg.CARDHOLDER:
            back = cardholder
        else:
            posted = transfer.posted_amount or 0
            back = divide_half_even(posted * after, captured) - divide_half_even(posted * refunded, captured)
        if back > 0:
            reverse = ledger.Leg(transfer.credit_account_id, transfer.debit_account_id, back, transfer.currency_code)
            legs.append((leg, reverse))
    return RefundLegs(legs, fee, cardholder)


async def _post_refund(
    session: AsyncSession, legs: Sequence[tuple[PaymentLeg, ledger.Leg]], refund_id: uuid.UUID, now: dt.datetime
) -> list:
    """Post the refund's legs, all or none; the transfers, or the error that the ledger's
    refusal means for a refund (whose account could not pay it back)."""
    try:
        return await ledger.post_legs(session, [leg for _, leg in legs], reference=f"card refund {refund_id}", now=now)
    except ledger.LegRefused as refused:
        leg = legs[refused.index][0]
        if refused.code is ErrorCode.INSUFFICIENT_FUNDS and leg in (PaymentLeg.CARDHOLDER, PaymentLeg.FX):
            raise DomainError(
                ErrorCode.INSUFFICIENT_LIQUIDITY, "An FX provider's position cannot pay the refund."
            ) from None
        if refused.code is ErrorCode.INSUFFICIENT_FUNDS:
            whose = "scheme operator's fee account" if leg is PaymentLeg.FEE else "merchant's account"
            raise DomainError(
                ErrorCode.INSUFFICIENT_FUNDS, f"The {whose} has too little available to refund.", ["amount"]
            ) from None
        if refused.code is ErrorCode.INVALID_INPUT:  # an amount the accounts' totals cannot hold
            raise invalid(refused.message, "amount") from None
        raise AssertionError(f"a card refund failed unexpectedly: {refused.code}: {refused.message}") from refused


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
    refund = parse_amount(amount, row.currency_code, units[row.currency_code], "amount")
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
    back = refund_legs(
        await payment_holds(session, row),
        refund=refund,
        captured=captured,
        refunded=before,
        cardholder_captured=row.cardholder_captured,
        fee_bps=row.fee_bps,
    )
    if back.cardholder <= 0:
        raise invalid("The amount is too small to refund: the cardholder's share rounds to zero.", "amount")
    record = CardRefund(
        refund_id=refund_id, authorization_id=row.id, amount=refund, cardholder_amount=back.cardholder, created_at=now
    )
    session.add(record)
    await session.flush()  # claims refund_id: a concurrent twin waits here, then is retried as a replay
    transfers = await _post_refund(session, back.legs, refund_id, now)
    await settlement.record_obligations(session, await _scheme_code(session, row), transfers, now=now)
    start = await session.exec(
        select(func.count()).select_from(CardPaymentTransfer).where(CardPaymentTransfer.authorization_id == row.id)
    )
    position = start.one()
    session.add_all(
        CardPaymentTransfer(
            authorization_id=row.id, position=position + k, transfer_id=transfer.id, leg=leg, refund_id=record.id
        )
        for k, ((leg, _), transfer) in enumerate(zip(back.legs, transfers, strict=True))
    )
    row.refunded_amount, row.cardholder_refunded = before + refund, row.cardholder_refunded + back.cardholder
    await session.flush()
    await analytics.roll_up_card_payments(session, [(row, captured - before)])
    noted(session, row)
    return row
