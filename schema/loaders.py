"""Request-scoped DataLoaders: every nested object is fetched in one statement per
level of the query, never one per row."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import cached_property
from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from corridor.context import Context
from models.base import utcnow
from resolvers import cards, fx, ledger, reference


class SharedLoader(DataLoader):
    """A DataLoader whose futures no single waiter can cancel.

    A loader's future is shared by every field that asks for the same key. graphql-core
    cancels the sibling fields of a field whose error nulls their parent; a cancelled
    task waiting on a shared future would cancel the future itself, and every other
    field waiting on it (in a branch that was not cancelled) would get CancelledError,
    which escapes the request. Each waiter gets its own shield, so a cancellation ends
    that waiter only."""

    def load(self, key: Any) -> Awaitable[Any]:
        return asyncio.shield(super().load(key))


class Loaders:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def _loader(self, fetch: Callable[[Any, Sequence[Any]], Awaitable[list[Any]]]) -> DataLoader:
        ctx = self._ctx

        async def load(keys: Sequence[Any]) -> list[Any]:
            return await ctx.read(lambda session: fetch(session, keys))

        return SharedLoader(load_fn=load)

    @cached_property
    def currency(self) -> DataLoader:
        return self._loader(reference.currencies_by_code)

    @cached_property
    def country(self) -> DataLoader:
        return self._loader(reference.countries_by_code)

    @cached_property
    def blocs(self) -> DataLoader:
        return self._loader(reference.blocs_by_country)

    @cached_property
    def institution(self) -> DataLoader:
        return self._loader(reference.institutions_by_id)

    @cached_property
    def account(self) -> DataLoader:
        return self._loader(ledger.accounts_by_id)

    @cached_property
    def lapsed(self) -> DataLoader:
        """account id -> [lapsed pending debits, credits] (holds past expiry not yet swept)."""

        async def fetch(session, ids: Sequence[int]) -> list[Any]:
            found = await ledger.lapsed_holds(session, ids, utcnow())
            return [found.get(i) for i in ids]

        return self._loader(fetch)

    @cached_property
    def basket(self) -> DataLoader:
        return self._loader(fx.baskets_by_id)

    @cached_property
    def basket_components(self) -> DataLoader:
        return self._loader(fx.components_by_basket)

    @cached_property
    def card_scheme(self) -> DataLoader:
        return self._loader(cards.schemes_by_id)

    @cached_property
    def bin_ranges(self) -> DataLoader:
        return self._loader(cards.ranges_by_scheme)

    @cached_property
    def scheme_memberships(self) -> DataLoader:
        return self._loader(cards.memberships_by_institution)

    @cached_property
    def card(self) -> DataLoader:
        return self._loader(cards.cards_by_id)

    @cached_property
    def merchant(self) -> DataLoader:
        return self._loader(cards.merchants_by_id)

    @cached_property
    def authorization(self) -> DataLoader:
        return self._loader(cards.authorizations_by_id)

    @cached_property
    def payment_transfers(self) -> DataLoader:
        """authorization id -> its ledger transfers, in order."""
        return self._loader(cards.payment_transfers)


def loaders(info: Info) -> Loaders:
    ctx: Context = info.context
    if ctx.loaders is None:
        ctx.loaders = Loaders(ctx)
    return ctx.loaders


async def minor_units(info: Info) -> dict[str, int]:
    """Currency code -> minor units (read once per process)."""
    cached = reference.cached_minor_units()
    if cached is not None:
        return cached
    return await info.context.read(reference.minor_units)
