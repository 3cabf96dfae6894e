"""Access: API keys, roles, the viewer; keys are stored only as hashes."""

from __future__ import annotations

import asyncio
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text

from corridor.auth import Authenticator
from corridor.db import AUTHENTICATION_OPTION
from models.access import Role
from models.base import utcnow
from resolvers import access
from resolvers.access import SYSTEM
from schema.base import global_id, parse_global_id

CREATE_KEY = """
mutation($input: ApiKeyInput!) { createApiKey(input: $input) { secret errors { code message field } } }
"""
VIEWER = "{ viewer { role institution { bic } } }"


async def make_bank(api, bic="SABRRUMM") -> str:
    data = await api(
        'mutation($bic: String!) { createInstitution(input: {name: "Bank", bic: $bic, countryCode: "RU", '
        "kind: COMMERCIAL_BANK}) { institution { id } } }",
        {"bic": bic},
    )
    return data["createInstitution"]["institution"]["id"]


async def test_viewer_of_each_role(api):
    assert (await api(VIEWER))["viewer"] == {"role": "OPERATOR", "institution": None}
    analyst = await api.new_key(Role.ANALYST)
    assert (await api(VIEWER, key=analyst))["viewer"] == {"role": "ANALYST", "institution": None}


async def test_operator_creates_a_participant_key_that_works(api):
    bank_id = await make_bank(api)
    data = await api(CREATE_KEY, {"input": {"role": "PARTICIPANT", "institutionId": bank_id, "label": "Sber app"}})
    payload = data["createApiKey"]
    assert payload["errors"] == []
    secret = payload["secret"]
    assert secret.startswith("cor_") and len(secret) > 40
    assert (await api(VIEWER, key=secret))["viewer"] == {"role": "PARTICIPANT", "institution": {"bic": "SABRRUMM"}}


async def test_only_the_hash_of_a_key_is_stored(api):
    data = await api(CREATE_KEY, {"input": {"role": "ANALYST", "label": "research"}})
    secret = data["createApiKey"]["secret"]
    async with api.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT key_hash, label FROM api_key"))).all()
    assert all(secret not in str(row) for row in rows)
    assert any(row.label == "research" and len(row.key_hash) == 64 for row in rows)


@pytest.mark.parametrize(
    ("key_input", "code", "field"),
    [
        ({"role": "PARTICIPANT", "label": "x"}, "INVALID_INPUT", ["input", "institutionId"]),
        (
            {"role": "PARTICIPANT", "label": "x", "institutionId": "not-an-id"},
            "INVALID_INPUT",
            ["input", "institutionId"],
        ),
        (
            {"role": "PARTICIPANT", "label": "x", "institutionId": str(global_id("Institution", 9999))},
            "NOT_FOUND",
            ["input", "institutionId"],
        ),
        ({"role": "ANALYST", "label": "x", "institutionId": "BANK"}, "INVALID_INPUT", ["input", "institutionId"]),
        ({"role": "ANALYST", "label": " "}, "INVALID_INPUT", ["input", "label"]),
        ({"role": "ANALYST", "label": "x" * 101}, "INVALID_INPUT", ["input", "label"]),
    ],
)
async def test_bad_key_input_creates_nothing(api, key_input, code, field):
    bank_id = await make_bank(api)
    if key_input.get("institutionId") == "BANK":
        key_input = {**key_input, "institutionId": bank_id}
    data = await api(CREATE_KEY, {"input": key_input})
    payload = data["createApiKey"]
    assert payload["secret"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    async with api.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM api_key")) == 1  # the test's own key


@pytest.mark.parametrize("role", [Role.PARTICIPANT, Role.ANALYST])
async def test_only_operators_create_keys(api, role):
    bank_id = await make_bank(api)
    from schema.base import parse_global_id

    key = await api.new_key(role, int(parse_global_id(bank_id)[1]) if role is Role.PARTICIPANT else None)
    data = await api(CREATE_KEY, {"input": {"role": "OPERATOR", "label": "escalate"}}, key=key)
    assert data["createApiKey"] == {
        "secret": None,
        "errors": [
            {
                "code": "FORBIDDEN",
                "message": f"A {role.value} key may not create, list or revoke API keys.",
                "field": None,
            }
        ],
    }


async def test_every_role_reads_reference_data(api):
    bank_id = await make_bank(api)
    from schema.base import parse_global_id

    participant = await api.new_key(Role.PARTICIPANT, int(parse_global_id(bank_id)[1]))
    analyst = await api.new_key(Role.ANALYST)
    query = '{ currencies { code } countries { code } institution(bic: "SABRRUMM") { name } }'
    for key in (api.key, participant, analyst):
        data = await api(query, key=key)
        assert data["institution"] == {"name": "Bank"}


# ---------------------------------------------------------------- listing and revocation

KEY_FIELDS = "id role label createdAt revokedAt institution { bic }"
PAYLOAD_FIELDS = f"secret apiKey {{ {KEY_FIELDS} }} errors {{ code message field }}"
CREATE_KEY_FULL = f"mutation($input: ApiKeyInput!) {{ createApiKey(input: $input) {{ {PAYLOAD_FIELDS} }} }}"
REVOKE = f"mutation($id: ID!) {{ revokeApiKey(id: $id) {{ {PAYLOAD_FIELDS} }} }}"
LIST_KEYS = (
    "query($first: Int, $after: String) { apiKeys(first: $first, after: $after) { "
    f"pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} edges {{ cursor node {{ {KEY_FIELDS} }} }} }} }}"
)


async def create_key(api, role="ANALYST", label="key", institution_id=None) -> tuple[str, dict]:
    """(secret, apiKey) of a key made through the API."""
    key_input = {"role": role, "label": label}
    if institution_id is not None:
        key_input["institutionId"] = institution_id
    payload = (await api(CREATE_KEY_FULL, {"input": key_input}))["createApiKey"]
    assert payload["errors"] == []
    return payload["secret"], payload["apiKey"]


async def test_create_key_payload_carries_the_key(api):
    bank_id = await make_bank(api)
    secret, key = await create_key(api, "PARTICIPANT", "Sber app", bank_id)
    assert secret.startswith("cor_")
    assert key["role"] == "PARTICIPANT" and key["label"] == "Sber app"
    assert key["institution"] == {"bic": "SABRRUMM"}
    assert key["createdAt"] and key["revokedAt"] is None
    assert parse_global_id(key["id"])[0] == "ApiKey"


async def test_revoked_key_answers_401_at_once(api):
    secret, key = await create_key(api)
    other, _ = await create_key(api, label="other")
    assert (await api(VIEWER, key=secret))["viewer"]["role"] == "ANALYST"  # now in the cache

    payload = (await api(REVOKE, {"id": key["id"]}))["revokeApiKey"]
    assert payload["errors"] == [] and payload["secret"] is None
    assert payload["apiKey"]["id"] == key["id"] and payload["apiKey"]["revokedAt"] is not None

    response = await api.post(VIEWER, key=secret)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await api(VIEWER, key=other))["viewer"]["role"] == "ANALYST"


async def test_revoking_again_is_a_replay(api):
    _, key = await create_key(api)
    first = (await api(REVOKE, {"id": key["id"]}))["revokeApiKey"]
    again = (await api(REVOKE, {"id": key["id"]}))["revokeApiKey"]
    assert again == first


async def test_an_operator_may_revoke_its_own_key(api):
    """The revoking request completes (it was authenticated before); the next one is 401."""
    secret, key = await create_key(api, "OPERATOR", "self")
    payload = (await api(REVOKE, {"id": key["id"]}, key=secret))["revokeApiKey"]
    assert payload["errors"] == [] and payload["apiKey"]["revokedAt"] is not None
    assert (await api.post(VIEWER, key=secret)).status_code == 401


async def test_another_worker_refuses_a_revoked_key_within_a_second(api):
    """A second authenticator over the same database stands for another worker: a key
    revoked there reaches it through the database only, once its cache entry is 1 s old."""
    now = [1000.0]
    worker = Authenticator(api.sessions, clock=lambda: now[0])
    revoked, valid = f"Bearer {await api.new_key(Role.ANALYST)}", f"Bearer {await api.new_key(Role.ANALYST)}"
    caller = await worker(revoked)
    assert caller is not None and await worker(valid) is not None

    async with api.sessions() as session, session.begin():  # the other worker's revocation
        await access.revoke_api_key(session, SYSTEM, caller.key_id, utcnow())

    now[0] += 0.5
    assert await worker(revoked) == caller  # still cached: at most 1 s old
    now[0] += 0.5
    assert await worker(revoked) is None  # the entry is 1 s old: read again, refused
    assert await worker(valid) is not None  # a valid key is read again and kept
    now[0] += 5
    assert await worker(revoked) is None
    assert await worker(valid) is not None


async def test_a_revocation_through_this_process_reaches_every_authenticator_at_once(api):
    now = [1000.0]
    worker = Authenticator(api.sessions, clock=lambda: now[0])
    secret, key = await create_key(api)
    assert await worker(f"Bearer {secret}") is not None
    assert (await api(REVOKE, {"id": key["id"]}))["revokeApiKey"]["errors"] == []
    assert await worker(f"Bearer {secret}") is None  # the clock has not moved


@contextmanager
def counted_lookups(api):
    """How many key lookups (authentication's statements) are sent while the block runs."""
    counter = [0]

    def before(connection, *_args):
        counter[0] += bool(connection.get_execution_options().get(AUTHENTICATION_OPTION))

    event.listen(api.engine.sync_engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        event.remove(api.engine.sync_engine, "before_cursor_execute", before)


async def test_requests_with_a_key_that_is_due_share_one_lookup(api):
    """30 requests in flight when a key's entry expires: one lookup for all of them, each
    answered; a revocation in the meantime is not joined by the requests after it."""
    now = [1000.0]
    worker = Authenticator(api.sessions, clock=lambda: now[0])
    secret, _ = await create_key(api)
    header = f"Bearer {secret}"
    with counted_lookups(api) as one:
        caller = await worker(header)
    assert caller is not None and one[0] >= 1
    now[0] += 1.0  # due
    with counted_lookups(api) as shared:
        answers = await asyncio.gather(*(worker(header) for _ in range(30)))
    assert answers == [caller] * 30 and shared[0] == one[0]

    now[0] += 1.0
    with counted_lookups(api) as split:
        before = asyncio.ensure_future(worker(header))
        await asyncio.sleep(0)  # its lookup has begun
        worker.forget(caller.key_id)
        after = await worker(header)
        assert await before == caller and after == caller  # the key itself was not revoked
    assert split[0] == 2 * one[0]  # the request after the revocation read the key again


async def test_api_keys_lists_keys_newest_first_without_secrets(api):
    secrets_made = [api.key]
    for label in ("first", "second", "third"):
        secret, _ = await create_key(api, label=label)
        secrets_made.append(secret)
    _, revoked = await create_key(api, label="revoked")
    await api(REVOKE, {"id": revoked["id"]})

    pages, after = [], None
    while True:
        response = await api.post(LIST_KEYS, {"first": 2, "after": after})
        assert response.status_code == 200 and "errors" not in response.json()
        async with api.engine.connect() as connection:
            hashes = (await connection.scalars(text("SELECT key_hash FROM api_key"))).all()
        assert len(hashes) == 5
        assert not any(secret in response.text for secret in secrets_made)
        assert not any(digest in response.text for digest in hashes)
        page = response.json()["data"]["apiKeys"]
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert [len(page["edges"]) for page in pages] == [2, 2, 1]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    nodes = [edge["node"] for page in pages for edge in page["edges"]]
    assert [node["label"] for node in nodes] == ["revoked", "third", "second", "first", "test OPERATOR"]
    assert nodes[0]["revokedAt"] is not None and all(node["revokedAt"] is None for node in nodes[1:])
    assert set(nodes[0]) == {"id", "role", "label", "createdAt", "revokedAt", "institution"}


async def test_api_keys_rejects_a_foreign_cursor(api):
    body = await api.raw(LIST_KEYS, {"after": "not-a-cursor"})
    assert body["errors"][0]["extensions"] == {"code": "INVALID_INPUT", "field": ["after"]}


@pytest.mark.parametrize("role", [Role.PARTICIPANT, Role.ANALYST])
async def test_only_operators_list_and_revoke_keys(api, role):
    bank_id = await make_bank(api)
    secret, key = await create_key(api, label="target")
    caller = await api.new_key(role, int(parse_global_id(bank_id)[1]) if role is Role.PARTICIPANT else None)

    body = await api.raw(LIST_KEYS, {}, key=caller)
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]

    payload = (await api(REVOKE, {"id": key["id"]}, key=caller))["revokeApiKey"]
    assert payload["apiKey"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("FORBIDDEN", None)]
    assert (await api(VIEWER, key=secret))["viewer"]["role"] == "ANALYST"  # not revoked


@pytest.mark.parametrize(
    ("key_id", "code"),
    [
        (str(global_id("ApiKey", 9999)), "NOT_FOUND"),
        ("not-an-id", "INVALID_INPUT"),
        (str(global_id("Institution", 1)), "INVALID_INPUT"),
    ],
)
async def test_revoking_an_unknown_or_malformed_id(api, key_id, code):
    payload = (await api(REVOKE, {"id": key_id}))["revokeApiKey"]
    assert payload["apiKey"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, ["id"])]


async def test_node_finds_an_api_key_for_operators_only(api):
    bank_id = await make_bank(api)
    _, key = await create_key(api, label="findable")
    query = "query($id: ID!) { node(id: $id) { id ... on ApiKey { label role } } }"
    found = (await api(query, {"id": key["id"]}))["node"]
    assert found == {"id": key["id"], "label": "findable", "role": "ANALYST"}
    participant = await api.new_key(Role.PARTICIPANT, int(parse_global_id(bank_id)[1]))
    for caller in (participant, await api.new_key(Role.ANALYST)):
        assert (await api(query, {"id": key["id"]}, key=caller))["node"] is None
