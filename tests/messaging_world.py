"""An interbank network for payment tests, built through the API:

- operators SWIFT (SWHQBEBB), SPFS (SPFSRUMM) and CIPS (CIPSCNSH), each NETWORK_OPERATOR;
- networks SWIFT (global, USD and EUR, RTGS), SPFS (RU, RUB, DEFERRED_NET) and CIPS
  (CN, CNY and RUB, RTGS);
- banks Sberbank (SABRRUMM), VTB (VTBRRUMM), Bank of China (BKCHCNBJ), Bank Melli
  (MELIIRTH), Citibank (CITIUS33); on SWIFT Sberbank, VTB and Bank Melli SUSPENDED
  ("disconnected 2022"), Bank of China and Citibank ACTIVE; on SPFS Sberbank, VTB and
  Bank Melli ACTIVE; on CIPS Sberbank, VTB and Bank of China ACTIVE;
- central banks issuing RUB, CNY and USD; every bank's CUSTOMER accounts (funded
  1,000.00 each in RUB, CNY and USD where it has them) and SETTLEMENT accounts
  (10,000.00 each); Bank Melli has RUB accounts only, Citibank USD;
- an FX provider (25 bps) with RUB and CNY positions of 1,000,000.00 each, and
  CNYRUB at 12.50.
"""

from __future__ import annotations

import uuid

from tests.ledger_world import account, institution, send, transfer

NETWORK = """
mutation($input: PaymentNetworkInput!) {
  createPaymentNetwork(input: $input) {
    network { id code name settlementMode settlementCurrencies { code } country { code } operator { bic } }
    errors { code message field }
  }
}
"""
MEMBERSHIP = """
mutation($input: NetworkMembershipInput!) {
  setNetworkMembership(input: $input) {
    membership { status reason institution { bic } network { code } } errors { code message field }
  }
}
"""
PAYMENT_FIELDS = """
fragment P on InterbankPayment {
  id uetr status isoStatus reasonCode messageType remittanceInformation createdAt
  network { code } sender { bic } receiver { bic } debtorAccount { id name } creditorAccount { id name }
  amount { amount currency } debitAmount { amount currency }
  events { status isoStatus reasonCode detail at }
  transfers { amount { amount currency } debitAccount { id } creditAccount { id } state }
}
"""
SEND = (
    """
mutation($input: SendPaymentInput!) { sendPayment(input: $input) { payment { ...P } errors { code message field } } }
"""
    + PAYMENT_FIELDS
)
TRACK = "query($uetr: UUID!) { payment(uetr: $uetr) { ...P } }" + PAYMENT_FIELDS
RATES = "mutation($r: [ExchangeRateInput!]!) { publishRates(rates: $r) { errors { code message } } }"
SUBMIT = (
    """
mutation($xml: String!) {
  submitIso20022(xml: $xml) { payments { ...P } statusReport errors { code message field } }
}
"""
    + PAYMENT_FIELDS
)


async def network(api, code, name, operator, currencies, mode, country=None) -> str:
    item = {
        "code": code,
        "name": name,
        "operatorId": operator,
        "settlementCurrencies": currencies,
        "settlementMode": mode,
        "countryCode": country,
    }
    payload = (await api(NETWORK, {"input": item}))["createPaymentNetwork"]
    assert payload["errors"] == [], payload
    return payload["network"]["id"]


async def member(api, network_code: str, institution_id: str, status: str = "ACTIVE", reason: str | None = None):
    item = {"networkCode": network_code, "institutionId": institution_id, "status": status, "reason": reason}
    payload = (await api(MEMBERSHIP, {"input": item}))["setNetworkMembership"]
    assert payload["errors"] == [], payload
    return payload["membership"]


async def _fund(api, issuance: dict[str, str], account_id: str, amount: str, currency: str) -> None:
    (result,) = await send(api, transfer(issuance[currency], account_id, amount, currency))
    assert result["errors"] == [], result


async def _banks(api) -> dict[str, str]:
    return {
        "sber": await institution(api, "Sberbank", "SABRRUMM", "RU", "COMMERCIAL_BANK"),
        "vtb": await institution(api, "VTB Bank", "VTBRRUMM", "RU", "COMMERCIAL_BANK"),
        "boc": await institution(api, "Bank of China", "BKCHCNBJ", "CN", "COMMERCIAL_BANK"),
        "melli": await institution(api, "Bank Melli Iran", "MELIIRTH", "IR", "COMMERCIAL_BANK"),
        "citi": await institution(api, "Citibank", "CITIUS33", "US", "COMMERCIAL_BANK"),
    }


async def _networks(api, ids: dict[str, str]) -> None:
    swift = await institution(api, "SWIFT", "SWHQBEBB", "BE", "NETWORK_OPERATOR")
    spfs = await institution(api, "SPFS operator", "SPFSRUMM", "RU", "NETWORK_OPERATOR")
    cips = await institution(api, "CIPS Co.", "CIPSCNSH", "CN", "NETWORK_OPERATOR")
    ids["swift"] = await network(api, "SWIFT", "SWIFT", swift, ["USD", "EUR"], "RTGS")
    spfs_name, cips_name = "System for Transfer of Financial Messages", "Cross-Border Interbank Payment System"
    ids["spfs"] = await network(api, "SPFS", spfs_name, spfs, ["RUB"], "DEFERRED_NET", "RU")
    ids["cips"] = await network(api, "CIPS", cips_name, cips, ["CNY", "RUB"], "RTGS", "CN")
    for bank in ("sber", "vtb", "melli"):
        await member(api, "SWIFT", ids[bank], "SUSPENDED", "disconnected 2022")
        await member(api, "SPFS", ids[bank])
    for bank in ("boc", "citi"):
        await member(api, "SWIFT", ids[bank])
    for bank in ("sber", "vtb", "boc"):
        await member(api, "CIPS", ids[bank])


# (bank, currency) pairs with accounts.
HOLDINGS = [
    ("sber", "RUB"),
    ("sber", "CNY"),
    ("sber", "USD"),
    ("vtb", "RUB"),
    ("vtb", "CNY"),
    ("boc", "CNY"),
    ("boc", "RUB"),
    ("boc", "USD"),
    ("melli", "RUB"),
    ("citi", "USD"),
]


async def build(api) -> dict[str, str]:
    """The network above: ids by name, e.g. ids["sber"], ids["sber_rub"] (customer),
    ids["sber_rub_settlement"], ids["spfs"], ids["fx_rub"]."""
    ids = await _banks(api)
    await _networks(api, ids)
    issuers = [
        ("CBRFRUMM", "Bank of Russia", "RU", "RUB"),
        ("PBOCCNBJ", "PBoC", "CN", "CNY"),
        ("FRNYUS33", "Fed", "US", "USD"),
    ]
    issuance = {}
    for bic, name, country, currency in issuers:
        bank = await institution(api, name, bic, country, "CENTRAL_BANK")
        issuance[currency] = await account(api, bank, f"{currency} issuance", currency, "ISSUANCE")
    for bank, currency in HOLDINGS:
        customer = await account(api, ids[bank], f"{bank} {currency} customer", currency, "CUSTOMER")
        settlement = await account(api, ids[bank], f"{bank} {currency} settlement", currency, "SETTLEMENT")
        await _fund(api, issuance, customer, "1000.00", currency)
        await _fund(api, issuance, settlement, "10000.00", currency)
        ids[f"{bank}_{currency.lower()}"], ids[f"{bank}_{currency.lower()}_settlement"] = customer, settlement
    data = await api(
        'mutation { createInstitution(input: {name: "Moscow FX", bic: "MFXXRUMM", countryCode: "RU", '
        "kind: FX_PROVIDER, spreadBps: 25}) { institution { id } } }"
    )
    provider = data["createInstitution"]["institution"]["id"]
    for currency in ("RUB", "CNY"):
        position = await account(api, provider, f"FX {currency}", currency, "FX_POSITION")
        await _fund(api, issuance, position, "1000000.00", currency)
        ids[f"fx_{currency.lower()}"] = position
    rates = [{"base": "CNY", "quote": "RUB", "rate": "12.50"}]
    assert (await api(RATES, {"r": rates}))["publishRates"]["errors"] == []
    return ids


def payment(ids: dict[str, str], sender: str, receiver: str, amount: str, currency: str, **extra) -> dict:
    """A sendPayment input from `sender`'s customer account in `currency` (or `debtor`) to
    `receiver`'s (or `creditor`)."""
    bics = {"sber": "SABRRUMM", "vtb": "VTBRRUMM", "boc": "BKCHCNBJ", "melli": "MELIIRTH", "citi": "CITIUS33"}
    debtor = extra.pop("debtor", ids.get(f"{sender}_{currency.lower()}"))
    creditor = extra.pop("creditor", ids.get(f"{receiver}_{currency.lower()}"))
    return {
        "uetr": str(extra.pop("uetr", uuid.uuid4())),
        "senderBic": bics[sender],
        "receiverBic": bics[receiver],
        "debtorAccountId": debtor,
        "creditorAccountId": creditor,
        "amount": amount,
        "currency": currency,
        **extra,
    }


async def send_payment(api, item: dict, key: str | None = None) -> dict:
    return (await api(SEND, {"input": item}, key=key))["sendPayment"]
