"""The HTTP endpoint: authentication, limits, error masking, GraphiQL, health."""

from __future__ import annotations

import logging

import pytest

from corridor.settings import Settings
from schema.root import build_schema

VIEWER = "{ viewer { role } }"


async def test_request_without_key_is_401(api):
    response = await api.client.post("/graphql", json={"query": VIEWER})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "header",
    ["Bearer cor_not-a-real-key", "Basic dXNlcjpwYXNz", "Bearer", "cor_xyz", "Bearer " + "cor_" + "a" * 500],
)
async def test_request_with_bad_key_is_401(api, header):
    response = await api.client.post("/graphql", json={"query": VIEWER}, headers={"Authorization": header})
    assert response.status_code == 401


async def test_get_query_needs_a_key_too(api):
    response = await api.client.get("/graphql", params={"query": VIEWER})
    assert response.status_code == 401
    response = await api.client.get(
        "/graphql", params={"query": VIEWER}, headers={"Authorization": f"Bearer {api.key}"}
    )
    assert response.json() == {"data": {"viewer": {"role": "OPERATOR"}}}


async def test_graphiql_page_loads_without_a_key(api):
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_mutation_over_get_is_refused(api):
    response = await api.client.get(
        "/graphql",
        params={"query": 'mutation { createApiKey(input: {role: ANALYST, label: "x"}) { secret } }'},
        headers={"Authorization": f"Bearer {api.key}"},
    )
    assert response.status_code in (400, 405)


async def test_healthz_checks_the_database(api):
    response = await api.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_body_over_the_limit_is_413_and_not_executed(api):
    limit = api.app.state.settings.max_body_bytes
    big = "{ viewer { role } }" + " " * limit
    response = await api.client.post("/graphql", json={"query": big}, headers={"Authorization": f"Bearer {api.key}"})
    assert response.status_code == 413


async def test_chunked_body_over_the_limit_is_413(api):
    limit = api.app.state.settings.max_body_bytes

    async def chunks():
        yield b'{"query": "{ viewer { role } }", "pad": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}'

    response = await api.client.post(
        "/graphql",
        content=chunks(),
        headers={"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_validation_errors_keep_their_message(api):
    body = await api.raw("{ viewer { colour } }")
    assert "colour" in body["errors"][0]["message"]


async def test_syntax_error_is_reported(api):
    body = await api.raw("{ viewer { role }")
    assert body["errors"][0]["message"].startswith("Syntax Error")


async def test_depth_limit(api):
    deep = "{ viewer { institution { country { currency { code } } } } }"
    assert "errors" not in await api.raw(deep)
    shallow = build_schema(Settings(max_depth=3))
    result = await shallow.execute(deep)
    assert result.errors and "exceeds maximum operation depth of 3" in result.errors[0].message


async def test_alias_limit(api):
    count = api.app.state.settings.max_aliases + 1
    query = "{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(count)) + " }"
    body = await api.raw(query)
    assert "aliases" in body["errors"][0]["message"]


async def test_token_limit(api):
    count = api.app.state.settings.max_tokens
    query = "{ viewer { " + "role " * count + "} }"
    body = await api.raw(query)
    assert "token" in body["errors"][0]["message"].lower()


async def test_internal_errors_are_masked_and_logged_with_a_request_id(api, monkeypatch, caplog):
    from resolvers import reference

    async def failing(session):
        raise RuntimeError("SELECT secret FROM vault -- boom")

    monkeypatch.setattr(reference, "list_currencies", failing)
    with caplog.at_level(logging.ERROR, logger="corridor.errors"):
        body = await api.raw("{ currencies { code } viewer { role } }")
    error = body["errors"][0]
    assert error["message"] == "Unexpected error."
    assert "SELECT" not in str(body) and "Traceback" not in str(body)
    request_id = error["extensions"]["requestId"]
    assert body["data"] is None or body["data"].get("viewer") == {"role": "OPERATOR"}
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and logged[0].exc_info[0] is RuntimeError


async def test_node_with_a_malformed_id_is_null(api):
    data = await api('{ a: node(id: "garbage!") { id } b: node(id: "SW5zdGl0dXRpb246OTk5") { id } }')
    assert data == {"a": None, "b": None}
