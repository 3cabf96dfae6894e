"""The load generator: one scenario against a running server, in a process of its own.

It runs apart from the orchestrator so that it never shares an event loop (or a
GIL) with anything else: `run()` starts `python -m bench.load`, hands it a JSON
config on stdin and reads one JSON result from its stdout.

Scenarios (closed loop: each client holds one keep-alive connection and sends its
next request when the previous answer has arrived):

- floor:  `{ __typename }`, what HTTP + authentication + GraphQL cost with no resolver
          and no database; requests/s, p50, p99.
- batch:  createTransfers with 1,000 transfers of 0.01 RUB between random distinct
          customer accounts; transfers/s and requests/s.
- single: createTransfers with one such transfer per request; requests/s, p50, p99.
- hot:    the single path, but every transfer debits the one hot account (and credits a
          random customer account): all writers contend for one row.

Every request body is built with json.dumps, with fresh uuid4 transferIds. A request
counts only when it is answered 200 without GraphQL errors and every transfer in it
was created without errors; a transfer counts only when it was created without
errors. The data is set up so that no transfer should fail, so every error is a
failure, counted by its code. A warm-up (not counted) comes first, on the same
connections.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.client import Connection, HTTPError

MUTATION = "mutation($t: [TransferInput!]!) { createTransfers(transfers: $t) { results { created errors { code } } } }"
FLOOR_BODY = json.dumps({"query": "{ __typename }"}).encode()
BATCH_SIZE = 1000
AMOUNT = "0.01"
CURRENCY = "RUB"
SCENARIOS = ("floor", "batch", "single", "hot")

REQUEST_TIMEOUT = 30.0  # seconds; a request taking longer is a failure
MAX_REQUESTS_PER_CLIENT = 10_000_000  # a bound on every client loop besides its deadline
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Tally:
    requests: int = 0  # answered 200, no GraphQL errors, every transfer created
    transfers: int = 0  # created without errors
    failures: Counter = field(default_factory=Counter)  # reason -> count
    latencies: list[float] = field(default_factory=list)  # seconds, every answered request


def _transfer(debit: str, credit: str) -> dict:
    return {
        "transferId": str(uuid.uuid4()),
        "debitAccountId": debit,
        "creditAccountId": credit,
        "amount": AMOUNT,
        "currency": CURRENCY,
    }


def _transfers_body(transfers: list[dict]) -> bytes:
    return json.dumps({"query": MUTATION, "variables": {"t": transfers}}).encode()


def body_maker(config: dict):
    """A function that returns the next request body for the config's scenario."""
    scenario, customers, hot = config["scenario"], config["customers"], config["hot"]
    count = len(customers)

    def distinct_pair() -> tuple[str, str]:
        debit, credit = random.randrange(count), random.randrange(count - 1)
        return customers[debit], customers[credit + (credit >= debit)]

    if scenario == "floor":
        return lambda: FLOOR_BODY
    if scenario == "batch":
        return lambda: _transfers_body([_transfer(*distinct_pair()) for _ in range(BATCH_SIZE)])
    if scenario == "single":
        return lambda: _transfers_body([_transfer(*distinct_pair())])
    if scenario == "hot":
        return lambda: _transfers_body([_transfer(hot, random.choice(customers))])
    raise ValueError(f"unknown scenario {scenario!r}")


def check(scenario: str, status: int, body: bytes, tally: Tally) -> None:
    """Count one answer: a good request, its created transfers, or what failed."""
    if status != 200:
        tally.failures[f"HTTP {status}"] += 1
        return
    try:
        document = json.loads(body)
    except ValueError:
        tally.failures["response is not JSON"] += 1
        return
    if document.get("errors"):
        first = document["errors"][0]
        code = (first.get("extensions") or {}).get("code") or first.get("message", "?")[:60]
        tally.failures[f"GraphQL error: {code}"] += 1
        return
    if scenario == "floor":
        tally.requests += 1
        return
    all_created = True
    for result in document["data"]["createTransfers"]["results"]:
        if result["errors"]:
            all_created = False
            for error in result["errors"]:
                tally.failures[error["code"]] += 1
        elif not result["created"]:
            all_created = False
            tally.failures["not created (a replay)"] += 1
        else:
            tally.transfers += 1
    if all_created:
        tally.requests += 1


async def client(connection: Connection, scenario: str, next_body, deadline: float, tally: Tally) -> None:
    for _ in range(MAX_REQUESTS_PER_CLIENT):
        if time.perf_counter() >= deadline:
            return
        body = next_body()
        start = time.perf_counter()
        try:
            status, answer = await asyncio.wait_for(connection.post_graphql(body), REQUEST_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, HTTPError, TimeoutError) as error:
            tally.failures[f"transport: {type(error).__name__}"] += 1
            await asyncio.sleep(0.05)  # do not spin against a server that is gone
            continue
        tally.latencies.append(time.perf_counter() - start)
        check(scenario, status, answer, tally)


async def phase(connections: list[Connection], config: dict, seconds: float) -> tuple[Tally, float]:
    """All clients for `seconds`: the tally and the elapsed time (until the last answer)."""
    tally = Tally()
    next_body = body_maker(config)
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(*(client(c, config["scenario"], next_body, deadline, tally) for c in connections))
    return tally, time.perf_counter() - start


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values, or None when there are none."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def measure(config: dict) -> dict:
    connections = [Connection(config["port"], config["secret"]) for _ in range(config["clients"])]
    try:
        if config["warmup"] > 0:
            await phase(connections, config, config["warmup"])
        cpu_start = time.process_time()
        tally, elapsed = await phase(connections, config, config["seconds"])
        client_cpu = time.process_time() - cpu_start
    finally:
        for connection in connections:
            connection.close()
    latencies = sorted(tally.latencies)
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    return {
        "scenario": config["scenario"],
        "clients": config["clients"],
        "elapsed": elapsed,
        "requests": tally.requests,
        "transfers": tally.transfers,
        "requests_per_s": tally.requests / elapsed,
        "transfers_per_s": tally.transfers / elapsed,
        "p50_ms": None if p50 is None else p50 * 1000,
        "p99_ms": None if p99 is None else p99 * 1000,
        "failures": dict(tally.failures),
        "client_cpu": client_cpu / elapsed,  # the load generator's CPU, in cores
    }


def run(config: dict) -> dict:
    """Run one scenario in a new process (`python -m bench.load`) and return its result."""
    limit = config["warmup"] + config["seconds"] + REQUEST_TIMEOUT + 60
    finished = subprocess.run(
        [sys.executable, "-m", "bench.load"],
        input=json.dumps(config),
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        timeout=limit,
        check=True,
    )
    return json.loads(finished.stdout.strip().splitlines()[-1])


def main() -> None:
    config = json.load(sys.stdin)
    if config["scenario"] not in SCENARIOS:
        raise SystemExit(f"unknown scenario {config['scenario']!r}")
    try:
        import uvloop  # installed with uvicorn[standard]; a lighter event loop for the client

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(measure(config))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
