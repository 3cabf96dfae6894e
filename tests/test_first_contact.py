"""What a newcomer and a browser frontend meet first: GraphiQL served by the service
itself, CORS for allowed origins, JSON in the media type asked for, one access-log
line per request."""

from __future__ import annotations

import dataclasses
import logging
import re

import httpx
import pytest

from corridor import ide
from corridor.app import create_app

VIEWER = {"query": "query Who { viewer { role } }"}


@pytest.fixture
async def client_for(api):
    """A client of an app with other settings, on the same database."""
    made = []

    async def make(**changes) -> httpx.AsyncClient:
        app = create_app(dataclasses.replace(api.app.state.settings, **changes))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://corridor.test")
        made.append((app, client))
        return client

    yield make
    for app, client in made:
        await client.aclose()
        await app.state.engine.dispose()


async def test_the_graphiql_page_and_its_assets_come_from_the_service(api):
    page = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200, page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(source.startswith(f"/static/{ide.version()}/") for source in sources), sources
    for source in sources:
        asset = await api.client.get(source)
        assert asset.status_code == 200, source
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    # An old version, or a name off the list, is no asset (nothing else of the disk is served).
    assert (await api.client.get(f"/static/0ld/{sources[0].rsplit('/', 1)[1]}")).status_code == 404
    for name in ("../pyproject.toml", "corridor.db", "react"):
        missing = await api.client.get(f"/static/{ide.version()}/{name}")
        assert missing.status_code == 404 and missing.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_without_its_packages_the_page_says_how_to_install_them(api, monkeypatch, tmp_path):
    monkeypatch.setitem(ide.ASSETS, "graphiql.js", tmp_path / "absent.js")
    page = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 503 and "make assets" in page.text and "graphiql.js" in page.text


async def test_cors_is_off_by_default(api):
    preflight = await api.client.options(
        "/graphql", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 405 and "access-control-allow-origin" not in preflight.headers


async def test_an_allowed_origin_passes_the_preflight_and_gets_the_answer(api, client_for):
    client = await client_for(cors_origins=("https://app.example",))
    preflight = await client.options(
        "/graphql",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in preflight.headers["access-control-allow-methods"]
    answer = await client.post(
        "/graphql", json=VIEWER, headers={"Origin": "https://app.example", "Authorization": f"Bearer {api.key}"}
    )
    assert answer.json() == {"data": {"viewer": {"role": "OPERATOR"}}}
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    other = await client.options(
        "/graphql", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
    assert other.json()["errors"][0]["extensions"]["code"] == "CORS_NOT_ALLOWED"


async def test_any_origin_for_development(api, client_for):
    client = await client_for(cors_origins=("*",))
    answer = await client.post(
        "/graphql", json=VIEWER, headers={"Origin": "http://localhost:5173", "Authorization": f"Bearer {api.key}"}
    )
    assert answer.headers["access-control-allow-origin"] == "*"


async def test_graphql_response_json_when_asked_for(api):
    asked = {"Authorization": f"Bearer {api.key}", "Accept": "application/graphql-response+json"}
    ok = await api.client.post("/graphql", json=VIEWER, headers=asked)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("application/graphql-response+json")
    invalid = await api.client.post("/graphql", json={"query": "{ viewer { colour } }"}, headers=asked)
    assert invalid.status_code == 400 and invalid.json()["errors"][0]["extensions"]["code"]
    assert invalid.headers["content-type"].startswith("application/graphql-response+json")
    # A plain JSON client keeps getting 200 with the errors, as before.
    plain = await api.client.post(
        "/graphql", json={"query": "{ viewer { colour } }"}, headers={"Authorization": f"Bearer {api.key}"}
    )
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("application/json")


async def test_one_access_line_per_request_without_secrets(api, caplog):
    secret_pan = "2200123456789019"
    with caplog.at_level(logging.INFO, logger="corridor.access"):
        await api.post(VIEWER["query"])
        await api.post("query($p: String!) { institution(bic: $p) { id } }", {"p": secret_pan})
        await api.client.post("/graphql", json=VIEWER)  # no key: 401
    lines = [record.getMessage() for record in caplog.records if record.name == "corridor.access"]
    assert len(lines) == 3, lines
    assert re.fullmatch(r"POST /graphql 200 [0-9.]+ms op=Who role=OPERATOR", lines[0]), lines[0]
    assert lines[2].startswith("POST /graphql 401 ") and lines[2].endswith("op=- role=-")
    text = "\n".join(lines)
    assert api.key not in text and secret_pan not in text and "viewer" not in text
