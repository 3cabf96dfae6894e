"""Property test of the ledger (hypothesis, stateful), on SQLite and on PostgreSQL.

Random sequences of transfers, batches (atomic or not), posts, voids, replays,
clock moves and sweeps run against the service's resolvers and, side by side,
against a small in-memory model written from DESIGN.md's rules. After every step
each outcome, every account's balances and the ledger's invariants must agree.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass, field

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from corridor.db import WRITE_OPTION, create_engine, session_factory
from corridor.settings import Settings
from models.ledger import Account, AccountKind
from models.reference import InstitutionKind
from resolvers import ledger, reference
from resolvers.access import SYSTEM
from resolvers.errors import DomainError
from resolvers.money import from_minor
from resolvers.rows import rows_by_id
from tests.conftest import _clean

# account name -> (currency, kind); index order is the order they are opened in.
ACCOUNTS = {
    "issuance": ("RUB", AccountKind.ISSUANCE),
    "a": ("RUB", AccountKind.SETTLEMENT),
    "b": ("RUB", AccountKind.SETTLEMENT),
    "c": ("RUB", AccountKind.CUSTOMER),
    "cny": ("CNY", AccountKind.CUSTOMER),
}
NAMES = list(ACCOUNTS)
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass
class ModelTransfer:
    debit: str
    credit: str
    amount: int
    currency: str
    pending: bool
    timeout: int | None
    reference: str | None
    state: str
    expires_at: dt.datetime | None
    posted: int | None = None


@dataclass
class Model:
    """The ledger as DESIGN.md describes it, kept in memory."""

    columns: dict[str, list[int]] = field(default_factory=lambda: {n: [0, 0, 0, 0] for n in NAMES})
    transfers: dict[uuid.UUID, ModelTransfer] = field(default_factory=dict)
    now: dt.datetime = START

    def lapsed(self, t: ModelTransfer) -> bool:
        return t.state == "PENDING" and t.expires_at is not None and t.expires_at <= self.now

    def effective(self, name: str) -> list[int]:
        dpend, dpost, cpend, cpost = self.columns[name]
        for t in self.transfers.values():
            if self.lapsed(t):
                if t.debit == name:
                    dpend -= t.amount
                if t.credit == name:
                    cpend -= t.amount
        return [dpend, dpost, cpend, cpost]

    def available(self, name: str) -> int:
        dpend, dpost, _, cpost = self.effective(name)
        return cpost - dpost - dpend

    def batch(self, specs: list[tuple], atomic: bool) -> list[str | None]:
        """Outcome code per spec: None created, "REPLAY", or an error code."""
        columns = {n: list(c) for n, c in self.columns.items()}
        lapsed_debits = {n: self.columns[n][0] - self.effective(n)[0] for n in NAMES}
        known = dict(self.transfers)
        new: dict[uuid.UUID, ModelTransfer] = {}
        outcomes: list[str | None] = []
        for tid, debit, credit, amount, currency, pending, timeout, ref in specs:
            outcome = self._one(
                columns, lapsed_debits, known, new, tid, debit, credit, amount, currency, pending, timeout, ref
            )
            outcomes.append(outcome)
        failed = any(o not in (None, "REPLAY") for o in outcomes)
        if atomic and failed:
            return [o if o not in (None, "REPLAY") else "ATOMIC_BATCH_FAILED" for o in outcomes]
        self.columns = columns
        self.transfers.update(new)
        return outcomes

    def _one(self, columns, lapsed_debits, known, new, tid, debit, credit, amount, currency, pending, timeout, ref):
        if amount <= 0:
            return "INVALID_INPUT"
        if debit == credit:
            return "SAME_ACCOUNT"
        if timeout is not None and not pending:
            return "INVALID_INPUT"
        stored = known.get(tid)
        if stored is not None:
            same = (
                stored.debit,
                stored.credit,
                stored.amount,
                stored.currency,
                stored.pending,
                stored.timeout,
                stored.reference,
            )
            return (
                "REPLAY" if same == (debit, credit, amount, currency, pending, timeout, ref) else "IDEMPOTENCY_CONFLICT"
            )
        if currency != ACCOUNTS[debit][0] or currency != ACCOUNTS[credit][0]:
            return "CURRENCY_MISMATCH"
        d, c = columns[debit], columns[credit]
        if ACCOUNTS[debit][1] is not AccountKind.ISSUANCE and amount > d[3] - d[1] - (d[0] - lapsed_debits[debit]):
            return "INSUFFICIENT_FUNDS"
        if pending:
            d[0] += amount
            c[2] += amount
        else:
            d[1] += amount
            c[3] += amount
        expires = self.now + dt.timedelta(seconds=timeout) if timeout else None
        transfer = ModelTransfer(
            debit,
            credit,
            amount,
            currency,
            pending,
            timeout,
            ref,
            "PENDING" if pending else "POSTED",
            expires,
            None if pending else amount,
        )
        known[tid] = new[tid] = transfer
        return None

    def post(self, tid: uuid.UUID, amount: int | None) -> str | None:
        t = self.transfers.get(tid)
        if t is None:
            return "NOT_FOUND"
        post = t.amount if amount is None else amount
        if t.state == "POSTED" and t.pending and post == t.posted:
            return "REPLAY"
        if t.state == "EXPIRED" or self.lapsed(t):
            return "TRANSFER_EXPIRED"
        if t.state != "PENDING":
            return "TRANSFER_NOT_PENDING"
        if post > t.amount:
            return "AMOUNT_EXCEEDS_PENDING"
        self.columns[t.debit][0] -= t.amount
        self.columns[t.credit][2] -= t.amount
        self.columns[t.debit][1] += post
        self.columns[t.credit][3] += post
        t.state, t.posted = "POSTED", post
        return None

    def void(self, tid: uuid.UUID) -> str | None:
        t = self.transfers.get(tid)
        if t is None:
            return "NOT_FOUND"
        if t.state == "VOIDED":
            return "REPLAY"
        if t.state == "EXPIRED" or self.lapsed(t):
            return "TRANSFER_EXPIRED"
        if t.state != "PENDING":
            return "TRANSFER_NOT_PENDING"
        self.columns[t.debit][0] -= t.amount
        self.columns[t.credit][2] -= t.amount
        t.state = "VOIDED"
        return None

    def sweep(self) -> int:
        released = 0
        for t in self.transfers.values():
            if self.lapsed(t):
                self.columns[t.debit][0] -= t.amount
                self.columns[t.credit][2] -= t.amount
                t.state = "EXPIRED"
                released += 1
        return released


def outcome_code(outcome: ledger.TransferOutcome) -> str | None:
    if outcome.error is not None:
        return outcome.error.code.value
    return None if outcome.created else "REPLAY"


# Mostly amounts the accounts can pay; now and then zero, or more than any account holds.
amounts = st.integers(0, 19).flatmap(
    lambda k: st.just(0) if k == 0 else st.integers(10**7, 10**9) if k == 1 else st.integers(1, 50_000)
)
timeouts = st.one_of(st.none(), st.integers(min_value=1, max_value=30), st.integers(min_value=1, max_value=120))


def check_ledger_properties(database_url: str) -> None:
    runner = asyncio.Runner()
    engine = create_engine(Settings(database_url=database_url))
    sessions = session_factory(engine)

    async def write(work):
        async with sessions() as session:
            await session.connection(execution_options={WRITE_OPTION: True})
            result = await work(session)
            await session.commit()
            return result

    async def setup() -> dict[str, int]:
        await _clean(engine)
        ids = {}

        async def work(session):
            cb = await reference.create_institution(
                session, SYSTEM, name="CB", bic="CBRFRUMM", country_code="RU", kind=InstitutionKind.CENTRAL_BANK
            )
            bank = await reference.create_institution(
                session, SYSTEM, name="Bank", bic="SABRRUMM", country_code="RU", kind=InstitutionKind.COMMERCIAL_BANK
            )
            for name, (currency, kind) in ACCOUNTS.items():
                owner = cb if kind is AccountKind.ISSUANCE else bank
                account = await ledger.open_account(
                    session, SYSTEM, owner_id=owner.id, name=name, currency=currency, kind=kind
                )
                ids[name] = account.id

        await write(work)
        return ids

    class LedgerMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.model = Model()
            self.ids = runner.run(setup())
            self.names = {v: k for k, v in self.ids.items()}
            self.tids: list[uuid.UUID] = []

        @initialize(amount=st.integers(min_value=1, max_value=2_000_000))
        def fund(self, amount):
            specs = [(uuid.uuid4(), "issuance", name, amount, "RUB", False, None, None) for name in ("a", "b", "c")]
            self.apply_batch(specs, atomic=True)

        @rule(data=st.data(), size=st.integers(min_value=1, max_value=5), atomic=st.booleans())
        def batch(self, data, size, atomic):
            specs = []
            for _ in range(size):
                known = list(self.model.transfers)
                if known and data.draw(st.integers(0, 3)) == 0:
                    tid = data.draw(st.sampled_from(known))
                    stored = self.model.transfers[tid]
                    same = [
                        stored.debit,
                        stored.credit,
                        stored.amount,
                        stored.currency,
                        stored.pending,
                        stored.timeout,
                        stored.reference,
                    ]
                    change = data.draw(st.integers(-1, 6))  # -1: an exact replay; else one field differs
                    if change >= 0:
                        same[change] = {
                            0: stored.credit,
                            1: stored.debit,
                            2: stored.amount + 1,
                            3: "CNY",
                            4: not stored.pending,
                            5: (stored.timeout or 0) + 1,
                            6: (stored.reference or "") + "y",
                        }[change]
                        if same[4] is False:
                            same[5] = None  # a posted transfer takes no timeout
                    specs.append((tid, *same))
                    continue
                else:  # a new id
                    tid = uuid.uuid4()
                    self.tids.append(tid)
                debit = data.draw(st.sampled_from(NAMES))
                others = [n for n in NAMES if n != debit]
                alike = [n for n in others if ACCOUNTS[n][0] == ACCOUNTS[debit][0]] or others
                roll = data.draw(st.integers(0, 9))
                credit = debit if roll == 0 else data.draw(st.sampled_from(others if roll == 1 else alike))
                currency = ACCOUNTS[debit][0] if data.draw(st.integers(0, 9)) else "CNY"
                pending = data.draw(st.booleans())
                timeout = data.draw(timeouts) if pending else None
                ref = data.draw(st.sampled_from([None, "x"]))
                amount = data.draw(amounts)
                if data.draw(st.integers(0, 5)) == 0:  # at the edge of what the debit account can pay
                    amount = max(1, self.model.available(debit) + data.draw(st.integers(-1, 1)))
                specs.append((tid, debit, credit, amount, currency, pending, timeout, ref))
            self.apply_batch(specs, atomic)

        def pick(self, data) -> uuid.UUID:
            """Mostly a transfer still pending; sometimes any id, known or not."""
            pending = [tid for tid, t in self.model.transfers.items() if t.state == "PENDING"]
            if pending and data.draw(st.booleans()):
                return data.draw(st.sampled_from(pending))
            return data.draw(st.sampled_from(self.tids))

        def apply_batch(self, specs, atomic):
            now = self.model.now
            expected = self.model.batch(specs, atomic)
            for outcome in expected:
                event(f"transfer outcome {outcome}")
            real_specs = [
                ledger.TransferSpec(tid, self.ids[d], self.ids[c], from_minor(a, 2), cur, p, t, r)
                for tid, d, c, a, cur, p, t, r in specs
            ]
            outcomes = runner.run(
                write(lambda s: ledger.create_transfers(s, SYSTEM, real_specs, atomic=atomic, now=now))
            )
            assert [outcome_code(o) for o in outcomes] == expected, (specs, outcomes)

        @rule(data=st.data(), partial=st.booleans())
        def post(self, data, partial):
            if not self.tids:
                return
            tid = self.pick(data)
            amount = data.draw(st.integers(min_value=1, max_value=60_000)) if partial else None
            held = self.model.transfers.get(tid)
            if partial and held is not None and data.draw(st.booleans()):  # at the edge of the hold
                amount = max(1, held.amount + data.draw(st.integers(-1, 1)))
            expected = self.model.post(tid, amount)
            now = self.model.now
            got = self.resolve(
                lambda s: ledger.post_transfer(
                    s, SYSTEM, tid, from_minor(amount, 2) if amount is not None else None, now=now
                )
            )
            assert got == expected

        @rule(data=st.data())
        def void(self, data):
            if not self.tids:
                return
            tid = self.pick(data)
            expected = self.model.void(tid)
            now = self.model.now
            assert self.resolve(lambda s: ledger.void_transfer(s, SYSTEM, tid, now=now)) == expected

        def resolve(self, work) -> str | None:
            async def attempt():
                try:
                    _, created = await write(work)
                except DomainError as error:
                    return error.code.value
                return None if created else "REPLAY"

            return runner.run(attempt())

        @rule(seconds=st.integers(min_value=1, max_value=90))
        def tick(self, seconds):
            self.model.now += dt.timedelta(seconds=seconds)

        @rule()
        def sweep(self):
            expected = self.model.sweep()
            event(f"sweep released {min(expected, 3)}")
            now = self.model.now
            assert runner.run(write(lambda s: ledger.expire_lapsed(s, now))) == expected

        @invariant()
        def balances_match_the_model_and_the_invariants_hold(self):
            async def read():
                async with sessions() as session:
                    rows = await rows_by_id(session, Account, list(self.ids.values()))
                    lapsed = await ledger.lapsed_holds(session, self.ids.values(), self.model.now)
                    return rows, lapsed

            rows, lapsed = runner.run(read())
            totals: dict[str, list[int]] = {}
            for row in rows:
                name = self.names[row.id]
                effective = ledger.effective_balances(row, lapsed.get(row.id))
                got = [
                    effective.debits_pending,
                    effective.debits_posted,
                    effective.credits_pending,
                    effective.credits_posted,
                ]
                assert got == self.model.effective(name), name
                if row.kind is not AccountKind.ISSUANCE:
                    assert effective.available >= 0
                    assert row.credits_posted >= row.debits_posted
                stored = totals.setdefault(row.currency_code, [0, 0, 0, 0])
                for i, value in enumerate(
                    (row.debits_pending, row.debits_posted, row.credits_pending, row.credits_posted)
                ):
                    stored[i] += value
            for currency, (dpend, dpost, cpend, cpost) in totals.items():
                assert dpost == cpost, currency  # posted debits equal posted credits
                assert dpend == cpend, currency  # and pending ones too

    try:
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(
                max_examples=40,
                stateful_step_count=50,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        runner.run(engine.dispose())
        runner.close()


def test_ledger_matches_its_model(app, database_url):
    """`app` migrates the database; the machine uses an engine of its own, on its own loop."""
    check_ledger_properties(database_url)
