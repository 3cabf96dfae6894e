"""The `corridor` command: serve, migrate, demo, apikey, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from corridor.settings import Settings

SCHEMA_SNAPSHOT = Path(__file__).resolve().parent.parent / "schema" / "schema.graphql"


async def _with_engine(action):
    from corridor.db import create_engine, session_factory

    engine = create_engine(Settings.from_env())
    try:
        return await action(engine, session_factory(engine))
    finally:
        await engine.dispose()


def cmd_migrate(_: argparse.Namespace) -> int:
    from corridor import migrate

    async def run(engine, _sessions):
        await migrate.upgrade(engine)

    asyncio.run(_with_engine(run))
    print("database migrated")
    return 0


def cmd_demo(_: argparse.Namespace) -> int:
    from corridor import demo

    async def run(_engine, sessions):
        return await demo.load(sessions, Settings.from_env())

    created = asyncio.run(_with_engine(run))
    print("demo network loaded: " + ", ".join(f"{count} {what} created" for what, count in created.items()))
    return 0


def cmd_apikey(args: argparse.Namespace) -> int:
    from models.access import Role
    from resolvers import access, reference
    from resolvers.errors import DomainError

    async def run(_engine, sessions):
        async with sessions() as session, session.begin():
            institution_id = None
            if args.institution:
                institution = await reference.institution_by_bic(session, args.institution)
                if institution is None:
                    raise DomainError(access.ErrorCode.NOT_FOUND, f"No institution with BIC {args.institution}.")
                institution_id = institution.id
            _, secret = await access.create_api_key(
                session, None, role=Role(args.role), label=args.label, institution_id=institution_id
            )
            return secret

    try:
        secret = asyncio.run(_with_engine(run))
    except DomainError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
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

    if cmd_migrate(args) != 0:
        return 1
    uvicorn.run(
        "corridor.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        log_config=serve_log_config(),
        access_log=False,
    )
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="corridor", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, then serve the GraphQL API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=cmd_serve)

    commands.add_parser("migrate", help="apply the database migrations").set_defaults(run=cmd_migrate)
    commands.add_parser("demo", help="load the demo network (idempotent)").set_defaults(run=cmd_demo)

    apikey = commands.add_parser("apikey", help="create an API key; the secret is the last line printed")
    apikey.add_argument("--role", required=True, choices=["OPERATOR", "PARTICIPANT", "ANALYST"])
    apikey.add_argument("--label", required=True)
    apikey.add_argument("--institution", metavar="BIC", help="the institution a PARTICIPANT key acts for")
    apikey.set_defaults(run=cmd_apikey)

    export = commands.add_parser("export-schema", help="print the GraphQL schema (SDL)")
    export.add_argument("--output", default="-", help=f"a file, or - for standard output (snapshot: {SCHEMA_SNAPSHOT})")
    export.set_defaults(run=cmd_export_schema)
    return top


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
