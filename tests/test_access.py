"""Access: API keys, roles, the viewer; keys are stored only as hashes."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from models.access import Role
from schema.base import global_id

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
        "errors": [{"code": "FORBIDDEN", "message": f"A {role.value} key may not create API keys.", "field": None}],
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
