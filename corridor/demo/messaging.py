"""The demo's interbank messaging: SWIFT, SPFS and CIPS with their members, the banks'
accounts for them, and payments: RU<->IR payments of which 60% of the value settles
outside USD (RUB over SPFS now; USD over SWIFT in 2021, before the Russian and Iranian
banks were disconnected), RU<->CN payments over CIPS, one cross-currency payment, and
one rejected payment for each reason code. Amounts are illustrative; UETRs derive from
names, so loading again replays every payment."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.demo.common import Created, DemoLeg, account, demo_id, post
from models.base import utcnow
from models.ledger import Account, AccountKind
from models.messaging import (
    InterbankPayment,
    MessageType,
    NetworkMembership,
    ParticipationStatus,
    PaymentNetwork,
    SettlementMode,
)
from models.reference import Country, Institution, InstitutionKind
from resolvers import messaging, reference
from resolvers.access import SYSTEM
from resolvers.errors import DomainError

DISCONNECTED = "disconnected 2022"
DISCONNECTED_AT = dt.datetime(2022, 3, 12, tzinfo=dt.UTC)
BEFORE = dt.datetime(2021, 6, 15, 9, 0, tzinfo=dt.UTC)  # the USD payments, while still on SWIFT
ACTIVE, SUSPENDED = ParticipationStatus.ACTIVE, ParticipationStatus.SUSPENDED
# (code, name, operator BIC, country, settlement currencies, mode)
NETWORKS = (
    ("SWIFT", "SWIFT", "SWHQBEBB", None, ("USD", "EUR"), SettlementMode.RTGS),
    (
        "SPFS",
        "SPFS, financial messaging of the Bank of Russia",
        "CBRFRUMMSPF",
        "RU",
        ("RUB",),
        SettlementMode.DEFERRED_NET,
    ),
    ("CIPS", "Cross-Border Interbank Payment System", "CIPSCNSH", "CN", ("CNY",), SettlementMode.RTGS),
)
CUT_OFF = ("SABRRUMM", "VTBRRUMM", "MELIIRTH")  # suspended on SWIFT, "disconnected 2022"
MEMBERS = {
    "SWIFT": ("BKCHCNBJ", "ICBKCNBJ", "SBININBB"),
    "SPFS": ("SABRRUMM", "VTBRRUMM", "MELIIRTH"),
    "CIPS": ("SABRRUMM", "VTBRRUMM", "BKCHCNBJ", "ICBKCNBJ"),
}
# Accounts the payments need beyond the ledger's: (bank, currency, with a SETTLEMENT account
# of its own). The Russian banks' RUB SETTLEMENT accounts are the ledger's; the State Bank
# of India has no USD one (the ED05 rejection).
ACCOUNTS = (
    ("SABRRUMM", "RUB", False),
    ("VTBRRUMM", "RUB", False),
    ("SABRRUMM", "USD", True),
    ("VTBRRUMM", "USD", True),
    ("MELIIRTH", "USD", True),
    ("MELIIRTH", "RUB", True),
    ("SABRRUMM", "CNY", True),
    ("VTBRRUMM", "CNY", True),
    ("BKCHCNBJ", "USD", True),
    ("SBININBB", "USD", False),
)
FUNDING = {"USD": Decimal("1000000"), "RUB": Decimal("50000000"), "CNY": Decimal("5000000")}
# The operators' SETTLEMENT accounts, which pool net settlement.
POOLS = (("SWHQBEBB", "USD"), ("SWHQBEBB", "EUR"), ("CBRFRUMMSPF", "RUB"), ("CIPSCNSH", "CNY"))
CUSTOMER = "Customer A (illustrative)"  # the ledger's customer account of each bank, in its currency
CUSTOMER_IN = "{currency} customer (illustrative)"


@dataclass(frozen=True)
class DemoPayment:
    """A demo payment: `name` derives its UETR; `network` None lets the service route it;
    the debtor account is the sender's in `debtor` (a currency, or "BIC CUR" for another
    bank's account), the creditor the receiver's in `creditor` (default: the payment's
    currency); `expect` is its outcome, SETTLED or the reason code of its rejection."""

    name: str
    network: str | None
    sender: str
    receiver: str
    amount: str
    currency: str
    expect: str = "SETTLED"
    debtor: str | None = None
    creditor: str | None = None


# RU<->IR: 40,000 USD over SWIFT in 2021 and 5,550,000 RUB (60,000 USD at 92.50) over SPFS:
# 60% of the corridor's value settles outside USD.
HISTORY = (
    DemoPayment("RU-IR USD 1", "SWIFT", "SABRRUMM", "MELIIRTH", "20000.00", "USD"),
    DemoPayment("IR-RU USD 2", "SWIFT", "MELIIRTH", "VTBRRUMM", "20000.00", "USD"),
)
PAYMENTS = (
    DemoPayment("RU-IR RUB 1", None, "SABRRUMM", "MELIIRTH", "2775000.00", "RUB"),
    DemoPayment("IR-RU RUB 2", None, "MELIIRTH", "SABRRUMM", "1387500.00", "RUB"),
    DemoPayment("RU-IR RUB 3", None, "VTBRRUMM", "MELIIRTH", "1387500.00", "RUB"),
    DemoPayment("RU-CN CNY 1", None, "SABRRUMM", "BKCHCNBJ", "50000.00", "CNY"),
    DemoPayment("CN-RU CNY 2", None, "ICBKCNBJ", "VTBRRUMM", "30000.00", "CNY"),
    DemoPayment("RU-CN cross-currency", "CIPS", "VTBRRUMM", "BKCHCNBJ", "8000.00", "CNY", debtor="RUB"),
    DemoPayment("USD over SWIFT from a suspended bank", "SWIFT", "SABRRUMM", "BKCHCNBJ", "1500.00", "USD", "RR04"),
    DemoPayment("CNY over SPFS, which settles RUB only", "SPFS", "SABRRUMM", "VTBRRUMM", "1500.00", "CNY", "AM03"),
    DemoPayment(
        "from another bank's account", "SPFS", "SABRRUMM", "MELIIRTH", "1500.00", "RUB", "AC01", debtor="VTBRRUMM RUB"
    ),
    DemoPayment("more than the debtor account holds", "SPFS", "VTBRRUMM", "SABRRUMM", "900000000.00", "RUB", "AM04"),
    DemoPayment("to a bank with no USD SETTLEMENT account", "SWIFT", "BKCHCNBJ", "SBININBB", "1500.00", "USD", "ED05"),
    DemoPayment("CNY to a USD account", "CIPS", "SABRRUMM", "BKCHCNBJ", "1500.00", "CNY", "CURR", creditor="USD"),
)


async def load(session: AsyncSession, created: Created) -> None:
    """Networks, memberships, accounts, then the payments: the 2021 ones over SWIFT before
    the Russian and Iranian banks' suspension, the rest after it."""
    banks = {bic: (await reference.institution_by_bic(session, bic)).id for bic in _bics()}
    await _networks(session, created, banks)
    accounts = await _accounts(session, created, banks)
    swift = (await session.exec(select(PaymentNetwork.id).where(PaymentNetwork.code == "SWIFT"))).one()
    for bic in CUT_OFF:  # members of SWIFT before 2022 (a second load finds them suspended)
        if await session.get(NetworkMembership, (swift, banks[bic])) is None:
            await _member(session, banks, "SWIFT", bic, ACTIVE, None, BEFORE)
    await _pay(session, created, accounts, HISTORY, BEFORE)
    for bic in CUT_OFF:
        await _member(session, banks, "SWIFT", bic, SUSPENDED, DISCONNECTED, DISCONNECTED_AT)
    await _pay(session, created, accounts, PAYMENTS, utcnow())


def _bics() -> set[str]:
    bics = {operator for _, _, operator, *_ in NETWORKS} | set(CUT_OFF)
    bics |= {bic for members in MEMBERS.values() for bic in members}
    return bics | {bic for bic, _, _ in ACCOUNTS}


async def _member(session: AsyncSession, banks, code: str, bic: str, status, reason, now: dt.datetime) -> None:
    await messaging.set_network_membership(
        session, SYSTEM, network_code=code, institution_id=banks[bic], status=status, reason=reason, now=now
    )


async def _networks(session: AsyncSession, created: Created, banks: dict[str, int]) -> None:
    """The networks (once) and their ACTIVE members."""
    for code, name, operator, country, currencies, mode in NETWORKS:
        if (await session.exec(select(PaymentNetwork.id).where(PaymentNetwork.code == code))).first() is None:
            await messaging.create_payment_network(
                session,
                SYSTEM,
                code=code,
                name=name,
                operator_id=banks[operator],
                country_code=country,
                settlement_currencies=currencies,
                settlement_mode=mode,
            )
            created["networks"] += 1
    for code, members in MEMBERS.items():
        for bic in members:
            await _member(session, banks, code, bic, ACTIVE, None, BEFORE)


async def _accounts(session: AsyncSession, created: Created, banks: dict[str, int]) -> dict[tuple[str, str], int]:
    """(bank BIC, currency) -> its customer account: the ledger's in the bank's own
    currency, and those of ACCOUNTS (with their SETTLEMENT accounts, all funded from the
    currency's central bank); and the operators' SETTLEMENT pools."""
    found: dict[tuple[str, str], int] = {}
    owners = {row.bic: row for row in await session.exec(select(Institution).where(Institution.bic.in_(_bics())))}
    for bic, own in owners.items():
        if own.kind is InstitutionKind.COMMERCIAL_BANK:
            currency = (await session.get(Country, own.country_code)).currency_code
            found[(bic, currency)] = await account(session, created, own.id, CUSTOMER, currency, AccountKind.CUSTOMER)
    issuance = await _issuance(session)
    for bic, currency, settles in ACCOUNTS:
        customer = await account(
            session, created, banks[bic], CUSTOMER_IN.format(currency=currency), currency, AccountKind.CUSTOMER
        )
        found[(bic, currency)] = customer
        funding = FUNDING[currency]
        legs = [DemoLeg(f"fund {bic} {currency} customer", issuance[currency], customer, funding, currency)]
        if settles:
            name, kind = f"{currency} settlement", AccountKind.SETTLEMENT
            settlement = await account(session, created, banks[bic], name, currency, kind)
            legs.append(DemoLeg(f"fund {bic} {currency} settlement", issuance[currency], settlement, funding, currency))
        await post(session, created, legs, reference="Funding for interbank payments", now=BEFORE)
    for bic, currency in POOLS:
        await account(session, created, banks[bic], f"{currency} settlement pool", currency, AccountKind.SETTLEMENT)
    return found


async def _issuance(session: AsyncSession) -> dict[str, int]:
    """Currency -> its central bank's ISSUANCE account."""
    statement = (
        select(Account.currency_code, Account.id).where(Account.kind == AccountKind.ISSUANCE).order_by(Account.id)
    )
    return {currency: account_id for currency, account_id in reversed((await session.exec(statement)).all())}


def demo_uetr(name: str) -> uuid.UUID:
    """The UETR of a demo payment: derived from its name (a second load replays it), shaped
    as the UUID version 4 that a UETR is."""
    return uuid.UUID(bytes=demo_id(f"payment {name}").bytes, version=4)


def _request(item: DemoPayment, accounts: dict[tuple[str, str], int]) -> messaging.PaymentRequest:
    debtor = item.debtor or item.currency
    debtor_key = tuple(debtor.split()) if " " in debtor else (item.sender, debtor)
    return messaging.PaymentRequest(
        uetr=demo_uetr(item.name),
        network_code=item.network,
        message_type=MessageType.PACS_008,
        sender_bic=item.sender,
        receiver_bic=item.receiver,
        debtor_account_id=accounts[debtor_key],
        creditor_account_id=accounts[(item.receiver, item.creditor or item.currency)],
        amount=Decimal(item.amount),
        currency=item.currency,
        remittance_information=f"{item.name} (illustrative)",
    )


async def _pay(session, created: Created, accounts, items, now: dt.datetime) -> None:
    """Send the payments (a second load replays them) and check each ends as expected."""
    known = {row for row in await session.exec(select(InterbankPayment.uetr))}
    orders = [messaging.PaymentOrder(SYSTEM, _request(item, accounts)) for item in items]
    await messaging.send_payments(session, orders, now=now)
    for item, result in zip(items, (order.result for order in orders), strict=True):
        assert not isinstance(result, DomainError), f"the demo payment {item.name!r} failed: {result.message}"
        outcome = result.reason_code or result.status.value
        assert outcome == item.expect, f"the demo payment {item.name!r} ended {outcome}, not {item.expect}"
        created["payments"] += result.uetr not in known
