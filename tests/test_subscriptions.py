"""Subscriptions over graphql-transport-ws against the real server (`corridor serve`
with the demo network), on both engines, with a real client (gql's WebsocketsTransport):
the key in the init payload (4403 without a valid one), payments, a payment's events,
settlement windows and card authorizations as they happen, in order, with the queries'
visibility; the per-connection bound; a revoked key; and, on PostgreSQL, events raised
in one server process reaching a subscriber of another."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from pathlib import Path

import httpx
import pytest
import websockets
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from bench.server import Server
from corridor.demo.cards import CARD_EXPIRY, CARDS

PAYMENTS = gql("subscription($status: PaymentStatus) { payments(status: $status) { uetr status sender { bic } } }")
EVENTS = gql("subscription($uetr: UUID!) { paymentEvents(uetr: $uetr) { status isoStatus } }")
WINDOWS = gql('subscription { settlementWindows(scope: "SPFS") { id state currency } }')
AUTHORIZATIONS = gql("subscription { authorizations { authorizationId approved responseCode merchant { name } } }")
SEND = (
    """mutation($input: SendPaymentInput!) { sendPayment(input: $input) { payment { uetr status } errors { code } } }"""
)
ACCOUNTS = """
query($bic: String!) { institution(bic: $bic) { accounts(first: 50) { edges { node { id currency { code } kind } } } } }
"""


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "/graphql"


def client(http_url: str, key: str) -> Client:
    transport = WebsocketsTransport(
        url=ws_url(http_url),
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"Authorization": f"Bearer {key}"},
    )
    return Client(transport=transport)


async def post(http_url: str, key: str, query: str, variables: dict | None = None) -> dict:
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(
            f"{http_url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {key}"},
        )
    body = answer.json()
    assert "errors" not in body, body
    return body["data"]


async def customer_account(served, bic: str, currency: str = "RUB") -> str:
    data = await post(served.url, served.operator_key, ACCOUNTS, {"bic": bic})
    nodes = [edge["node"] for edge in data["institution"]["accounts"]["edges"]]
    return next(n["id"] for n in nodes if n["kind"] == "CUSTOMER" and n["currency"]["code"] == currency)


class Payer:
    """Sends 0.01 RUB payments over SPFS between two demo banks."""

    def __init__(self, served, sender: str = "SABRRUMM", receiver: str = "VTBRRUMM") -> None:
        self.served, self.sender, self.receiver = served, sender, receiver
        self.accounts: tuple[str, str] | None = None

    async def send(self, url: str | None = None, uetr: str | None = None) -> str:
        if self.accounts is None:
            self.accounts = (
                await customer_account(self.served, self.sender),
                await customer_account(self.served, self.receiver),
            )
        item = {
            "uetr": uetr or str(uuid.uuid4()),
            "senderBic": self.sender,
            "receiverBic": self.receiver,
            "debtorAccountId": self.accounts[0],
            "creditorAccountId": self.accounts[1],
            "amount": "0.01",
            "currency": "RUB",
        }
        sent = (await post(url or self.served.url, self.served.operator_key, SEND, {"input": item}))["sendPayment"]
        assert sent["errors"] == [] and sent["payment"]["status"] == "SETTLED", sent
        return item["uetr"]


@contextlib.asynccontextmanager
async def listening(session, document, variables=None):
    """A running subscription: yields the queue its results go to."""
    queue: asyncio.Queue = asyncio.Queue()

    async def pump() -> None:
        try:
            async for result in session.subscribe(document, variable_values=variables):
                await queue.put(result)
        except Exception as error:  # the stream's error, for the test to read
            await queue.put(error)

    task = asyncio.create_task(pump())
    try:
        yield queue
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until_live(queue: asyncio.Queue, probe) -> None:
    """Probe (send a payment) until the subscription shows one: it is subscribed from then on."""
    for _ in range(40):
        await probe()
        try:
            await asyncio.wait_for(queue.get(), 0.5)
        except TimeoutError:
            continue
        while not queue.empty():
            queue.get_nowait()
        return
    raise AssertionError("the subscription never went live")


async def take(queue: asyncio.Queue, count: int) -> list:
    found = []
    for _ in range(count):
        item = await asyncio.wait_for(queue.get(), 15)
        assert not isinstance(item, Exception), item
        found.append(item)
    return found


async def test_a_connection_without_a_valid_key_is_closed_with_4403(served):
    for payload in ({}, {"Authorization": "Bearer cor_not-a-key"}, {"apiKey": 42}):
        async with websockets.connect(ws_url(served.url), subprotocols=["graphql-transport-ws"]) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(socket.recv(), 10)
            assert closed.value.rcvd.code == 4403


async def test_payments_arrive_in_order_as_they_settle(served):
    payer = Payer(served)
    async with client(served.url, served.operator_key) as session, listening(session, PAYMENTS) as queue:
        await until_live(queue, payer.send)
        sent = [await payer.send() for _ in range(3)]
        found = await take(queue, 3)
    assert [item["payments"]["uetr"] for item in found] == sent
    assert {item["payments"]["status"] for item in found} == {"SETTLED"}


async def test_a_payments_events_arrive_in_order(served):
    payer, uetr = Payer(served), str(uuid.uuid4())
    async with client(served.url, served.operator_key) as session, listening(session, PAYMENTS) as live:
        await until_live(live, payer.send)  # the connection is subscribed, so the next one is too
        async with listening(session, EVENTS, {"uetr": uetr}) as queue:
            await asyncio.sleep(0.5)
            await payer.send(uetr=uetr)
            found = await take(queue, 3)
    assert [item["paymentEvents"]["isoStatus"] for item in found] == ["RCVD", "ACSP", "ACCC"]


async def test_a_participant_sees_its_own_payments_only_and_an_analyst_none(served):
    mine, others = Payer(served, "VTBRRUMM", "MELIIRTH"), Payer(served, "SABRRUMM", "MELIIRTH")
    key = served.key("PARTICIPANT", "VTBRRUMM")
    async with client(served.url, key) as session, listening(session, PAYMENTS) as queue:
        await until_live(queue, mine.send)
        await others.send()
        last = await mine.send()
        found = await take(queue, 1)
        assert found[0]["payments"]["uetr"] == last and queue.empty()
    async with client(served.url, served.key("ANALYST")) as session:
        with pytest.raises(TransportQueryError) as refused:
            async for _ in session.subscribe(PAYMENTS):
                pass
    assert refused.value.errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_windows_as_they_close_and_open(served):
    close = 'mutation { closeSettlementWindow(scope: "SPFS", currency: "RUB") { window { id state } errors { code } } }'
    payer = Payer(served)
    async with client(served.url, served.operator_key) as session, listening(session, PAYMENTS) as live:
        await until_live(live, payer.send)  # also leaves an obligation in the OPEN SPFS window
        async with listening(session, WINDOWS) as queue:
            await asyncio.sleep(0.5)
            closed = (await post(served.url, served.operator_key, close))["closeSettlementWindow"]
            assert closed["errors"] == [], closed
            found = await take(queue, 2)
    states = [(item["settlementWindows"]["id"], item["settlementWindows"]["state"]) for item in found]
    assert states[0] == (closed["window"]["id"], "CLOSED") and states[1][1] == "OPEN"


async def test_authorizations_as_they_are_decided(served):
    authorize = """mutation($input: AuthorizeInput!) { authorizePayment(input: $input) {
      authorization { authorizationId approved } errors { code } } }"""
    merchants = await post(served.url, served.operator_key, "{ merchants(first: 10) { edges { node { id name } } } }")
    shop = next(e["node"]["id"] for e in merchants["merchants"]["edges"] if e["node"]["name"].startswith("Moscow"))
    pan, *_ = CARDS["mir"]

    async def pay(amount: str = "1.00") -> str:
        key = str(uuid.uuid4())
        item = {"authorizationId": key, "merchantId": shop, "pan": pan, "amount": amount, "currency": "RUB"}
        item |= {"expiryMonth": CARD_EXPIRY[0], "expiryYear": CARD_EXPIRY[1]}
        assert (await post(served.url, served.operator_key, authorize, {"input": item}))["authorizePayment"][
            "errors"
        ] == []
        return key

    async with client(served.url, served.operator_key) as session, listening(session, AUTHORIZATIONS) as queue:
        await until_live(queue, pay)
        approved, declined = await pay(), await pay("99999999.00")
        found = await take(queue, 2)
    assert [(i["authorizations"]["authorizationId"], i["authorizations"]["approved"]) for i in found] == [
        (approved, True),
        (declined, False),
    ]


async def test_one_connection_holds_a_bounded_number_of_subscriptions(served):
    async with websockets.connect(ws_url(served.url), subprotocols=["graphql-transport-ws"]) as socket:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {served.operator_key}"}}
        await socket.send(json.dumps(init))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        query = "subscription { payments { uetr } }"
        for k in range(21):
            await socket.send(json.dumps({"id": str(k), "type": "subscribe", "payload": {"query": query}}))
        refused = json.loads(await asyncio.wait_for(socket.recv(), 10))
    assert refused["type"] == "error" and refused["id"] == "20", refused
    assert "limit" in refused["payload"][0]["message"].lower()


async def test_a_revoked_key_ends_its_subscriptions(served):
    revoke = "mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } errors { code } } }"
    keys = "{ apiKeys(first: 100) { edges { node { id label revokedAt } } } }"
    payer = Payer(served)
    key = served.key("OPERATOR")  # the newest key: first in the list
    async with client(served.url, key) as session, listening(session, PAYMENTS) as queue:
        await until_live(queue, payer.send)
        newest = (await post(served.url, served.operator_key, keys))["apiKeys"]["edges"][0]["node"]
        assert (await post(served.url, served.operator_key, revoke, {"id": newest["id"]}))["revokeApiKey"][
            "errors"
        ] == []
        await asyncio.sleep(1.2)  # a verified key is trusted for at most a second
        await payer.send()
        ended = await asyncio.wait_for(queue.get(), 15)
    assert isinstance(ended, TransportQueryError) and ended.errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_events_of_one_server_process_reach_the_subscribers_of_another(served, tmp_path: Path):
    if "postgresql" not in served.database_url:
        pytest.skip("SQLite serves one process: its events stay in it (tests.test_events)")
    payer, second = Payer(served), Server(served.database_url, 1, tmp_path / "second.log")
    await asyncio.to_thread(second.__enter__)  # its own process, port and connections
    try:
        other = f"http://127.0.0.1:{second.port}"
        async with client(other, served.operator_key) as session, listening(session, PAYMENTS) as queue:
            await until_live(queue, payer.send)  # sent to the first server, seen on the second
            sent = [await payer.send(url=served.url if k % 2 else other) for k in range(4)]
            found = await take(queue, 4)
    finally:
        await asyncio.to_thread(second.__exit__, None, None, None)
    assert [item["payments"]["uetr"] for item in found] == sent
