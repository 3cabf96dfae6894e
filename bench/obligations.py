"""What recording obligations adds to a card payment, in-process.

The server cannot be run with obligations switched off (that would be a change to the
service), and a served payment's cost is mostly HTTP and GraphQL, so the difference
between two HTTP runs would drown in noise. Instead, with no server running, this
module makes the `card` scenario's payments (1.00 RUB at the Moscow merchant) by calling
the resolvers the server calls, in the transactions the server opens for a request
that arrives alone (the card group commit's group of one, corridor/batcher.py: the
engine and sessions of corridor.db with the server's settings, the operator's
principal): `resolvers.cards.authorize_payment`, committed, then
`resolvers.cards.capture_payment`, committed. (Under load the server writes many such
requests per transaction, obligations recorded once per scheme for the group, so a
served payment's share is smaller still.) Only the cards issued by VTB pay (the merchant's acquirer is Sberbank), so
every capture posts a leg between two institutions and records an obligation in the
MIR/RUB window: the cost measured is the whole of it (the account owners' lookup, the
OPEN window FOR SHARE on PostgreSQL, the insert), never the same-bank shortcut.

For the measurement, `resolvers.settlement.record_obligations` (and the scheme-code
lookup capture_payment makes for it, `resolvers.cards.lifecycle._scheme_code`) are
wrapped, in this process only, by a timer that can also skip them. Payments run in
alternating blocks of BLOCK: "on" blocks record obligations and time them, "off" blocks
skip them (so no obligation). After an uncounted warm-up:

- share of a payment = time inside the obligation code / (authorize + capture time
  without it), over the "on" payments: the target is at most 0.2;
- share of the capture = the same over the capture transaction alone (no target);
- A/B = mean "on" payment / mean "off" payment - 1: a cross-check that includes what
  the timer cannot see (e.g. a larger commit).

In-process there is no HTTP, authentication or GraphQL, so a payment here is cheaper
than a served one and these shares are upper bounds of the share in a served payment.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid
from decimal import Decimal

import resolvers.cards.lifecycle as lifecycle
import resolvers.settlement as settlement
from bench import prepare
from bench.load import latency
from corridor.db import WRITE_OPTION, create_engine, session_factory
from corridor.settings import Settings
from models.cards import AuthorizationState
from resolvers import cards
from resolvers.access import SYSTEM
from schema.base import parse_global_id

BLOCK = 20  # payments per block, alternating on and off
TARGET = 0.2  # at most this share of a payment
MAX_PAYMENTS = 1_000_000  # a bound on the loop besides its deadline


class Switch:
    """The timing wrapper's state: whether obligations are recorded, the time spent in them."""

    def __init__(self) -> None:
        self.on = True
        self.spent = 0.0  # seconds inside the wrapped functions since the last `take`
        self.recorded = 0  # obligations recorded

    def take(self) -> float:
        spent, self.spent = self.spent, 0.0
        return spent


def _wrap(switch: Switch):
    """Install the wrappers; a function that removes them."""
    record, scheme_code = settlement.record_obligations, lifecycle._scheme_code

    async def timed_record(session, scope, legs, *, now):
        if not switch.on:
            return 0
        start = time.perf_counter()
        try:
            count = await record(session, scope, legs, now=now)
        finally:
            switch.spent += time.perf_counter() - start
        switch.recorded += count
        return count

    async def timed_scheme_code(session, row):
        if not switch.on:
            return ""  # unused: the wrapped record_obligations skips
        start = time.perf_counter()
        try:
            return await scheme_code(session, row)
        finally:
            switch.spent += time.perf_counter() - start

    settlement.record_obligations, lifecycle._scheme_code = timed_record, timed_scheme_code

    def unwrap() -> None:
        settlement.record_obligations, lifecycle._scheme_code = record, scheme_code

    return unwrap


async def _write(sessions, work):
    """`work(session)` in a write transaction of its own, committed: (result, seconds)."""
    start = time.perf_counter()
    async with sessions() as session:
        await session.connection(execution_options={WRITE_OPTION: True})
        result = await work(session)
        await session.commit()
    return result, time.perf_counter() - start


async def measure(database_url: str, card_world: dict, seconds: float, warmup: float) -> dict:
    """Card payments for `warmup` (uncounted) then `seconds`, obligations on and off in turn."""
    settings = dataclasses.replace(Settings.from_env(), database_url=database_url)
    engine = create_engine(settings)
    sessions = session_factory(engine)
    payment = card_world["payments"]["card"]
    kind, merchant = parse_global_id(payment["merchant"])
    assert kind == "Merchant", payment["merchant"]
    acquirer = prepare.BANKS[0][1]  # Sberbank acquires for the Moscow merchant
    pans = [pan for n, pan in enumerate(card_world["pans"]) if prepare.CARD_ISSUERS[n % 2] != acquirer]
    switch = Switch()
    samples = {True: [], False: []}  # on/off -> (authorize s, capture s, obligations s)
    failures: dict[str, int] = {}

    async def pay(pan: str) -> tuple[float, float, float] | None:
        request = cards.AuthorizeRequest(
            authorization_id=uuid.uuid4(),
            merchant_id=int(merchant),
            pan=pan,
            expiry_month=card_world["expiry_month"],
            expiry_year=card_world["expiry_year"],
            amount=Decimal(payment["amount"]),
            currency=payment["currency"],
        )

        def authorize(session):
            return cards.authorize_payment(
                session,
                SYSTEM,
                request,
                secret=settings.secret,
                hold_seconds=settings.card_hold_seconds,
                now=dt.datetime.now(dt.UTC),
            )

        row, authorized = await _write(sessions, authorize)
        if row.state is not AuthorizationState.APPROVED:
            reason = f"authorization {row.state.value} {row.response_code}"
            failures[reason] = failures.get(reason, 0) + 1
            return None
        switch.take()

        def capture(session):
            return cards.capture_payment(session, SYSTEM, request.authorization_id, None, now=dt.datetime.now(dt.UTC))

        row, captured = await _write(sessions, capture)
        inside = switch.take()
        if row.state is not AuthorizationState.CAPTURED:
            reason = f"capture {row.state.value}"
            failures[reason] = failures.get(reason, 0) + 1
            return None
        return authorized, captured, inside

    async def run(duration: float, keep: bool) -> int:
        deadline = time.perf_counter() + duration
        made = 0
        for number in range(MAX_PAYMENTS):
            if time.perf_counter() >= deadline:
                break
            switch.on = (number // BLOCK) % 2 == 0
            sample = await pay(pans[number % len(pans)])
            if sample is not None and keep:
                samples[switch.on].append(sample)
            made += 1
        return made

    unwrap = _wrap(switch)
    try:
        await run(warmup, keep=False)
        recorded_before = switch.recorded
        start = time.perf_counter()
        await run(seconds, keep=True)
        elapsed = time.perf_counter() - start
        recorded = switch.recorded - recorded_before
    finally:
        unwrap()
        await engine.dispose()

    on, off = samples[True], samples[False]
    if on and not recorded:
        failures["no obligation recorded: capture_payment no longer calls resolvers.settlement.record_obligations"] = 1
    inside = sum(o for _, _, o in on)
    payment_without = sum(a + c for a, c, _ in on) - inside
    capture_without = sum(c for _, c, _ in on) - inside

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    mean_on, mean_off = mean([a + c for a, c, _ in on]), mean([a + c for a, c, _ in off])
    return {
        "scenario": "obligations",
        "elapsed": elapsed,
        "payments_on": len(on),
        "payments_off": len(off),
        "obligations": recorded,
        "obligation_ms": latency([o for _, _, o in on]),
        "payment_on_ms": latency([a + c for a, c, _ in on]),
        "payment_off_ms": latency([a + c for a, c, _ in off]),
        "capture_on_ms": latency([c for _, c, _ in on]),
        "mean_obligation_ms": None if not on else inside / len(on) * 1000,
        "mean_payment_on_ms": None if mean_on is None else mean_on * 1000,
        "mean_payment_off_ms": None if mean_off is None else mean_off * 1000,
        "share_of_payment": inside / payment_without if payment_without > 0 else None,
        "share_of_capture": inside / capture_without if capture_without > 0 else None,
        "ab": None if not (mean_on and mean_off) else mean_on / mean_off - 1,
        "failures": failures,
    }
