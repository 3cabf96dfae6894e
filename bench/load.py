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
- card:   card payments, each two requests: authorizePayment of 1.00 RUB with a Mir card
          at the Moscow merchant (MIR, RUB: DOMESTIC, one hold), then, once it is
          approved, capturePayment of it in full; payments/s, p50 and p99 of a payment
          (both requests) and of each request.
- card_fx: the same at the Shanghai merchant (UNIONPAY, CNY), 10.00 CNY: INTERSCHEME
          through the MIR -> UNIONPAY link, converted from the card's RUB by the FX
          provider, with the link's fee.
- payment: sendPayment, one interbank payment of 0.01 RUB per request on the RTGS
          network BENCHRTGS (same currency: no FX), from a random customer account to
          a random customer account of another bank (the sender is the debtor
          account's bank, the receiver the creditor account's); requests/s, p50, p99.
- pacs008: submitIso20022 with a pacs.008.001.08 document of 1,000 such credit
          transfer transactions (ClrSys/Prtry BENCHRTGS); payments/s (transactions)
          and requests/s.
- accounts: a read a frontend makes all day: a page of 100 accounts of one bank
          (institution(bic:) { accounts(first: 100) }), each with its id, name, currency
          code, the four balance columns and its owner's name and BIC; requests/s, p50, p99.
- transfers: another: an account's 50 latest transfers (node(id:) { ... on Account {
          transfers(first: 50) } }), each with its id, amount, state, time and both
          accounts' names; requests/s, p50, p99.

Every request body is built with json.dumps, with fresh uuid4 transferIds (and
authorizationIds, UETRs); the pacs.008 text is built by string joins, every value
XML-escaped. A request counts only when it is answered 200 without GraphQL errors and
every transfer in it was created without errors; a transfer counts only when it was
created without errors. An interbank payment counts only when it comes back SETTLED,
a sendPayment request only when its payment did and it has no errors, a pacs.008
request only when all 1,000 payments did and its errors are empty. A read (accounts,
transfers) counts only when it returns the whole page (100 accounts, each held by the
bank asked for, with every balance; 50 transfers, each touching the account asked for,
with both names). In the card scenarios each client pays with a
card of its own (bench.prepare: one card per client, each on its own well-funded
account); an authorization counts only when it is approved with the expected route,
amounts and fee, a capture only when it reads CAPTURED for the whole amount, and a
payment only when both did. The data is set up so that nothing should fail or be
declined, so every error or decline is a failure, counted by its code. A warm-up (not
counted) comes first, on the same connections.
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
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from bench.client import Connection, HTTPError

MUTATION = "mutation($t: [TransferInput!]!) { createTransfers(transfers: $t) { results { created errors { code } } } }"
FLOOR_BODY = json.dumps({"query": "{ __typename }"}).encode()
BATCH_SIZE = 1000
AMOUNT = "0.01"
CURRENCY = "RUB"
SCENARIOS = ("floor", "batch", "single", "hot", "card", "card_fx", "payment", "pacs008", "accounts", "transfers")
CARD_SCENARIOS = ("card", "card_fx")
PAYMENT_SCENARIOS = ("payment", "pacs008")
READ_SCENARIOS = ("accounts", "transfers")
ACCOUNTS_PAGE = 100
TRANSFERS_PAGE = 50
ACCOUNTS_QUERY = (
    "query($bic: String!, $first: Int!) { institution(bic: $bic) { accounts(first: $first) { edges { node {"
    " id name currency { code } debitsPending debitsPosted creditsPending creditsPosted owner { name bic } } } } } }"
)
TRANSFERS_QUERY = (
    "query($id: ID!, $first: Int!) { node(id: $id) { ... on Account { transfers(first: $first) { edges { node {"
    " id amount { amount currency } state createdAt debitAccount { id name } creditAccount { id name } } } } } } }"
)
PACS008_SIZE = 1000  # credit transfer transactions in each pacs008 document
SEND_PAYMENT = (
    "mutation($input: SendPaymentInput!) { sendPayment(input: $input) {"
    " payment { status reasonCode } errors { code } } }"
)
SUBMIT_ISO20022 = (
    "mutation($xml: String!) { submitIso20022(xml: $xml) { payments { status reasonCode } errors { code } } }"
)
PACS008_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"
AUTHORIZE = (
    "mutation($input: AuthorizeInput!) { authorizePayment(input: $input) { authorization { responseCode"
    " declineReason state route amount { amount currency } cardholderAmount { amount currency } fee { amount } }"
    " errors { code } } }"
)
CAPTURE = (
    "mutation($id: UUID!) { capturePayment(authorizationId: $id) {"
    " authorization { state capturedAmount { amount currency } } errors { code } } }"
)
STEPS = ("authorizePayment", "capturePayment")

REQUEST_TIMEOUT = 30.0  # seconds; a request taking longer is a failure
CONNECT_PAUSE = 0.005  # seconds between opening one connection and the next
MAX_REQUESTS_PER_CLIENT = 10_000_000  # a bound on every client loop besides its deadline
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Step:
    """One kind of request of a card payment."""

    requests: int = 0  # answered 200, no GraphQL errors, the expected outcome
    failures: Counter = field(default_factory=Counter)  # reason -> count
    latencies: list[float] = field(default_factory=list)  # seconds, every answered request


@dataclass
class Tally:
    requests: int = 0  # answered 200, no GraphQL errors, every transfer created (card: the expected outcome)
    transfers: int = 0  # created without errors
    failures: Counter = field(default_factory=Counter)  # reason -> count
    latencies: list[float] = field(default_factory=list)  # seconds, every answered request (card: every payment)
    payments: int = 0  # card: authorized and captured as expected; payment, pacs008: SETTLED
    steps: dict[str, Step] = field(default_factory=lambda: {name: Step() for name in STEPS})


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


# ---------------------------------------------------------------- interbank payments


def payment_pair_maker(holders: dict[str, list[str]]):
    """A function that returns a random (sender BIC, receiver BIC, debtor, creditor): the
    debtor a random customer account, the sender its bank, the creditor a random customer
    account of another bank, the receiver that bank."""
    owned = [(bic, account) for bic, accounts in holders.items() for account in accounts]
    banks = [bic for bic, accounts in holders.items() if accounts]
    if len(banks) < 2:
        raise ValueError("interbank payments need customer accounts at two banks at least")

    def pair() -> tuple[str, str, str, str]:
        sender, debtor = random.choice(owned)
        receiver = random.choice(banks[:-1])
        if receiver == sender:
            receiver = banks[-1]
        return sender, receiver, debtor, random.choice(holders[receiver])

    return pair


def _payment_body(network: dict, pair: tuple[str, str, str, str]) -> bytes:
    sender, receiver, debtor, creditor = pair
    payment = {
        "uetr": str(uuid.uuid4()),
        "networkCode": network["network"],
        "senderBic": sender,
        "receiverBic": receiver,
        "debtorAccountId": debtor,
        "creditorAccountId": creditor,
        "amount": network["amount"],
        "currency": network["currency"],
    }
    return json.dumps({"query": SEND_PAYMENT, "variables": {"input": payment}}).encode()


def _agent(name: str, bic: str) -> str:
    return f"<{name}><FinInstnId><BICFI>{escape(bic)}</BICFI></FinInstnId></{name}>"


def _account_element(name: str, account: str) -> str:
    return f"<{name}><Id><Othr><Id>{escape(account)}</Id></Othr></Id></{name}>"


def pacs008_document(network: dict, pairs: list[tuple[str, str, str, str]]) -> str:
    """A pacs.008.001.08 (CBPR+-shaped, elements in the XSD's order) with one CdtTrfTxInf
    per (sender BIC, receiver BIC, debtor, creditor), each with a fresh uuid4 UETR."""
    now = datetime.now(UTC)
    amount = (
        f"<IntrBkSttlmAmt Ccy={quoteattr(network['currency'])}>{escape(network['amount'])}</IntrBkSttlmAmt>"
        f"<IntrBkSttlmDt>{now:%Y-%m-%d}</IntrBkSttlmDt><ChrgBr>SHAR</ChrgBr>"
    )
    transactions = [
        "<CdtTrfTxInf>"
        f"<PmtId><EndToEndId>BENCH-{k}</EndToEndId><UETR>{uuid.uuid4()}</UETR></PmtId>"
        f"{amount}{_agent('InstgAgt', sender)}{_agent('InstdAgt', receiver)}"
        f"<Dbtr/>{_account_element('DbtrAcct', debtor)}{_agent('DbtrAgt', sender)}"
        f"{_agent('CdtrAgt', receiver)}<Cdtr/>{_account_element('CdtrAcct', creditor)}"
        "</CdtTrfTxInf>"
        for k, (sender, receiver, debtor, creditor) in enumerate(pairs)
    ]
    header = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{PACS008_NAMESPACE}"><FIToFICstmrCdtTrf><GrpHdr>'
        f"<MsgId>{uuid.uuid4().hex}</MsgId><CreDtTm>{now.isoformat(timespec='seconds')}</CreDtTm>"
        f"<NbOfTxs>{len(pairs)}</NbOfTxs><SttlmInf><SttlmMtd>CLRG</SttlmMtd>"
        f"<ClrSys><Prtry>{escape(network['network'])}</Prtry></ClrSys></SttlmInf></GrpHdr>"
    )
    return "".join([header, *transactions, "</FIToFICstmrCdtTrf></Document>"])


def _pacs008_body(network: dict, pairs: list[tuple[str, str, str, str]]) -> bytes:
    return json.dumps({"query": SUBMIT_ISO20022, "variables": {"xml": pacs008_document(network, pairs)}}).encode()


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
    if scenario in READ_SCENARIOS:
        reads = config["reads"]
        if scenario == "accounts":
            request = {"query": ACCOUNTS_QUERY, "variables": {"bic": reads["bic"], "first": ACCOUNTS_PAGE}}
        else:
            request = {"query": TRANSFERS_QUERY, "variables": {"id": reads["account"], "first": TRANSFERS_PAGE}}
        body = json.dumps(request).encode()
        return lambda: body
    if scenario in PAYMENT_SCENARIOS:
        network = config["payments"]
        pair = payment_pair_maker(network["holders"])
        if scenario == "payment":
            return lambda: _payment_body(network, pair())
        return lambda: _pacs008_body(network, [pair() for _ in range(PACS008_SIZE)])
    raise ValueError(f"unknown scenario {scenario!r}")


def graphql_data(status: int, body: bytes, failures: Counter) -> dict | None:
    """The answer's data, or None having counted why there is none (not 200, not JSON,
    GraphQL errors)."""
    if status != 200:
        failures[f"HTTP {status}"] += 1
        return None
    try:
        document = json.loads(body)
    except ValueError:
        failures["response is not JSON"] += 1
        return None
    if document.get("errors"):
        first = document["errors"][0]
        code = (first.get("extensions") or {}).get("code") or first.get("message", "?")[:60]
        failures[f"GraphQL error: {code}"] += 1
        return None
    return document["data"]


def check(scenario: str, status: int, body: bytes, tally: Tally, config: dict | None = None) -> None:
    """Count one answer: a good request, its created transfers, or what failed."""
    data = graphql_data(status, body, tally.failures)
    if data is None:
        return
    if scenario == "floor":
        tally.requests += 1
        return
    if scenario in READ_SCENARIOS:
        problem = read_problem(scenario, data, config["reads"])
        if problem is None:
            tally.requests += 1
        else:
            tally.failures[problem] += 1
        return
    if scenario in PAYMENT_SCENARIOS:
        check_payments(scenario, data, tally)
        return
    all_created = True
    for result in data["createTransfers"]["results"]:
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


BALANCES = ("debitsPending", "debitsPosted", "creditsPending", "creditsPosted")


def _accounts_problem(data: dict, bic: str) -> str | None:
    institution = data["institution"]
    if institution is None:
        return "no institution"
    nodes = [edge["node"] for edge in institution["accounts"]["edges"]]
    if len(nodes) != ACCOUNTS_PAGE:
        return f"{len(nodes)} accounts, not {ACCOUNTS_PAGE}"
    for node in nodes:
        if node["owner"]["bic"] != bic or not node["owner"]["name"]:
            return f"an account of {node['owner']['bic']}"
        if node["currency"]["code"] != "RUB" or not node["name"] or not node["id"]:
            return "an account without its id, name or currency"
        try:
            if any(Decimal(node[column]) < 0 for column in BALANCES):
                return "a negative balance column"
        except (InvalidOperation, TypeError):
            return "a balance that is not a Decimal"
    return None


def _transfers_problem(data: dict, account: str) -> str | None:
    found = data["node"]
    if found is None:
        return "no account"
    nodes = [edge["node"] for edge in found["transfers"]["edges"]]
    if len(nodes) != TRANSFERS_PAGE:
        return f"{len(nodes)} transfers, not {TRANSFERS_PAGE}"
    for node in nodes:
        if account not in (node["debitAccount"]["id"], node["creditAccount"]["id"]):
            return "a transfer of another account"
        if not node["debitAccount"]["name"] or not node["creditAccount"]["name"]:
            return "a transfer without its accounts' names"
        if _money(node["amount"]) is None or not node["state"] or not node["createdAt"]:
            return "a transfer without its amount, state or time"
    return None


def read_problem(scenario: str, data: dict, reads: dict) -> str | None:
    """Why a read's answer is not the whole page asked for, or None."""
    if scenario == "accounts":
        return _accounts_problem(data, reads["bic"])
    return _transfers_problem(data, reads["account"])


def _settled(payment: dict | None, tally: Tally) -> bool:
    """Whether an interbank payment came back SETTLED; counts it, or why not."""
    if payment is None:
        tally.failures["no payment"] += 1
        return False
    if payment["status"] != "SETTLED":
        tally.failures[f"{payment['status']} {payment['reasonCode'] or ''}".strip()] += 1
        return False
    tally.payments += 1
    return True


def check_payments(scenario: str, data: dict, tally: Tally) -> None:
    """Count one sendPayment or submitIso20022 answer: its SETTLED payments, the request
    when every payment of it settled without errors, or what failed."""
    payload = data["sendPayment" if scenario == "payment" else "submitIso20022"]
    for error in payload["errors"]:
        tally.failures[f"error {error['code']}"] += 1
    if scenario == "payment":
        payments = [payload["payment"]]
    else:
        payments = payload["payments"]
        if len(payments) != PACS008_SIZE:
            tally.failures[f"{len(payments)} payments, not {PACS008_SIZE}"] += 1
    settled = [_settled(payment, tally) for payment in payments]
    if all(settled) and len(payments) == (1 if scenario == "payment" else PACS008_SIZE) and not payload["errors"]:
        tally.requests += 1


# ---------------------------------------------------------------- card payments


def _money(value: dict | None) -> tuple[Decimal, str] | None:
    try:
        return None if value is None else (Decimal(value["amount"]), value["currency"])
    except (InvalidOperation, KeyError, TypeError):
        return None


def _amount(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def authorization_problem(payment: dict, data: dict) -> str | None:
    """Why an authorizePayment answer is not the approval `payment` expects, or None."""
    payload = data["authorizePayment"]
    if payload["errors"]:
        return "error " + ",".join(error["code"] for error in payload["errors"])
    found = payload["authorization"]
    if found is None:
        return "no authorization"
    if found["responseCode"] != "00":
        return f"declined {found['responseCode']} ({(found['declineReason'] or '')[:80]})"
    if found["state"] != "APPROVED":
        return f"approved but {found['state']}"
    if found["route"] != payment["route"]:
        return f"route {found['route']}, not {payment['route']}"
    if _money(found["amount"]) != (Decimal(payment["amount"]), payment["currency"]):
        return f"amount {found['amount']}"
    if _money(found["cardholderAmount"]) != (Decimal(payment["cardholder"]), "RUB"):
        return f"cardholderAmount {found['cardholderAmount']}, not {payment['cardholder']} RUB"
    fee = None if found["fee"] is None else _amount(found["fee"]["amount"])
    if fee != _amount(payment["fee"]):
        return f"fee {fee}, not {payment['fee']}"
    return None


def capture_problem(payment: dict, data: dict) -> str | None:
    """Why a capturePayment answer is not the full capture `payment` expects, or None."""
    payload = data["capturePayment"]
    if payload["errors"]:
        return "error " + ",".join(error["code"] for error in payload["errors"])
    found = payload["authorization"]
    if found is None:
        return "no authorization"
    if found["state"] != "CAPTURED":
        return f"state {found['state']}"
    if _money(found["capturedAmount"]) != (Decimal(payment["amount"]), payment["currency"]):
        return f"capturedAmount {found['capturedAmount']}"
    return None


async def step(connection: Connection, name: str, body: bytes, problem, tally: Tally) -> bool:
    """Send one request of a payment and count it: whether it had the expected outcome."""
    counts = tally.steps[name]
    start = time.perf_counter()
    try:
        status, answer = await asyncio.wait_for(connection.post_graphql(body), REQUEST_TIMEOUT)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, HTTPError, TimeoutError) as error:
        counts.failures[f"transport: {type(error).__name__}"] += 1
        await asyncio.sleep(0.05)  # do not spin against a server that is gone
        return False
    counts.latencies.append(time.perf_counter() - start)
    data = graphql_data(status, answer, counts.failures)
    if data is None:
        return False
    reason = problem(data)
    if reason is not None:
        counts.failures[reason] += 1
        return False
    counts.requests += 1
    return True


async def card_client(connection: Connection, config: dict, pan: str, deadline: float, tally: Tally) -> None:
    """Pay with one card until the deadline: authorize, then capture what was approved
    (a payment begun before the deadline is finished after it)."""
    cards = config["cards"]
    payment = cards["payments"][config["scenario"]]
    fixed = {
        "merchantId": payment["merchant"],
        "pan": pan,
        "expiryMonth": cards["expiry_month"],
        "expiryYear": cards["expiry_year"],
        "amount": payment["amount"],
        "currency": payment["currency"],
    }

    def authorized(data: dict) -> str | None:
        return authorization_problem(payment, data)

    def captured(data: dict) -> str | None:
        return capture_problem(payment, data)

    for _ in range(MAX_REQUESTS_PER_CLIENT):
        if time.perf_counter() >= deadline:
            return
        key = str(uuid.uuid4())
        start = time.perf_counter()
        body = json.dumps({"query": AUTHORIZE, "variables": {"input": {"authorizationId": key, **fixed}}}).encode()
        if not await step(connection, "authorizePayment", body, authorized, tally):
            continue
        body = json.dumps({"query": CAPTURE, "variables": {"id": key}}).encode()
        if await step(connection, "capturePayment", body, captured, tally):
            tally.payments += 1
            tally.latencies.append(time.perf_counter() - start)


# ---------------------------------------------------------------- the loop


async def client(connection: Connection, config: dict, next_body, deadline: float, tally: Tally) -> None:
    scenario = config["scenario"]
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
        check(scenario, status, answer, tally, config)


async def phase(connections: list[Connection], config: dict, seconds: float) -> tuple[Tally, float]:
    """All clients for `seconds`: the tally and the elapsed time (until the last answer)."""
    tally = Tally()
    start = time.perf_counter()
    deadline = start + seconds
    if config["scenario"] in CARD_SCENARIOS:
        pans = config["cards"]["pans"]
        clients = [card_client(c, config, pans[k % len(pans)], deadline, tally) for k, c in enumerate(connections)]
    else:
        next_body = body_maker(config)
        clients = [client(c, config, next_body, deadline, tally) for c in connections]
    await asyncio.gather(*clients)
    if config["scenario"] in CARD_SCENARIOS:
        for name, counts in tally.steps.items():
            tally.requests += counts.requests
            for reason, count in counts.failures.items():
                tally.failures[f"{name}: {reason}"] += count
    return tally, time.perf_counter() - start


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values, or None when there are none."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def open_one_by_one(connections: list[Connection]) -> None:
    """Open the connections one after another, each with a floor request (not counted).

    Opened all at once, they reach the server in one burst, and the first of its workers
    to wake accepts the lot (asyncio accepts all that wait): a keep-alive connection stays
    with the worker that accepted it, so a run could measure one worker of two. One by
    one, each goes to whichever worker is waiting first."""
    for connection in connections:
        try:
            await asyncio.wait_for(connection.post_graphql(FLOOR_BODY), REQUEST_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, HTTPError, TimeoutError):
            pass  # the measurement counts what fails
        await asyncio.sleep(CONNECT_PAUSE)


async def measure(config: dict) -> dict:
    connections = [Connection(config["port"], config["secret"]) for _ in range(config["clients"])]
    try:
        await open_one_by_one(connections)
        if config["warmup"] > 0:
            await phase(connections, config, config["warmup"])
        cpu_start = time.process_time()
        tally, elapsed = await phase(connections, config, config["seconds"])
        client_cpu = time.process_time() - cpu_start
    finally:
        for connection in connections:
            connection.close()
    result = {
        "scenario": config["scenario"],
        "clients": config["clients"],
        "elapsed": elapsed,
        "requests": tally.requests,
        "transfers": tally.transfers,
        "requests_per_s": tally.requests / elapsed,
        "transfers_per_s": tally.transfers / elapsed,
        **latency(tally.latencies),
        "failures": dict(tally.failures),
        "client_cpu": client_cpu / elapsed,  # the load generator's CPU, in cores
    }
    if config["scenario"] in CARD_SCENARIOS + PAYMENT_SCENARIOS:
        result["payments"] = tally.payments
        result["payments_per_s"] = tally.payments / elapsed
    if config["scenario"] in CARD_SCENARIOS:
        result["steps"] = {
            name: {
                "requests": counts.requests,
                "requests_per_s": counts.requests / elapsed,
                **latency(counts.latencies),
                "failures": dict(counts.failures),
            }
            for name, counts in tally.steps.items()
        }
    return result


def latency(seconds: list[float]) -> dict:
    """p50_ms and p99_ms of the latencies (None when there are none)."""
    ordered = sorted(seconds)
    p50, p99 = percentile(ordered, 0.50), percentile(ordered, 0.99)
    return {"p50_ms": None if p50 is None else p50 * 1000, "p99_ms": None if p99 is None else p99 * 1000}


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
