"""Settlement windows: closing one (its figures and positions fixed, the next opened),
the positions of a window, who sees what, and the list.

An institution's position: receivable (the obligations owed to it), payable (those it
owes), net = receivable - payable. A window's gross value is the sum of its
obligations, its net value the sum of the positive nets (what moves at settlement),
its netting efficiency 1 - net / gross (0 when gross is 0).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.access import Role
from models.settlement import NetPosition, Obligation, SettlementWindow, WindowState
from resolvers import reference
from resolvers.access import Action, Principal, require, visible_institution
from resolvers.errors import DomainError, ErrorCode, not_found
from resolvers.pagination import Page, grouped_in_key_order, keyset_page
from resolvers.settlement.obligations import noted, open_window

OBLIGATIONS = Obligation.__table__


@dataclass(frozen=True)
class Position:
    """An institution's position in a window, minor units of its currency."""

    window_id: int
    institution_id: int
    receivable: int
    payable: int

    @property
    def net(self) -> int:
        return self.receivable - self.payable


def efficiency(gross: int, net: int) -> Fraction:
    """1 - net / gross, exactly; 0 for a window with nothing in it."""
    return Fraction(0) if gross == 0 else 1 - Fraction(net, gross)


async def live_positions(session: AsyncSession, window_ids: Sequence[int]) -> list[list[Position]]:
    """Each window's positions from its obligations, by institution: one aggregate statement
    for all the windows, whatever the number of obligations."""
    if not window_ids:
        return []
    columns = OBLIGATIONS.c
    chosen = columns.window_id.in_(set(window_ids))
    owed = sa.select(
        columns.window_id, columns.payee_id.label("institution"), columns.amount.label("receivable"),
        sa.literal(0).label("payable"),
    ).where(chosen)  # fmt: skip
    owing = sa.select(columns.window_id, columns.payer_id, sa.literal(0), columns.amount).where(chosen)
    both = sa.union_all(owed, owing).subquery()
    statement = (
        sa.select(both.c.window_id, both.c.institution, sa.func.sum(both.c.receivable), sa.func.sum(both.c.payable))
        .group_by(both.c.window_id, both.c.institution)
        .order_by(both.c.window_id, both.c.institution)
    )
    connection = await session.connection()
    rows = [Position(w, i, int(r), int(p)) for w, i, r, p in await connection.execute(statement)]
    return grouped_in_key_order(rows, window_ids, lambda position: position.window_id)


@dataclass(frozen=True)
class Figures:
    """A window's figures: fixed once it is closed, as they stand while it is OPEN."""

    obligation_count: int
    gross: int
    net: int
    positions: list[Position]

    @property
    def efficiency(self) -> Fraction:
        return efficiency(self.gross, self.net)


async def window_figures(session: AsyncSession, windows: Sequence[SettlementWindow]) -> list[Figures]:
    """Each window's figures and positions (a DataLoader's batch: three statements at most)."""
    positions = await window_positions(session, windows)
    live = [w.id for w in windows if w.state is WindowState.OPEN]
    counts: dict[int, int] = {}
    if live:
        counting = (
            sa.select(OBLIGATIONS.c.window_id, sa.func.count())
            .where(OBLIGATIONS.c.window_id.in_(live))
            .group_by(OBLIGATIONS.c.window_id)
        )
        counts = dict((await (await session.connection()).execute(counting)).all())
    figures = []
    for window, found in zip(windows, positions, strict=True):
        if window.state is WindowState.OPEN:
            gross, net = sum(p.receivable for p in found), sum(p.net for p in found if p.net > 0)
            figures.append(Figures(counts.get(window.id, 0), gross, net, found))
        else:
            figures.append(Figures(window.obligation_count, window.gross, window.net, found))
    return figures


async def figures_by_id(session: AsyncSession, window_ids: Sequence[int]) -> list[Figures | None]:
    """window id -> its figures (a DataLoader's batch), None for no such window."""
    rows = {
        w.id: w for w in await session.exec(select(SettlementWindow).where(SettlementWindow.id.in_(set(window_ids))))
    }
    known = [rows[i] for i in window_ids if i in rows]
    found = dict(zip([w.id for w in known], await window_figures(session, known), strict=True))
    return [found.get(i) for i in window_ids]


async def window_positions(session: AsyncSession, windows: Sequence[SettlementWindow]) -> list[list[Position]]:
    """Each window's positions: fixed for a CLOSED or SETTLED window, live for an OPEN one."""
    fixed = [w.id for w in windows if w.state is not WindowState.OPEN]
    stored = await session.exec(select(NetPosition).where(NetPosition.window_id.in_(fixed))) if fixed else []
    found: dict[int, list[Position]] = {w: [] for w in fixed}
    for row in stored:
        found[row.window_id].append(Position(row.window_id, row.institution_id, row.receivable, row.payable))
    live = [w.id for w in windows if w.state is WindowState.OPEN]
    found.update(zip(live, await live_positions(session, live), strict=True))
    return [sorted(found[w.id], key=lambda p: p.institution_id) for w in windows]


async def close_window(session: AsyncSession, principal: Principal, scope: str, currency: str, *, now: dt.datetime):
    """Close the OPEN window of (scope, currency): its positions and figures fixed, CLOSED at
    `now`, and the next window opened. The window's row is locked FOR UPDATE first, so
    obligations being written into it are in, and later ones go to the next window."""
    require(principal, Action.OPERATE)
    scope, currency = scope.strip().upper(), currency.strip().upper()
    if currency not in await reference.minor_units(session):
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {currency[:10]!r}.", ["currency"])
    statement = (
        select(SettlementWindow)
        .where(
            SettlementWindow.scope == scope,
            SettlementWindow.currency_code == currency,
            SettlementWindow.state == WindowState.OPEN,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    window = (await session.exec(statement)).first()
    if window is None:
        raise not_found(f"No open settlement window for {scope[:20]} in {currency}.", "scope")
    return await _close(session, window, now)


async def _close(session: AsyncSession, window: SettlementWindow, now: dt.datetime) -> SettlementWindow:
    (positions,) = await live_positions(session, [window.id])
    session.add_all(NetPosition(window_id=window.id, institution_id=p.institution_id, receivable=p.receivable,
                                payable=p.payable) for p in positions)  # fmt: skip
    connection = await session.connection()
    counting = sa.select(sa.func.count()).select_from(OBLIGATIONS).where(OBLIGATIONS.c.window_id == window.id)
    count = (await connection.execute(counting)).scalar_one()
    window.obligation_count = count
    window.gross = sum(p.receivable for p in positions)
    window.net = sum(p.net for p in positions if p.net > 0)
    window.state, window.closed_at = WindowState.CLOSED, now
    await session.flush()
    noted(session, window)
    await open_window(session, window.scope, window.currency_code, now)
    return window


async def close_due(session: AsyncSession, scope: str, seconds: int, now: dt.datetime) -> int:
    """The schedule: close each OPEN window of `scope` opened at least `seconds` ago that
    holds obligations; how many. Exactly once across worker processes: each close locks
    the window and finds it OPEN, or skips it."""
    cutoff = now - dt.timedelta(seconds=seconds)
    statement = (
        select(SettlementWindow)
        .where(
            SettlementWindow.scope == scope,
            SettlementWindow.state == WindowState.OPEN,
            SettlementWindow.opened_at <= cutoff,
        )
        .order_by(SettlementWindow.currency_code)  # the order writers lock windows in: no cycle
    )
    closed = 0
    connection = await session.connection()
    for window in list(await session.exec(statement)):
        locked = (
            await session.exec(
                select(SettlementWindow)
                .where(SettlementWindow.id == window.id, SettlementWindow.state == WindowState.OPEN)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).first()
        any_one = sa.select(OBLIGATIONS.c.id).where(OBLIGATIONS.c.window_id == window.id).limit(1)
        has_obligations = locked is not None and (await connection.execute(any_one)).first() is not None
        if has_obligations:
            await _close(session, locked, now)
            closed += 1
    return closed


# ---------------------------------------------------------------- who sees what, the list


def may_see_window(principal: Principal, positions: list[Position]) -> bool:
    """The operator and analysts (READ_ANALYTICS: the figures) every window; a participant
    the windows it has a position in (`positions`: the window's)."""
    institution = visible_institution(principal)
    if institution is None or principal.role is Role.ANALYST:
        return True
    return any(p.institution_id == institution for p in positions)


def visible_positions(principal: Principal, positions: list[Position]) -> list[Position]:
    """The operator all; a participant its own; an analyst none."""
    institution = visible_institution(principal)
    if institution is None:
        return positions
    return [p for p in positions if p.institution_id == institution]


async def list_windows(
    session: AsyncSession,
    principal: Principal,
    *,
    scope: str | None = None,
    currency: str | None = None,
    state: WindowState | None = None,
    first: int | None = None,
    after: int | None = None,
) -> Page[SettlementWindow]:
    """Windows the caller sees, newest first: a participant, those it has a position in."""
    statement = select(SettlementWindow)
    institution = visible_institution(principal)
    if institution is not None and principal.role is not Role.ANALYST:  # as may_see_window
        mine = sa.union_all(
            sa.select(OBLIGATIONS.c.window_id).where(OBLIGATIONS.c.payer_id == institution),
            sa.select(OBLIGATIONS.c.window_id).where(OBLIGATIONS.c.payee_id == institution),
        ).subquery()
        statement = statement.where(SettlementWindow.id.in_(sa.select(mine.c.window_id)))
    if scope is not None:
        statement = statement.where(SettlementWindow.scope == scope.strip().upper())
    if currency is not None:
        statement = statement.where(SettlementWindow.currency_code == currency.strip().upper())
    if state is not None:
        statement = statement.where(SettlementWindow.state == state)
    return await keyset_page(session, statement, SettlementWindow.id, first=first, after=after, descending=True)
