"""Settling a CLOSED window on the ledger: in one transaction, each net payer's
SETTLEMENT account in the window's currency pays the scope operator's SETTLEMENT
account its net, and that account pays each net receiver its net, so the operator's
account ends where it started (moved only by the operator's own net, when it has a
position: a link fee it is owed). All or nothing: a payer short of funds fails it all
(SETTLEMENT_SHORTFALL, naming every short institution) and changes nothing, the
window staying CLOSED to be settled once funded. The window's row is locked first:
concurrent settles of one window settle it once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.cards import CardScheme
from models.ledger import Account, AccountKind
from models.messaging import PaymentNetwork
from models.reference import Institution
from models.settlement import SettlementTransfer, SettlementWindow, WindowState
from resolvers import ledger, reference
from resolvers.access import SYSTEM, Action, Principal, require
from resolvers.errors import DomainError, DomainErrors, ErrorCode, not_found
from resolvers.money import from_minor
from resolvers.pagination import grouped_in_key_order
from resolvers.settlement.obligations import noted
from resolvers.settlement.windows import Position, window_positions


async def scope_operator(session: AsyncSession, scope: str) -> int:
    """The institution that runs the scope: the card scheme's or the payment network's operator."""
    for model in (CardScheme, PaymentNetwork):
        found = (await session.exec(select(model.operator_id).where(model.code == scope))).first()
        if found is not None:
            return found
    raise not_found(f"No card scheme or payment network {scope[:20]!r} runs this window.", "windowId")


async def _accounts(
    session: AsyncSession, operator_id: int, institutions: set[int], currency: str
) -> tuple[int, dict[int, Account]]:
    """The operator's SETTLEMENT account in `currency` (its pool: opened on first need, once,
    the operator's row locked while it looks) and each institution's, all locked in one
    statement, in id order as the ledger locks."""
    await session.exec(select(Institution.id).where(Institution.id == operator_id).with_for_update())
    found = await ledger.settlement_accounts(session, institutions | {operator_id}, {currency}, lock=True)
    accounts = {owner: account for (owner, _), account in found.items()}
    if operator_id not in accounts:
        accounts[operator_id] = await ledger.open_account(
            session, SYSTEM, owner_id=operator_id, name=f"{currency} settlement pool", currency=currency,
            kind=AccountKind.SETTLEMENT,
        )  # fmt: skip
    pool = accounts[operator_id].id
    return pool, {owner: account for owner, account in accounts.items() if owner in institutions}


async def _check(
    session: AsyncSession, positions: list[Position], accounts: dict[int, Account], units: int, now: dt.datetime
) -> None:
    """Every institution with a position has a SETTLEMENT account, and every net payer its net
    available on it; else each one that has none or is short, as an error each."""
    ids = {p.institution_id for p in positions}
    names = {i.id: i.bic for i in await session.exec(select(Institution).where(Institution.id.in_(ids)))}
    lapsed = await ledger.lapsed_holds(session, [a.id for a in accounts.values()], now)
    errors = []
    for position in positions:
        account, bic = accounts.get(position.institution_id), names[position.institution_id]
        if account is None:
            errors.append(not_found(f"{bic} has no SETTLEMENT account in the window's currency.", "windowId"))
            continue
        available = ledger.effective_balances(account, lapsed.get(account.id)).available
        if position.net < 0 and available < -position.net:
            short = -position.net - available
            message = f"{bic} is short by {from_minor(short, units)} {account.currency_code} to pay its net."
            errors.append(DomainError(ErrorCode.SETTLEMENT_SHORTFALL, message, ["windowId"]))
    if errors:
        raise DomainErrors(errors)


async def settle_window(session: AsyncSession, principal: Principal, window_id: int, *, now: dt.datetime):
    """Settle a CLOSED window (see the module); settling an OPEN or SETTLED one is INVALID_STATE."""
    require(principal, Action.OPERATE)
    statement = (
        select(SettlementWindow)
        .where(SettlementWindow.id == window_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    window = (await session.exec(statement)).first()
    if window is None:
        raise not_found("No such settlement window.", "windowId")
    if window.state is not WindowState.CLOSED:
        message = f"The window is {window.state.value}: only a CLOSED one settles."
        raise DomainError(ErrorCode.INVALID_STATE, message, ["windowId"])
    (positions,) = await window_positions(session, [window])
    moving = [p for p in positions if p.net != 0]
    currency = window.currency_code
    operator = await scope_operator(session, window.scope)
    pool, accounts = await _accounts(session, operator, {p.institution_id for p in moving}, currency)
    await _check(session, moving, accounts, (await reference.minor_units(session))[currency], now)
    # The payers pay the pool first, then the pool pays the receivers: it ends where it began,
    # but for the operator's own net (a link fee it is owed), which its pool account is.
    legs = [
        ledger.Leg(accounts[p.institution_id].id, pool, -p.net, currency)
        for p in moving
        if p.net < 0 and accounts[p.institution_id].id != pool
    ]
    legs += [
        ledger.Leg(pool, accounts[p.institution_id].id, p.net, currency)
        for p in moving
        if p.net > 0 and accounts[p.institution_id].id != pool
    ]
    if legs:
        what = f"settlement of window {window.id} ({window.scope} {currency})"
        try:
            transfers = await ledger.post_legs(session, legs, reference=what, now=now)
        except ledger.LegRefused as refused:  # the checks under the locks make this the ledger's last word
            raise DomainError(ErrorCode.SETTLEMENT_SHORTFALL, refused.message, ["windowId"]) from None
        session.add_all(
            SettlementTransfer(window_id=window.id, position=k, transfer_id=t.id) for k, t in enumerate(transfers)
        )
    window.state, window.settled_at = WindowState.SETTLED, now
    await session.flush()
    noted(session, window)
    return window


async def settlement_transfers(session: AsyncSession, window_ids: Sequence[int]) -> list[list]:
    """window id -> the ledger transfers that settled it, in order (a DataLoader's batch)."""
    links = SettlementTransfer.__table__
    statement = (
        sa.select(links.c.window_id, ledger.TRANSFERS)
        .join(ledger.TRANSFERS, ledger.TRANSFERS.c.id == links.c.transfer_id)
        .where(links.c.window_id.in_(set(window_ids)))
        .order_by(links.c.window_id, links.c.position)
    )
    result = await (await session.connection()).execute(statement)
    return grouped_in_key_order(result, window_ids, lambda row: row.window_id)
