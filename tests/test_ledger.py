"""The ledger through the GraphQL endpoint: accounts, transfers, holds, batches, idempotency, access."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text

from models.access import Role
from models.base import set_clock_skew, utcnow
from resolvers import ledger
from schema.base import global_id
from tests.ledger_world import (
    POST,
    VOID,
    balances,
    build,
    open_account,
    pk,
    send,
    transfer,
)


@pytest.fixture
def clock():
    """Move the service's clock forward: `clock(seconds)`."""

    def forward(seconds: float) -> None:
        set_clock_skew(dt.timedelta(seconds=seconds))

    yield forward
    set_clock_skew(dt.timedelta(0))


async def count(api, table: str) -> int:
    async with api.engine.connect() as connection:
        return await connection.scalar(text(f"SELECT count(*) FROM {table}"))


# ---------------------------------------------------------------- accounts


async def test_open_account_shows_zero_balances(api):
    world = await build(api, fund=None)
    assert await balances(api, world.sber_customer) == {
        "debitsPending": "0.00",
        "debitsPosted": "0.00",
        "creditsPending": "0.00",
        "creditsPosted": "0.00",
        "balance": "0.00",
        "available": "0.00",
    }
    data = await api(
        "query($id: ID!) { node(id: $id) { ... on Account { name kind currency { code minorUnits } owner { bic } } } }",
        {"id": world.sber_customer},
    )
    assert data["node"] == {
        "name": "Ivan Petrov",
        "kind": "CUSTOMER",
        "currency": {"code": "RUB", "minorUnits": 2},
        "owner": {"bic": "SABRRUMM"},
    }


@pytest.mark.parametrize(
    ("who", "currency", "kind", "code", "field"),
    [
        ("sber", "RUB", "ISSUANCE", "INVALID_INPUT", ["input", "kind"]),  # not a central bank
        ("central_bank", "CNY", "ISSUANCE", "CURRENCY_MISMATCH", ["input", "currency"]),  # not its currency
        ("central_bank", "RUB", "ISSUANCE", "ALREADY_EXISTS", ["input", "kind"]),  # it has one
        ("sber", "RUB", "FX_POSITION", "INVALID_INPUT", ["input", "kind"]),  # not an FX provider
        ("sber", "XYZ", "CUSTOMER", "UNSUPPORTED_CURRENCY", ["input", "currency"]),
        ("nobody", "RUB", "CUSTOMER", "NOT_FOUND", ["input", "ownerId"]),
        ("garbage", "RUB", "CUSTOMER", "INVALID_INPUT", ["input", "ownerId"]),
    ],
)
async def test_bad_account_input_opens_nothing(api, who, currency, kind, code, field):
    world = await build(api, fund=None)
    owner = {
        "sber": world.sber,
        "central_bank": world.central_bank,
        "nobody": str(global_id("Institution", 9999)),
        "garbage": "???",
    }[who]
    before = await count(api, "account")
    payload = await open_account(api, owner, "x", currency, kind)
    assert payload["account"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert await count(api, "account") == before


async def test_participant_opens_accounts_only_for_itself(api):
    world = await build(api, fund=None)
    key = await api.new_key(Role.PARTICIPANT, pk(world.sber))
    own = await open_account(api, world.sber, "New customer", "RUB", "CUSTOMER", key=key)
    assert own["errors"] == []
    other = await open_account(api, world.vtb, "Not mine", "RUB", "CUSTOMER", key=key)
    assert other["errors"][0]["code"] == "FORBIDDEN"
    analyst = await api.new_key(Role.ANALYST)
    refused = await open_account(api, world.sber, "x", "RUB", "CUSTOMER", key=analyst)
    assert refused["errors"][0]["code"] == "FORBIDDEN"


# ---------------------------------------------------------------- posted transfers


async def test_money_enters_from_issuance_and_moves_between_banks(api):
    world = await build(api)
    assert (await balances(api, world.issuance))["balance"] == "-2000.00"
    assert (await balances(api, world.sber_settlement))["balance"] == "1000.00"
    results = await send(api, transfer(world.sber_settlement, world.vtb_settlement, "250.50", reference="inv 7"))
    result = results[0]
    assert result["errors"] == [] and result["created"] is True
    moved = result["transfer"]
    assert moved["state"] == "POSTED" and moved["pending"] is False
    assert moved["amount"] == {"amount": "250.50", "currency": "RUB"}
    assert moved["postedAmount"] == {"amount": "250.50"}
    assert moved["reference"] == "inv 7"
    assert moved["debitAccount"]["id"] == world.sber_settlement
    sber = await balances(api, world.sber_settlement)
    assert sber["debitsPosted"] == "250.50" and sber["balance"] == "749.50" and sber["available"] == "749.50"
    assert (await balances(api, world.vtb_settlement))["balance"] == "1250.50"
    looked_up = await api("query($id: UUID!) { transfer(transferId: $id) { id state } }", {"id": moved["transferId"]})
    assert looked_up["transfer"] == {"id": moved["id"], "state": "POSTED"}
    node = await api("query($id: ID!) { node(id: $id) { ... on Transfer { transferId } } }", {"id": moved["id"]})
    assert node["node"] == {"transferId": moved["transferId"]}


async def test_amount_with_trailing_zeros_is_exact(api):
    world = await build(api)
    results = await send(api, transfer(world.sber_settlement, world.vtb_settlement, "1.500"))
    assert results[0]["transfer"]["amount"]["amount"] == "1.50"


@pytest.mark.parametrize(
    ("amount", "field"),
    [
        ("1.005", "amount"),
        ("0", "amount"),
        ("-5.00", "amount"),
        ("99999999999999999999", "amount"),
    ],
)
async def test_bad_amounts_are_refused(api, amount, field):
    world = await build(api)
    results = await send(
        api,
        transfer(world.sber_settlement, world.vtb_settlement, "1.00"),
        transfer(world.sber_settlement, world.vtb_settlement, amount),
    )
    assert results[0]["errors"] == []
    assert [(e["code"], e["field"]) for e in results[1]["errors"]] == [("INVALID_INPUT", ["transfers", "1", field])]
    assert (await balances(api, world.sber_settlement))["balance"] == "999.00"


@pytest.mark.parametrize("amount", ["12,50", "NaN", "Infinity"])
async def test_malformed_decimal_is_a_graphql_error_and_changes_nothing(api, amount):
    world = await build(api)
    body = await api.raw(
        "mutation($t: [TransferInput!]!) { createTransfers(transfers: $t) { results { created } } }",
        {"t": [transfer(world.sber_settlement, world.vtb_settlement, amount)]},
    )
    assert body["errors"][0]["message"] != "Unexpected error."
    assert "Decimal" in body["errors"][0]["message"]
    assert (await balances(api, world.sber_settlement))["balance"] == "1000.00"


async def test_each_rule_has_its_error(api):
    world = await build(api)
    unknown = str(global_id("Account", 99999))
    results = await send(
        api,
        transfer(unknown, world.vtb_settlement, "1.00"),
        transfer(world.sber_settlement, unknown, "1.00"),
        transfer("not-an-id", world.vtb_settlement, "1.00"),
        transfer(world.sber_settlement, world.vtb_settlement, "1.00", currency="CNY"),
        transfer(world.sber_settlement, world.cny_issuance, "1.00"),
        transfer(world.sber_settlement, world.sber_settlement, "1.00"),
        transfer(world.sber_settlement, world.vtb_settlement, "1000.01"),
        transfer(world.sber_settlement, world.vtb_settlement, "1.00", currency="XYZ"),
        transfer(world.sber_settlement, world.vtb_settlement, "1.00", timeoutSeconds=60),
        transfer(world.sber_settlement, world.vtb_settlement, "1.00", pending=True, timeoutSeconds=0),
        transfer(world.sber_settlement, world.vtb_settlement, "1.00", reference="r" * 141),
    )
    assert [(r["errors"][0]["code"], r["errors"][0]["field"]) for r in results] == [
        ("NOT_FOUND", ["transfers", "0", "debitAccountId"]),
        ("NOT_FOUND", ["transfers", "1", "creditAccountId"]),
        ("INVALID_INPUT", ["transfers", "2", "debitAccountId"]),
        ("CURRENCY_MISMATCH", ["transfers", "3", "currency"]),
        ("CURRENCY_MISMATCH", ["transfers", "4", "currency"]),
        ("SAME_ACCOUNT", ["transfers", "5", "creditAccountId"]),
        ("INSUFFICIENT_FUNDS", ["transfers", "6", "amount"]),
        ("UNSUPPORTED_CURRENCY", ["transfers", "7", "currency"]),
        ("INVALID_INPUT", ["transfers", "8", "timeoutSeconds"]),
        ("INVALID_INPUT", ["transfers", "9", "timeoutSeconds"]),
        ("INVALID_INPUT", ["transfers", "10", "reference"]),
    ]
    assert all(r["transfer"] is None and r["created"] is False for r in results)
    assert await count(api, "transfer") == 2  # the funding
    assert (await balances(api, world.sber_settlement))["balance"] == "1000.00"


async def test_a_debit_may_use_exactly_the_available_balance(api):
    world = await build(api)
    results = await send(
        api,
        transfer(world.sber_settlement, world.vtb_settlement, "600.00"),
        transfer(world.sber_settlement, world.vtb_settlement, "400.00"),
        transfer(world.sber_settlement, world.vtb_settlement, "0.01"),
    )
    assert [r["errors"][0]["code"] if r["errors"] else None for r in results] == [None, None, "INSUFFICIENT_FUNDS"]
    assert (await balances(api, world.sber_settlement))["available"] == "0.00"


async def test_amounts_that_would_overflow_are_refused(api):
    world = await build(api, fund=None)
    top = "92233720368547758.07"  # 2^63 - 1 kopecks
    first = await send(api, transfer(world.issuance, world.sber_settlement, top))
    assert first[0]["errors"] == []
    second = await send(api, transfer(world.issuance, world.vtb_settlement, "0.01"))
    assert [(e["code"], e["field"]) for e in second[0]["errors"]] == [("INVALID_INPUT", ["transfers", "0", "amount"])]
    assert (await balances(api, world.issuance))["balance"] == "-" + top


# ---------------------------------------------------------------- idempotency


async def test_replay_returns_the_stored_transfer(api):
    world = await build(api)
    item = transfer(world.sber_settlement, world.vtb_settlement, "10.00", reference="once")
    first = (await send(api, item))[0]
    again = (await send(api, item))[0]
    assert first["created"] is True and again["created"] is False
    assert again["errors"] == [] and again["transfer"]["id"] == first["transfer"]["id"]
    assert (await balances(api, world.sber_settlement))["balance"] == "990.00"


@pytest.mark.parametrize(
    "change",
    [{"amount": "10.01"}, {"reference": "other"}, {"pending": True}, {"creditAccountId": "issuance"}],
)
async def test_same_id_with_other_content_is_a_conflict(api, change):
    world = await build(api)
    item = transfer(world.sber_settlement, world.vtb_settlement, "10.00")
    await send(api, item)
    if change.get("creditAccountId") == "issuance":
        change = {"creditAccountId": world.issuance}
    results = await send(api, {**item, **change})
    assert [(e["code"], e["field"]) for e in results[0]["errors"]] == [
        ("IDEMPOTENCY_CONFLICT", ["transfers", "0", "transferId"])
    ]
    assert (await balances(api, world.sber_settlement))["balance"] == "990.00"


async def test_replay_inside_one_batch(api):
    world = await build(api)
    item = transfer(world.sber_settlement, world.vtb_settlement, "10.00")
    results = await send(api, item, item, {**item, "amount": "11.00"})
    assert [r["created"] for r in results] == [True, False, False]
    assert results[1]["transfer"]["id"] == results[0]["transfer"]["id"]
    assert results[2]["errors"][0]["code"] == "IDEMPOTENCY_CONFLICT"
    assert (await balances(api, world.sber_settlement))["balance"] == "990.00"


async def test_replay_is_not_refused_for_funds_spent_since(api):
    world = await build(api)
    item = transfer(world.sber_settlement, world.vtb_settlement, "1000.00")
    await send(api, item)
    again = (await send(api, item))[0]
    assert again["errors"] == [] and again["created"] is False


# ---------------------------------------------------------------- batches


async def test_atomic_batch_fails_whole(api):
    world = await build(api)
    results = await send(
        api,
        transfer(world.sber_settlement, world.vtb_settlement, "100.00"),
        transfer(world.sber_settlement, world.vtb_settlement, "5000.00"),
        transfer(world.vtb_settlement, world.sber_settlement, "1.00"),
        atomic=True,
    )
    assert [r["errors"][0]["code"] for r in results] == [
        "ATOMIC_BATCH_FAILED",
        "INSUFFICIENT_FUNDS",
        "ATOMIC_BATCH_FAILED",
    ]
    assert results[1]["errors"][0]["field"] == ["transfers", "1", "amount"]
    assert all(r["transfer"] is None for r in results)
    assert (await balances(api, world.sber_settlement))["balance"] == "1000.00"
    assert await count(api, "transfer") == 2


async def test_atomic_batch_succeeds_whole_and_later_transfers_see_earlier_ones(api):
    world = await build(api)
    results = await send(
        api,
        transfer(world.sber_settlement, world.sber_customer, "300.00"),
        transfer(world.sber_customer, world.vtb_customer, "300.00"),  # funded by the transfer before it
        atomic=True,
    )
    assert all(r["errors"] == [] for r in results)
    assert (await balances(api, world.vtb_customer))["balance"] == "300.00"
    assert (await balances(api, world.sber_customer))["balance"] == "0.00"


async def test_non_atomic_batch_applies_what_it_can(api):
    world = await build(api)
    results = await send(
        api,
        transfer(world.sber_settlement, world.vtb_settlement, "100.00"),
        transfer(world.sber_settlement, world.vtb_settlement, "5000.00"),
        transfer(world.vtb_settlement, world.sber_settlement, "1.00"),
    )
    assert [bool(r["errors"]) for r in results] == [False, True, False]
    assert (await balances(api, world.sber_settlement))["balance"] == "901.00"


async def test_batch_limit(api):
    world = await build(api)
    specs = [
        ledger.TransferSpec(uuid.uuid4(), pk(world.sber_settlement), pk(world.vtb_settlement), 1, "RUB")
        for _ in range(ledger.MAX_BATCH + 1)
    ]
    from resolvers.access import SYSTEM
    from resolvers.errors import DomainError

    async with api.sessions() as session:
        with pytest.raises(DomainError) as refused:
            await ledger.create_transfers(session, SYSTEM, specs, atomic=False, now=utcnow())
    assert refused.value.code.value == "INVALID_INPUT"


async def test_a_large_batch_in_one_request(api):
    world = await build(api)
    items = [transfer(world.sber_settlement, world.vtb_settlement, "0.10") for _ in range(2000)]
    results = await send(api, *items)
    assert all(r["created"] for r in results)
    assert (await balances(api, world.sber_settlement))["balance"] == "800.00"


# ---------------------------------------------------------------- two-phase


async def test_hold_then_post_in_full(api):
    world = await build(api)
    hold = (await send(api, transfer(world.sber_settlement, world.vtb_settlement, "200.00", pending=True)))[0]
    assert hold["transfer"]["state"] == "PENDING" and hold["transfer"]["postedAmount"] is None
    sber = await balances(api, world.sber_settlement)
    assert sber["debitsPending"] == "200.00" and sber["balance"] == "1000.00" and sber["available"] == "800.00"
    assert (await balances(api, world.vtb_settlement))["creditsPending"] == "200.00"
    posted = (await api(POST, {"id": hold["transfer"]["transferId"]}))["postTransfer"]
    assert posted["errors"] == [] and posted["created"] is True
    assert posted["transfer"] == {
        "state": "POSTED",
        "amount": {"amount": "200.00"},
        "postedAmount": {"amount": "200.00"},
    }
    sber = await balances(api, world.sber_settlement)
    assert sber["debitsPending"] == "0.00" and sber["balance"] == "800.00" and sber["available"] == "800.00"
    again = (await api(POST, {"id": hold["transfer"]["transferId"]}))["postTransfer"]
    assert again["errors"] == [] and again["created"] is False
    assert (await balances(api, world.sber_settlement))["balance"] == "800.00"


async def test_partial_post_releases_the_rest(api):
    world = await build(api)
    hold = (await send(api, transfer(world.sber_settlement, world.vtb_settlement, "200.00", pending=True)))[0]
    key = hold["transfer"]["transferId"]
    too_much = (await api(POST, {"id": key, "amount": "200.01"}))["postTransfer"]
    assert [(e["code"], e["field"]) for e in too_much["errors"]] == [("AMOUNT_EXCEEDS_PENDING", ["amount"])]
    bad = (await api(POST, {"id": key, "amount": "1.001"}))["postTransfer"]
    assert bad["errors"][0]["code"] == "INVALID_INPUT"
    posted = (await api(POST, {"id": key, "amount": "150.00"}))["postTransfer"]
    assert posted["transfer"]["postedAmount"] == {"amount": "150.00"}
    sber = await balances(api, world.sber_settlement)
    assert sber == {
        "debitsPending": "0.00",
        "debitsPosted": "150.00",
        "creditsPending": "0.00",
        "creditsPosted": "1000.00",
        "balance": "850.00",
        "available": "850.00",
    }
    other = (await api(POST, {"id": key, "amount": "10.00"}))["postTransfer"]
    assert other["errors"][0]["code"] == "TRANSFER_NOT_PENDING"


async def test_void_releases_the_hold(api):
    world = await build(api)
    hold = (await send(api, transfer(world.sber_settlement, world.vtb_settlement, "200.00", pending=True)))[0]
    key = hold["transfer"]["transferId"]
    voided = (await api(VOID, {"id": key}))["voidTransfer"]
    assert voided == {"created": True, "transfer": {"state": "VOIDED"}, "errors": []}
    assert (await balances(api, world.sber_settlement))["available"] == "1000.00"
    assert (await api(VOID, {"id": key}))["voidTransfer"]["created"] is False
    refused = (await api(POST, {"id": key}))["postTransfer"]
    assert refused["errors"][0]["code"] == "TRANSFER_NOT_PENDING"


async def test_posted_transfer_cannot_be_voided_or_posted(api):
    world = await build(api)
    done = (await send(api, transfer(world.sber_settlement, world.vtb_settlement, "5.00")))[0]
    key = done["transfer"]["transferId"]
    assert (await api(VOID, {"id": key}))["voidTransfer"]["errors"][0]["code"] == "TRANSFER_NOT_PENDING"
    assert (await api(POST, {"id": key}))["postTransfer"]["errors"][0]["code"] == "TRANSFER_NOT_PENDING"
    missing = (await api(POST, {"id": str(uuid.uuid4())}))["postTransfer"]
    assert [(e["code"], e["field"]) for e in missing["errors"]] == [("NOT_FOUND", ["transferId"])]


async def test_hold_limits_further_debits(api):
    world = await build(api)
    await send(api, transfer(world.sber_settlement, world.vtb_settlement, "900.00", pending=True))
    results = await send(api, transfer(world.sber_settlement, world.vtb_settlement, "100.01"))
    assert results[0]["errors"][0]["code"] == "INSUFFICIENT_FUNDS"


async def test_expired_hold_stops_limiting_at_once_and_cannot_be_posted(api, clock):
    world = await build(api)
    hold = (
        await send(
            api, transfer(world.sber_settlement, world.vtb_settlement, "900.00", pending=True, timeoutSeconds=60)
        )
    )[0]
    key = hold["transfer"]["transferId"]
    assert hold["transfer"]["expiresAt"] is not None
    assert (await balances(api, world.sber_settlement))["available"] == "100.00"
    clock(61)
    # No sweep has run: the hold reads EXPIRED and no longer limits available.
    sber = await balances(api, world.sber_settlement)
    assert sber["debitsPending"] == "0.00" and sber["available"] == "1000.00"
    assert (await balances(api, world.vtb_settlement))["creditsPending"] == "0.00"
    state = await api("query($id: UUID!) { transfer(transferId: $id) { state } }", {"id": key})
    assert state["transfer"]["state"] == "EXPIRED"
    assert (await api(POST, {"id": key}))["postTransfer"]["errors"][0]["code"] == "TRANSFER_EXPIRED"
    assert (await api(VOID, {"id": key}))["voidTransfer"]["errors"][0]["code"] == "TRANSFER_EXPIRED"
    spend = await send(api, transfer(world.sber_settlement, world.vtb_settlement, "1000.00"))
    assert spend[0]["errors"] == []
    # The sweep then makes the stored columns say the same.
    async with api.sessions() as session, session.begin():
        assert await ledger.expire_lapsed(session, utcnow()) == 1
    async with api.sessions() as session, session.begin():
        assert await ledger.expire_lapsed(session, utcnow()) == 0
    async with api.engine.connect() as connection:
        stored = (await connection.execute(text("SELECT state, resolved_at FROM transfer WHERE pending"))).one()
    assert stored.state == "EXPIRED" and stored.resolved_at is not None
    assert (await balances(api, world.sber_settlement))["balance"] == "0.00"


# ---------------------------------------------------------------- access


async def test_participant_debits_only_its_own_accounts(api):
    world = await build(api)
    sber_key = await api.new_key(Role.PARTICIPANT, pk(world.sber))
    results = await send(
        api,
        transfer(world.sber_settlement, world.vtb_settlement, "10.00"),
        transfer(world.vtb_settlement, world.sber_settlement, "10.00"),
        key=sber_key,
    )
    assert results[0]["errors"] == []
    assert [(e["code"], e["field"]) for e in results[1]["errors"]] == [
        ("FORBIDDEN", ["transfers", "1", "debitAccountId"])
    ]


async def test_central_bank_key_debits_its_issuance_account(api):
    world = await build(api, fund=None)
    cb_key = await api.new_key(Role.PARTICIPANT, pk(world.central_bank))
    results = await send(api, transfer(world.issuance, world.sber_settlement, "5.00"), key=cb_key)
    assert results[0]["errors"] == []


async def test_analyst_moves_no_money(api):
    world = await build(api)
    analyst = await api.new_key(Role.ANALYST)
    results = await send(api, transfer(world.sber_settlement, world.vtb_settlement, "10.00"), key=analyst)
    assert results[0]["errors"][0]["code"] == "FORBIDDEN"
    assert (await balances(api, world.sber_settlement))["balance"] == "1000.00"


async def test_participant_sees_only_its_own_accounts_and_transfers(api):
    world = await build(api)
    moved = (await send(api, transfer(world.sber_settlement, world.vtb_settlement, "10.00")))[0]["transfer"]
    other = (await send(api, transfer(world.vtb_settlement, world.vtb_customer, "1.00")))[0]["transfer"]
    sber_key = await api.new_key(Role.PARTICIPANT, pk(world.sber))
    seen = await api("query($id: ID!) { node(id: $id) { id } }", {"id": world.vtb_settlement}, key=sber_key)
    assert seen["node"] is None
    own = await api("query($id: ID!) { node(id: $id) { id } }", {"id": world.sber_settlement}, key=sber_key)
    assert own["node"] == {"id": world.sber_settlement}
    accounts = await api(
        "query($bic: String!) { institution(bic: $bic) { accounts { edges { node { id } } } } }",
        {"bic": "VTBRRUMM"},
        key=sber_key,
    )
    assert accounts["institution"]["accounts"]["edges"] == []
    query = "query($id: UUID!) { transfer(transferId: $id) { id } }"
    assert (await api(query, {"id": moved["transferId"]}, key=sber_key))["transfer"] == {"id": moved["id"]}
    assert (await api(query, {"id": other["transferId"]}, key=sber_key))["transfer"] is None
    # The counterparty's account is named on the transfer, but its balances are not shown.
    body = await api.raw(
        "query($id: UUID!) { transfer(transferId: $id) { creditAccount { name balance { amount } } } }",
        {"id": moved["transferId"]},
        key=sber_key,
    )
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    analyst = await api.new_key(Role.ANALYST)
    assert (await api(query, {"id": moved["transferId"]}, key=analyst))["transfer"] is None


# ---------------------------------------------------------------- history


HISTORY = """
query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  node(id: $id) {
    ... on Account {
      transfers(first: $first, after: $after, last: $last, before: $before) {
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { reference debitAccount { name } creditAccount { name } } }
      }
    }
  }
}
"""


async def test_account_history_pages_newest_first(api):
    world = await build(api)
    for i in range(5):
        debit, credit = (
            (world.sber_settlement, world.vtb_settlement) if i % 2 else (world.vtb_settlement, world.sber_settlement)
        )
        await send(api, transfer(debit, credit, "1.00", reference=f"t{i}"))
    await send(api, transfer(world.vtb_settlement, world.vtb_customer, "1.00", reference="elsewhere"))

    async def page(**args):
        data = await api(HISTORY, {"id": world.sber_settlement, **args})
        connection = data["node"]["transfers"]
        return [e["node"]["reference"] for e in connection["edges"]], connection["pageInfo"]

    refs, info = await page(first=3)
    assert refs == ["t4", "t3", "t2"] and info["hasNextPage"] and not info["hasPreviousPage"]
    refs, info = await page(first=3, after=info["endCursor"])
    assert refs == ["t1", "t0", None] and not info["hasNextPage"]  # None: the funding transfer
    refs, info = await page(last=2)
    assert refs == ["t0", None] and info["hasPreviousPage"]
    refs, _ = await page(last=2, before=info["startCursor"])
    assert refs == ["t2", "t1"]


async def test_history_loads_nested_accounts_in_a_fixed_number_of_statements(api):
    world = await build(api)
    await send(api, *[transfer(world.sber_settlement, world.vtb_settlement, "1.00") for _ in range(40)])
    counts = []
    for size in (3, 30):
        with api.count_statements() as statements:
            data = await api(HISTORY, {"id": world.sber_settlement, "first": size})
        assert len(data["node"]["transfers"]["edges"]) == size
        counts.append(statements[0])
    assert counts[0] == counts[1]


async def test_background_sweep_releases_every_lapsed_hold(api, clock):
    from corridor import sweeper

    world = await build(api)
    items = [
        transfer(world.sber_settlement, world.vtb_settlement, "1.00", pending=True, timeoutSeconds=30) for _ in range(7)
    ]
    items.append(transfer(world.sber_settlement, world.vtb_settlement, "2.00", pending=True))  # no timeout
    await send(api, *items)
    assert await sweeper.sweep_once(api.sessions) == 0
    clock(31)
    assert await sweeper.sweep_once(api.sessions) == 7
    async with api.engine.connect() as connection:
        states = dict((await connection.execute(text("SELECT state, count(*) FROM transfer GROUP BY state"))).all())
    assert states == {"EXPIRED": 7, "PENDING": 1, "POSTED": 2}
    sber = await balances(api, world.sber_settlement)
    assert sber["debitsPending"] == "2.00" and sber["available"] == "998.00"


async def test_groups_in_one_transaction_each_stand_alone(api):
    """Group commit: several requests' transfers in one transaction, each as if alone."""
    from resolvers.access import SYSTEM, Principal

    world = await build(api)
    a, b = pk(world.sber_settlement), pk(world.vtb_settlement)
    first = uuid.uuid4()

    def spec(key, debit, credit, amount):
        return ledger.TransferSpec(key, debit, credit, Decimal(amount), "RUB")

    groups = [
        ledger.TransferGroup(SYSTEM, [spec(first, a, b, "600.00")]),
        # atomic, fails on its second transfer: its first leaves no trace either
        ledger.TransferGroup(SYSTEM, [spec(uuid.uuid4(), b, a, "100.00"), spec(uuid.uuid4(), a, b, "900.00")], True),
        # sees the first group's effect: only 400.00 left on a
        ledger.TransferGroup(SYSTEM, [spec(uuid.uuid4(), a, b, "400.01"), spec(first, a, b, "600.00")]),
        ledger.TransferGroup(Principal(Role.ANALYST, None), [spec(uuid.uuid4(), a, b, "1.00")]),
    ]
    async with api.sessions() as session, session.begin():
        await ledger.create_transfer_groups(session, groups, now=utcnow())
    codes = [
        [o.error.code.value if o.error else ("created" if o.created else "replay") for o in g.outcomes] for g in groups
    ]
    assert codes[:3] == [
        ["created"],
        ["ATOMIC_BATCH_FAILED", "INSUFFICIENT_FUNDS"],
        ["INSUFFICIENT_FUNDS", "replay"],
    ]
    assert groups[3].error is not None and groups[3].error.code.value == "FORBIDDEN"
    assert (await balances(api, world.sber_settlement))["balance"] == "400.00"
    assert (await balances(api, world.vtb_settlement))["balance"] == "1600.00"


async def test_declared_create_transfers_resolver_behaves_as_the_installed_one(api, monkeypatch):
    """build_schema installs a resolver reading graphql-core's coerced inputs; the field's
    strawberry declaration delegates to it, and must answer the same if used."""
    import httpx

    import schema.root
    from corridor.app import create_app
    from corridor.settings import Settings

    world = await build(api)
    monkeypatch.setattr(schema.root, "install_fast_resolvers", lambda graphql_schema: None)
    app = create_app(Settings(database_url=api.engine.url.render_as_string(hide_password=False)))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            item = transfer(world.sber_settlement, world.vtb_settlement, "1.25", pending=True, timeoutSeconds=60)
            query = (
                "mutation($t: [TransferInput!]!) { createTransfers(transfers: $t) "
                "{ results { created transfer { state amount { amount } } errors { code } } } }"
            )
            for created in (True, False):
                response = await client.post(
                    "/graphql",
                    json={"query": query, "variables": {"t": [item]}},
                    headers={"Authorization": f"Bearer {api.key}"},
                )
                result = response.json()["data"]["createTransfers"]["results"][0]
                assert result == {
                    "created": created,
                    "transfer": {"state": "PENDING", "amount": {"amount": "1.25"}},
                    "errors": [],
                }
    finally:
        await app.state.engine.dispose()


async def test_batch_over_the_limit_through_the_endpoint(api):
    world = await build(api)
    item = transfer(world.sber_settlement, world.vtb_settlement, "0.01")
    items = [{**item, "transferId": str(uuid.uuid4())} for _ in range(ledger.MAX_BATCH + 1)]
    results = await send(api, *items)
    assert len(results) == ledger.MAX_BATCH + 1
    assert {(r["errors"][0]["code"], r["errors"][0]["field"]) for r in results} == {("INVALID_INPUT", None)}
    assert (await balances(api, world.sber_settlement))["balance"] == "1000.00"
