"""`python -m bench`: the whole benchmark, engine by engine.

For each engine (SQLite: a fresh temporary file; PostgreSQL: `corridor_bench` on
127.0.0.1, skipped with a message when unreachable):

1. prepare the database once: `corridor migrate`, `corridor apikey --role OPERATOR`,
   then the test data through GraphQL against a server started for that alone
   (`bench.prepare`); every worker count then runs on the same data;
2. measure the ceiling in-process, with no server running (`bench.ceiling`), when
   the batch path is measured; likewise, when `obligations` is among the scenarios, what
   recording obligations adds to a card payment (`bench.obligations`: the card
   payments' resolvers called in-process, with obligations timed and, in alternate
   blocks, skipped);
3. for each worker count, start `corridor serve --workers N` (`bench.server`) and run
   floor, batch, single, hot, card, card_fx, payment (sendPayment, RTGS), pacs008
   (submitIso20022 of 1,000 transactions), accounts (a page of 100 accounts) and
   transfers (an account's 50 latest transfers), or those --scenarios names (the floor
   always, as the baseline of the card payments, the reads and settlement), from a separate
   load-generator process (`bench.load`), each for a fixed duration after a short
   warm-up; then `settlement` (`bench.settlement`): a window of 100,000 obligations
   written straight into the database (setup), then closeSettlementWindow and
   settleSettlementWindow through the server, one request each, timed; then stop the
   server. What the server logged during each scenario (every worker's) is scanned
   for retried transactions and errors.

Then print the report and save it as Markdown in bench/results/ (`bench.report`).
Transfers and payments written by earlier measurements stay in the database, so
later ones run on slightly larger tables.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import os
import re
import tempfile
from collections import Counter
from pathlib import Path

from bench import analytics, ceiling, load, obligations, prepare, report, settlement
from bench.server import Server, corridor

ENGINES = ("sqlite", "postgres")
IN_PROCESS = ("obligations",)  # measured once per engine, with no server running
SERVED = {"settlement": settlement, "analytics": analytics}  # measured against each server, one request at a time
SCENARIOS = (*load.SCENARIOS, *IN_PROCESS, *SERVED)
CLIENTS = 32  # floor, single, hot, card and card_fx (one card per client), payment, accounts, transfers
BATCH_CLIENTS_PER_WORKER = 2  # batch and pacs008
BATCH_SCENARIOS = ("batch", "pacs008")
RETRIED = re.compile(r" retried after (\w+)")
ERROR_LINE = re.compile(r"(^|\s)(ERROR|CRITICAL)[:\s]")


def _list(kind, choices=None):
    def parse(text: str) -> list:
        values = [kind(part.strip()) for part in text.split(",") if part.strip()]
        if not values or (choices and any(value not in choices for value in values)):
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(map(str, choices or []))}")
        return list(dict.fromkeys(values))

    return parse


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError("between 0 and 600 seconds")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=_seconds, default=10.0, help="duration of each measurement (default 10)")
    parser.add_argument("--warmup", type=float, default=1.0, help="uncounted warm-up before each path (default 1)")
    parser.add_argument(
        "--engines", type=_list(str, ENGINES), default=list(ENGINES), help="sqlite,postgres (default both)"
    )
    parser.add_argument("--workers", type=_list(int, (1, 2, 3, 4)), default=[1, 2], help="worker counts (default 1,2)")
    parser.add_argument(
        "--scenarios",
        type=_list(str, SCENARIOS),
        default=list(SCENARIOS),
        help=f"{','.join(SCENARIOS)} (default all; floor is always run)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.warmup <= 60:
        parser.error("--warmup: between 0 and 60 seconds")
    args.scenarios = [name for name in SCENARIOS if name == "floor" or name in args.scenarios]
    return args


def say(message: str) -> None:
    print(message, flush=True)


def server_log_summary(text: str) -> dict:
    """Retried transactions (by the database's exception) and errors in a piece of the server's log."""
    retries = Counter(match.group(1) for match in RETRIED.finditer(text))
    errors = [line.strip() for line in text.splitlines() if ERROR_LINE.search(line)]
    return {
        "retries": dict(retries),
        "errors": len(errors),
        "tracebacks": text.count("Traceback (most recent call last)"),
        "examples": list(dict.fromkeys(line[:200] for line in errors))[:3],
    }


def _settlement_summary(result: dict) -> str:
    close, settle = result["close_ms"], result["settle_ms"]
    return (
        f"{result['obligations']:,} obligations (setup {result['setup_s']:.1f} s): close"
        f" {'-' if close is None else f'{close:,.0f}'} ms, settle {'-' if settle is None else f'{settle:,.0f}'} ms"
        f" ({result['transfers'] or 0} transfers), {sum(result['failures'].values())} failures"
    )


def _analytics_summary(result: dict) -> str:
    def ms(key: str) -> str:
        return "-" if result.get(key) is None else f"{result[key]:,.1f} ms"

    return (
        f"{result['payments']:,} payments (setup {result['setup_s']:.1f} s): corridorStats {ms('stats_ms')},"
        f" corridorSeries {ms('series_ms')}, currencyShares {ms('shares_ms')}, floor {ms('floor_ms')};"
        f" {sum(result['failures'].values())} failures"
    )


def _obligations_summary(result: dict) -> str:
    share, capture, ab = result["share_of_payment"], result["share_of_capture"], result["ab"]
    return (
        f"{result['payments_on']:,} payments with, {result['payments_off']:,} without; obligations"
        f" {result['mean_obligation_ms'] or 0:.2f} ms a payment: {share or 0:.3f} of a payment,"
        f" {capture or 0:.3f} of a capture; A/B {ab or 0:+.3f}; {sum(result['failures'].values())} failures"
    )


def _summary(result: dict) -> str:
    if result["scenario"] in SERVED:
        head = (_settlement_summary if result["scenario"] == "settlement" else _analytics_summary)(result)
        log = result["server_log"]
        return f"{head}; server log: {sum(log['retries'].values())} retries, {log['errors']} errors"
    failures = sum(result["failures"].values())
    timing = f"p50 {result['p50_ms'] or 0:.1f} ms, p99 {result['p99_ms'] or 0:.1f} ms"
    if "steps" in result:
        steps = "; ".join(
            f"{name} p50 {step['p50_ms'] or 0:.1f} ms, p99 {step['p99_ms'] or 0:.1f} ms"
            for name, step in result["steps"].items()
        )
        head = f"{result['payments_per_s']:,.0f} payments/s ({result['requests_per_s']:,.0f} req/s), payment {timing}"
        head += f"; {steps}"
    elif "payments_per_s" in result:
        head = f"{result['payments_per_s']:,.0f} payments/s ({result['requests_per_s']:,.0f} req/s), {timing}"
    else:
        head = f"{result['requests_per_s']:,.0f} req/s, {result['transfers_per_s']:,.0f} transfers/s, {timing}"
    log = result["server_log"]
    retries = sum(log["retries"].values())
    return (
        f"{head}, {failures} failures, client CPU {result['client_cpu']:.0%};"
        f" server log: {retries} retries, {log['errors']} errors"
    )


def measure_engine(engine: str, database_url: str, args: argparse.Namespace, scratch: Path) -> dict:
    say(
        f"[{engine}] preparing: migrate, API key, {prepare.CUSTOMERS:,} funded accounts"
        f", {CLIENTS} cards and the {prepare.NETWORK_CODE} network through the API"
    )
    corridor(database_url, "migrate")
    secret = corridor(database_url, "apikey", "--role", "OPERATOR", "--label", "bench").strip().splitlines()[-1]
    with Server(database_url, 1, scratch / f"{engine}-prepare.log") as server:
        world = asyncio.run(prepare.build(server.port, secret, cards=CLIENTS))

    top = None
    if "batch" in args.scenarios:  # the ceiling is the batch path's yardstick
        say(f"[{engine}] ceiling: SQLAlchemy Core in-process, {args.seconds:g} s")
        top = asyncio.run(ceiling.measure(database_url, world.customers, args.seconds))
        say(f"[{engine}]   {top['transfers_per_s']:,.0f} transfers/s")

    overhead = None
    if "obligations" in args.scenarios:
        say(f"[{engine}] obligations: card payments in-process, with and without obligations, {args.seconds:g} s")
        overhead = asyncio.run(
            obligations.measure(database_url, dataclasses.asdict(world.cards), args.seconds, args.warmup)
        )
        say(f"[{engine}]   {_obligations_summary(overhead)}")

    runs = {}
    for workers in args.workers:
        with Server(database_url, workers, scratch / f"{engine}-{workers}.log") as server:
            paths = {}
            for scenario in args.scenarios:
                if scenario in IN_PROCESS:
                    continue
                if scenario in SERVED:
                    say(f"[{engine}] {workers} worker(s), {scenario}: {SERVED[scenario].__doc__.splitlines()[0]}")
                    mark = server.log_size()
                    result = SERVED[scenario].measure(server.port, secret, database_url)
                    result["server_log"] = server_log_summary(server.log_since(mark))
                    say(f"[{engine}]   {_summary(result)}")
                    paths[scenario] = result
                    continue
                clients = BATCH_CLIENTS_PER_WORKER * workers if scenario in BATCH_SCENARIOS else CLIENTS
                say(f"[{engine}] {workers} worker(s), {scenario}: {clients} clients, {args.seconds:g} s")
                mark = server.log_size()
                result = load.run(
                    {
                        "port": server.port,
                        "secret": secret,
                        "scenario": scenario,
                        "clients": clients,
                        "seconds": args.seconds,
                        "warmup": args.warmup,
                        "customers": world.customers,
                        "hot": world.hot,
                        "cards": dataclasses.asdict(world.cards),
                        "payments": dataclasses.asdict(world.payments),
                        "reads": dataclasses.asdict(world.reads),
                    }
                )
                result["server_log"] = server_log_summary(server.log_since(mark))
                say(f"[{engine}]   {_summary(result)}")
                paths[scenario] = result
        runs[workers] = paths
    return {"engine": engine, "ceiling": top, "obligations": overhead, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    load_at_start = os.getloadavg()  # the machine may be shared: say how busy it was
    engines, notes = [], []
    with tempfile.TemporaryDirectory(prefix="corridor-bench-") as scratch:
        scratch = Path(scratch)
        for engine in args.engines:
            if engine == "sqlite":
                database_url = f"sqlite+aiosqlite:///{scratch / 'bench.db'}"
            else:
                database_url = prepare.POSTGRES_URL
                try:
                    asyncio.run(prepare.reset_postgres(database_url))
                except prepare.Unreachable as error:
                    message = f"PostgreSQL at 127.0.0.1:5432 is unreachable ({error}); skipped."
                    say(f"[postgres] {message}")
                    notes.append(message)
                    continue
            engines.append(measure_engine(engine, database_url, args, scratch))

    machine = report.machine_details(asyncio.run(prepare.postgres_version()))
    parameters = [
        ("duration of each measurement", f"{args.seconds:g} s after a {args.warmup:g} s warm-up"),
        ("engines", ", ".join(args.engines)),
        ("workers", ", ".join(map(str, args.workers))),
        ("scenarios", ", ".join(args.scenarios)),
        ("customer accounts", f"{prepare.CUSTOMERS:,} (plus one hot account)"),
        (
            "cards",
            f"{CLIENTS} Mir cards, each on its own RUB account ({prepare.CARD_FUNDS} RUB);"
            f" card: {prepare.CARD_AMOUNT} RUB at a Moscow merchant (MIR);"
            f" card_fx: {prepare.FX_AMOUNT} CNY at a Shanghai merchant (UNIONPAY, link fee {prepare.LINK_FEE_BPS} bps,"
            f" FX spread {prepare.FX_SPREAD_BPS} bps)",
        ),
        (
            "interbank payments",
            f"{prepare.NETWORK_CODE} ({prepare.NETWORK_CURRENCY}, RTGS), the {len(prepare.BANKS)} banks ACTIVE members,"
            f" each with a {prepare.SETTLEMENT_FUNDS} {prepare.NETWORK_CURRENCY} SETTLEMENT account;"
            f" {prepare.PAYMENT_AMOUNT} {prepare.NETWORK_CURRENCY} between customer accounts of two banks;"
            f" payment: one sendPayment a request; pacs008: {load.PACS008_SIZE:,} transactions a document",
        ),
        (
            "clients",
            f"{CLIENTS} (floor, single, hot, payment, accounts, transfers; card and card_fx, a card each);"
            f" {BATCH_CLIENTS_PER_WORKER} x workers (batch, pacs008)",
        ),
        (
            "reads",
            f"accounts: the first {load.ACCOUNTS_PAGE} accounts of {prepare.BANKS[0][1]} (id, name, currency code,"
            " the four balance columns, the owner's name and BIC); transfers: the latest"
            f" {load.TRANSFERS_PAGE} of an account with {prepare.HISTORY} (id, amount, state, createdAt, both"
            " accounts' id and name); ratio = req/s / floor req/s",
        ),
        (
            "settlement",
            f"{settlement.OBLIGATIONS:,} obligations between the {len(prepare.BANKS)} banks (0.01-1,000.00 RUB each)"
            f" written into the OPEN {settlement.SCOPE}/{settlement.CURRENCY} window (DEFERRED_NET) before each"
            " worker count's close and settle",
        ),
        (
            "analytics",
            f"{analytics.PAYMENTS:,} SETTLED interbank payments RU<->CN (40% RUB, 35% CNY, 25% USD) over"
            f" {analytics.DAYS} days with weekly rates, written once; {analytics.SAMPLES} requests each after a"
            f" warm-up (p50), one at a time, beside {analytics.FLOOR_SAMPLES} floor requests on the same connection",
        ),
        (
            "obligations",
            f"card payments as in card, in-process, VTB cards only (every capture records one obligation),"
            f" in alternating blocks of {obligations.BLOCK} with and without obligations",
        ),
        ("load average at start (1, 5, 15 min)", ", ".join(f"{value:.2f}" for value in load_at_start)),
    ]
    text = report.markdown(started, machine, parameters, engines, notes)
    print()
    print(text)
    path = report.save(started, text)
    say(f"saved to {path}")
    return 0
