"""The demo's settlement windows, from the obligations that the demo's card captures and
refunds (in the windows of the scheme each payment ran on) and SPFS payments (in the
network's window) recorded when they were made:
- SPFS RUB and UNIONPAY CNY closed and SETTLED, through the operators' SETTLEMENT pools;
- MIR RUB closed and left CLOSED, waiting: the FX provider, its net payer, has too little
  on its RUB SETTLEMENT account (settling it answers SETTLEMENT_SHORTFALL until funded);
- one more SPFS payment after the settlement, so the next SPFS RUB window is OPEN and
  holds an obligation (the card windows MIR CNY and UNIONPAY RUB stay OPEN too).
A window is closed only on the first load that finds no CLOSED or SETTLED window of its
scope and currency, and the payment's UETR derives from its name: loading again changes
nothing and creates nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.demo.common import Created, DemoLeg, account, post
from corridor.demo.messaging import demo_uetr
from models.base import utcnow
from models.ledger import Account, AccountKind
from models.messaging import InterbankPayment, MessageType
from models.settlement import SettlementWindow, WindowState
from resolvers import messaging, reference, settlement
from resolvers.access import SYSTEM
from resolvers.errors import DomainError

# (scope, currency, the state the demo leaves its first window in)
WINDOWS = (
    ("SPFS", "RUB", WindowState.SETTLED),
    ("UNIONPAY", "CNY", WindowState.SETTLED),
    ("MIR", "RUB", WindowState.CLOSED),
)
# The FX provider pays and receives the card payments' conversions, so it has positions
# in the card windows: its SETTLEMENT accounts, funded from the central banks. 1,000 RUB
# is less than its 4,000 RUB net in the MIR RUB window: that window waits.
FX_PROVIDER = "CRFXAEAD"
FX_SETTLEMENT_FUNDING = {"RUB": Decimal("1000"), "CNY": Decimal("100000")}
# The card scheme operators' SETTLEMENT pools for the windows settled through them
# (settling opens a missing one; opening them here counts them in `created`).
SCHEME_POOLS = (("NSPKRUMM", "RUB"), ("UPICCNSH", "CNY"))
# The payment sent after SPFS settles: its obligation is in the next, OPEN, window.
# Between two Russian banks, so the RU<->IR figures of the messaging demo stay as they are.
AFTER = ("SPFS payment after the settlement", "SABRRUMM", "VTBRRUMM", "250000.00", "RUB")
PAYMENT_ACCOUNT = "RUB customer (illustrative)"  # the messaging demo's RUB customer accounts


async def window_count(session: AsyncSession) -> int:
    """How many settlement windows there are (before the load, to count those it creates)."""
    return (await session.exec(select(sa.func.count()).select_from(SettlementWindow))).one()


async def load(session: AsyncSession, created: Created, windows_before: int) -> None:
    """The accounts settling needs, then each window of WINDOWS closed (and settled) once,
    then the payment after the settlement. `windows_before`: the windows there were
    before the load, so that `created["windows"]` counts every window the load opened
    (those the payments opened on first need, and the next ones the closes opened)."""
    now = utcnow()
    await _accounts(session, created, now)
    for scope, currency, state in WINDOWS:
        await _close(session, scope, currency, state)
        if scope == "SPFS":
            await _pay_after(session, created)
    created["windows"] += await window_count(session) - windows_before


async def _accounts(session: AsyncSession, created: Created, now: dt.datetime) -> None:
    """The FX provider's SETTLEMENT accounts, funded, and the card schemes' pools."""
    fx = (await reference.institution_by_bic(session, FX_PROVIDER)).id
    issuance = await _issuance(session)
    for currency, funding in FX_SETTLEMENT_FUNDING.items():
        name = f"{currency} settlement"
        funded = await account(session, created, fx, name, currency, AccountKind.SETTLEMENT)
        leg = DemoLeg(f"fund {FX_PROVIDER} {name}", issuance[currency], funded, funding, currency)
        await post(session, created, [leg], reference="Liquidity for card settlement", now=now)
    for bic, currency in SCHEME_POOLS:
        owner = (await reference.institution_by_bic(session, bic)).id
        await account(session, created, owner, f"{currency} settlement pool", currency, AccountKind.SETTLEMENT)


async def _issuance(session: AsyncSession) -> dict[str, int]:
    """Currency -> its central bank's ISSUANCE account (the first, as the ledger demo opened it)."""
    statement = (
        select(Account.currency_code, Account.id).where(Account.kind == AccountKind.ISSUANCE).order_by(Account.id)
    )
    return {currency: account_id for currency, account_id in reversed((await session.exec(statement)).all())}


async def _close(session: AsyncSession, scope: str, currency: str, state: WindowState) -> None:
    """Close the OPEN window of (scope, currency), and settle it if `state` says so; only when
    no window of theirs was closed before (a second load finds one and does nothing)."""
    done = select(SettlementWindow.id).where(
        SettlementWindow.scope == scope,
        SettlementWindow.currency_code == currency,
        SettlementWindow.state != WindowState.OPEN,
    )
    if (await session.exec(done)).first() is not None:
        return
    now = utcnow()
    window = await settlement.close_window(session, SYSTEM, scope, currency, now=now)
    assert window.obligation_count > 0, f"the demo's {scope} {currency} window has no obligations to close"
    if state is WindowState.SETTLED:
        await settlement.settle_window(session, SYSTEM, window.id, now=now)


async def _pay_after(session: AsyncSession, created: Created) -> None:
    """The payment after the SPFS settlement (replayed on a second load)."""
    name, sender, receiver, amount, currency = AFTER
    uetr = demo_uetr(name)
    known = (await session.exec(select(InterbankPayment.id).where(InterbankPayment.uetr == uetr))).first()
    ids = {bic: (await reference.institution_by_bic(session, bic)).id for bic in (sender, receiver)}
    accounts = {
        bic: (
            await session.exec(select(Account.id).where(Account.owner_id == owner, Account.name == PAYMENT_ACCOUNT))
        ).one()
        for bic, owner in ids.items()
    }
    request = messaging.PaymentRequest(
        uetr=uetr,
        network_code="SPFS",
        message_type=MessageType.PACS_008,
        sender_bic=sender,
        receiver_bic=receiver,
        debtor_account_id=accounts[sender],
        creditor_account_id=accounts[receiver],
        amount=Decimal(amount),
        currency=currency,
        remittance_information=f"{name} (illustrative)",
    )
    order = messaging.PaymentOrder(SYSTEM, request)
    await messaging.send_payments(session, [order], now=utcnow())
    result = order.result
    assert not isinstance(result, DomainError), f"the demo payment {name!r} failed: {result.message}"
    assert result.status.value == "SETTLED", f"the demo payment {name!r} ended {result.reason_code}"
    created["payments"] += known is None
