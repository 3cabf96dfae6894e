"""The `corridor` command: serve, migrate, demo, apikey, import-reserves, export-schema."""

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


RESERVES_HEADER = ["country", "asset", "unit", "amount", "as_of", "source"]
# The resolver's field names, as the CSV's columns name them.
RESERVES_COLUMNS = {"countryCode": "country", "asOf": "as_of"}


def _reserve_rows(path: Path) -> tuple[list, list[int], list[tuple[int, str]]]:
    """The CSV's holdings, the line each starts on, and what is wrong with the file's
    form (header, columns, numbers, dates), each as (N, "line N: ..."). Blank lines are skipped."""
    import csv
    import datetime as dt
    from decimal import Decimal

    from corridor.preflight import Problem
    from resolvers.analytics import HoldingSpec
    from schema.scalars import DECIMAL_PATTERN

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeError) as error:
        raise Problem(f"cannot read {path}: {error}") from None
    reader = csv.reader(text.splitlines(keepends=True))
    specs, lines, problems = [], [], []
    header = next(reader, None)
    if header is None or [name.strip().lower() for name in header] != RESERVES_HEADER:
        return [], [], [(1, f"line 1: the header row is {','.join(RESERVES_HEADER)}")]
    start = reader.line_num + 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(RESERVES_HEADER):
            problems.append((line, f"line {line}: {len(row)} columns, not {len(RESERVES_HEADER)}"))
            continue
        country, asset, unit, amount, as_of, source = (cell.strip() for cell in row)
        if DECIMAL_PATTERN.fullmatch(amount) is None:
            problems.append((line, f"line {line}: amount: not a decimal number: {amount!r}"))
            continue
        try:
            date = dt.date.fromisoformat(as_of)
        except ValueError:
            problems.append((line, f"line {line}: as_of: not a date (YYYY-MM-DD): {as_of!r}"))
            continue
        specs.append(HoldingSpec(country, asset, unit, Decimal(amount), date, source or None))
        lines.append(line)
    return specs, lines, problems


def cmd_import_reserves(args: argparse.Namespace) -> int:
    """Record the file's holdings, all or none (an upsert: importing it again changes
    nothing). Every problem is printed on a line of its own with the file's line, those
    of the file's form and the resolver's together, and the exit status is 2."""
    from models.base import utcnow
    from resolvers import analytics
    from resolvers.access import SYSTEM
    from resolvers.errors import DomainError

    specs, lines, problems = _reserve_rows(Path(args.file))
    if not problems and not specs:
        problems = [(0, "the file has no holdings")]

    async def run(_engine, sessions):
        async with sessions() as session:
            try:
                recorded = await analytics.record_reserve_holdings(session, SYSTEM, specs, now=utcnow())
            except DomainError as error:
                await session.rollback()
                return [_reserve_problem(e, lines) for e in getattr(error, "errors", [error])]
            await (session.rollback() if problems else session.commit())  # checked only, when the form is wrong
            return recorded

    if specs:
        outcome = asyncio.run(_with_engine(run))
        problems = sorted([*problems, *outcome], key=lambda p: p[0]) if isinstance(outcome, list) else problems
    if problems:
        for _line, problem in problems:
            print(f"corridor import-reserves: {args.file}: {problem}", file=sys.stderr)
        return 2
    print(f"{len(specs)} reserve holdings read from {args.file}: {outcome.changed} new or changed")
    return 0


def _reserve_problem(error, lines: list[int]) -> tuple[int, str]:
    """A resolver's error at ["<index>", field] as (line, "line N: column: message")."""
    if not error.field:
        return 0, error.message
    index, *field = error.field
    column = RESERVES_COLUMNS.get(field[0], field[0]) if field else None
    line = lines[int(index)]
    return line, f"line {line}" + (f": {column}" if column else "") + f": {error.message}"


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

    reserves = _command(
        commands,
        "import-reserves",
        "record reserve holdings from a CSV file (all rows or none; importing it again changes nothing)",
        cmd_import_reserves,
    )
    reserves.add_argument("file", metavar="FILE.csv", help="header row: " + ",".join(RESERVES_HEADER))

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
