"""What the demo's domains share: derived ids, the institutions, the count of what was
created, and the two writes every domain makes (opening an account, posting legs)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.ledger import Account, AccountKind, Transfer
from models.reference import InstitutionKind
from resolvers import ledger
from resolvers.access import SYSTEM
from resolvers.money import to_minor
from resolvers.reference import minor_units

# Deterministic ids: loading the demo again replays the same transfers (created False).
DEMO_NAMESPACE = uuid.UUID("6f1c0f3e-2d1b-4c55-9a57-0c3a6b1e2f10")


def demo_id(name: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, name)


CB = InstitutionKind.CENTRAL_BANK
BANK = InstitutionKind.COMMERCIAL_BANK
FX = InstitutionKind.FX_PROVIDER
SCHEME = InstitutionKind.SCHEME_OPERATOR
NETWORK = InstitutionKind.NETWORK_OPERATOR


@dataclass(frozen=True)
class DemoInstitution:
    bic: str
    name: str
    country: str
    kind: InstitutionKind
    spread_bps: int | None = None


INSTITUTIONS: tuple[DemoInstitution, ...] = (
    # central banks
    DemoInstitution("CBRFRUMM", "Bank of Russia", "RU", CB),
    DemoInstitution("PBOCCNBJ", "People's Bank of China", "CN", CB),
    DemoInstitution("RBISINBB", "Reserve Bank of India", "IN", CB),
    DemoInstitution("BMJIIRTH", "Central Bank of the Islamic Republic of Iran", "IR", CB),
    DemoInstitution("BCBBBRDF", "Banco Central do Brasil", "BR", CB),
    DemoInstitution("SARBZAJP", "South African Reserve Bank", "ZA", CB),
    DemoInstitution("FRNYUS33", "Federal Reserve Bank of New York", "US", CB),
    DemoInstitution("ECBFDEFF", "European Central Bank", "DE", CB),
    # commercial banks in RU, CN, IN, IR
    DemoInstitution("SABRRUMM", "Sberbank", "RU", BANK),
    DemoInstitution("VTBRRUMM", "VTB Bank", "RU", BANK),
    DemoInstitution("BKCHCNBJ", "Bank of China", "CN", BANK),
    DemoInstitution("ICBKCNBJ", "Industrial and Commercial Bank of China", "CN", BANK),
    DemoInstitution("SBININBB", "State Bank of India", "IN", BANK),
    DemoInstitution("MELIIRTH", "Bank Melli Iran", "IR", BANK),
    # an FX provider (illustrative)
    DemoInstitution("CRFXAEAD", "Corridor FX (illustrative)", "AE", FX, spread_bps=25),
    # card scheme operators (BICs illustrative)
    DemoInstitution("NSPKRUMM", "National Card Payment System, Mir (illustrative BIC)", "RU", SCHEME),
    DemoInstitution("UPICCNSH", "UnionPay International (illustrative BIC)", "CN", SCHEME),
    DemoInstitution("VISAUS6S", "Visa (illustrative BIC)", "US", SCHEME),
    DemoInstitution("MCINUS33", "Mastercard (illustrative BIC)", "US", SCHEME),
    # payment network operators
    DemoInstitution("SWHQBEBB", "SWIFT", "BE", NETWORK),
    DemoInstitution("CBRFRUMMSPF", "SPFS, Bank of Russia financial messaging system", "RU", NETWORK),
    DemoInstitution("CIPSCNSH", "Cross-Border Interbank Payment System (CIPS)", "CN", NETWORK),
)

# ---------------------------------------------------------------- what was created

# What `load` counts, in the order `corridor demo` prints it. A new domain adds its kinds here.
CREATED_KINDS = (
    "institutions",
    "accounts",
    "transfers",
    "rates",
    "baskets",
    "schemes",
    "cards",
    "merchants",
    "authorizations",
    "networks",
    "payments",
    "windows",
    "reserves",
)
Created = dict[str, int]


def new_created() -> Created:
    """Nothing created yet, of each kind."""
    return dict.fromkeys(CREATED_KINDS, 0)


# ---------------------------------------------------------------- accounts


async def find_or_open_account(
    session: AsyncSession, owner_id: int, name: str, currency: str, kind: AccountKind
) -> tuple[int, bool]:
    """The demo account of that owner and name, opened if missing: (id, created)."""
    found = (await session.exec(select(Account.id).where(Account.owner_id == owner_id, Account.name == name))).first()
    if found is not None:
        return found, False
    account = await ledger.open_account(session, SYSTEM, owner_id=owner_id, name=name, currency=currency, kind=kind)
    return account.id, True


async def account(
    session: AsyncSession, created: Created, owner_id: int, name: str, currency: str, kind: AccountKind
) -> int:
    """`find_or_open_account`, counted in `created`; the account's id."""
    account_id, new = await find_or_open_account(session, owner_id, name, currency, kind)
    created["accounts"] += new
    return account_id


# ---------------------------------------------------------------- money


@dataclass(frozen=True)
class DemoLeg:
    """A transfer of the demo: `name` derives its transferId (so loading again replays
    it); `amount` is in units of `currency`, as the demo's figures are written."""

    name: str
    debit_account_id: int
    credit_account_id: int
    amount: Decimal
    currency: str


async def post(
    session: AsyncSession,
    created: Created,
    legs: Sequence[DemoLeg],
    *,
    pending: bool = False,
    timeout_seconds: int | None = None,
    reference: str | None = None,
    now: dt.datetime,
) -> None:
    """Post the legs through the ledger's one leg-posting call, atomically, and count the
    transfers that are new in `created`. A leg the ledger refuses raises its LegRefused,
    with a note naming the demo transfer: a demo that cannot load is a bug."""
    units = await minor_units(session)
    keys = [demo_id(leg.name) for leg in legs]
    known = (await session.exec(select(Transfer.transfer_id).where(col(Transfer.transfer_id).in_(keys)))).all()
    ledger_legs = [
        ledger.Leg(
            leg.debit_account_id, leg.credit_account_id, to_minor(leg.amount, units[leg.currency]), leg.currency, key
        )
        for leg, key in zip(legs, keys, strict=True)
    ]
    try:
        await ledger.post_legs(
            session, ledger_legs, pending=pending, timeout_seconds=timeout_seconds, reference=reference, now=now
        )
    except ledger.LegRefused as refused:
        leg = legs[refused.index]
        refused.add_note(f"The demo could not post {leg.name!r} ({leg.amount} {leg.currency}): {refused.code}.")
        raise
    created["transfers"] += len(keys) - len(set(known))
