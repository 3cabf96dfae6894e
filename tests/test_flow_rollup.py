"""The flows' rollup (resolvers/analytics/rollup.py) against the flows themselves, on
both engines: after random sequences of interbank payments (settled and rejected, in
several corridors and currencies), card captures and refunds (partial and in full),
rate publications (now, back-dated into days already rolled up, a little in the
future) and the clock moving on by minutes to days:

- the rollup holds, per corridor, currency and day, exactly what building it again from
  the stored flows gives (`backfill`);
- `flow_groups` answers, for random periods (whole and partial days), calendar
  intervals, corridors and the dollar-cost grouping, exactly what reading every flow
  gives (`from_flows=True`: the statement the analytics ran before the rollup).

On PostgreSQL, transactions that add the same flows to the same rows at once, each
holding its rows until it commits, lose no increment; and the migration builds the
rollup of the flows stored before it."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from models.analytics import FlowRollup
from models.base import set_clock_skew, utcnow
from resolvers import analytics
from resolvers.analytics.flows import HALF, Corridor, Scope, flow_groups
from tests import card_world, messaging_world
from tests.card_world import CAPTURE, REFUND
from tests.messaging_world import RATES, payment, send_payment

EXAMPLES = int(os.environ.get("CORRIDOR_ROLLUP_PROPERTY_EXAMPLES", "15"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# (sender, receiver, currency): settled on CIPS, SPFS or SWIFT, or rejected (melli has no CNY).
PAYMENTS = [
    ("sber", "boc", "RUB"),
    ("boc", "vtb", "CNY"),
    ("vtb", "boc", "CNY"),
    ("sber", "vtb", "RUB"),
    ("boc", "citi", "USD"),
    ("melli", "sber", "RUB"),
    ("sber", "boc", "CNY"),
]
CARDS = [
    ("shanghai", "mir", "CNY"),
    ("moscow", "unionpay", "RUB"),
    ("moscow", "mir", "RUB"),
    ("hotel", "unionpay", "CNY"),
]
PAIRS = [("CNY", "RUB"), ("RUB", "CNY"), ("USD", "CNY"), ("RUB", "USD")]
CORRIDORS = [None, Corridor("RU", "CN"), Corridor("CN", "RU"), Corridor("RU", "RU"), Corridor("CN", "US")]
WORLDS: dict[int, dict] = {}
CLOCK = {"skew": dt.timedelta(0)}


@pytest.fixture(autouse=True)
def _clock():
    """Each test starts with the clock where the last left it (forward only), and leaves it at zero."""
    yield
    set_clock_skew(dt.timedelta(0))
    CLOCK["skew"] = dt.timedelta(0)


def amount_text(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


# ---------------------------------------------------------------- steps


def _advance(minutes: int) -> None:
    CLOCK["skew"] += dt.timedelta(minutes=minutes)
    set_clock_skew(CLOCK["skew"])


async def _publish(api, draw) -> None:
    base, quote = draw(st.sampled_from(PAIRS), label="pair")
    when = draw(
        st.one_of(
            st.just(None),
            st.integers(1, 3 * 24 * 60).map(lambda m: -m),  # back-dated, into rolled-up days
            st.integers(1, 4),  # a little ahead
        ),
        label="minutes from now",
    )
    rate = {"base": base, "quote": quote, "rate": str(draw(st.integers(50, 1500), label="rate") / 100)}
    if when is not None:
        rate["asOf"] = (utcnow() + dt.timedelta(minutes=when)).isoformat()
    assert (await api(RATES, {"r": [rate]}))["publishRates"]["errors"] == []


async def _pay(api, ids, draw) -> None:
    sender, receiver, currency = draw(st.sampled_from(PAYMENTS), label="payment")
    amount = amount_text(draw(st.integers(1, 500), label="amount"))
    sent = await send_payment(api, payment(ids, sender, receiver, amount, currency))
    assert sent["payment"] is not None, sent


async def _card(api, ids, draw, captured: list[tuple[str, int]]) -> None:
    """Capture a new card payment (in full or in part), or refund part or all of one."""
    if captured and draw(st.booleans(), label="refund"):
        key, left = captured.pop(draw(st.integers(0, len(captured) - 1), label="which"))
        refund = draw(st.sampled_from([left, max(1, left // 3)]), label="refund amount")
        item = {"refundId": str(uuid.uuid4()), "authorizationId": key, "amount": amount_text(refund)}
        refunded = (await api(REFUND, {"input": item}))["refundPayment"]
        if not refunded["errors"] and refund < left:
            captured.append((key, left - refund))
        return
    merchant, card, currency = draw(st.sampled_from(CARDS), label="card payment")
    minor = draw(st.integers(100, 5000), label="card amount")
    authorized = await card_world.authorize(api, ids[merchant], card, amount_text(minor), currency)
    if not authorized["authorization"]["approved"]:
        return
    key = authorized["authorization"]["authorizationId"]
    part = draw(st.sampled_from([None, minor // 2]), label="capture")
    variables = {"id": key} if part is None else {"id": key, "amount": amount_text(part)}
    answer = await api(CAPTURE, variables)
    if not answer["capturePayment"]["errors"]:
        captured.append((key, part or minor))


# ---------------------------------------------------------------- the checks


async def rollup_by_day(api) -> dict:
    """(source, target, currency, day) -> (flows, value) over the epochs."""
    rollup = FlowRollup
    keys = (rollup.source_country, rollup.target_country, rollup.currency_code, rollup.day)
    value = func.sum(rollup.minor_high) * HALF + func.sum(rollup.minor_low)
    async with api.engine.connect() as connection:
        rows = await connection.execute(select(*keys, func.sum(rollup.flows), value).group_by(*keys))
        return {tuple(row[:4]): (int(row[4]), int(row[5])) for row in rows if row[4] or row[5]}


async def check_rollup_is_rebuilt_alike(api) -> None:
    kept = await rollup_by_day(api)
    async with api.engine.connect() as connection:
        transaction = await connection.begin()
        for statement in analytics.backfill(connection.dialect.name):
            await connection.execute(statement)
        rollup = FlowRollup
        keys = (rollup.source_country, rollup.target_country, rollup.currency_code, rollup.day)
        value = func.sum(rollup.minor_high) * HALF + func.sum(rollup.minor_low)
        rows = await connection.execute(select(*keys, func.sum(rollup.flows), value).group_by(*keys))
        rebuilt = {tuple(row[:4]): (int(row[4]), int(row[5])) for row in rows if row[4] or row[5]}
        await transaction.rollback()
    assert kept == rebuilt


def _sorted(groups) -> list:
    far = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(
        groups, key=lambda g: (g.currency, g.epoch or far, g.start or dt.date.min, g.source or "", g.target or "")
    )


async def check_answers(api, scopes: list[Scope]) -> None:
    async with api.sessions() as session:
        for scope in scopes:
            rolled = await flow_groups(session, scope)
            direct = await flow_groups(session, scope, from_flows=True)
            assert _sorted(rolled) == _sorted(direct), scope


def scopes(draw, start: dt.datetime) -> list[Scope]:
    now = utcnow()
    span = max(int((now - start).total_seconds() // 60), 1)
    found = [Scope(None, None, now + dt.timedelta(days=2)), Scope(Corridor("RU", "CN"), start, now, calendar="day")]
    for _ in range(3):
        since = start + dt.timedelta(minutes=draw(st.integers(-60, span), label="since"))
        until = since + dt.timedelta(minutes=draw(st.integers(0, span + 3 * 24 * 60), label="until"))
        calendar = draw(st.sampled_from([None, "day", "week", "month"]), label="calendar")
        corridor = draw(st.sampled_from(CORRIDORS), label="corridor")
        dollars = draw(st.booleans(), label="dollar cost")
        midnight = draw(st.booleans(), label="since at midnight")
        if midnight:
            since = since.replace(hour=0, minute=0, second=0, microsecond=0)
        found.append(Scope(corridor, since, until, calendar, "USD" if dollars else None, dollars))
    return found


# ---------------------------------------------------------------- the properties


@PROPERTY
@given(data=st.data())
async def test_the_rollup_of_random_payments_and_rates_answers_as_the_flows_do(api, data):
    if id(api) not in WORLDS:
        WORLDS.clear()
        WORLDS[id(api)] = await messaging_world.build(api)
    ids = WORLDS[id(api)]
    start = utcnow()
    for _ in range(data.draw(st.integers(1, 10), label="steps")):
        step = data.draw(st.sampled_from(["pay", "pay", "pay", "rate", "later", "much later"]), label="step")
        if step == "pay":
            await _pay(api, ids, data.draw)
        elif step == "rate":
            await _publish(api, data.draw)
        else:
            _advance(data.draw(st.integers(1, 90) if step == "later" else st.integers(6 * 60, 40 * 60), label="min"))
    await check_rollup_is_rebuilt_alike(api)
    await check_answers(api, scopes(data.draw, start))


@PROPERTY
@given(data=st.data())
async def test_the_rollup_of_random_card_captures_and_refunds_answers_as_the_flows_do(api, data):
    key = ("cards", id(api))
    if key not in WORLDS:
        WORLDS.clear()
        WORLDS[key] = {"ids": await card_world.build(api)}
    # Only this example's own captures are refunded: what it draws must not depend on
    # earlier examples (hypothesis replays an example and expects the same draws).
    ids, captured = WORLDS[key]["ids"], []
    start = utcnow()
    for _ in range(data.draw(st.integers(1, 8), label="steps")):
        step = data.draw(st.sampled_from(["card", "card", "card", "rate", "later"]), label="step")
        if step == "card":
            await _card(api, ids, data.draw, captured)
        elif step == "rate":
            await _publish(api, data.draw)
        else:
            _advance(data.draw(st.integers(1, 20 * 60), label="minutes"))
    await check_rollup_is_rebuilt_alike(api)
    await check_answers(api, scopes(data.draw, start))


# ---------------------------------------------------------------- concurrency and migration


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_concurrent_transactions_adding_to_the_same_rows_lose_no_increment(api):
    """Eight transactions add the same settled payments at once, each holding the rows it
    upserted while the others try theirs: every addition counts."""
    ids = await messaging_world.build(api)
    for k in range(6):
        sender, receiver, currency = PAYMENTS[k % 3]
        sent = await send_payment(api, payment(ids, sender, receiver, f"{k + 1}.00", currency))
        assert sent["payment"]["status"] == "SETTLED", sent
    before = await rollup_by_day(api)
    async with api.engine.connect() as connection:
        payment_ids = list((await connection.scalars(text("SELECT id FROM interbank_payment"))).all())
    started = asyncio.Event()
    waiting = {"n": 0}

    async def add() -> None:
        async with api.sessions() as session, session.begin():
            waiting["n"] += 1
            if waiting["n"] == 8:
                started.set()
            await started.wait()  # all eight transactions open before any adds
            await analytics.roll_up_payments(session, payment_ids)
            await asyncio.sleep(0.05)  # hold the rows' locks before committing

    await asyncio.gather(*(add() for _ in range(8)))
    after = await rollup_by_day(api)
    assert after == {key: (flows * 9, value * 9) for key, (flows, value) in before.items()}
    assert sum(flows for flows, _ in before.values()) == 6


async def test_the_migration_rolls_up_the_flows_stored_before_it(api):
    """Dropping the rollup's rows and building them again, as the migration does, gives
    the rollup the service kept; the analytics answer the same from it."""
    ids = await messaging_world.build(api)
    for sender, receiver, currency in PAYMENTS:
        await send_payment(api, payment(ids, sender, receiver, "3.00", currency))
    _advance(26 * 60)
    await send_payment(api, payment(ids, "sber", "boc", "4.00", "RUB"))
    kept = await rollup_by_day(api)
    assert sum(flows for flows, _ in kept.values()) >= 6
    async with api.engine.begin() as connection:
        for statement in analytics.backfill(connection.dialect.name):
            await connection.execute(statement)
    assert await rollup_by_day(api) == kept
    now = utcnow()
    await check_answers(api, [Scope(None, None, now + dt.timedelta(days=1)), Scope(Corridor("RU", "CN"), None, now)])


async def test_a_rate_published_back_dated_into_a_rolled_up_day_splits_it(api):
    """Two payments of one corridor, currency and day, four hours apart, rolled up with one
    epoch; a rate published later as of the time between them: each answers at its own
    epoch, as the flows do (the day is read from the flows)."""
    ids = await messaging_world.build(api)
    first = await send_payment(api, payment(ids, "sber", "boc", "10.00", "RUB"))
    _advance(4 * 60)
    await send_payment(api, payment(ids, "sber", "boc", "20.00", "RUB"))
    _advance(2 * 24 * 60)
    between = dt.datetime.fromisoformat(first["payment"]["createdAt"]) + dt.timedelta(hours=2)
    rates = [{"base": "CNY", "quote": "RUB", "rate": "11.00", "asOf": between.isoformat()}]
    assert (await api(RATES, {"r": rates}))["publishRates"]["errors"] == []
    assert len(await rollup_by_day(api)) <= 2  # one or two days, one row each: written with one epoch
    day = between.replace(hour=0, minute=0, second=0, microsecond=0)
    scope = Scope(Corridor("RU", "CN"), day - dt.timedelta(days=1), utcnow())
    await check_answers(api, [scope])
    async with api.sessions() as session:
        groups = await flow_groups(session, scope)
    assert sorted((g.minor, g.epoch == between) for g in groups) == [(1000, False), (2000, True)]
