"""Accounts: opening them (the ISSUANCE and FX_POSITION rules), reading them, and their
balances with lapsed holds released."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import literal_column, union_all
from sqlalchemy import select as sa_select
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.ledger import Account, AccountKind
from models.reference import Country, Institution, InstitutionKind
from resolvers import reference
from resolvers.access import Action, Principal, may_act_for, require
from resolvers.errors import DomainError, ErrorCode, invalid, not_found
from resolvers.ledger.locks import ACCOUNTS, TRANSFERS, among_ids, lapsed_sums
from resolvers.pagination import Page, empty_page, keyset_page

NAME_MAX = 100


async def open_account(
    session: AsyncSession,
    principal: Principal,
    *,
    owner_id: int,
    name: str,
    currency: str,
    kind: AccountKind,
) -> Account:
    """A new account. ISSUANCE only for a central bank in its country's currency (one
    each); FX_POSITION only for an FX provider. A participant opens its own accounts."""
    require(principal, Action.WRITE_OWN)
    owner = await session.get(Institution, owner_id)
    if owner is None:
        raise not_found("No such institution.", "ownerId")
    if not may_act_for(principal, owner_id):
        raise DomainError(
            ErrorCode.FORBIDDEN, "A participant opens accounts only for its own institution.", ["ownerId"]
        )
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise invalid(f"name must be 1 to {NAME_MAX} characters.", "name")
    currency = currency.strip().upper()
    if currency not in await reference.minor_units(session):
        raise DomainError(ErrorCode.UNSUPPORTED_CURRENCY, f"Unknown currency {currency!r} (ISO 4217).", ["currency"])
    if kind is AccountKind.ISSUANCE:
        if owner.kind is not InstitutionKind.CENTRAL_BANK:
            raise invalid("Only a central bank holds an ISSUANCE account.", "kind")
        country = await session.get(Country, owner.country_code)
        if country is None or country.currency_code != currency:
            raise DomainError(
                ErrorCode.CURRENCY_MISMATCH,
                f"A central bank issues only its country's currency ({country.currency_code if country else '?'}).",
                ["currency"],
            )
        taken = await session.exec(
            select(Account.id).where(
                Account.owner_id == owner_id, Account.currency_code == currency, Account.kind == AccountKind.ISSUANCE
            )
        )
        if taken.first() is not None:
            raise DomainError(ErrorCode.ALREADY_EXISTS, f"{owner.name} already has an ISSUANCE account.", ["kind"])
    if kind is AccountKind.FX_POSITION and owner.kind is not InstitutionKind.FX_PROVIDER:
        raise invalid("Only an FX provider holds FX_POSITION accounts.", "kind")
    account = Account(owner_id=owner_id, name=name, currency_code=currency, kind=kind)
    session.add(account)
    await session.flush()
    return account


async def list_accounts(
    session: AsyncSession,
    principal: Principal,
    owner_id: int,
    *,
    first: int | None = None,
    after: int | None = None,
    currency: str | None = None,
) -> Page:
    """An institution's accounts, oldest first, as plain rows (no ORM objects: a page is
    read, never changed); empty for a caller who may not see them."""
    if not may_act_for(principal, owner_id):
        return empty_page(first, after)
    statement = sa_select(ACCOUNTS).where(ACCOUNTS.c.owner_id == owner_id)
    if currency is not None:
        statement = statement.where(ACCOUNTS.c.currency_code == currency.strip().upper())
    return await keyset_page(session, statement, ACCOUNTS.c.id, first=first, after=after)


async def lapsed_holds(session: AsyncSession, account_ids: Iterable[int], now: dt.datetime) -> dict[int, list[int]]:
    """account id -> [lapsed pending debits, lapsed pending credits]: holds past their
    expiry that the sweeper has not released yet. Accounts with none are absent."""
    ids = list(set(account_ids))
    if not ids:
        return {}
    connection = await session.connection()
    result: dict[int, list[int]] = {}
    statement = _LAPSED[connection.dialect.name == "postgresql"]
    for account_id, total, side in await connection.execute(statement, {"ids": ids, "now": now}):
        result.setdefault(account_id, [0, 0])[side] = int(total)
    return result


# Both sides in one statement: (account id, lapsed total, 0 for debits or 1 for credits);
# by whether the engine is PostgreSQL (the ids as an array there).
_LAPSED = {
    postgresql: union_all(
        lapsed_sums(TRANSFERS.c.debit_account_id, postgresql).add_columns(literal_column("0").label("side")),
        lapsed_sums(TRANSFERS.c.credit_account_id, postgresql).add_columns(literal_column("1").label("side")),
    )
    for postgresql in (False, True)
}
# The accounts with these ids (parameter `ids`), as plain rows.
_ACCOUNTS_BY_ID = {
    postgresql: sa_select(ACCOUNTS).where(among_ids(ACCOUNTS.c.id, postgresql)) for postgresql in (False, True)
}


async def accounts_by_id(session: AsyncSession, ids: Sequence[int]) -> list:
    """The accounts `ids`, lined up with them (None where there is none), as plain rows:
    what the request's account loader hands out."""
    connection = await session.connection()
    statement = _ACCOUNTS_BY_ID[connection.dialect.name == "postgresql"]
    found = {row.id: row for row in await connection.execute(statement, {"ids": list(set(ids))})}
    return [found.get(i) for i in ids]


@dataclass(frozen=True)
class Balances:
    """An account's four columns as they stand now, lapsed holds released."""

    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int

    @property
    def balance(self) -> int:
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        return self.balance - self.debits_pending


def effective_balances(account, lapsed: Sequence[int] | None) -> Balances:
    lapsed_debits, lapsed_credits = lapsed or (0, 0)
    return Balances(
        debits_pending=account.debits_pending - lapsed_debits,
        debits_posted=account.debits_posted,
        credits_pending=account.credits_pending - lapsed_credits,
        credits_posted=account.credits_posted,
    )


def may_see_account(principal: Principal, account) -> bool:
    return may_act_for(principal, account.owner_id)


async def settlement_accounts(
    session: AsyncSession, owners: Iterable[int], currencies: Iterable[str], *, lock: bool = False
) -> dict[tuple[int, str], Account]:
    """(institution, currency) -> the institution's SETTLEMENT account in that currency (its
    first, by id): how interbank flows find the accounts banks settle with. `lock`: locked
    FOR UPDATE, in id order like every lock of the ledger."""
    owners, currencies = set(owners), set(currencies)
    if not owners or not currencies:
        return {}
    statement = (
        select(Account)
        .where(
            Account.owner_id.in_(owners), Account.kind == AccountKind.SETTLEMENT, Account.currency_code.in_(currencies)
        )
        .order_by(Account.id)
    )
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    found: dict[tuple[int, str], Account] = {}
    for account in await session.exec(statement):
        found.setdefault((account.owner_id, account.currency_code), account)
    return found
