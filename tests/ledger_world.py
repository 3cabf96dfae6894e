"""A small network for ledger tests, built through the API: a central bank with its
ISSUANCE account, two banks with SETTLEMENT and CUSTOMER accounts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from schema.base import parse_global_id

INSTITUTION = """
mutation($input: InstitutionInput!) { createInstitution(input: $input) { institution { id } errors { code field } } }
"""
OPEN = """
mutation($input: OpenAccountInput!) {
  openAccount(input: $input) { account { id name kind currency { code } } errors { code message field } }
}
"""
TRANSFERS = """
mutation($transfers: [TransferInput!]!, $atomic: Boolean) {
  createTransfers(transfers: $transfers, atomic: $atomic) {
    results {
      created
      transfer { id transferId state amount { amount currency } postedAmount { amount } pending reference expiresAt
                 debitAccount { id } creditAccount { id } }
      errors { code message field }
    }
  }
}
"""
POST = """
mutation($id: UUID!, $amount: Decimal) {
  postTransfer(transferId: $id, amount: $amount) {
    created transfer { state amount { amount } postedAmount { amount } } errors { code message field }
  }
}
"""
VOID = """
mutation($id: UUID!) {
  voidTransfer(transferId: $id) { created transfer { state } errors { code message field } }
}
"""
ACCOUNT = """
query($id: ID!) {
  node(id: $id) {
    ... on Account {
      debitsPending debitsPosted creditsPending creditsPosted balance { amount currency } available { amount }
    }
  }
}
"""


def pk(global_id: str) -> int:
    return int(parse_global_id(global_id)[1])


async def institution(api, name: str, bic: str, country: str, kind: str) -> str:
    data = await api(INSTITUTION, {"input": {"name": name, "bic": bic, "countryCode": country, "kind": kind}})
    assert data["createInstitution"]["errors"] == [], data
    return data["createInstitution"]["institution"]["id"]


async def open_account(api, owner: str, name: str, currency: str, kind: str, key: str | None = None) -> dict:
    data = await api(OPEN, {"input": {"ownerId": owner, "name": name, "currency": currency, "kind": kind}}, key=key)
    return data["openAccount"]


async def account(api, owner: str, name: str, currency: str, kind: str) -> str:
    payload = await open_account(api, owner, name, currency, kind)
    assert payload["errors"] == [], payload
    return payload["account"]["id"]


def transfer(debit: str, credit: str, amount: str, currency: str = "RUB", **extra) -> dict:
    return {
        "transferId": str(extra.pop("transfer_id", uuid.uuid4())),
        "debitAccountId": debit,
        "creditAccountId": credit,
        "amount": amount,
        "currency": currency,
        **extra,
    }


async def send(api, *transfers: dict, atomic: bool = False, key: str | None = None) -> list[dict]:
    data = await api(TRANSFERS, {"transfers": list(transfers), "atomic": atomic}, key=key)
    return data["createTransfers"]["results"]


async def balances(api, account_id: str, key: str | None = None) -> dict:
    node = (await api(ACCOUNT, {"id": account_id}, key=key))["node"]
    return {
        "debitsPending": node["debitsPending"],
        "debitsPosted": node["debitsPosted"],
        "creditsPending": node["creditsPending"],
        "creditsPosted": node["creditsPosted"],
        "balance": node["balance"]["amount"],
        "available": node["available"]["amount"],
    }


@dataclass
class World:
    central_bank: str
    sber: str
    vtb: str
    issuance: str  # RUB, Bank of Russia
    sber_settlement: str
    sber_customer: str
    vtb_settlement: str
    vtb_customer: str
    pboc: str
    cny_issuance: str


async def build(api, fund: str | None = "1000.00") -> World:
    cb = await institution(api, "Bank of Russia", "CBRFRUMM", "RU", "CENTRAL_BANK")
    sber = await institution(api, "Sberbank", "SABRRUMM", "RU", "COMMERCIAL_BANK")
    vtb = await institution(api, "VTB", "VTBRRUMM", "RU", "COMMERCIAL_BANK")
    pboc = await institution(api, "People's Bank of China", "PBOCCNBJ", "CN", "CENTRAL_BANK")
    world = World(
        central_bank=cb,
        sber=sber,
        vtb=vtb,
        issuance=await account(api, cb, "RUB issuance", "RUB", "ISSUANCE"),
        sber_settlement=await account(api, sber, "Sber settlement", "RUB", "SETTLEMENT"),
        sber_customer=await account(api, sber, "Ivan Petrov", "RUB", "CUSTOMER"),
        vtb_settlement=await account(api, vtb, "VTB settlement", "RUB", "SETTLEMENT"),
        vtb_customer=await account(api, vtb, "Olga Ivanova", "RUB", "CUSTOMER"),
        pboc=pboc,
        cny_issuance=await account(api, pboc, "CNY issuance", "CNY", "ISSUANCE"),
    )
    if fund is not None:
        results = await send(
            api,
            transfer(world.issuance, world.sber_settlement, fund),
            transfer(world.issuance, world.vtb_settlement, fund),
        )
        assert all(r["errors"] == [] for r in results), results
    return world
