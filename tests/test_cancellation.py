"""A denied field becomes a field error, nothing else: when graphql-core cancels the
sibling fields of a field whose error nulls their parent, no CancelledError escapes the
request, no statement is cut off half-way, and no connection is left damaged for the
next request or another client. Against the real server (its event loop and network
timing are what make the race), with the demo network."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.served import errors_logged

# The acquirer sees the legs of its payment, not the balances of the cardholder's and the
# FX provider's accounts: each FORBIDDEN nulls a Transfer, which nulls the list, which
# nulls the authorization, and graphql-core cancels every sibling still loading.
DENIED = """
query($id: UUID!) {
  authorization(authorizationId: $id) {
    transfers { debitAccount { balance { amount } available { amount } } creditAccount { name } }
  }
}
"""
ALLOWED = """
query($id: UUID!) {
  authorization(authorizationId: $id) {
    state amount { amount currency } transfers { amount { amount } creditAccount { name } }
  }
}
"""


async def _foreign_card_payment(database_url: str) -> str:
    """A demo payment that Sberbank acquired from a card of another bank."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            found = await connection.execute(
                text(
                    "SELECT a.authorization_id FROM card_authorization a "
                    "JOIN institution acquirer ON acquirer.id = a.acquirer_id "
                    "WHERE acquirer.bic = 'SABRRUMM' AND a.issuer_id <> a.acquirer_id AND a.response_code = '00'"
                )
            )
            return str(found.scalars().first())
    finally:
        await engine.dispose()


async def _post(client: httpx.AsyncClient, key: str, query: str, variables: dict) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {key}"}
    )


async def test_denied_balances_are_field_errors_and_innocent_clients_never_see_them(served):
    payment = await _foreign_card_payment(served.database_url)
    sber = served.key("PARTICIPANT", "SABRRUMM")
    failures: list[str] = []

    async def hostile(client: httpx.AsyncClient) -> None:
        for _ in range(20):
            response = await _post(client, sber, DENIED, {"id": payment})
            body = response.json() if response.status_code == 200 else {}
            codes = {error.get("extensions", {}).get("code") for error in body.get("errors", [])}
            if response.status_code != 200 or body.get("data") != {"authorization": None} or codes != {"FORBIDDEN"}:
                failures.append(f"hostile: {response.status_code} {response.text[:300]}")

    async def innocent(client: httpx.AsyncClient) -> None:
        for _ in range(20):
            response = await _post(client, sber, ALLOWED, {"id": payment})
            body = response.json() if response.status_code == 200 else {}
            if response.status_code != 200 or "errors" in body or not body["data"]["authorization"]["transfers"]:
                failures.append(f"innocent: {response.status_code} {response.text[:300]}")

    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        await asyncio.gather(*(hostile(client) for _ in range(3)), *(innocent(client) for _ in range(3)))
    assert failures == []
    assert errors_logged(served.log_path) == []
