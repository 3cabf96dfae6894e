"""A card network for payment tests, built through the API: the schemes MIR, UNIONPAY,
VISA and ELO; Sberbank (Mir issuer and acquirer, UnionPay issuer, Visa issuer suspended
for "sanctions 2022") and Bank of China (UnionPay issuer and acquirer, Visa acquirer);
central banks funding the cardholders; an FX provider (25 bps) with RUB and CNY
positions; links MIR -> UNIONPAY (50 bps) and UNIONPAY -> MIR (30 bps); merchants in
Moscow (MIR, RUB), Shanghai (UNIONPAY, CNY) and a Shanghai hotel (VISA, CNY); and
cards: Mir, UnionPay, co-badged Mir-UnionPay, and a Visa card of Sberbank."""

from __future__ import annotations

import uuid

from tests.ledger_world import account, institution, send, transfer
from tests.test_cards_issuing import ISSUE, MERCHANT, card_input, luhn, network
from tests.test_cards_schemes import LINK, MEMBERSHIP

AUTHORIZATION_FIELDS = """
fragment A on Authorization {
  id authorizationId responseCode approved declineReason route state
  scheme { code } card { maskedPan } merchant { name }
  amount { amount currency } cardholderAmount { amount currency } fee { amount currency }
  capturedAmount { amount currency } refundedAmount { amount currency } expiresAt
  transfers {
    transferId state amount { amount currency } postedAmount { amount } debitAccount { name } creditAccount { name }
  }
}
"""
AUTHORIZE = (
    """
mutation($input: AuthorizeInput!) {
  authorizePayment(input: $input) { authorization { ...A } errors { code message field } }
}
"""
    + AUTHORIZATION_FIELDS
)
CAPTURE = (
    """
mutation($id: UUID!, $amount: Decimal) {
  capturePayment(authorizationId: $id, amount: $amount) { authorization { ...A } errors { code message field } }
}
"""
    + AUTHORIZATION_FIELDS
)
REVERSE = (
    """
mutation($id: UUID!) {
  reversePayment(authorizationId: $id) { authorization { ...A } errors { code message field } }
}
"""
    + AUTHORIZATION_FIELDS
)
REFUND = (
    """
mutation($input: RefundInput!) {
  refundPayment(input: $input) { authorization { ...A } errors { code message field } }
}
"""
    + AUTHORIZATION_FIELDS
)
LOOKUP = (
    """
query($id: UUID!) { authorization(authorizationId: $id) { ...A } }
"""
    + AUTHORIZATION_FIELDS
)
PUBLISH = "mutation($r: [ExchangeRateInput!]!) { publishRates(rates: $r) { errors { code } } }"
PANS = {
    "mir": luhn("2200123"),
    "unionpay": luhn("6212345"),
    "cobadge": luhn("2201555"),
    "visa": luhn("4276380"),
}
EXPIRY = {"expiryMonth": 12, "expiryYear": 2029}


async def membership(api, scheme: str, institution_id: str, roles: list[str], status: str = "ACTIVE", reason=None):
    item = {"schemeCode": scheme, "institutionId": institution_id, "roles": roles, "status": status}
    if reason:
        item["reason"] = reason
    payload = (await api(MEMBERSHIP, {"input": item}))["setSchemeMembership"]
    assert payload["errors"] == [], payload


async def link(api, card_scheme: str, accepting: str, status: str = "ACTIVE", fee_bps: int = 0) -> None:
    item = {"cardSchemeCode": card_scheme, "acceptingSchemeCode": accepting, "status": status, "feeBps": fee_bps}
    assert (await api(LINK, {"input": item}))["setSchemeLink"]["errors"] == []


async def merchant(api, name: str, country: str, acquirer: str, scheme: str, account_id: str) -> str:
    item = {
        "name": name,
        "countryCode": country,
        "acquirerId": acquirer,
        "acceptingSchemeCode": scheme,
        "accountId": account_id,
    }
    payload = (await api(MERCHANT, {"input": item}))["createMerchant"]
    assert payload["errors"] == [], payload
    return payload["merchant"]["id"]


async def issue(api, pan: str, account_id: str, **extra) -> str:
    payload = (await api(ISSUE, card_input(pan, account_id, **extra)))["issueCard"]
    assert payload["errors"] == [], payload
    return payload["card"]["id"]


async def build(api) -> dict:
    ids = await network(api)
    for name, bic, country, currency in [
        ("Bank of Russia", "CBRFRUMM", "RU", "RUB"),
        ("PBOC", "PBOCCNBJ", "CN", "CNY"),
    ]:
        cb = await institution(api, name, bic, country, "CENTRAL_BANK")
        ids[f"issue {currency}"] = await account(api, cb, f"{currency} issuance", currency, "ISSUANCE")
    data = await api(
        'mutation { createInstitution(input: {name: "Corridor FX", bic: "CRFXAEAD", countryCode: "AE", '
        "kind: FX_PROVIDER, spreadBps: 25}) { institution { id } } }"
    )
    ids["fx"] = data["createInstitution"]["institution"]["id"]
    ids["fx RUB"] = await account(api, ids["fx"], "RUB position", "RUB", "FX_POSITION")
    ids["fx CNY"] = await account(api, ids["fx"], "CNY position", "CNY", "FX_POSITION")
    ids["li"] = await account(api, ids["boc"], "Li Wei", "CNY", "CUSTOMER")
    ids["anna"] = await account(api, ids["sber"], "Anna Smirnova", "RUB", "CUSTOMER")
    ids["hotel_cny"] = await account(api, ids["boc"], "Shanghai hotel", "CNY", "CUSTOMER")
    results = await send(
        api,
        transfer(ids["issue RUB"], ids["fx RUB"], "1000000.00"),
        transfer(ids["issue CNY"], ids["fx CNY"], "100000.00", currency="CNY"),
        transfer(ids["issue RUB"], ids["ivan"], "50000.00"),
        transfer(ids["issue CNY"], ids["li"], "10000.00", currency="CNY"),
        transfer(ids["issue RUB"], ids["anna"], "20000.00"),
    )
    assert all(r["errors"] == [] for r in results), results
    # A better product through USD (0.0108 x 7.40 = 0.07992) that a card payment never takes.
    rates = [
        {"base": "RUB", "quote": "CNY", "rate": "0.0781"},
        {"base": "RUB", "quote": "USD", "rate": "0.0108"},
        {"base": "USD", "quote": "CNY", "rate": "7.40"},
    ]
    assert (await api(PUBLISH, {"r": rates}))["publishRates"]["errors"] == []
    await link(api, "MIR", "UNIONPAY", fee_bps=50)
    await link(api, "UNIONPAY", "MIR", fee_bps=30)
    await membership(api, "VISA", ids["boc"], ["ACQUIRER"])
    ids["moscow"] = await merchant(api, "Moscow bookshop", "RU", ids["sber"], "MIR", ids["shop_rub"])
    ids["shanghai"] = await merchant(api, "Shanghai tea house", "CN", ids["boc"], "UNIONPAY", ids["shop_cny"])
    ids["hotel"] = await merchant(api, "Shanghai hotel", "CN", ids["boc"], "VISA", ids["hotel_cny"])
    ids["mir"] = await issue(api, PANS["mir"], ids["ivan"])
    ids["unionpay"] = await issue(api, PANS["unionpay"], ids["li"])
    ids["cobadge"] = await issue(api, PANS["cobadge"], ids["anna"], coBadgeSchemeCode="UNIONPAY")
    # The Visa card was issued before the sanctions; the membership is suspended since.
    await membership(api, "VISA", ids["sber"], ["ISSUER"])
    ids["visa"] = await issue(api, PANS["visa"], ids["ivan"])
    await membership(api, "VISA", ids["sber"], ["ISSUER"], "SUSPENDED", "sanctions 2022")
    return ids


def authorize_input(merchant_id: str, card: str, amount: str, currency: str, **extra) -> dict:
    return {
        "input": {
            "authorizationId": str(extra.pop("authorization_id", uuid.uuid4())),
            "merchantId": merchant_id,
            "pan": PANS.get(card, card),
            **EXPIRY,
            "amount": amount,
            "currency": currency,
            **extra,
        }
    }


async def authorize(api, merchant_id: str, card: str, amount: str, currency: str, key=None, **extra) -> dict:
    """The authorizePayment payload."""
    data = await api(AUTHORIZE, authorize_input(merchant_id, card, amount, currency, **extra), key=key)
    return data["authorizePayment"]
