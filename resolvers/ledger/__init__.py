"""The ledger: accounts and double-entry transfers, with two-phase holds.

Rules (../shared/DESIGN.md, "The ledger"; TigerBeetle's semantics):
- balance = credits_posted - debits_posted; available = balance - debits_pending.
  A debit may not take `available` below zero, except on an ISSUANCE account.
- A posted transfer moves its amount at once; a pending one holds it in the
  `_pending` columns until it is posted (in full or for less), voided, or lapses.
- A hold whose `expires_at` has passed no longer limits `available` and can no
  longer be posted, at once: reads and writes subtract lapsed holds that the
  sweeper (`expire_lapsed`) has not reached yet.
- `transfer_id` is the client's idempotency key: the same content again returns
  the stored transfer (created False), other content is IDEMPOTENCY_CONFLICT.

Concurrency: every write locks the accounts it touches, in id order, in a single
statement (SELECT ... ORDER BY id FOR UPDATE on PostgreSQL; SQLite's writers
hold the database's write lock from BEGIN IMMEDIATE). Every change to a
transfer's state happens under its accounts' locks, so no two writers change the
same transfer, and locks are always taken in one order (no deadlock cycle).

The batch path uses SQLAlchemy Core, not ORM objects: one statement each for the
locks, the lapsed holds, the known ids, the insert of all new transfers and the
update of all touched accounts.

Where each part lives:
- `locks`: the tables, the prebuilt statements, locking accounts and writing their
  net changes;
- `accounts`: opening accounts, reading them, balances with lapsed holds released;
- `transfers`: reading transfers, their effective state, an account's history;
- `posting`: creating transfers (a request's batch, group commit, the service's
  own legs through `post_legs`, several flows' at once through `post_leg_groups`);
- `holds`: posting, voiding and resolving pending transfers, the lapsed-hold sweep.
"""

from resolvers.ledger.accounts import (
    Balances,
    accounts_by_id,
    effective_balances,
    lapsed_holds,
    list_accounts,
    may_see_account,
    open_account,
    settlement_accounts,
)
from resolvers.ledger.holds import HoldChange, expire_lapsed, post_transfer, resolve_holds, void_transfer
from resolvers.ledger.locks import ACCOUNTS, TRANSFERS
from resolvers.ledger.posting import (
    MAX_BATCH,
    Leg,
    LegRefused,
    NewTransfer,
    TransferGroup,
    TransferOutcome,
    TransferSpec,
    create_transfer_groups,
    create_transfers,
    post_leg_groups,
    post_legs,
)
from resolvers.ledger.transfers import (
    account_transfers,
    effective_state,
    may_see_transfer,
    transfer_by_key,
)

__all__ = [
    "ACCOUNTS",
    "MAX_BATCH",
    "TRANSFERS",
    "Balances",
    "HoldChange",
    "Leg",
    "LegRefused",
    "NewTransfer",
    "TransferGroup",
    "TransferOutcome",
    "TransferSpec",
    "account_transfers",
    "accounts_by_id",
    "create_transfer_groups",
    "create_transfers",
    "effective_balances",
    "effective_state",
    "expire_lapsed",
    "lapsed_holds",
    "list_accounts",
    "may_see_account",
    "may_see_transfer",
    "open_account",
    "post_leg_groups",
    "post_legs",
    "post_transfer",
    "resolve_holds",
    "settlement_accounts",
    "transfer_by_key",
    "void_transfer",
]
