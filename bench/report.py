"""The report: the machine's details, the results table with the targets, and the
Markdown file in bench/results/ named by the run's UTC time.

Targets shown next to the figures (issue 16's where it sets one):
- batch >= 20,000 transfers/s on PostgreSQL, >= 0.8 x the in-process ceiling on SQLite
  (every worker count);
- single >= 0.5 x floor, requests/s (every engine and worker count), with p99 < 100 ms
  on PostgreSQL with 2 workers;
- hot >= 0.5 x single (every engine and worker count);
- payment (sendPayment, one a request) >= 0.4 x single, requests/s (every engine and
  worker count);
- pacs008 (a 1,000-transaction pacs.008) >= 0.2 x batch, its payments/s over the
  batch's transfers/s (every engine and worker count);
- accounts (a page of 100 accounts) >= 0.04 x floor and transfers (an account's 50
  latest transfers) >= 0.1 x floor, requests/s over the floor's requests/s of the same
  server (every engine and worker count).

- card payments (authorize + capture) >= 0.25 x single, card_fx >= 0.2 x single
  (payments/s over single's requests/s of the same server: 0.5 would be each of the
  payment's two requests as cheap as a transfer), with a payment's p99 under 4 x its
  p50 (every engine and worker count); a row for each of its two requests below.

Settlement (bench.settlement), per engine and worker count: the time of one
closeSettlementWindow and of one settleSettlementWindow of a window of 100,000
obligations, in the p50 column, with its ratio to the floor's p50 of the same server;
no time target ("positions in one statement" is what the close must do: one aggregate
statement whatever the number of obligations).

Analytics (bench.analytics), per engine and worker count: corridorStats, a 12-month
corridorSeries and currencyShares over 100,000 payments, each the p50 of one request at
a time, with its ratio to the p50 of the floor on the same connection; target at most
ANALYTICS_TARGET x that floor (issue 16's), shown as met or not.

Card obligations (bench.obligations), once per engine, in-process: the time inside
recording obligations as a share of a card payment (authorize + capture) without it,
target at most OBLIGATIONS_TARGET; the share of the capture alone and an A/B
comparison (payments with and without) beside it, without targets.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sqlite3
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = (
    "strawberry-graphql",
    "graphql-core",
    "sqlalchemy",
    "sqlmodel",
    "starlette",
    "uvicorn",
    "asyncpg",
    "aiosqlite",
)

BATCH_TARGET = 0.8  # x ceiling (SQLite)
BATCH_TARGET_PG = 20_000  # transfers/s (PostgreSQL)
HOT_TARGET = 0.5  # x single
PAYMENT_TARGET = 0.4  # x single (requests/s)
PACS008_TARGET = 0.2  # x batch (payments/s over transfers/s)
SINGLE_TARGET = 0.5  # x floor (requests/s)
SINGLE_TARGET_P99_MS = 100
SINGLE_TARGET_WHERE = ("postgres", 2)  # (engine, workers) where p99 counts too
CARD_TARGETS = {"card": 0.25, "card_fx": 0.2}  # payments/s x single's requests/s
CARD_TAIL = 4  # a payment's p99 under this many times its p50
OBLIGATIONS_TARGET = 0.2  # at most this share of a card payment
ANALYTICS_TARGET = 20  # at most this many times the floor's latency
READ_TARGETS = {"accounts": 0.04, "transfers": 0.1}  # x floor (requests/s)
READ_PATHS = {"accounts": "accounts: a page of 100", "transfers": "transfers: an account's latest 50"}


def _proc_field(path: str, name: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    except OSError:
        pass
    return "unknown"


def machine_details(postgres_version: str) -> list[tuple[str, str]]:
    memory = _proc_field("/proc/meminfo", "MemTotal")
    if memory.endswith(" kB"):
        memory = f"{int(memory[:-3]) / (1 << 20):.1f} GiB"
    details = [
        ("CPU", _proc_field("/proc/cpuinfo", "model name")),
        ("nproc", str(len(os.sched_getaffinity(0)))),
        ("memory", memory),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
    ]
    for package in PACKAGES:
        try:
            details.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            details.append((package, "not installed"))
    details.append(("SQLite library", sqlite3.sqlite_version))
    details.append(("PostgreSQL server", postgres_version))
    return details


# ---------------------------------------------------------------- formatting


def _n(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _failures(result: dict) -> str:
    return f"{sum(result['failures'].values()):,}"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _row(engine, workers, path, throughput, result=None, ratio="", target="", met="") -> list[str]:
    if result:
        cpu = "" if result["client_cpu"] is None else f"{result['client_cpu']:.0%}"
        timing = [_ms(result["p50_ms"]), _ms(result["p99_ms"]), _failures(result), cpu]
    else:
        timing = ["-", "-", "-", "-"]
    return [engine, str(workers), path, throughput, *timing, ratio, target, met]


CARD_PATHS = {"card": "card, domestic", "card_fx": "card_fx, interscheme FX"}


def _card_rows(name: str, workers: int, path: str, card: dict, single: dict | None) -> list[list[str]]:
    """A card scenario's rows: payments/s against single transfers' requests/s of the same
    server, with its p99 against 4 x its p50; then each of its two requests."""
    ratio = target = met = ""
    if single and single["requests_per_s"]:
        value, wanted = card["payments_per_s"] / single["requests_per_s"], CARD_TARGETS[path]
        p50, p99 = card["p50_ms"], card["p99_ms"]
        tail = p50 is not None and p99 is not None and p99 < CARD_TAIL * p50
        ratio, target = f"{value:.3f} x single", f">= {wanted} x single, p99 < {CARD_TAIL} x p50"
        met = _met(value >= wanted and tail)
    throughput = f"{_n(card['payments_per_s'])} payments/s ({_n(card['requests_per_s'])} req/s)"
    rows = [
        _row(name, workers, f"{CARD_PATHS[path]} ({card['clients']} clients)", throughput, card, ratio, target, met)
    ]
    for step_name, step in card["steps"].items():
        timing = {**step, "client_cpu": None}
        rows.append(_row(name, workers, f"  {step_name}", f"{_n(step['requests_per_s'])} req/s", timing))
    return rows


def _read_row(name: str, workers: int, path: str, read: dict, floor: dict | None) -> list[str]:
    """A read scenario's row: requests/s against the floor of the same server."""
    ratio = met = ""
    target = f">= {READ_TARGETS[path]} x floor"
    if floor and floor["requests_per_s"]:
        value = read["requests_per_s"] / floor["requests_per_s"]
        ratio, met = f"{value:.3f} x floor", _met(value >= READ_TARGETS[path])
    label = f"{READ_PATHS[path]} ({read['clients']} clients)"
    return _row(name, workers, label, f"{_n(read['requests_per_s'])} req/s", read, ratio, target, met)


def _timed(ms: float | None, failures: dict) -> dict:
    """A one-sample measurement shaped as _row's result: the time in the p50 column."""
    return {"p50_ms": ms, "p99_ms": None, "failures": failures, "client_cpu": None}


def _settlement_rows(name: str, workers: int, result: dict, floor: dict | None) -> list[list[str]]:
    """Closing and settling the window: each time with its ratio to the floor's p50."""
    rows = []
    count = f"{result['obligations']:,}"
    transfers = "-" if result["transfers"] is None else f"{result['transfers']:,}"
    for step, ms, path, throughput, target in [
        (
            "close",
            result["close_ms"],
            f"settlement: close {count} obligations",
            "1 request",
            "positions in one statement",
        ),
        ("settle", result["settle_ms"], "settlement: settle the window", f"1 request, {transfers} transfers", ""),
    ]:
        failures = {k: v for k, v in result["failures"].items() if k.startswith(step)}
        ratio = ""
        if ms is not None and floor and floor["p50_ms"]:
            ratio = f"{ms / floor['p50_ms']:,.0f} x floor p50"
        rows.append(_row(name, workers, path, throughput, _timed(ms, failures), ratio, target))
    return rows


def _analytics_rows(name: str, workers: int, result: dict) -> list[list[str]]:
    """Each analytics query's p50 beside the floor's p50 on the same connection."""
    rows, floor = [], result.get("floor_ms")
    count = f"{result['payments']:,} payments"
    for key, path in [
        ("stats", "analytics: corridorStats"),
        ("series", "analytics: corridorSeries, 12 months"),
        ("shares", "analytics: currencyShares"),
    ]:
        ms = result.get(f"{key}_ms")
        failures = {k: v for k, v in result["failures"].items() if k.startswith(key)}
        ratio = met = ""
        if ms is not None and floor:
            ratio, met = f"{ms / floor:,.1f} x floor p50", _met(ms / floor <= ANALYTICS_TARGET)
        target = f"<= {ANALYTICS_TARGET} x floor p50"
        rows.append(
            _row(name, workers, path, f"1 request at a time, {count}", _timed(ms, failures), ratio, target, met)
        )
    rows.append(_row(name, workers, "  floor, same connection", "1 request at a time", _timed(floor, {})))
    return rows


def _obligation_rows(name: str, result: dict) -> list[list[str]]:
    """What recording obligations adds to a card payment, in-process (once per engine)."""
    share, capture, ab = result["share_of_payment"], result["share_of_capture"], result["ab"]
    first = {**result["obligation_ms"], "failures": result["failures"], "client_cpu": None}
    throughput = f"{result['payments_on']:,} payments, {result['obligations']:,} obligations"
    ratio = "-" if share is None else f"{share:.3f} of a payment"
    met = "" if share is None else _met(share <= OBLIGATIONS_TARGET)
    path = "card obligations: time recording them (in-process)"
    rows = [_row(name, "-", path, throughput, first, ratio, f"<= {OBLIGATIONS_TARGET} of a payment", met)]
    second = {**result["capture_on_ms"], "failures": {}, "client_cpu": None}
    ratio = "-" if capture is None else f"{capture:.3f} of a capture"
    rows.append(_row(name, "-", "  capture with obligations", "", second, ratio))
    third = {**result["payment_off_ms"], "failures": {}, "client_cpu": None}
    means = f"mean {result['mean_payment_on_ms'] or 0:.2f} ms with, {result['mean_payment_off_ms'] or 0:.2f} without"
    ratio = "-" if ab is None else f"{ab:+.3f} A/B"
    rows.append(_row(name, "-", f"  payment without ({result['payments_off']:,} payments)", means, third, ratio))
    return rows


def _ratio(value: float, of: float) -> float:
    return value / of if of else 0.0


def _batch_row(name: str, workers: int, batch: dict, ceiling: dict | None) -> list[str]:
    """The batch against its target: transfers/s on PostgreSQL, x the ceiling on SQLite."""
    throughput = f"{_n(batch['transfers_per_s'])} transfers/s ({_n(batch['requests_per_s'])} req/s)"
    ratio = _ratio(batch["transfers_per_s"], ceiling["transfers_per_s"]) if ceiling else 0.0
    if name == "postgres":
        target, met = f">= {BATCH_TARGET_PG:,} transfers/s", _met(batch["transfers_per_s"] >= BATCH_TARGET_PG)
    else:
        target, met = f">= {BATCH_TARGET} x ceiling", _met(ratio >= BATCH_TARGET)
    label = f"batch of 1,000 ({batch['clients']} clients)"
    return _row(name, workers, label, throughput, batch, f"{ratio:.2f} x ceiling", target, met)


def _single_row(name: str, workers: int, single: dict, floor: dict | None) -> list[str]:
    """Single transfers against the floor; p99 too where the issue sets it (PostgreSQL, 2 workers)."""
    value = _ratio(single["requests_per_s"], floor["requests_per_s"]) if floor else 0.0
    target, ok = f">= {SINGLE_TARGET} x floor", value >= SINGLE_TARGET
    if (name, workers) == SINGLE_TARGET_WHERE:
        p99 = single["p99_ms"]
        target += f", p99 < {SINGLE_TARGET_P99_MS} ms"
        ok = ok and p99 is not None and p99 < SINGLE_TARGET_P99_MS
    label = f"single ({single['clients']} clients)"
    return _row(
        name, workers, label, f"{_n(single['requests_per_s'])} req/s", single, f"{value:.2f} x floor", target, _met(ok)
    )


def _against(name, workers, label, throughput, result, value: float | None, of: str, target: float) -> list[str]:
    """A row whose target is a ratio to another path of the same run (none when that
    path was not run)."""
    if value is None:
        return _row(name, workers, label, throughput, result)
    ratio, wanted = f"{value:.2f} x {of}", f">= {target} x {of}"
    return _row(name, workers, label, throughput, result, ratio, wanted, _met(value >= target))


def _transfer_rows(name: str, workers: int, paths: dict, ceiling: dict | None) -> list[list[str]]:
    """floor, batch, single, hot, sendPayment and pacs.008, each against its target."""
    floor, batch, single, hot, payment, pacs008 = (
        paths.get(path) for path in ("floor", "batch", "single", "hot", "payment", "pacs008")
    )
    rows = []
    if floor:
        rows.append(
            _row(name, workers, f"floor ({floor['clients']} clients)", f"{_n(floor['requests_per_s'])} req/s", floor)
        )
    if batch:
        rows.append(_batch_row(name, workers, batch, ceiling))
    if single:
        rows.append(_single_row(name, workers, single, floor))
    if hot:
        value = _ratio(hot["requests_per_s"], single["requests_per_s"]) if single else None
        label = f"hot account ({hot['clients']} clients)"
        rows.append(
            _against(name, workers, label, f"{_n(hot['requests_per_s'])} req/s", hot, value, "single", HOT_TARGET)
        )
    if payment:
        value = _ratio(payment["requests_per_s"], single["requests_per_s"]) if single else None
        label, throughput = (
            f"sendPayment, RTGS ({payment['clients']} clients)",
            f"{_n(payment['requests_per_s'])} req/s",
        )
        rows.append(_against(name, workers, label, throughput, payment, value, "single", PAYMENT_TARGET))
    if pacs008:
        value = _ratio(pacs008["payments_per_s"], batch["transfers_per_s"]) if batch else None
        throughput = f"{_n(pacs008['payments_per_s'])} payments/s ({_n(pacs008['requests_per_s'])} req/s)"
        label = f"pacs.008 of 1,000 ({pacs008['clients']} clients)"
        rows.append(_against(name, workers, label, throughput, pacs008, value, "batch", PACS008_TARGET))
    return rows


def engine_rows(engine: dict) -> list[list[str]]:
    """The table's rows for one engine: the ceiling (when measured), then each worker
    count's paths (those that were run)."""
    name, ceiling = engine["engine"], engine["ceiling"]
    rows = []
    if ceiling is not None:
        rows.append(_row(name, "-", "ceiling: Core in-process", f"{_n(ceiling['transfers_per_s'])} transfers/s"))
    if engine.get("obligations"):
        rows.extend(_obligation_rows(name, engine["obligations"]))
    for workers, paths in engine["runs"].items():
        rows.extend(_transfer_rows(name, workers, paths, ceiling))
        for path in CARD_PATHS:
            if path in paths:
                rows.extend(_card_rows(name, workers, path, paths[path], paths.get("single")))
        for path in READ_PATHS:
            if path in paths:
                rows.append(_read_row(name, workers, path, paths[path], paths.get("floor")))
        if "settlement" in paths:
            rows.extend(_settlement_rows(name, workers, paths["settlement"], paths.get("floor")))
        if "analytics" in paths:
            rows.extend(_analytics_rows(name, workers, paths["analytics"]))
    return rows


HEADER = [
    "engine",
    "workers",
    "path",
    "throughput",
    "p50 ms",
    "p99 ms",
    "failures",
    "client CPU",
    "ratio",
    "target",
    "met",
]


def table(engines: list[dict]) -> str:
    rows = [HEADER] + [row for engine in engines for row in engine_rows(engine)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    return "\n".join([line(rows[0]), separator, *(line(row) for row in rows[1:])])


def failure_details(engines: list[dict]) -> list[str]:
    lines = []
    for engine in engines:
        for reason, count in sorted((engine.get("obligations") or {}).get("failures", {}).items()):
            lines.append(f"- {engine['engine']}, in-process, card obligations: {reason} x {count:,}")
        for workers, paths in engine["runs"].items():
            for path, result in paths.items():
                for reason, count in sorted(result["failures"].items()):
                    lines.append(f"- {engine['engine']}, {workers} worker(s), {path}: {reason} x {count:,}")
    return lines


def server_log_details(engines: list[dict]) -> list[str]:
    """What the server logged during each path: retried transactions and errors."""
    lines = []
    for engine in engines:
        for workers, paths in engine["runs"].items():
            for path, result in paths.items():
                log = result.get("server_log")
                if not log or not (log["retries"] or log["errors"] or log["tracebacks"]):
                    continue
                retries = ", ".join(f"{name} x {count:,}" for name, count in sorted(log["retries"].items()))
                parts = [f"transactions retried after {retries}"] if retries else []
                if log["errors"] or log["tracebacks"]:
                    parts.append(f"{log['errors']:,} ERROR lines, {log['tracebacks']:,} tracebacks")
                lines.append(f"- {engine['engine']}, {workers} worker(s), {path}: {'; '.join(parts)}")
                lines.extend(f"  - `{example}`" for example in log["examples"])
    return lines


def markdown(
    started: dt.datetime,
    machine: list[tuple[str, str]],
    parameters: list[tuple[str, str]],
    engines: list[dict],
    notes: list[str],
) -> str:
    parts = [f"# Corridor benchmark, {started:%Y-%m-%d %H:%M:%S} UTC", "", "## Machine", ""]
    parts += ["| | |", "|---|---|", *(f"| {key} | {value} |" for key, value in machine), ""]
    parts += ["## Parameters", "", *(f"- {key}: {value}" for key, value in parameters), ""]
    parts += ["## Results", ""]
    parts += [table(engines) if engines else "No engine was measured.", ""]
    failures = failure_details(engines)
    parts += ["Failures (not counted in the figures):", "", *failures, ""] if failures else ["No failures.", ""]
    logged = server_log_details(engines)
    if logged:
        parts += ["The server's log during the measurements (warm-ups included):", "", *logged, ""]
    else:
        parts += ["The server logged no retried transaction and no error during the measurements.", ""]
    parts += [*(f"- {note}" for note in notes), ""] if notes else []
    parts += [
        "## How to read it",
        "",
        "- ceiling: 1,000-transfer batches written in-process by plain SQLAlchemy Core (one executemany INSERT,",
        "  one UPDATE per touched account, one transaction), no HTTP, no GraphQL; once per engine.",
        "- floor: `{ __typename }` over HTTP with the API key: HTTP, authentication and GraphQL, no database.",
        "- batch: createTransfers with 1,000 transfers of 0.01 RUB between random distinct customer accounts",
        "  (1,000 accounts), 2 x workers clients; only transfers created without errors count.",
        "- single: one such transfer per request, 32 clients, ratio = req/s / floor req/s of the same worker count.",
        "  hot: the same, every transfer debiting one account.",
        "- sendPayment, RTGS: sendPayment of 0.01 RUB on the RTGS network BENCHRTGS, one payment per request,",
        "  32 clients, from a random customer account to a random customer account of another of the 4 banks",
        "  (the sender holds the debtor account, the receiver the creditor account); each payment also moves",
        "  0.01 RUB from the sender's SETTLEMENT account to the receiver's (4 SETTLEMENT accounts in all).",
        "  A request counts when its payment comes back SETTLED without errors. ratio = req/s / single req/s.",
        "- pacs.008 of 1,000: submitIso20022 with a pacs.008.001.08 of 1,000 such transactions (fresh UETRs,",
        "  ClrSys/Prtry BENCHRTGS), 2 x workers clients; only SETTLED payments count, a request when all 1,000",
        "  did and its errors are empty. ratio = payments/s / batch transfers/s of the same worker count.",
        "- accounts: institution(bic:) { accounts(first: 100) } of Sberbank, each account's id, name, currency",
        "  code, four balance columns and owner's name and BIC, 32 clients; transfers: node(id:) { ... on Account",
        "  { transfers(first: 50) } } of an account with 120 transfers, each one's id, amount, state, createdAt",
        "  and both accounts' id and name, 32 clients. A request counts when the whole page came back.",
        "  ratio = req/s / floor req/s of the same worker count.",
        "- card: payments of 1.00 RUB by Mir cards at a Moscow merchant (MIR, DOMESTIC, one hold), each",
        "  authorizePayment then capturePayment (in full), 32 clients each with a card of its own (its own RUB",
        "  account); card_fx: 10.00 CNY at a Shanghai merchant (UNIONPAY), INTERSCHEME over MIR -> UNIONPAY (fee",
        "  0.05 CNY) and converted from RUB by the FX provider (three holds). A payment counts when the",
        "  authorization is approved with the expected route, amounts and fee and the capture reads CAPTURED.",
        "  Throughput in payments/s (and successful requests/s), ratio = payments/s / single req/s of the same",
        "  worker count; p50/p99 on the scenario's row are of whole payments (both requests), then one row per",
        "  request. Every payment of one scenario credits the same merchant account (and in card_fx debits the",
        "  same FX position and credits the same fee account).",
        "- settlement: 100,000 obligations between the 4 banks (random pairs, 0.01-1,000.00 RUB) written",
        "  straight into the OPEN BENCHNET/RUB window (a DEFERRED_NET network) with SQLAlchemy Core: setup, not",
        "  measured. Then, through the server, one closeSettlementWindow (positions in one aggregate statement,",
        "  figures fixed, the next window opened; counts when CLOSED with the expected count, gross and net",
        "  value) and one settleSettlementWindow (each net payer's RUB SETTLEMENT account to the operator's pool,",
        "  the pool to each net receiver, in one transaction; counts when SETTLED with one transfer per non-zero",
        "  position). Each is one request's wall time (p50 column), ratio = that time / floor p50 of the same",
        "  server. Each worker count closes and settles a window of its own.",
        "- analytics: 100,000 SETTLED interbank payments RU<->CN (40% RUB, 35% CNY, 25% USD, 0.01-10,000.00)",
        "  at random times of the last 365 days, with weekly rates of USDRUB, USDCNY and CNYRUB, written once",
        "  with SQLAlchemy Core (setup, not measured). Then, one request at a time on one connection,",
        "  corridorStats(RU, CN), corridorSeries(RU, CN) by MONTH and currencyShares over the last 395 days in",
        "  USD, 5 each after a warm-up (p50 column), beside 50 floor requests on the same connection; ratio =",
        "  p50 / floor p50. Counts when the figures cover every payment written.",
        "- card obligations (once per engine, no server running): card payments as in card (1.00 RUB, Moscow",
        "  merchant) made in-process by calling authorize_payment and capture_payment in a write transaction",
        "  each, as the server does; only VTB cards (the acquirer is Sberbank), so every capture records one",
        "  obligation. record_obligations (and the scheme lookup made for it) is wrapped by a timer; in",
        "  alternating blocks of 20 payments it is skipped. First row: time inside it per payment (p50/p99),",
        "  ratio = that time / (authorize + capture time without it), target <= 0.2. Second: the capture",
        "  transaction's times, ratio = obligation time / capture without it. Third: payments without",
        "  obligations, ratio = mean payment with / mean payment without - 1 (A/B). No HTTP or GraphQL here, so",
        "  a served payment costs more and its share is smaller than these.",
        "- The load generator is one Python process (asyncio, a minimal HTTP/1.1 keep-alive client) on the same",
        "  machine, so it takes CPU from the server (client CPU: its share of one core). Latencies are per",
        "  request, p50/p99 by nearest rank.",
        "",
    ]
    return "\n".join(parts)


def save(started: dt.datetime, text: str) -> Path:
    """Write the report to bench/results/<UTC time>.md (through a .tmp file, then renamed)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{started:%Y%m%dT%H%M%SZ}.md"
    partial = path.with_suffix(".md.tmp")
    partial.write_text(text)
    partial.replace(path)
    return path
