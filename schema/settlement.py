"""GraphQL types of settlement: windows, net positions, closing and settling."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from models import settlement as models
from resolvers import settlement
from schema.base import (
    Money,
    Node,
    PageInfo,
    UserError,
    connection,
    context,
    decode_cursor,
    decode_id,
    global_id,
    mutate,
    now,
    principal,
    user_errors,
)
from schema.ledger import Transfer, money, visible_transfers
from schema.loaders import loaders, minor_units
from schema.reference import Institution

SettlementWindowState = strawberry.enum(models.WindowState, name="SettlementWindowState")


@strawberry.type
class NetPosition:
    receivable: Money
    payable: Money
    net: Money = strawberry.field(description="receivable - payable: positive receives, negative pays.")
    _institution_id: strawberry.Private[int]

    @strawberry.field
    async def institution(self, info: Info) -> Institution:
        return await Institution.resolve_node(info, self._institution_id)


@strawberry.type
class SettlementWindow(Node):
    id: strawberry.ID
    scope: str = strawberry.field(
        description="The card scheme or payment network code whose obligations the window holds."
    )
    currency: str
    state: SettlementWindowState
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    settled_at: dt.datetime | None
    _row: strawberry.Private[models.SettlementWindow]

    @classmethod
    def of(cls, row: models.SettlementWindow) -> SettlementWindow:
        return cls(
            id=global_id("SettlementWindow", row.id),
            scope=row.scope,
            currency=row.currency_code,
            state=row.state,
            opened_at=row.opened_at,
            closed_at=row.closed_at,
            settled_at=row.settled_at,
            _row=row,
        )

    @classmethod
    async def resolve_node(cls, info: Info, key: int) -> SettlementWindow | None:
        """A window for the operator and analysts, and for a participant with a position in it."""
        row = await loaders(info).settlement_window.load(key)
        if row is None:
            return None
        figures = await loaders(info).window_figures.load(key)
        return cls.of(row) if settlement.may_see_window(principal(info), figures.positions) else None

    async def _figures(self, info: Info) -> settlement.Figures:
        return await loaders(info).window_figures.load(self._row.id)

    async def _money(self, info: Info, minor: int) -> Money:
        return money(minor, self._row.currency_code, await minor_units(info))

    @strawberry.field
    async def obligation_count(self, info: Info) -> int:
        return (await self._figures(info)).obligation_count

    @strawberry.field(description="Sum of all obligations.")
    async def gross_value(self, info: Info) -> Money:
        return await self._money(info, (await self._figures(info)).gross)

    @strawberry.field(description="Sum of the positive net positions: what actually moves at settlement.")
    async def net_value(self, info: Info) -> Money:
        return await self._money(info, (await self._figures(info)).net)

    @strawberry.field(description="1 - netValue / grossValue (0 when grossValue is 0).")
    async def netting_efficiency(self, info: Info) -> float:
        return float((await self._figures(info)).efficiency)

    @strawberry.field(
        description="Each institution's position, by institution: all for the operator, its own for a "
        "participant, none for an analyst."
    )
    async def positions(self, info: Info) -> list[NetPosition]:
        figures = await self._figures(info)
        units, code = await minor_units(info), self._row.currency_code
        return [
            NetPosition(
                receivable=money(p.receivable, code, units),
                payable=money(p.payable, code, units),
                net=money(p.net, code, units),
                _institution_id=p.institution_id,
            )
            for p in settlement.visible_positions(principal(info), figures.positions)
        ]

    @strawberry.field(description="The settlement transfers (payers to the operator's pool, the pool to receivers).")
    async def transfers(self, info: Info) -> list[Transfer]:
        return await visible_transfers(info, await loaders(info).settlement_transfers.load(self._row.id))


@strawberry.type
class SettlementWindowEdge:
    cursor: str
    node: SettlementWindow


@strawberry.type
class SettlementWindowConnection:
    page_info: PageInfo
    edges: list[SettlementWindowEdge]


@strawberry.type
class SettlementWindowPayload:
    window: SettlementWindow | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SettlementQuery:
    @strawberry.field(description="Settlement windows the caller sees, newest first.")
    async def settlement_windows(
        self,
        info: Info,
        scope: str | None = None,
        currency: str | None = None,
        state: SettlementWindowState | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> SettlementWindowConnection:
        after_key = decode_cursor(after, "after")
        page = await context(info).read(
            lambda session: settlement.list_windows(
                session, principal(info), scope=scope, currency=currency, state=state, first=first, after=after_key
            )
        )
        return connection(SettlementWindowConnection, SettlementWindowEdge, page, SettlementWindow.of)


@strawberry.type
class SettlementMutation:
    @strawberry.mutation(
        description="Close the OPEN window of a scope and currency: its positions fixed, the next opened."
    )
    @user_errors(SettlementWindowPayload)
    async def close_settlement_window(self, info: Info, scope: str, currency: str) -> SettlementWindowPayload:
        row = await mutate(info, settlement.close_window, scope, currency, now=now(info))
        return SettlementWindowPayload(window=SettlementWindow.of(row))

    @strawberry.mutation(description="Settle a CLOSED window on the ledger, all or nothing.")
    @user_errors(SettlementWindowPayload)
    async def settle_settlement_window(self, info: Info, window_id: strawberry.ID) -> SettlementWindowPayload:
        key = decode_id(window_id, "SettlementWindow", "windowId")
        row = await mutate(info, settlement.settle_window, key, now=now(info))
        return SettlementWindowPayload(window=SettlementWindow.of(row))
