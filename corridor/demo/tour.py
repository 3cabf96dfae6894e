"""The ids a tour of the demo needs, printed by `corridor demo` after it loads (ids are
opaque: the README's examples can also find each of them by query)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import utcnow
from models.cards import CardAuthorization, Merchant
from models.fx import Basket
from models.ledger import Account, AccountKind
from models.messaging import InterbankPayment
from models.reference import Institution
from models.settlement import SettlementWindow
from resolvers.cards import authorization_state
from schema.base import global_id


async def tour(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """Lines naming the demo's merchants, customer accounts, authorizations, baskets,
    interbank payments and settlement windows with their ids."""
    async with sessions() as session:
        lines = ["ids for a tour (the README's examples use them; they stay the same on every load):"]
        for merchant in await session.exec(select(Merchant).order_by(Merchant.id)):
            lines.append(f"  merchant   {global_id('Merchant', merchant.id)}  {merchant.name}")
        accounts = await session.exec(
            select(Account, Institution.bic)
            .join(Institution, Institution.id == Account.owner_id)
            .where(Account.kind == AccountKind.CUSTOMER)
            .order_by(Account.id)
        )
        for account, bic in accounts:
            lines.append(
                f"  account    {global_id('Account', account.id)}  {bic} {account.name} ({account.currency_code})"
            )
        payments = await session.exec(select(CardAuthorization).order_by(CardAuthorization.id))
        now = utcnow()
        for row in payments:
            state = authorization_state(row, now).value.lower()
            lines.append(f"  authorization {row.authorization_id}  response {row.response_code}, {state}")
        for basket in await session.exec(select(Basket).order_by(Basket.id)):
            lines.append(f"  basket     {basket.code}  {basket.name}")
        for payment in await session.exec(select(InterbankPayment).order_by(InterbankPayment.id)):
            outcome = payment.status.value.lower() + (f" {payment.reason_code}" if payment.reason_code else "")
            lines.append(f"  payment    {payment.uetr}  {outcome}: {payment.remittance_information}")
        for window in await session.exec(select(SettlementWindow).order_by(SettlementWindow.id)):
            what = f"{window.scope} {window.currency_code} {window.state.value.lower()}"
            lines.append(f"  window     {global_id('SettlementWindow', window.id)}  {what}")
    return lines
