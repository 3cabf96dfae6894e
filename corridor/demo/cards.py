"""The demo's cards: schemes, memberships (the Russian banks suspended by Visa and
Mastercard), links, cards, merchants, and authorizations in each state."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from corridor.demo.common import Created, account, demo_id, find_or_open_account
from corridor.settings import Settings
from models.base import utcnow
from models.cards import Card, CardScheme, Merchant, ParticipationStatus, SchemeRole
from models.ledger import AccountKind
from models.reference import Country
from resolvers import cards, reference
from resolvers.access import SYSTEM

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


async def load(session: AsyncSession, created: Created, settings: Settings) -> None:
    """Schemes, links, cards (issued under the memberships of before 2022), the
    memberships as they are now, merchants, then the authorizations, in that order."""
    now = utcnow()
    banks = {bic: (await reference.institution_by_bic(session, bic)).id for bic in {item[0] for item in MEMBERSHIPS}}
    await _schemes(session, created)
    await _links(session)
    await _cards(session, created, settings, banks, now)
    for membership in MEMBERSHIPS:
        await _member(session, banks, *membership, now=now)
    merchant_ids = await _merchants(session, created, banks)
    for name, card, merchant, amount, then in AUTHORIZATIONS:
        await _authorize(session, created, settings, name, card, merchant_ids[merchant], Decimal(amount), then, now)


async def _schemes(session: AsyncSession, created: Created) -> None:
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


async def _links(session: AsyncSession) -> None:
    for card_scheme, accepting, fee_bps in LINKS:
        await cards.set_scheme_link(
            session,
            SYSTEM,
            card_scheme_code=card_scheme,
            accepting_scheme_code=accepting,
            status=ACTIVE,
            fee_bps=fee_bps,
        )


async def _member(
    session: AsyncSession,
    banks: dict[str, int],
    bic: str,
    scheme: str,
    roles: tuple[SchemeRole, ...],
    status: ParticipationStatus,
    *,
    now: dt.datetime,
) -> None:
    await cards.set_scheme_membership(
        session,
        SYSTEM,
        scheme_code=scheme,
        institution_id=banks[bic],
        roles=list(roles),
        status=status,
        reason=SANCTIONS if status is SUSPENDED else None,
        now=now,
    )


async def _cards(
    session: AsyncSession, created: Created, settings: Settings, banks: dict[str, int], now: dt.datetime
) -> None:
    """Each card of CARDS not issued yet, on its customer's account (opened by the ledger)."""
    for pan, bic, account_name, co_badge in CARDS.values():
        digest = cards.pan_hash(pan, settings.secret)
        if (await session.exec(select(Card.id).where(Card.pan_hash == digest))).first() is not None:
            continue
        # Issued before 2022: every membership active at issuance.
        for membership in MEMBERSHIPS:
            if membership[0] == bic:
                await _member(session, banks, *membership[:3], ACTIVE, now=now)
        account_id, _ = await find_or_open_account(session, banks[bic], account_name, "", AccountKind.CUSTOMER)
        await cards.issue_card(
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
        created["cards"] += 1


async def _merchants(session: AsyncSession, created: Created, banks: dict[str, int]) -> dict[str, int]:
    """Each merchant of MERCHANTS, created with its account if missing: merchant ids by name."""
    merchant_ids = {}
    for name, (bic, country, scheme, account_name) in MERCHANTS.items():
        found = (await session.exec(select(Merchant.id).where(Merchant.name == name))).first()
        if found is None:
            currency = (await session.get(Country, country)).currency_code
            account_id = await account(session, created, banks[bic], account_name, currency, AccountKind.CUSTOMER)
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
    return merchant_ids


async def _authorize(
    session: AsyncSession,
    created: Created,
    settings: Settings,
    name: str,
    card: str,
    merchant_id: int,
    amount: Decimal,
    then: dict,
    now: dt.datetime,
) -> None:
    """One authorization of AUTHORIZATIONS (replayed if known), then what follows it."""
    key = demo_id(f"authorization {name}")
    merchant = await session.get(Merchant, merchant_id)
    currency = (await session.get(Country, merchant.country_code)).currency_code
    known = await cards.authorization_by_key(session, key)
    authorization = await cards.authorize_payment(
        session,
        SYSTEM,
        cards.AuthorizeRequest(key, merchant_id, CARDS[card][0], *CARD_EXPIRY, amount, currency),
        secret=settings.secret,
        hold_seconds=settings.card_hold_seconds,
        now=now - dt.timedelta(days=then.get("days_ago", 0)),
    )
    created["authorizations"] += known is None
    await _follow(session, name, key, then, now)
    assert authorization.response_code == then.get("code", cards.APPROVED), (name, authorization.decline_reason)


async def _follow(session: AsyncSession, name: str, key: uuid.UUID, then: dict, now: dt.datetime) -> None:
    """What follows an authorization: a capture, then a refund; or a reversal."""
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
