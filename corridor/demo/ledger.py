"""The demo's ledger: ISSUANCE accounts of the central banks; SETTLEMENT and CUSTOMER
accounts of the banks, funded from ISSUANCE; a history of customer payments and two
open holds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.demo.common import BANK, CB, INSTITUTIONS, Created, DemoLeg, account, post
from models.base import utcnow
from models.ledger import AccountKind
from models.reference import Country
from resolvers import reference

# What each commercial bank's SETTLEMENT account receives from its central bank, and
# what each of its two customers then receives from it (illustrative figures).
SETTLEMENT_FUNDING = Decimal("10000000")
CUSTOMER_FUNDING = Decimal("100000")
CUSTOMERS = ("Customer A (illustrative)", "Customer B (illustrative)")
HISTORY_LENGTH = 30


@dataclass(frozen=True)
class Bank:
    """A commercial bank's demo accounts."""

    currency: str
    settlement: int
    customers: list[int]


async def load(session: AsyncSession, created: Created) -> None:
    """The accounts, then the funding, the payments and the holds, in that order."""
    issuance, banks = await _open_accounts(session, created)
    now = utcnow()
    await _fund(session, created, issuance, banks, now)
    await _pay(session, created, banks, now)
    await _hold(session, created, banks, now)


async def _open_accounts(session: AsyncSession, created: Created) -> tuple[dict[str, int], dict[str, Bank]]:
    """The ISSUANCE account of each central bank (by currency) and the accounts of each
    commercial bank (by BIC), in the order of INSTITUTIONS."""
    issuance: dict[str, int] = {}
    banks: dict[str, Bank] = {}
    for item in INSTITUTIONS:
        if item.kind not in (CB, BANK):
            continue
        owner_id = (await reference.institution_by_bic(session, item.bic)).id
        currency = (await session.get(Country, item.country)).currency_code
        if item.kind is CB:
            name = f"{currency} issuance"
            issuance[currency] = await account(session, created, owner_id, name, currency, AccountKind.ISSUANCE)
            continue
        name = f"{currency} settlement"
        settlement = await account(session, created, owner_id, name, currency, AccountKind.SETTLEMENT)
        customers = [
            await account(session, created, owner_id, customer, currency, AccountKind.CUSTOMER)
            for customer in CUSTOMERS
        ]
        banks[item.bic] = Bank(currency, settlement, customers)
    return issuance, banks


async def _fund(
    session: AsyncSession, created: Created, issuance: dict[str, int], banks: dict[str, Bank], now: dt.datetime
) -> None:
    """Each bank's SETTLEMENT account from its central bank, then its customers from it."""
    for bic, bank in banks.items():
        currency = bank.currency
        settlement = DemoLeg(
            f"fund {bic} settlement", issuance[currency], bank.settlement, SETTLEMENT_FUNDING, currency
        )
        await post(session, created, [settlement], reference="Initial liquidity from the central bank", now=now)
        deposits = [
            DemoLeg(f"fund {bic} customer {index}", bank.settlement, customer, CUSTOMER_FUNDING, currency)
            for index, customer in enumerate(bank.customers)
        ]
        await post(session, created, deposits, reference="Opening deposit", now=now)


async def _pay(session: AsyncSession, created: Created, banks: dict[str, Bank], now: dt.datetime) -> None:
    """Customer payments between the two Russian banks and the two Chinese banks."""
    for index in range(HISTORY_LENGTH):
        pair = ("SABRRUMM", "VTBRRUMM") if index % 2 == 0 else ("BKCHCNBJ", "ICBKCNBJ")
        payer, payee = pair if index % 4 < 2 else pair[::-1]
        payment = DemoLeg(
            f"payment {index}",
            banks[payer].customers[0],
            banks[payee].customers[1],
            Decimal(100 + 37 * index),
            banks[payer].currency,
        )
        await post(session, created, [payment], reference=f"Invoice {1000 + index}", now=now)


async def _hold(session: AsyncSession, created: Created, banks: dict[str, Bank], now: dt.datetime) -> None:
    """Two holds: one to post or void by hand, one that lapses after a day."""
    payer, payee = banks["SABRRUMM"].customers[1], banks["VTBRRUMM"].customers[0]
    hotel = DemoLeg("hold open", payer, payee, Decimal("2500.00"), "RUB")
    await post(session, created, [hotel], pending=True, reference="Hotel deposit (hold)", now=now)
    car = DemoLeg("hold lapsing", payer, payee, Decimal("750.00"), "RUB")
    await post(
        session,
        created,
        [car],
        pending=True,
        timeout_seconds=86_400,
        reference="Car rental (hold, lapses after a day)",
        now=now,
    )
