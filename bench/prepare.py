"""The databases and the data every measurement of an engine runs on.

SQLite gets a fresh file in a temporary directory. PostgreSQL gets the database
`corridor_bench` on 127.0.0.1:5432, created if missing and emptied (DROP SCHEMA
public CASCADE; CREATE SCHEMA public).

The data is built the way a client would build it, with `corridor migrate`,
`corridor apikey` and GraphQL against a running server: the Bank of Russia
(CBRFRUMM) with its RUB ISSUANCE account, four Russian commercial banks, 1,000
CUSTOMER RUB accounts spread over them, each funded from the ISSUANCE account
(createTransfers, 1,000 a request), and one "hot" customer account funded with
a very large amount, which the hot-account path debits on every request.

The read scenarios (accounts, transfers) read what is there: the first 100 accounts of
Sberbank (it holds a quarter of the customers, the hot account and half the cards'), and
the history of a "History account" of Sberbank's, funded, then HISTORY transfers of 0.01
RUB with random customer accounts, every other one the other way.

The interbank scenarios (payment, pacs008) get an RTGS network of their own, as
tests/messaging_world.py builds one: a NETWORK_OPERATOR institution (BNCHRUMM) running
BENCHRTGS (RU, RUB, RTGS); the four commercial banks ACTIVE members of it, each with a
RUB SETTLEMENT account funded from the ISSUANCE account with far more than a run moves
(every payment also moves its amount from the sender's SETTLEMENT account to the
receiver's). The customer accounts are the payments' debtors and creditors; each is
listed under the BIC of the bank that holds it (`PaymentWorld.holders`), since a
payment's debtor account must be held by the sender and its creditor by the receiver.

The settlement measurement (bench.settlement) gets a second network of the same
operator, BENCHNET (RU, RUB, DEFERRED_NET), with no members and no payments: it is only
the scope of the window that measurement fills with obligations between the four banks
(whose funded RUB SETTLEMENT accounts above pay and receive the nets) and settles
through the operator's RUB SETTLEMENT pool (opened by the first settle).

The card scenarios get a network of their own, as tests/card_world.py builds one:
the People's Bank of China (CNY ISSUANCE), Bank of China, the scheme operators NSPK
and UnionPay International, the schemes MIR (BIN 2200-2204, RUB) and UNIONPAY (62,
81; CNY); Sberbank and VTB ACTIVE MIR issuers (Sberbank also MIR acquirer), Bank of
China UNIONPAY issuer and acquirer; the link MIR -> UNIONPAY (ACTIVE, 50 bps); an FX
provider (25 bps) with RUB and CNY positions funded from the central banks; RUB/CNY
rates (and USD legs that a card payment must not take); a Moscow merchant (Sberbank,
MIR, RUB) and a Shanghai merchant (Bank of China, UNIONPAY, CNY); and CARDS Mir
cards with Luhn-valid PANs (2200 7...), issued by Sberbank and VTB in turn, each on
a RUB CUSTOMER account of its own funded with far more than a run spends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_UP, Decimal

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench.client import Connection

POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/corridor_bench"

CUSTOMERS = 1000
CUSTOMER_FUNDS = "1000000.00"  # RUB each: far more than the runs move out of any account
HOT_FUNDS = "1000000000000.00"  # RUB: the hot account is debited 0.01 on every request
FUNDING_BATCH = 1000
PARALLEL = 8  # connections used to open the accounts
HISTORY = 120  # transfers of the History account (the transfers scenario reads its latest 50)
HISTORY_FUNDS = "1000.00"  # RUB
HISTORY_AMOUNT = "0.01"  # RUB

CENTRAL_BANK = ("Bank of Russia", "CBRFRUMM")
BANKS = [("Sberbank", "SABRRUMM"), ("VTB", "VTBRRUMM"), ("Alfa-Bank", "ALFARUMM"), ("Gazprombank", "GAZPRUMM")]

# The card network (see the module's docstring).
CARDS = 32  # Mir cards by default: bench.run asks for one per client of the card scenarios
CARD_FUNDS = "1000000000.00"  # RUB on each card's account
FX_FUNDS = {"RUB": "1000000000000.00", "CNY": "1000000000000.00"}  # the FX provider's positions
FX_SPREAD_BPS = 25
LINK_FEE_BPS = 50  # MIR -> UNIONPAY
# Units of quote per unit of base. USD legs give a slightly better RUB -> CNY product
# (0.0108 x 7.40 = 0.07992 > 0.0781) that a card payment must never take.
RATES = [("RUB", "CNY", "0.0781"), ("RUB", "USD", "0.0108"), ("USD", "CNY", "7.40")]
CARD_PREFIX = "22007"  # MIR's BIN range 2200-2204
CARD_AMOUNT = "1.00"  # RUB, card: a Mir card at the Moscow merchant
FX_AMOUNT = "10.00"  # CNY, card_fx: a Mir card at the Shanghai merchant
BPS = 10_000
CENT = Decimal("0.01")

# The interbank network (see the module's docstring).
NETWORK_OPERATOR = ("Corridor bench RTGS operator", "BNCHRUMM")
NETWORK_CODE = "BENCHRTGS"
NETWORK_CURRENCY = "RUB"
SETTLEMENT_FUNDS = "1000000000000.00"  # RUB on each bank's SETTLEMENT account
PAYMENT_AMOUNT = "0.01"  # RUB, payment and every transaction of pacs008
# The settlement measurement's scope: a DEFERRED_NET network run by the same operator, so
# that settling a window can open the operator's RUB SETTLEMENT pool (bench.settlement).
NET_NETWORK_CODE = "BENCHNET"
# Card n is issued by CARD_ISSUERS[n % 2] (BICs); the merchants' acquirer is Sberbank.
CARD_ISSUERS = ("SABRRUMM", "VTBRRUMM")

INSTITUTION = """
mutation($input: InstitutionInput!) { createInstitution(input: $input) { institution { id } errors { code message } } }
"""
OPEN_ACCOUNT = """
mutation($input: OpenAccountInput!) { openAccount(input: $input) { account { id } errors { code message } } }
"""
TRANSFERS = """
mutation($t: [TransferInput!]!) { createTransfers(transfers: $t) { results { created errors { code message } } } }
"""
SCHEME = """
mutation($input: CardSchemeInput!) { createCardScheme(input: $input) { scheme { id } errors { code message } } }
"""
MEMBERSHIP = """
mutation($input: SchemeMembershipInput!) { setSchemeMembership(input: $input) { errors { code message } } }
"""
LINK = """
mutation($input: SchemeLinkInput!) { setSchemeLink(input: $input) { errors { code message } } }
"""
MERCHANT = """
mutation($input: MerchantInput!) { createMerchant(input: $input) { merchant { id } errors { code message } } }
"""
ISSUE = """
mutation($input: IssueCardInput!) { issueCard(input: $input) { card { id } errors { code message } } }
"""
PUBLISH = """
mutation($r: [ExchangeRateInput!]!) { publishRates(rates: $r) { errors { code message } } }
"""
NETWORK = """
mutation($input: PaymentNetworkInput!) {
  createPaymentNetwork(input: $input) { network { id } errors { code message } }
}
"""
NETWORK_MEMBERSHIP = """
mutation($input: NetworkMembershipInput!) { setNetworkMembership(input: $input) { errors { code message } } }
"""


class Unreachable(Exception):
    """PostgreSQL did not answer."""


@dataclass
class CardWorld:
    """What the card scenarios need: the cards' PANs and expiry, and per scenario the
    payment to make and the outcome to expect (`payment`)."""

    pans: list[str]
    expiry_month: int
    expiry_year: int
    payments: dict[str, dict]  # scenario -> payment (see `payment`)


def payment(merchant: str, amount: str, currency: str, route: str, cardholder: str, fee: str | None) -> dict:
    """A card scenario's payment: the merchant (opaque id), the amount and currency asked,
    and what an approval must say: the route, the cardholder's amount in RUB, the fee."""
    return {
        "merchant": merchant,
        "amount": amount,
        "currency": currency,
        "route": route,
        "cardholder": cardholder,
        "fee": fee,
    }


@dataclass
class PaymentWorld:
    """What the interbank scenarios need: the network, the currency and amount, and the
    customer accounts by the BIC of the bank that holds them (each bank an ACTIVE member
    with a funded SETTLEMENT account)."""

    network: str
    currency: str
    amount: str
    holders: dict[str, list[str]]  # BIC -> opaque ids of the CUSTOMER accounts it holds


@dataclass
class ReadWorld:
    """What the read scenarios read: the bank whose accounts page is read, and the
    account whose transfers are."""

    bic: str
    account: str  # opaque Account id, with HISTORY transfers or more


@dataclass
class World:
    """What the measurements need: the key, the customer accounts, the hot account, the
    cards, the interbank network, what the reads read."""

    secret: str
    customers: list[str]  # opaque Account ids
    hot: str
    cards: CardWorld | None = None
    payments: PaymentWorld | None = None
    reads: ReadWorld | None = None


def luhn(prefix: str, length: int = 16) -> str:
    """`prefix` padded with zeros to `length` - 1 digits and completed with its Luhn check digit."""
    body = prefix.ljust(length - 1, "0")
    total = 0
    for index, digit in enumerate(reversed(body)):
        value = int(digit) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str((10 - total % 10) % 10)


def card_pan(number: int) -> str:
    """The PAN of the benchmark's card `number`: 16 digits, Luhn-valid, on MIR."""
    return luhn(f"{CARD_PREFIX}{number:010d}")


# ---------------------------------------------------------------- databases


def _admin_engine(url: str, database: str):
    return create_async_engine(
        make_url(url).set(database=database), isolation_level="AUTOCOMMIT", connect_args={"timeout": 5}
    )


async def reset_postgres(url: str = POSTGRES_URL) -> None:
    """Create the benchmark database if missing and empty it; Unreachable if PostgreSQL is not there."""
    name = make_url(url).database
    admin = _admin_engine(url, "postgres")
    try:
        async with admin.connect() as connection:
            if not await connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # refused connection or login, timeout (some wrapped by SQLAlchemy)
        raise Unreachable(f"{type(error).__name__}: {error}") from error
    finally:
        await admin.dispose()
    engine = _admin_engine(url, name)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def postgres_version(url: str = POSTGRES_URL) -> str:
    """The server's version, or why there is none."""
    engine = _admin_engine(url, "postgres")
    try:
        async with engine.connect() as connection:
            return await connection.scalar(text("SHOW server_version"))
    except Exception as error:
        return f"unreachable ({type(error).__name__})"
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- data, through the API


async def _call(connection: Connection, query: str, variables: dict) -> dict:
    status, body = await asyncio.wait_for(
        connection.post_graphql(json.dumps({"query": query, "variables": variables}).encode()), 60
    )
    document = json.loads(body)
    if status != 200 or document.get("errors"):
        raise RuntimeError(f"GraphQL call failed ({status}): {body[:500]!r}")
    return document["data"]


def _no_errors(payload: dict) -> dict:
    if payload["errors"]:
        raise RuntimeError(f"the API refused: {payload['errors']}")
    return payload


async def _institution(
    connection: Connection, name: str, bic: str, kind: str, country: str = "RU", **extra: object
) -> str:
    variables = {"input": {"name": name, "bic": bic, "countryCode": country, "kind": kind, **extra}}
    payload = _no_errors((await _call(connection, INSTITUTION, variables))["createInstitution"])
    return payload["institution"]["id"]


async def _account(connection: Connection, owner: str, name: str, kind: str, currency: str = "RUB") -> str:
    variables = {"input": {"ownerId": owner, "name": name, "currency": currency, "kind": kind}}
    payload = _no_errors((await _call(connection, OPEN_ACCOUNT, variables))["openAccount"])
    return payload["account"]["id"]


async def _fund(connection: Connection, issuance: str, credits: list[tuple[str, str]], currency: str = "RUB") -> None:
    for start in range(0, len(credits), FUNDING_BATCH):
        transfers = [
            {
                "transferId": str(uuid.uuid4()),
                "debitAccountId": issuance,
                "creditAccountId": account,
                "amount": amount,
                "currency": currency,
            }
            for account, amount in credits[start : start + FUNDING_BATCH]
        ]
        results = (await _call(connection, TRANSFERS, {"t": transfers}))["createTransfers"]["results"]
        failed = [result for result in results if result["errors"] or not result["created"]]
        if failed:
            raise RuntimeError(f"{len(failed)} funding transfers failed, e.g. {failed[0]}")


async def _build_history(connection: Connection, rub_issuance: str, bank: str, customers: list[str]) -> str:
    """The History account of the module's docstring, with its HISTORY transfers."""
    account = await _account(connection, bank, "History account", "CUSTOMER")
    await _fund(connection, rub_issuance, [(account, HISTORY_FUNDS)])
    transfers = []
    for n in range(HISTORY):
        other = random.choice(customers)
        debit, credit = (account, other) if n % 2 == 0 else (other, account)
        transfers.append(
            {
                "transferId": str(uuid.uuid4()),
                "debitAccountId": debit,
                "creditAccountId": credit,
                "amount": HISTORY_AMOUNT,
                "currency": "RUB",
            }
        )
    results = (await _call(connection, TRANSFERS, {"t": transfers}))["createTransfers"]["results"]
    failed = [result for result in results if result["errors"] or not result["created"]]
    if failed:
        raise RuntimeError(f"{len(failed)} history transfers failed, e.g. {failed[0]}")
    return account


async def _ok(connection: Connection, query: str, variables: dict, field_name: str) -> dict:
    return _no_errors((await _call(connection, query, variables))[field_name])


async def _build_cards(connection: Connection, rub_issuance: str, sberbank: str, vtb: str, cards: int) -> CardWorld:
    """The card network of the module's docstring, through the API."""
    pboc = await _institution(connection, "People's Bank of China", "PBOCCNBJ", "CENTRAL_BANK", "CN")
    cny_issuance = await _account(connection, pboc, "CNY issuance", "ISSUANCE", "CNY")
    boc = await _institution(connection, "Bank of China", "BKCHCNBJ", "COMMERCIAL_BANK", "CN")
    nspk = await _institution(connection, "NSPK (Mir)", "NSPKRUMM", "SCHEME_OPERATOR", "RU")
    upi = await _institution(connection, "UnionPay International", "UPICCNSH", "SCHEME_OPERATOR", "CN")
    for code, operator, country, currency, ranges in [
        ("MIR", nspk, "RU", "RUB", [("2200", "2204")]),
        ("UNIONPAY", upi, "CN", "CNY", [("62", "62"), ("81", "81")]),
    ]:
        scheme = {
            "code": code,
            "name": code.title(),
            "countryCode": country,
            "settlementCurrency": currency,
            "operatorId": operator,
            "binRanges": [{"low": low, "high": high} for low, high in ranges],
        }
        await _ok(connection, SCHEME, {"input": scheme}, "createCardScheme")
    for scheme, institution, roles in [
        ("MIR", sberbank, ["ISSUER", "ACQUIRER"]),
        ("MIR", vtb, ["ISSUER"]),
        ("UNIONPAY", boc, ["ISSUER", "ACQUIRER"]),
    ]:
        membership = {"schemeCode": scheme, "institutionId": institution, "roles": roles, "status": "ACTIVE"}
        await _ok(connection, MEMBERSHIP, {"input": membership}, "setSchemeMembership")
    link = {"cardSchemeCode": "MIR", "acceptingSchemeCode": "UNIONPAY", "status": "ACTIVE", "feeBps": LINK_FEE_BPS}
    await _ok(connection, LINK, {"input": link}, "setSchemeLink")

    provider = await _institution(
        connection, "Corridor FX (bench)", "CRFXAEAD", "FX_PROVIDER", "AE", spreadBps=FX_SPREAD_BPS
    )
    positions = {
        currency: await _account(connection, provider, f"{currency} position", "FX_POSITION", currency)
        for currency in FX_FUNDS
    }
    await _fund(connection, rub_issuance, [(positions["RUB"], FX_FUNDS["RUB"])])
    await _fund(connection, cny_issuance, [(positions["CNY"], FX_FUNDS["CNY"])], "CNY")
    rates = [{"base": base, "quote": quote, "rate": rate} for base, quote, rate in RATES]
    await _ok(connection, PUBLISH, {"r": rates}, "publishRates")

    merchants = {}
    for name, acquirer, country, scheme, currency in [
        ("Moscow bookshop (bench)", sberbank, "RU", "MIR", "RUB"),
        ("Shanghai tea house (bench)", boc, "CN", "UNIONPAY", "CNY"),
    ]:
        account = await _account(connection, acquirer, name, "CUSTOMER", currency)
        merchant = {
            "name": name,
            "countryCode": country,
            "acquirerId": acquirer,
            "acceptingSchemeCode": scheme,
            "accountId": account,
        }
        merchants[country] = (await _ok(connection, MERCHANT, {"input": merchant}, "createMerchant"))["merchant"]["id"]

    expiry_month, expiry_year = 12, dt.date.today().year + 3
    pans, card_accounts = [], []
    for number in range(cards):
        pan = card_pan(number)
        issuer = (sberbank, vtb)[number % 2]  # CARD_ISSUERS
        account = await _account(connection, issuer, f"Cardholder {number}", "CUSTOMER")
        card = {"pan": pan, "expiryMonth": expiry_month, "expiryYear": expiry_year, "accountId": account}
        await _ok(connection, ISSUE, {"input": card}, "issueCard")
        pans.append(pan)
        card_accounts.append(account)
    await _fund(connection, rub_issuance, [(account, CARD_FUNDS) for account in card_accounts])
    # card_fx: 10.00 CNY, so that the link's fee is not rounded away (1.00 x 50 bps is
    # half a fen, rounded half-even to 0). The cardholder pays amount / (rate x (1 -
    # spread)), rounded up to kopecks, on the direct RUB -> CNY rate (never through USD).
    fx_amount = Decimal(FX_AMOUNT)
    fx_rate = Decimal(RATES[0][2]) * (1 - Decimal(FX_SPREAD_BPS) / BPS)
    return CardWorld(
        pans=pans,
        expiry_month=expiry_month,
        expiry_year=expiry_year,
        payments={
            "card": payment(merchants["RU"], CARD_AMOUNT, "RUB", "DOMESTIC", CARD_AMOUNT, None),
            "card_fx": payment(
                merchants["CN"],
                FX_AMOUNT,
                "CNY",
                "INTERSCHEME",
                str((fx_amount / fx_rate).quantize(CENT, ROUND_UP)),
                str((fx_amount * LINK_FEE_BPS / BPS).quantize(CENT, ROUND_HALF_EVEN)),
            ),
        },
    )


async def _build_network(
    connection: Connection, rub_issuance: str, banks: dict[str, str], customers: list[tuple[str, str]]
) -> PaymentWorld:
    """The RTGS network of the module's docstring (and the DEFERRED_NET one of the settlement
    measurement), through the API: `banks` is BIC ->
    institution id, `customers` (BIC of the holder, account id) pairs."""
    operator = await _institution(connection, *NETWORK_OPERATOR, "NETWORK_OPERATOR")
    network = {
        "code": NETWORK_CODE,
        "name": "Corridor bench RTGS",
        "operatorId": operator,
        "countryCode": "RU",
        "settlementCurrencies": [NETWORK_CURRENCY],
        "settlementMode": "RTGS",
    }
    await _ok(connection, NETWORK, {"input": network}, "createPaymentNetwork")
    deferred = {
        **network,
        "code": NET_NETWORK_CODE,
        "name": "Corridor bench deferred net",
        "settlementMode": "DEFERRED_NET",
    }
    await _ok(connection, NETWORK, {"input": deferred}, "createPaymentNetwork")
    settlement = []
    for bic, institution in banks.items():
        membership = {"networkCode": NETWORK_CODE, "institutionId": institution, "status": "ACTIVE"}
        await _ok(connection, NETWORK_MEMBERSHIP, {"input": membership}, "setNetworkMembership")
        settlement.append(await _account(connection, institution, f"{bic} RUB settlement", "SETTLEMENT"))
    await _fund(connection, rub_issuance, [(account, SETTLEMENT_FUNDS) for account in settlement])
    holders: dict[str, list[str]] = {bic: [] for bic in banks}
    for bic, account in customers:
        holders[bic].append(account)
    return PaymentWorld(network=NETWORK_CODE, currency=NETWORK_CURRENCY, amount=PAYMENT_AMOUNT, holders=holders)


async def build(port: int, secret: str, customers: int = CUSTOMERS, cards: int = CARDS) -> World:
    """Institutions, accounts, funds, the card network and the interbank network, through
    the API of the server on `port`."""
    connections = [Connection(port, secret) for _ in range(PARALLEL)]
    first = connections[0]
    try:
        central_bank = await _institution(first, *CENTRAL_BANK, "CENTRAL_BANK")
        banks = [await _institution(first, name, bic, "COMMERCIAL_BANK") for name, bic in BANKS]
        issuance = await _account(first, central_bank, "RUB issuance", "ISSUANCE")
        hot = await _account(first, banks[0], "Hot account", "CUSTOMER")

        async def open_some(connection: Connection, numbers: range) -> list[tuple[str, str]]:
            """(BIC of the holder, account id) of customers `numbers`, customer n at bank n mod 4."""
            opened = []
            for n in numbers:
                bank = n % len(banks)
                opened.append((BANKS[bank][1], await _account(connection, banks[bank], f"Customer {n}", "CUSTOMER")))
            return opened

        slices = await asyncio.gather(*(open_some(c, range(i, customers, PARALLEL)) for i, c in enumerate(connections)))
        held = [pair for part in slices for pair in part]
        accounts = [account for _, account in held]
        await _fund(first, issuance, [(account, CUSTOMER_FUNDS) for account in accounts] + [(hot, HOT_FUNDS)])
        card_world = await _build_cards(first, issuance, banks[0], banks[1], cards)
        bank_ids = {bic: bank for (_, bic), bank in zip(BANKS, banks, strict=True)}
        payment_world = await _build_network(first, issuance, bank_ids, held)
        history = await _build_history(first, issuance, banks[0], accounts)
    finally:
        for connection in connections:
            connection.close()
    reads = ReadWorld(bic=BANKS[0][1], account=history)
    return World(secret=secret, customers=accounts, hot=hot, cards=card_world, payments=payment_world, reads=reads)
