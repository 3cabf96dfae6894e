"""The command line as a user runs it: migrate, demo (twice), apikey, export-schema."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

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


def test_every_command_explains_itself():
    top = corridor("--help", env=dict(os.environ))
    assert top.returncode == 0 and "DATABASE_URL" in top.stdout
    for command in ("serve", "migrate", "demo", "apikey", "export-schema"):
        helped = corridor(command, "--help", env=dict(os.environ))
        assert helped.returncode == 0, helped.stderr
        assert "DATABASE_URL" in helped.stdout  # the environment that applies
    serve = corridor("serve", "--help", env=dict(os.environ)).stdout
    assert "default: 127.0.0.1" in serve and "default: 8000" in serve and "default: 1" in serve
    version = corridor("--version", env=dict(os.environ))
    assert version.returncode == 0 and version.stdout.startswith("corridor ")


def _refused(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in line, line


def test_a_wrong_database_url_is_one_clear_line(tmp_path):
    cases = [
        ("not a url", ("does not parse",)),
        ("postgres://postgres@127.0.0.1/x", ("needs the async driver", "postgresql+asyncpg://")),
        ("postgresql://postgres@127.0.0.1/x", ("needs the async driver", "postgresql+asyncpg://")),
        ("sqlite:///./x.db", ("needs the async driver", "sqlite+aiosqlite://")),
        ("mysql+aiomysql://root@127.0.0.1/x", ("not supported",)),
        ("postgresql+asyncpg://postgres@127.0.0.1:1/x", ("cannot reach the database", "127.0.0.1:1")),
        (f"sqlite+aiosqlite:///{tmp_path}/missing/folder/x.db", ("does not exist",)),
        ("postgresql+asyncpg://postgres@127.0.0.1:port/x", ("does not parse",)),
        ("postgresql+asyncpg://postgres@127.0.0.1:70000/x", ("driver refused", "port")),
        ("postgresql+asyncpg://postgres@127.0.0.1/x?sslmode=require", ("driver refused", "sslmode")),
    ]
    for url, words in cases:
        env = {**os.environ, "DATABASE_URL": url}
        for command in (["migrate"], ["demo"], ["apikey", "--role", "ANALYST", "--label", "x"]):
            _refused(corridor(*command, env=env), *words)


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_one_clear_line():
    from tests.conftest import POSTGRES_SERVER

    url = make_url(POSTGRES_SERVER).set(database="no_such_db_here").render_as_string(hide_password=False)
    _refused(corridor("migrate", env={**os.environ, "DATABASE_URL": url}), "no such database", "no_such_db_here")


def test_a_url_that_does_not_parse_does_not_echo_its_password():
    env = {**os.environ, "DATABASE_URL": "postgresql+asyncpg://bank:s3cret@127.0.0.1:port/x"}
    result = corridor("migrate", env=env)
    _refused(result, "does not parse", "bank:***@")
    assert "s3cret" not in result.stderr


def test_a_database_migrated_by_newer_code_is_one_clear_line_and_is_left_alone(tmp_path):
    import sqlite3

    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'newer.db'}"}
    assert corridor("migrate", env=env).returncode == 0
    with sqlite3.connect(tmp_path / "newer.db") as db:
        db.execute("UPDATE alembic_version SET version_num = 'from_the_future'")
    for command in (["migrate"], ["demo"], ["apikey", "--role", "ANALYST", "--label", "x"]):
        _refused(corridor(*command, env=env), "from_the_future", "does not know")
    with sqlite3.connect(tmp_path / "newer.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("from_the_future",)]


def test_a_bad_setting_is_one_clear_line(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "CORRIDOR_MAX_DEPTH": "lots"}
    _refused(corridor("migrate", env=env), "CORRIDOR_MAX_DEPTH")
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", "CORRIDOR_CORS_ORIGINS": "app"}
    _refused(corridor("migrate", env=env), "CORRIDOR_CORS_ORIGINS")


def test_demo_and_apikey_migrate_an_unmigrated_database_first_and_the_demo_names_its_ids(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"}
    made = corridor("apikey", "--role", "ANALYST", "--label", "first", env=env)
    assert made.returncode == 0, made.stderr
    assert "not migrated: migrating it first" in made.stderr
    loaded = corridor("demo", env=env)
    assert loaded.returncode == 0, loaded.stderr
    assert "migrating" not in loaded.stderr
    tour = ("merchant ", "Moscow bookshop", "account ", "SABRRUMM", "authorization ", "00, expired", "basket     UNIT")
    for words in tour:
        assert words in loaded.stdout, loaded.stdout


def test_import_reserves_all_rows_or_none_and_a_replay_changes_nothing(tmp_path):
    import sqlite3

    database = tmp_path / "reserves.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{database}"}
    good = tmp_path / "good.csv"
    good.write_text(
        "country,asset,unit,amount,as_of,source\n"
        "CN,UST,USD,816300000000,2023-12-31,test\n"
        "CN,UST,USD,763000000000,2024-03-31,test\n"
        "\n"
        'CN,XAU,TONNE,2245.87,2024-03-31,"World Gold Council, illustrative"\n'
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "country,asset,unit,amount,as_of,source\n"
        "BE,UST,USD,1,2024-01-01,\n"
        "XX,UST,TONNE,-5,2023-12-31,\n"
        "CN,XAU,TONNE,abc,2024-03-31,\n"
        "CN,XAU,TONNE,1,2099-12-31\n"
        "CN,XAU,TONNE,1,2099-12-31,\n"
    )

    def stored() -> list[tuple]:
        with sqlite3.connect(database) as connection:
            return connection.execute(
                "SELECT id, country_code, asset, unit, amount, as_of, source, recorded_at"
                " FROM reserve_holding ORDER BY id"
            ).fetchall()

    refused = corridor("import-reserves", str(bad), env=env)
    assert refused.returncode == 2
    prefix = f"corridor import-reserves: {bad}: "
    lines = [line.removeprefix(prefix) for line in refused.stderr.splitlines() if line.startswith(prefix)]
    assert lines == [
        "line 3: country: No country 'XX'.",
        "line 3: unit: Only gold (XAU) is held in tonnes.",
        "line 3: amount: amount is a number, not negative.",
        "line 4: amount: not a decimal number: 'abc'",
        "line 5: 5 columns, not 6",
        "line 6: as_of: asOf is in the future.",
    ], refused.stderr
    assert stored() == []  # line 2 was fine, and is not recorded either

    first = corridor("import-reserves", str(good), env=env)
    assert first.returncode == 0, first.stderr
    assert "3 reserve holdings read" in first.stdout and "3 new or changed" in first.stdout
    rows = stored()
    assert [(r[1], r[2], r[3], r[4], r[5]) for r in rows] == [
        ("CN", "UST", "USD", "816300000000", "2023-12-31"),
        ("CN", "UST", "USD", "763000000000", "2024-03-31"),
        ("CN", "XAU", "TONNE", "2245.87", "2024-03-31"),
    ]
    again = corridor("import-reserves", str(good), env=env)
    assert again.returncode == 0 and "0 new or changed" in again.stdout
    assert stored() == rows

    no_header = tmp_path / "no_header.csv"
    no_header.write_text("CN,UST,USD,1,2024-01-01,\n")
    missing = corridor("import-reserves", str(no_header), env=env)
    assert (
        missing.returncode == 2 and "line 1: the header row is country,asset,unit,amount,as_of,source" in missing.stderr
    )
