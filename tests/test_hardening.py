"""Classes of hostile input, each refused clearly at the boundary where it lives and
never reaching a resolver, the database or another client's work; on both engines.

- strings: NUL characters and lone surrogates, in variables and literals, any field;
- ids and cursors: keys in non-ASCII digits or beyond 64 bits, wherever an id is decoded;
- amounts: only ASCII digits with an optional sign and point;
- dates and times: none whose conversion to UTC, or a day either side, overflows;
- HTTP bodies that are not one JSON object, invalid UTF-8, nesting past any parser;
- FX: a rate outside the bounds is refused, and one already stored takes no pair down;
- quotes: a quote, and an exchange's transferId, are their requester's alone.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid

import pytest
from sqlalchemy import text

from models.access import Role
from tests.ledger_world import TRANSFERS, account, build, pk, transfer
from tests.test_fx_exchange import EXCHANGE, PUBLISH, QUOTE
from tests.test_fx_exchange import world as fx_world

INSTITUTION = """
mutation($input: InstitutionInput!) {
  createInstitution(input: $input) { institution { id } errors { code message field } }
}
"""


def gid(text_: str) -> str:
    return base64.urlsafe_b64encode(text_.encode()).decode().rstrip("=")


async def raw_post(api, body: bytes, key: str | None = None, content_type: str = "application/json"):
    headers = {"Authorization": f"Bearer {key or api.key}", "Content-Type": content_type}
    return await api.client.post("/graphql", content=body, headers=headers)


def codes(body: dict) -> set[str]:
    return {error["extensions"]["code"] for error in body.get("errors", [])}


async def count(api, table: str) -> int:
    async with api.engine.connect() as connection:
        return (await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()


# ---------------------------------------------------------------- strings


@pytest.mark.parametrize("bad", ["Sber\x00bank", "Sber\ud800bank", "\udfff"])
async def test_a_string_no_database_can_store_is_refused_before_anything_runs(api, bad):
    before = await count(api, "institution")
    variables = {"input": {"name": bad, "bic": "SABRRUMM", "countryCode": "RU", "kind": "COMMERCIAL_BANK"}}
    # ensure_ascii writes a lone surrogate as a \\ud800 escape, as a browser's JSON would.
    response = await raw_post(api, json.dumps({"query": INSTITUTION, "variables": variables}).encode())
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None and codes(body) == {"BAD_USER_INPUT"}
    assert body["errors"][0]["extensions"]["field"] == ["input", "name"]
    assert await count(api, "institution") == before


async def test_bad_strings_in_literals_and_in_any_field_are_refused_alike(api):
    world = await build(api)
    literal = (
        'mutation { createInstitution(input: {name: "a\\u0000b", bic: "SABRRUMM", countryCode: "RU", '
        "kind: COMMERCIAL_BANK}) { errors { code } } }"
    )
    assert codes(await api.raw(literal)) == {"BAD_USER_INPUT"}
    for item in (
        transfer(world.sber_settlement, world.vtb_settlement, "1.00", reference="inv\x00oice"),
        transfer(world.sber_settlement, world.vtb_settlement, "1.00", currency="RU\ud800"),
        {**transfer(world.sber_settlement, world.vtb_settlement, "1.00"), "debitAccountId": "\x00"},
    ):
        body = json.dumps({"query": TRANSFERS, "variables": {"transfers": [item]}}).encode()
        answer = (await raw_post(api, body)).json()
        assert answer["data"] is None and codes(answer) == {"BAD_USER_INPUT"}, answer
    assert await count(api, "transfer") == 2  # the world's funding only


# ---------------------------------------------------------------- ids and cursors

ODD_KEYS = ["\u00b2", "\u0663", "9223372036854775808", "99999999999999999999", "-1", "1e3", " 1", "", "0x10"]


@pytest.mark.parametrize("key", ODD_KEYS)
async def test_odd_keys_are_no_ids_wherever_an_id_is_decoded(api, key):
    world = await build(api)
    odd = gid(f"Account:{key}")
    assert (await api("query($id: ID!) { node(id: $id) { id } }", {"id": odd}))["node"] is None
    results = (await api(TRANSFERS, {"transfers": [transfer(odd, world.vtb_settlement, "1.00")]}))["createTransfers"]
    assert [(e["code"], e["field"]) for e in results["results"][0]["errors"]] == [
        ("INVALID_INPUT", ["transfers", "0", "debitAccountId"])
    ]
    opened = await api(
        'mutation($o: ID!) { openAccount(input: {ownerId: $o, name: "x", currency: "RUB", kind: CUSTOMER}) '
        "{ errors { code field } } }",
        {"o": gid(f"Institution:{key}")},
    )
    assert opened["openAccount"]["errors"] == [{"code": "INVALID_INPUT", "field": ["input", "ownerId"]}]
    body = await api.raw(
        "query($a: String) { institutions(after: $a) { edges { cursor } } }", {"a": gid(f"cursor:{key}")}
    )
    assert codes(body) == {"INVALID_INPUT"} and body["errors"][0]["extensions"]["field"] == ["after"]


# ---------------------------------------------------------------- amounts

NOT_AMOUNTS = [
    " 10 ",
    "\u0661\u0660",
    "10\u00a0",
    "\uff19\uff19",
    "1_000",
    "1E+3",
    "1e3",
    "NaN",
    "Infinity",
    "-Infinity",
    "1.2.3",
    "",
    "+",
    ".",
    "0x10",
    "1,000.00",
    "10.00 RUB",
]


@pytest.mark.parametrize("amount", NOT_AMOUNTS)
async def test_an_amount_is_ascii_digits_with_an_optional_sign_and_point(api, amount):
    world = await build(api)
    body = await api.raw(TRANSFERS, {"transfers": [transfer(world.sber_settlement, world.vtb_settlement, amount)]})
    assert body["data"] is None and codes(body) == {"BAD_USER_INPUT"}, body
    assert await count(api, "transfer") == 2


async def test_amounts_arrive_exactly_or_not_at_all(api):
    world = await build(api)
    results = (
        await api(
            TRANSFERS,
            {
                "transfers": [
                    transfer(world.sber_settlement, world.vtb_settlement, "+1.50"),
                    transfer(world.sber_settlement, world.vtb_settlement, ".5"),
                    {
                        **transfer(world.sber_settlement, world.vtb_settlement, "0"),
                        "amount": 2,
                    },  # a JSON integer is exact
                ]
            },
        )
    )["createTransfers"]["results"]
    assert [r["transfer"]["amount"]["amount"] for r in results] == ["1.50", "0.50", "2.00"]
    # Digits beyond the currency's places are refused however many there are (a context
    # of 28 digits would have rounded these to 1.00 first).
    for amount in ("0.999999999999999999999999999999", "1.000000000000000000000000000009"):
        result = await api(TRANSFERS, {"transfers": [transfer(world.sber_settlement, world.vtb_settlement, amount)]})
        errors = result["createTransfers"]["results"][0]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", ["transfers", "0", "amount"])]
    # A JSON fraction may have lost digits before it arrived: refused.
    fraction = {**transfer(world.sber_settlement, world.vtb_settlement, "0"), "amount": 0.1}
    assert codes(await api.raw(TRANSFERS, {"transfers": [fraction]})) == {"BAD_USER_INPUT"}
    # A literal keeps its text: 10.25 is exactly 10.25.
    literal = (
        f'mutation {{ createTransfers(transfers: [{{transferId: "{uuid.uuid4()}", debitAccountId: '
        f'"{world.sber_settlement}", creditAccountId: "{world.vtb_settlement}", amount: 10.25, currency: "RUB"}}]) '
        "{ results { transfer { amount { amount } } } } }"
    )
    assert (await api(literal))["createTransfers"]["results"][0]["transfer"]["amount"]["amount"] == "10.25"


# ---------------------------------------------------------------- dates and times


@pytest.mark.parametrize(
    "at",
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:00:00Z",
        "2026-13-01T00:00:00Z",
        "yesterday",
        "2026-01-01T00:00:00" + "0" * 80,
    ],
)
async def test_a_time_that_cannot_be_computed_with_is_refused(api, at):
    body = await api.raw("query($at: DateTime) { dollarIndex(at: $at) }", {"at": at})
    assert body["data"] is None and codes(body) == {"BAD_USER_INPUT"}, body
    literal = await api.raw(f'{{ dollarIndex(at: "{at}") }}')
    assert codes(literal) == {"BAD_USER_INPUT"}


async def test_far_but_computable_times_answer(api):
    data = await api(
        '{ far: dollarIndex(at: "9000-01-01T00:00:00+14:00") old: dollarIndex(at: "1000-01-01T00:00:00Z") }'
    )
    assert data == {"far": None, "old": None}  # no rates then: an answer, not a fault


# ---------------------------------------------------------------- HTTP bodies


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"null", 400),
        (b'"x"', 400),
        (b"1", 400),
        (b"[]", 400),
        (b'[{"query": "{ viewer { role } }"}]', 400),
        (b"\xff\xfe{}", 400),
        (b'{"query": "{ viewer { role } }"', 400),
        (b'{"query": 5}', 400),
        (b'{"query": "{ viewer { role } }", "variables": [1]}', 400),
        (b'{"query": "{ viewer { role } }", "operationName": 7}', 400),
        (b'{"query": "{ viewer { role } }", "variables": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001, 400),
        (b'{"query": "{ viewer { role } }", "variables": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}", 400),
        (b"{}", 400),
        (b'{"query": "{ viewer { role } }", "variables": {"a": ' + b"9" * 5000 + b"}}", 400),
    ],
)
async def test_every_body_that_is_not_one_operation_gets_a_json_refusal(api, body, status):
    response = await raw_post(api, body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"]


@pytest.mark.parametrize("name", ["\ud800", "a\u0000b"])
async def test_an_operation_name_no_response_could_echo_is_refused(api, name):
    body = json.dumps({"query": "query a { viewer { role } }", "operationName": name}).encode()  # escaped
    response = await raw_post(api, body)
    assert response.status_code == 400 and response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_refusals_of_the_http_layer_are_json_with_a_code(api):
    for response, status in [
        (await raw_post(api, b'{"query": "{ viewer { role } }"}', content_type="text/plain"), 415),
        (await api.client.put("/graphql", content=b"{}"), 405),
        (
            await api.client.get(
                "/graphql", headers={"Accept": "application/json", "Authorization": f"Bearer {api.key}"}
            ),
            400,
        ),
        (
            await api.client.get(
                "/graphql", params={"query": "mutation { __typename }"}, headers={"Authorization": f"Bearer {api.key}"}
            ),
            400,
        ),
    ]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["errors"][0]["extensions"]["code"]
    assert (await api.client.put("/graphql")).headers["allow"] == "GET, POST"


async def test_every_error_has_a_code(api):
    for query in (
        "{ viewer { role }",
        "{ viewer { colour } }",
        "query($a: Int) { viewer { role } }",
        '{ institutions(first: "x") { edges { cursor } } }',
    ):
        body = await api.raw(query)
        assert body["errors"] and all(error["extensions"]["code"] for error in body["errors"]), body


# ---------------------------------------------------------------- FX


@pytest.mark.parametrize(
    "rate", ["0.0000000000001", "1000000000001", "0.0000000000000000000000000000001", "1" + "0" * 30]
)
async def test_a_rate_out_of_bounds_is_refused(api, rate):
    payload = (
        await api(
            PUBLISH.replace("errors { code }", "errors { code field }"),
            {"r": [{"base": "BRL", "quote": "ZAR", "rate": rate}]},
        )
    )["publishRates"]
    assert payload["errors"] == [{"code": "INVALID_INPUT", "field": ["rates", "0", "rate"]}]


async def test_the_bounds_themselves_are_usable_everywhere(api):
    ids = await fx_world(api)
    rates = [
        {"base": "BRL", "quote": "ZAR", "rate": "0.000000000001"},
        {"base": "ZAR", "quote": "INR", "rate": "1000000000000"},
        {"base": "BRL", "quote": "RUB", "rate": "999999999999"},
    ]
    assert (await api(PUBLISH, {"r": rates}))["publishRates"]["errors"] == []
    data = await api(
        '{ a: exchangeRate(base: "ZAR", quote: "BRL") { rate } b: conversionPath(from: "BRL", to: "INR") { rate via } '
        'c: conversionPath(from: "INR", to: "BRL") { rate } d: exchangeRate(base: "RUB", quote: "BRL") { rate } }'
    )
    assert data["a"]["rate"] == "1000000000000" and data["b"] == {"rate": "1", "via": ["ZAR"]}
    assert data["c"]["rate"] == "1" and data["d"]["rate"] == "0.000000000001"
    quote = await api(QUOTE, {"input": {"sellCurrency": "RUB", "buyCurrency": "INR", "sellAmount": "10000.00"}})
    assert quote["requestQuote"]["errors"] == [] or quote["requestQuote"]["errors"][0]["code"] in (
        "INSUFFICIENT_LIQUIDITY",
        "INVALID_INPUT",
        "NO_RATE",
    )
    assert ids["fx"]


async def test_a_basket_valued_along_long_paths_at_the_bounds_is_no_value_not_a_fault(api):
    await fx_world(api)
    rates = [
        {"base": "AUD", "quote": "BRL", "rate": "0.000000000001"},
        {"base": "AUD", "quote": "CAD", "rate": "1000000000000"},
        {"base": "CAD", "quote": "DKK", "rate": "1000000000000"},
        {"base": "DKK", "quote": "EGP", "rate": "1000000000000"},
    ]
    assert (await api(PUBLISH, {"r": rates}))["publishRates"]["errors"] == []
    defined = await api(
        'mutation { defineBasket(input: {code: "BIG", name: "big", initialValue: "1000000000000", '
        'valueCurrency: "BRL", components: [{currency: "AUD", weight: "1"}]}) { errors { code } } }'
    )
    assert defined["defineBasket"]["errors"] == []
    data = await api(
        '{ basket(code: "BIG") { egp: value(currency: "EGP") { amount } brl: value(currency: "BRL") { amount } } }'
    )
    assert data["basket"] == {"egp": None, "brl": {"amount": "1000000000000.00"}}


POISON = ["1E-30", "1E+30", "0", "-1", "NaN", "Infinity", "abc", "0." + "0" * 30 + "1"]


async def test_a_poisoned_rate_in_the_history_takes_no_pair_down(api):
    """Rates from before the bounds were enforced: the pair they poison answers as having
    no rate; every other pair, path, index, basket and quote answers as before."""
    ids = await fx_world(api)
    basket = await api(
        'mutation { defineBasket(input: {code: "UNIT", name: "u", initialValue: "100", valueCurrency: "CNY", '
        'components: [{currency: "RUB", weight: "0.5"}, {currency: "INR", weight: "0.5"}]}) { errors { code } } }'
    )
    assert basket["defineBasket"]["errors"] == []
    before = await _fx_answers(api, ids)
    async with api.engine.begin() as connection:
        for k, rate in enumerate(POISON):
            await connection.execute(
                text(
                    "INSERT INTO exchange_rate (base, quote, rate, source, as_of, created_at) "
                    "VALUES (:b, :q, :r, 'old', :t, :t)"
                ),
                {
                    "b": "BRL" if k % 2 else "ZAR",
                    "q": "ZAR" if k % 2 else "BRL",
                    "r": rate,
                    "t": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=k + 1),
                },
            )
    after = await _fx_answers(api, ids)
    assert after == before
    assert (await api('{ exchangeRate(base: "BRL", quote: "ZAR") { rate } }'))["exchangeRate"] is None


async def _fx_answers(api, ids) -> dict:
    data = await api(
        '{ rate: exchangeRate(base: "CNY", quote: "RUB") { rate } path: conversionPath(from: "RUB", to: "INR", '
        'avoid: ["USD"]) { rate via } index: dollarIndex basket(code: "UNIT") { value(currency: "INR") { amount } } }'
    )
    quote = await api(
        QUOTE, {"input": {"sellCurrency": "RUB", "buyCurrency": "INR", "sellAmount": "100.00", "avoid": ["USD"]}}
    )
    assert quote["requestQuote"]["errors"] == []
    data["quote"] = quote["requestQuote"]["quote"]["buyAmount"]
    return data


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("initialValue", "1" + "0" * 39),
        ("initialValue", "123.4567890123456"),
        ("weight", "0." + "1" * 38),
        ("weight", "1.5"),
    ],
)
async def test_a_basket_of_absurd_figures_is_refused(api, field, value):
    await fx_world(api)
    item = {
        "code": "ODD",
        "name": "odd",
        "initialValue": "100",
        "valueCurrency": "CNY",
        "components": [{"currency": "RUB", "weight": "0.5"}, {"currency": "INR", "weight": "0.5"}],
    }
    if field == "initialValue":
        item["initialValue"] = value
    else:
        item["components"][0]["weight"] = value
    payload = (
        await api("mutation($i: DefineBasketInput!) { defineBasket(input: $i) { errors { code field } } }", {"i": item})
    )["defineBasket"]
    assert payload["errors"] and payload["errors"][0]["code"] == "INVALID_INPUT", payload


# ---------------------------------------------------------------- quotes are their requester's


async def test_a_quote_is_its_requesters_alone(api):
    ids = await fx_world(api)
    sber = await api.new_key(Role.PARTICIPANT, pk(ids["sber"]))
    sbi = await api.new_key(Role.PARTICIPANT, pk(ids["sbi"]))
    analyst = await api.new_key(Role.ANALYST)
    ask = {"input": {"sellCurrency": "RUB", "buyCurrency": "INR", "sellAmount": "1000.00", "avoid": ["USD"]}}
    quote = (await api(QUOTE, ask, key=sber))["requestQuote"]["quote"]
    lookup = "query($id: ID!) { node(id: $id) { ... on Quote { id } } }"
    assert (await api(lookup, {"id": quote["id"]}, key=sber))["node"] == {"id": quote["id"]}
    assert (await api(lookup, {"id": quote["id"]}))["node"] == {"id": quote["id"]}  # the operator
    for other in (sbi, analyst):
        assert (await api(lookup, {"id": quote["id"]}, key=other))["node"] is None
    sbi_rub = await account(api, ids["sbi"], "SBI RUB", "RUB", "CUSTOMER")
    key = str(uuid.uuid4())
    stolen = {
        "input": {"transferId": key, "quoteId": quote["id"], "debitAccountId": sbi_rub, "creditAccountId": ids["priya"]}
    }
    assert (await api(EXCHANGE, stolen, key=sbi))["exchange"]["errors"][0]["code"] == "NOT_FOUND"
    mine = {
        "input": {
            "transferId": key,
            "quoteId": quote["id"],
            "debitAccountId": ids["ivan"],
            "creditAccountId": ids["priya"],
        }
    }
    legs = (await api(EXCHANGE, mine, key=sber))["exchange"]
    assert legs["errors"] == [] and len(legs["transfers"]) == 2
    assert (await api(EXCHANGE, mine, key=sber))["exchange"] == legs  # a replay
    # Someone else's transferId on one's own quote says nothing of what it was used for.
    own = await api(QUOTE, {"input": {**ask["input"], "sellCurrency": "RUB", "sellAmount": "10.00"}}, key=sbi)
    theirs = {
        "input": {
            "transferId": key,
            "quoteId": own["requestQuote"]["quote"]["id"],
            "debitAccountId": sbi_rub,
            "creditAccountId": ids["priya"],
        }
    }
    answer = (await api(EXCHANGE, theirs, key=sbi))["exchange"]
    assert answer["transfers"] == [] and [e["code"] for e in answer["errors"]] == ["IDEMPOTENCY_CONFLICT"]
    # And a transferId reused by its owner on a new quote is a conflict, not a fault.
    again = (await api(QUOTE, ask, key=sber))["requestQuote"]["quote"]
    reused = {"input": {**mine["input"], "quoteId": again["id"]}}
    assert [e["code"] for e in (await api(EXCHANGE, reused, key=sber))["exchange"]["errors"]] == [
        "IDEMPOTENCY_CONFLICT"
    ]


# ---------------------------------------------------------------- the request time limit


async def test_a_request_past_its_time_limit_is_answered_and_its_work_settles(api, monkeypatch):
    import asyncio
    import dataclasses

    import httpx

    from corridor.app import create_app
    from resolvers import reference

    app = create_app(dataclasses.replace(api.app.state.settings, request_seconds=1))
    slow_done = asyncio.Event()
    original = reference.list_currencies

    async def slow(session):
        await asyncio.sleep(2)
        rows = await original(session)
        slow_done.set()
        return rows

    monkeypatch.setattr(reference, "list_currencies", slow)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            response = await client.post(
                "/graphql", json={"query": "{ currencies { code } }"}, headers={"Authorization": f"Bearer {api.key}"}
            )
        assert response.status_code == 503
        assert response.json()["errors"][0]["extensions"]["code"] == "TIMEOUT"
        # Answered at the limit; the work it started was not cut off, and settles after.
        assert not slow_done.is_set()
        await asyncio.wait_for(slow_done.wait(), 10)
    finally:
        await app.state.engine.dispose()
