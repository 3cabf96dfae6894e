"""The command line as a user runs it: migrate, demo (twice), apikey, export-schema."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from corridor.app import create_app
from corridor.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def corridor(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "corridor.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )


async def test_fresh_database_to_first_request(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {**os.environ, "DATABASE_URL": url}
    assert corridor("migrate", env=env).returncode == 0
    first = corridor("demo", env=env)
    assert first.returncode == 0, first.stderr
    assert "22 institutions created" in first.stdout
    again = corridor("demo", env=env)
    assert "0 institutions created" in again.stdout
    made = corridor("apikey", "--role", "OPERATOR", "--label", "cli test", env=env)
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip().splitlines()[-1]
    participant = corridor("apikey", "--role", "PARTICIPANT", "--label", "sber", "--institution", "SABRRUMM", env=env)
    participant_secret = participant.stdout.strip().splitlines()[-1]
    refused = corridor("apikey", "--role", "PARTICIPANT", "--label", "nobody", "--institution", "NONEXXXX", env=env)
    assert refused.returncode == 2 and "No institution" in refused.stderr

    app = create_app(Settings(database_url=url))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            query = "{ viewer { role institution { bic } } currencies { code } }"
            response = await client.post(
                "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {secret}"}
            )
            data = response.json()["data"]
            assert data["viewer"] == {"role": "OPERATOR", "institution": None}
            assert {"code": "RUB"} in data["currencies"]
            response = await client.post(
                "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {participant_secret}"}
            )
            assert response.json()["data"]["viewer"] == {"role": "PARTICIPANT", "institution": {"bic": "SABRRUMM"}}
    finally:
        await app.state.engine.dispose()


def test_export_schema_prints_the_snapshot():
    result = corridor("export-schema", env=dict(os.environ))
    assert result.returncode == 0
    assert result.stdout == (ROOT / "schema" / "schema.graphql").read_text()


def test_each_server_worker_logs_the_services_info_lines():
    """uvicorn applies serve's logging config in every worker process; the service's
    INFO lines (retries, the sweep) must reach stderr there too."""
    script = (
        "import logging, logging.config\n"
        "from corridor.cli import serve_log_config\n"
        "logging.config.dictConfig(serve_log_config())\n"
        "logging.getLogger('corridor.sweeper').info('released %d lapsed holds', 3)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    assert "INFO corridor.sweeper released 3 lapsed holds" in result.stderr
