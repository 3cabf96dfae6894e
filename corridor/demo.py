"""The demo network of ../shared/DESIGN.md, loaded idempotently by `corridor demo`.

Institutions carry their real BICs where the institution publishes one; the
operators of the schemes and the FX provider are illustrative (marked so in
their names). Loading twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.db import WRITE_OPTION
from corridor.settings import Settings
from models.base import utcnow
from models.cards import Card, CardScheme, Merchant, ParticipationStatus, SchemeRole
from models.fx import ExchangeRate
from models.ledger import Account, AccountKind
from models.reference import Country, InstitutionKind
from resolvers import cards, fx, ledger, reference
from resolvers.access import SYSTEM

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


# Deterministic ids: loading the demo again replays the same transfers (created False).
DEMO_NAMESPACE = uuid.UUID("6f1c0f3e-2d1b-4c55-9a57-0c3a6b1e2f10")

# What each commercial bank's SETTLEMENT account receives from its central bank, and
# what each of its two customers then receives from it (illustrative figures).
SETTLEMENT_FUNDING = Decimal("10000000")
CUSTOMER_FUNDING = Decimal("100000")
CUSTOMERS = ("Customer A (illustrative)", "Customer B (illustrative)")
HISTORY_LENGTH = 30


def demo_id(name: str) -> uuid.UUID:
    return uuid.uuid5(DEMO_NAMESPACE, name)


async def _account(
    session: AsyncSession, owner_id: int, name: str, currency: str, kind: AccountKind
) -> tuple[int, bool]:
    """The demo account of that owner and name, opened if missing: (id, created)."""
    found = (await session.exec(select(Account.id).where(Account.owner_id == owner_id, Account.name == name))).first()
    if found is not None:
        return found, False
    account = await ledger.open_account(session, SYSTEM, owner_id=owner_id, name=name, currency=currency, kind=kind)
    return account.id, True


async def _load_ledger(session: AsyncSession, created: dict[str, int]) -> None:
    """ISSUANCE accounts of the central banks; SETTLEMENT and CUSTOMER accounts of the
    banks, funded from ISSUANCE; a history of customer payments and two open holds."""
    banks: dict[str, dict] = {}
    issuance: dict[str, int] = {}
    for item in INSTITUTIONS:
        if item.kind not in (CB, BANK):
            continue
        institution = await reference.institution_by_bic(session, item.bic)
        currency = (await session.get(Country, item.country)).currency_code
        if item.kind is CB:
            account_id, new = await _account(
                session, institution.id, f"{currency} issuance", currency, AccountKind.ISSUANCE
            )
            issuance[currency] = account_id
            created["accounts"] += new
            continue
        settlement, new = await _account(
            session, institution.id, f"{currency} settlement", currency, AccountKind.SETTLEMENT
        )
        created["accounts"] += new
        customers = []
        for name in CUSTOMERS:
            customer, new = await _account(session, institution.id, name, currency, AccountKind.CUSTOMER)
            customers.append(customer)
            created["accounts"] += new
        banks[item.bic] = {"currency": currency, "settlement": settlement, "customers": customers}

    specs = []
    for bic, bank in banks.items():
        currency = bank["currency"]
        specs.append(
            ledger.TransferSpec(
                demo_id(f"fund {bic} settlement"),
                issuance[currency],
                bank["settlement"],
                SETTLEMENT_FUNDING,
                currency,
                reference="Initial liquidity from the central bank",
            )
        )
        for index, customer in enumerate(bank["customers"]):
            specs.append(
                ledger.TransferSpec(
                    demo_id(f"fund {bic} customer {index}"),
                    bank["settlement"],
                    customer,
                    CUSTOMER_FUNDING,
                    currency,
                    reference="Opening deposit",
                )
            )
    # Customer payments between the two Russian banks and the two Chinese banks.
    for index in range(HISTORY_LENGTH):
        pair = ("SABRRUMM", "VTBRRUMM") if index % 2 == 0 else ("BKCHCNBJ", "ICBKCNBJ")
        payer, payee = pair if index % 4 < 2 else pair[::-1]
        currency = banks[payer]["currency"]
        specs.append(
            ledger.TransferSpec(
                demo_id(f"payment {index}"),
                banks[payer]["customers"][0],
                banks[payee]["customers"][1],
                Decimal(100 + 37 * index),
                currency,
                reference=f"Invoice {1000 + index}",
            )
        )
    # Two holds: one to post or void by hand, one that lapses after a day.
    sber, vtb = banks["SABRRUMM"], banks["VTBRRUMM"]
    specs.append(
        ledger.TransferSpec(
            demo_id("hold open"),
            sber["customers"][1],
            vtb["customers"][0],
            Decimal("2500.00"),
            "RUB",
            pending=True,
            reference="Hotel deposit (hold)",
        )
    )
    specs.append(
        ledger.TransferSpec(
            demo_id("hold lapsing"),
            sber["customers"][1],
            vtb["customers"][0],
            Decimal("750.00"),
            "RUB",
            pending=True,
            timeout_seconds=86_400,
            reference="Car rental (hold, lapses after a day)",
        )
    )
    outcomes = await ledger.create_transfers(session, SYSTEM, specs, atomic=True, now=utcnow())
    failed = [outcome.error for outcome in outcomes if outcome.error is not None]
    assert not failed, f"the demo ledger did not load: {failed[:3]}"
    created["transfers"] += sum(outcome.created for outcome in outcomes)


# Illustrative rates (units of quote per unit of base), with pairs between the local
# currencies so that conversions can avoid USD; and the six pairs of the dollar index
# at levels that give an index of about 104.2.
DEMO_RATE_SOURCE = "demo (illustrative)"
RATES: tuple[tuple[str, str, str], ...] = (
    ("USD", "RUB", "92.50"),
    ("USD", "CNY", "7.2300"),
    ("USD", "INR", "83.30"),
    ("USD", "IRR", "42000"),
    ("USD", "BRL", "5.0500"),
    ("USD", "ZAR", "18.60"),
    ("XAU", "USD", "2350"),
    ("CNY", "RUB", "12.80"),
    ("CNY", "INR", "11.52"),
    ("RUB", "IRR", "454.0"),
    ("INR", "IRR", "504.0"),
    ("EUR", "USD", "1.0870"),
    ("USD", "JPY", "151.50"),
    ("GBP", "USD", "1.2630"),
    ("USD", "CAD", "1.3640"),
    ("USD", "SEK", "10.7100"),
    ("USD", "CHF", "0.9070"),
)
# The FX provider's liquidity, from the central banks of each currency (illustrative).
FX_POSITIONS = {"RUB": "500000000", "CNY": "50000000", "INR": "500000000", "IRR": "300000000000", "USD": "5000000"}
UNIT = {"XAU": "0.40", "BRL": "0.12", "RUB": "0.12", "INR": "0.12", "CNY": "0.12", "ZAR": "0.12"}


async def _load_fx(session: AsyncSession, created: dict[str, int]) -> None:
    """Rates, the FX provider's funded positions, and the basket UNIT."""
    now = utcnow()
    published = await session.exec(select(ExchangeRate.id).where(ExchangeRate.source == DEMO_RATE_SOURCE))
    if published.first() is None:
        specs = [fx.RateSpec(base, quote, Decimal(rate), DEMO_RATE_SOURCE, now) for base, quote, rate in RATES]
        created["rates"] += len(await fx.publish_rates(session, SYSTEM, specs, now=now))
    provider = await reference.institution_by_bic(session, "CRFXAEAD")
    specs = []
    for currency, amount in FX_POSITIONS.items():
        position, new = await _account(session, provider.id, f"{currency} position", currency, AccountKind.FX_POSITION)
        created["accounts"] += new
        issuance = (
            await session.exec(
                select(Account.id).where(Account.currency_code == currency, Account.kind == AccountKind.ISSUANCE)
            )
        ).first()
        specs.append(
            ledger.TransferSpec(
                demo_id(f"fund fx {currency}"),
                issuance,
                position,
                Decimal(amount),
                currency,
                reference="FX provider liquidity",
            )
        )
    outcomes = await ledger.create_transfers(session, SYSTEM, specs, atomic=True, now=now)
    assert all(outcome.error is None for outcome in outcomes), [o.error for o in outcomes]
    created["transfers"] += sum(outcome.created for outcome in outcomes)
    if await fx.basket_by_code(session, "UNIT") is None:
        await fx.define_basket(
            session,
            SYSTEM,
            code="UNIT",
            name="BRICS basket unit: 40% gold, 12% each BRL, RUB, INR, CNY, ZAR (illustrative)",
            components=[fx.ComponentSpec(currency, Decimal(weight)) for currency, weight in UNIT.items()],
            initial_value=Decimal("100"),
            value_currency="USD",
            now=now,
        )
        created["baskets"] += 1


# ---------------------------------------------------------------- cards

# (code, name, operator BIC, country, settlement currency, BIN ranges)
SCHEMES = (
    ("MIR", "Mir", "NSPKRUMM", "RU", "RUB", (("2200", "2204"),)),
    ("UNIONPAY", "UnionPay", "UPICCNSH", "CN", "CNY", (("62", "62"), ("81", "81"))),
    ("VISA", "Visa", "VISAUS6S", "US", "USD", (("4", "4"),)),
    ("MASTERCARD", "Mastercard", "MCINUS33", "US", "USD", (("51", "55"), ("2221", "2720"))),
)
ISSUER, ACQUIRER = SchemeRole.ISSUER, SchemeRole.ACQUIRER
ACTIVE, SUSPENDED = ParticipationStatus.ACTIVE, ParticipationStatus.SUSPENDED
SANCTIONS = "sanctions 2022"
# (bank BIC, scheme, roles, status): the Russian banks cut off by Visa and Mastercard.
MEMBERSHIPS = (
    ("SABRRUMM", "MIR", (ISSUER, ACQUIRER), ACTIVE),
    ("SABRRUMM", "UNIONPAY", (ISSUER,), ACTIVE),
    ("SABRRUMM", "VISA", (ISSUER, ACQUIRER), SUSPENDED),
    ("SABRRUMM", "MASTERCARD", (ISSUER, ACQUIRER), SUSPENDED),
    ("VTBRRUMM", "MIR", (ISSUER, ACQUIRER), ACTIVE),
    ("VTBRRUMM", "UNIONPAY", (ISSUER,), ACTIVE),
    ("VTBRRUMM", "VISA", (ISSUER, ACQUIRER), SUSPENDED),
    ("VTBRRUMM", "MASTERCARD", (ISSUER, ACQUIRER), SUSPENDED),
    ("BKCHCNBJ", "UNIONPAY", (ISSUER, ACQUIRER), ACTIVE),
    ("BKCHCNBJ", "VISA", (ACQUIRER,), ACTIVE),
    ("ICBKCNBJ", "UNIONPAY", (ISSUER, ACQUIRER), ACTIVE),
)
# Links between the national schemes (fees illustrative).
LINKS = (("MIR", "UNIONPAY", 50), ("UNIONPAY", "MIR", 50))
# Test card numbers (Luhn-valid, illustrative): name -> (PAN, bank, account, co-badge scheme).
CARDS = {
    "mir": ("2200123456789019", "SABRRUMM", "Customer A (illustrative)", None),
    "unionpay": ("6212345678901232", "BKCHCNBJ", "Customer A (illustrative)", None),
    "mir-unionpay": ("2201555566667776", "VTBRRUMM", "Customer A (illustrative)", "UNIONPAY"),
    "visa": ("4276380012345679", "SABRRUMM", "Customer B (illustrative)", None),
}
CARD_EXPIRY = (12, 2030)
# name -> (acquirer BIC, country, accepting scheme, account name)
MERCHANTS = {
    "Moscow bookshop (illustrative)": ("SABRRUMM", "RU", "MIR", "Moscow bookshop (merchant)"),
    "Shanghai tea house (illustrative)": ("BKCHCNBJ", "CN", "UNIONPAY", "Shanghai tea house (merchant)"),
    "Shanghai hotel (illustrative)": ("BKCHCNBJ", "CN", "VISA", "Shanghai hotel (merchant)"),
}
# (name, card, merchant, amount, what follows: the expected decline code, a capture, a
# refund, a reversal, or how many days ago it was authorized)
AUTHORIZATIONS = (
    ("Mir card in Shanghai, held", "mir", "Shanghai tea house (illustrative)", "1000.00", {}),
    (
        "UnionPay card in Moscow, captured and partly refunded",
        "unionpay",
        "Moscow bookshop (illustrative)",
        "5000.00",
        {"capture": "5000.00", "refund": "1000.00"},
    ),
    (
        "Co-badged card in Moscow, reversed",
        "mir-unionpay",
        "Moscow bookshop (illustrative)",
        "2500.00",
        {"reverse": True},
    ),
    (
        "Co-badged card in Shanghai, captured in part",
        "mir-unionpay",
        "Shanghai tea house (illustrative)",
        "300.00",
        {"capture": "250.00"},
    ),
    (
        "Sanctioned Visa card in Shanghai, declined 62",
        "visa",
        "Shanghai hotel (illustrative)",
        "800.00",
        {"code": "62"},
    ),
    (
        "Mir card in Moscow, over the balance, declined 51",
        "mir",
        "Moscow bookshop (illustrative)",
        "1000000.00",
        {"code": "51"},
    ),
    (
        "Mir card in Moscow, never captured, expired",
        "mir",
        "Moscow bookshop (illustrative)",
        "1500.00",
        {"days_ago": 8},
    ),
)


async def _load_cards(session: AsyncSession, created: dict[str, int], settings: Settings) -> None:
    """Schemes, memberships (the Russian banks suspended by Visa and Mastercard), links,
    cards, merchants, and authorizations in each state."""
    now = utcnow()
    banks = {}
    for bic in {item[0] for item in MEMBERSHIPS}:
        banks[bic] = (await reference.institution_by_bic(session, bic)).id
    for code, name, operator, country, currency, ranges in SCHEMES:
        if (await session.exec(select(CardScheme.id).where(CardScheme.code == code))).first() is None:
            await cards.create_card_scheme(
                session,
                SYSTEM,
                code=code,
                name=name,
                country_code=country,
                settlement_currency=currency,
                operator_id=(await reference.institution_by_bic(session, operator)).id,
                bin_ranges=[cards.BinRangeSpec(low, high) for low, high in ranges],
            )
            created["schemes"] += 1

    async def member(bic: str, scheme: str, roles, status) -> None:
        await cards.set_scheme_membership(
            session,
            SYSTEM,
            scheme_code=scheme,
            institution_id=banks[bic],
            roles=list(roles),
            status=status,
            reason=SANCTIONS if status is SUSPENDED else None,
        )

    for card_scheme, accepting, fee_bps in LINKS:
        await cards.set_scheme_link(
            session,
            SYSTEM,
            card_scheme_code=card_scheme,
            accepting_scheme_code=accepting,
            status=ACTIVE,
            fee_bps=fee_bps,
        )
    card_ids = {}
    for name, (pan, bic, account_name, co_badge) in CARDS.items():
        digest = cards.pan_hash(pan, settings.secret)
        found = (await session.exec(select(Card.id).where(Card.pan_hash == digest))).first()
        if found is None:
            # Issued before 2022: every membership active at issuance.
            for membership in MEMBERSHIPS:
                if membership[0] == bic:
                    await member(*membership[:3], ACTIVE)
            account_id, _ = await _account(session, banks[bic], account_name, "", AccountKind.CUSTOMER)
            card = await cards.issue_card(
                session,
                SYSTEM,
                pan=pan,
                expiry_month=CARD_EXPIRY[0],
                expiry_year=CARD_EXPIRY[1],
                account_id=account_id,
                co_badge_scheme_code=co_badge,
                secret=settings.secret,
                now=now,
            )
            found = card.id
            created["cards"] += 1
        card_ids[name] = found
    for membership in MEMBERSHIPS:
        await member(*membership)
    merchant_ids = {}
    for name, (bic, country, scheme, account_name) in MERCHANTS.items():
        found = (await session.exec(select(Merchant.id).where(Merchant.name == name))).first()
        if found is None:
            currency = (await session.get(Country, country)).currency_code
            account_id, new = await _account(session, banks[bic], account_name, currency, AccountKind.CUSTOMER)
            created["accounts"] += new
            merchant = await cards.create_merchant(
                session,
                SYSTEM,
                name=name,
                country_code=country,
                acquirer_id=banks[bic],
                accepting_scheme_code=scheme,
                account_id=account_id,
            )
            found = merchant.id
            created["merchants"] += 1
        merchant_ids[name] = found
    for name, card, merchant, amount, then in AUTHORIZATIONS:
        key = demo_id(f"authorization {name}")
        merchant_row = await session.get(Merchant, merchant_ids[merchant])
        currency = (await session.get(Country, merchant_row.country_code)).currency_code
        known = await cards.authorization_by_key(session, key)
        when = now - dt.timedelta(days=then.get("days_ago", 0))
        authorization = await cards.authorize_payment(
            session,
            SYSTEM,
            cards.AuthorizeRequest(
                key, merchant_ids[merchant], CARDS[card][0], *CARD_EXPIRY, Decimal(amount), currency
            ),
            secret=settings.secret,
            hold_seconds=settings.card_hold_seconds,
            now=when,
        )
        created["authorizations"] += known is None
        if "capture" in then:
            await cards.capture_payment(session, SYSTEM, key, Decimal(then["capture"]), now=now)
        if "refund" in then:
            await cards.refund_payment(
                session,
                SYSTEM,
                refund_id=demo_id(f"refund {name}"),
                authorization_id=key,
                amount=Decimal(then["refund"]),
                now=now,
            )
        if then.get("reverse"):
            await cards.reverse_payment(session, SYSTEM, key, now=now)
        assert authorization.response_code == then.get("code", cards.APPROVED), (name, authorization.decline_reason)


async def load(sessions: async_sessionmaker[AsyncSession], settings: Settings | None = None) -> dict[str, int]:
    """Load what is missing; return how many of each thing were created. The settings
    give the secret that card numbers are hashed with and the card hold's duration."""
    settings = settings or Settings()
    created = dict.fromkeys(
        (
            "institutions",
            "accounts",
            "transfers",
            "rates",
            "baskets",
            "schemes",
            "cards",
            "merchants",
            "authorizations",
        ),
        0,
    )
    async with sessions() as session:
        await session.connection(execution_options={WRITE_OPTION: True})
        for item in INSTITUTIONS:
            if await reference.institution_by_bic(session, item.bic) is None:
                await reference.create_institution(
                    session,
                    SYSTEM,
                    name=item.name,
                    bic=item.bic,
                    country_code=item.country,
                    kind=item.kind,
                    spread_bps=item.spread_bps,
                )
                created["institutions"] += 1
        await _load_ledger(session, created)
        await _load_fx(session, created)
        await _load_cards(session, created, settings)
        await session.commit()
    return created
