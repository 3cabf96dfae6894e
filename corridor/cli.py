"""The `corridor` command: serve, migrate, demo, apikey, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from corridor.settings import Settings

SCHEMA_SNAPSHOT = Path(__file__).resolve().parent.parent / "schema" / "schema.graphql"


async def _with_engine(action, *, migrated: bool = True):
    """Run `action(engine, sessions)` on the configured database, after the preflight
    checks: the URL, the connection, and (`migrated`) the revision, migrating first
    when the database is behind the code."""
    from corridor import migrate, preflight
    from corridor.db import create_engine, session_factory

    settings = _settings()
    preflight.parse_url(settings.database_url)
    engine = create_engine(settings)
    try:
        await preflight.check_connection(engine)
        problem = await preflight.migration_problem(engine)
        if migrated:
            if problem is not None:
                print(f"{problem}: migrating it first", file=sys.stderr)
                await migrate.upgrade(engine)
        return await action(engine, session_factory(engine))
    finally:
        await engine.dispose()


def _settings() -> Settings:
    from corridor.preflight import Problem

    try:
        return Settings.from_env()
    except ValueError as error:
        raise Problem(str(error)) from None


def cmd_migrate(_: argparse.Namespace) -> int:
    from corridor import migrate

    async def run(engine, _sessions):
        await migrate.upgrade(engine)

    asyncio.run(_with_engine(run, migrated=False))
    print("database migrated")
    return 0


def cmd_demo(_: argparse.Namespace) -> int:
    from corridor import demo

    async def run(_engine, sessions):
        created = await demo.load(sessions, _settings())
        return created, await demo.tour(sessions)

    created, tour = asyncio.run(_with_engine(run))
    print("demo network loaded: " + ", ".join(f"{count} {what} created" for what, count in created.items()))
    for line in tour:
        print(line)
    return 0


def cmd_apikey(args: argparse.Namespace) -> int:
    from corridor.preflight import Problem
    from models.access import Role
    from resolvers import access, reference
    from resolvers.errors import DomainError

    async def run(_engine, sessions):
        async with sessions() as session, session.begin():
            institution_id = None
            if args.institution:
                institution = await reference.institution_by_bic(session, args.institution)
                if institution is None:
                    raise Problem(f"No institution with BIC {args.institution}.")
                institution_id = institution.id
            _, secret = await access.create_api_key(
                session, None, role=Role(args.role), label=args.label, institution_id=institution_id
            )
            return secret

    try:
        secret = asyncio.run(_with_engine(run))
    except DomainError as error:
        raise Problem(error.message) from None
    print(f"{args.role} key {args.label!r} created; the secret is shown once:")
    print(secret)
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from schema.root import build_schema

    sdl = build_schema().as_str() + "\n"
    if args.output == "-":
        sys.stdout.write(sdl)
    else:
        Path(args.output).write_text(sdl)
        print(f"schema written to {args.output}")
    return 0


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def serve_log_config() -> dict:
    """uvicorn's logging, plus the service's own loggers at INFO. uvicorn applies it in
    every worker process, which configures nothing else: without it, with --workers
    above 1, the service's INFO lines (retries, the sweep) would be lost."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["corridor"] = {"format": LOG_FORMAT}
    config["handlers"]["corridor"] = {
        "class": "logging.StreamHandler",
        "formatter": "corridor",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["corridor"] = {"handlers": ["corridor"], "level": "INFO", "propagate": False}
    return config


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    cmd_migrate(args)
    uvicorn.run(
        "corridor.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        log_config=serve_log_config(),
        access_log=False,  # the app writes its own access line (corridor.access)
    )
    return 0


ENVIRONMENT = """environment (all optional; README's Configuration table has every one):
  DATABASE_URL              sqlite+aiosqlite:///./corridor.db (default) or postgresql+asyncpg://user@host/db
  CORRIDOR_SECRET           the server secret for keyed hashes of card numbers; set it in production
  CORRIDOR_CORS_ORIGINS     origins allowed to call the API from a browser (comma-separated, or *)
  CORRIDOR_REQUEST_SECONDS  a request unanswered after this long gets a 503 (default 30)
  CORRIDOR_POOL_SIZE        database connections per worker (default 1 on SQLite, 10 on PostgreSQL)
"""


def _command(commands, name: str, summary: str, run) -> argparse.ArgumentParser:
    command = commands.add_parser(
        name,
        help=summary,
        description=summary,
        epilog=ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.set_defaults(run=run)
    return command


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="corridor", description=__doc__, epilog=ENVIRONMENT, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    top.add_argument("--version", action="version", version=f"corridor {_version()}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = _command(commands, "serve", "migrate the database, then serve the GraphQL API", cmd_serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (default: 1; more help on PostgreSQL only)"
    )

    _command(commands, "migrate", "apply the database migrations (Alembic) to DATABASE_URL", cmd_migrate)
    _command(commands, "demo", "load the demo network (idempotent) and print the ids a tour needs", cmd_demo)

    apikey = _command(commands, "apikey", "create an API key; the secret is the last line printed", cmd_apikey)
    apikey.add_argument("--role", required=True, choices=["OPERATOR", "PARTICIPANT", "ANALYST"], help="the key's role")
    apikey.add_argument("--label", required=True, help="a name for the key, shown in the apiKeys list")
    apikey.add_argument(
        "--institution", metavar="BIC", help="the institution a PARTICIPANT key acts for (required then)"
    )

    export = _command(commands, "export-schema", "print the GraphQL schema (SDL)", cmd_export_schema)
    export.add_argument(
        "--output", default="-", help=f"a file, or - for standard output (default: -; the snapshot: {SCHEMA_SNAPSHOT})"
    )
    return top


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("corridor")
    except PackageNotFoundError:  # run from a checkout without installing
        return "0+unknown"


def main(argv: list[str] | None = None) -> int:
    from corridor.preflight import Problem

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the CLI says what it migrated itself
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except Problem as problem:
        print(f"corridor {args.command}: {problem}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
