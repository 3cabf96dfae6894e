"""Request-scoped DataLoaders: every nested object is fetched in one statement per
level of the query, never one per row."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import cached_property
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from strawberry.types import Info

from corridor.context import Context
from models import cards as card_models
from models import fx as fx_models
from models import messaging as messaging_models
from models import reference as reference_models
from models import settlement as settlement_models
from resolvers import access, cards, ledger, messaging, reference, rows, settlement

T = TypeVar("T")
MISSING: Any = object()


class SharedLoader(DataLoader):
    """A DataLoader whose futures no single waiter can cancel.

    A loader's future is shared by every field that asks for the same key. graphql-core
    cancels the sibling fields of a field whose error nulls their parent; a cancelled
    task waiting on a shared future would cancel the future itself, and every other
    field waiting on it (in a branch that was not cancelled) would get CancelledError,
    which escapes the request. Each waiter gets its own shield, so a cancellation ends
    that waiter only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kept: dict[Any, Any] = {}  # key -> row, loaded by `fill` or given by `keep`
        self._made: dict[tuple[Callable, Any], Any] = {}  # (make, key) -> make(row), by `then`

    def load(self, key: Any) -> Awaitable[Any]:
        if key in self._kept:
            done = self.loop.create_future()
            done.set_result(self._kept[key])
            return done
        return asyncio.shield(super().load(key))

    def load_many(self, keys: Iterable[Any]) -> Awaitable[list[Any]]:
        """The keys' rows, in order: one shield for them all rather than one a key."""
        return asyncio.shield(asyncio.gather(*map(self.load, keys)))

    async def fill(self, keys: Iterable[Any]) -> list[Any]:
        """The keys' rows, in order, those not loaded yet read in one batch and kept for the
        request without a future each (a page's hundred rows: one batch, not a hundred
        futures and their callbacks); `load` and `then` answer from what is kept."""
        keys = list(dict.fromkeys(keys))
        fresh = [key for key in keys if key not in self._kept and self.cache_map.get(key) is None]
        if fresh:
            self._kept.update(zip(fresh, await self.load_fn(fresh), strict=True))
        loading = [key for key in keys if key not in self._kept]  # asked for before, by `load`
        if loading:
            self._kept.update(zip(loading, await self.load_many(loading), strict=True))
        return [self._kept[key] for key in keys]

    def keep(self, key: Any, row: Any) -> None:
        """Keep a row the request already has (as `fill` keeps those it reads)."""
        self._kept.setdefault(key, row)

    def then(self, key: Any, make: Callable[[Any], T]) -> T | Awaitable[T | None] | None:
        """`make(row)` of the key's row (None where there is none): at once when the row
        is loaded already (a page loads its rows' nested objects before their fields ask
        for them, so that a field answers without a task of its own), else an awaitable.
        Made once per key and request (a page's hundred accounts share one owner)."""
        made = self._made.get((make, key), MISSING)
        if made is not MISSING:
            return made
        if key in self._kept:
            return self._make(key, make, self._kept[key])
        future = self.cache_map.get(key)
        if future is not None and future.done() and not future.cancelled() and future.exception() is None:
            return self._make(key, make, future.result())
        return self._then_later(key, make)

    async def _then_later(self, key: Any, make: Callable[[Any], T]) -> T | None:
        return self._make(key, make, await self.load(key))

    def _make(self, key: Any, make: Callable[[Any], T], row: Any) -> T | None:
        made = self._made[make, key] = None if row is None else make(row)
        return made


class Loaders:
    """The request's loaders, one per kind of row, each made on first use."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    def _loader(self, fetch: Callable[[Any, Sequence[Any]], Awaitable[list[Any]]]) -> DataLoader:
        ctx = self._ctx

        async def load(keys: Sequence[Any]) -> list[Any]:
            return await ctx.read(lambda session: fetch(session, keys))

        return SharedLoader(load_fn=load)

    def _rows(self, model: type) -> DataLoader:
        """key -> the `model` row with that primary key, or None."""
        return self._loader(lambda session, keys: rows.rows_by_id(session, model, keys))

    def _children(self, model: type, parent: str, *order: str) -> DataLoader:
        """key -> the `model` rows whose `parent` column is that key, in `order`."""
        return self._loader(lambda session, keys: rows.rows_by_parent(session, model, parent, keys, *order))

    @cached_property
    def currency(self) -> DataLoader:
        """code -> the currency's row, read once per process (resolvers.reference.currency_rows):
        currencies never change once migrated."""
        read = self._ctx.read

        async def load(codes: Sequence[str]) -> list[Any]:
            cached = reference.cached_currency_rows(codes)
            return cached if cached is not None else await read(lambda s: reference.currency_rows(s, codes))

        return SharedLoader(load_fn=load)

    @cached_property
    def country(self) -> DataLoader:
        return self._rows(reference_models.Country)

    @cached_property
    def blocs(self) -> DataLoader:
        """country code -> its blocs' rows, by name."""
        return self._children(reference_models.CountryBloc, "country_code", "bloc")

    @cached_property
    def institution(self) -> DataLoader:
        return self._rows(reference_models.Institution)

    @cached_property
    def account(self) -> DataLoader:
        """account id -> the account, as a plain row (ORM objects cost more to build and to
        read, and nothing changes what a loader hands out)."""
        return self._loader(ledger.accounts_by_id)

    @cached_property
    def transfer(self) -> DataLoader:
        """transfer row id -> the transfer, as a plain row (the ledger reads them so)."""
        return self._loader(lambda session, keys: rows.table_rows_by_id(session, ledger.TRANSFERS, keys))

    @cached_property
    def lapsed(self) -> DataLoader:
        """account id -> [lapsed pending debits, credits] (holds past expiry not yet swept)."""
        now = self._ctx.now

        async def fetch(session, ids: Sequence[int]) -> list[Any]:
            found = await ledger.lapsed_holds(session, ids, now)
            return [found.get(i) for i in ids]

        return self._loader(fetch)

    @cached_property
    def basket(self) -> DataLoader:
        return self._rows(fx_models.Basket)

    @cached_property
    def basket_components(self) -> DataLoader:
        return self._children(fx_models.BasketComponent, "basket_id", "position")

    @cached_property
    def quote(self) -> DataLoader:
        return self._rows(fx_models.Quote)

    @cached_property
    def card_scheme(self) -> DataLoader:
        return self._rows(card_models.CardScheme)

    @cached_property
    def scheme_link(self) -> DataLoader:
        return self._rows(card_models.SchemeLink)

    @cached_property
    def bin_ranges(self) -> DataLoader:
        return self._children(card_models.BinRange, "scheme_id", "id")

    @cached_property
    def scheme_memberships(self) -> DataLoader:
        return self._children(card_models.SchemeMembership, "institution_id", "scheme_id")

    @cached_property
    def card(self) -> DataLoader:
        return self._rows(card_models.Card)

    @cached_property
    def acquired_card(self) -> DataLoader:
        """card id -> whether the caller acquired an approved payment of it (and so sees it)."""
        principal = self._ctx.principal
        return self._loader(lambda session, ids: cards.acquired_cards(session, principal, ids))

    @cached_property
    def merchant(self) -> DataLoader:
        return self._rows(card_models.Merchant)

    @cached_property
    def authorization(self) -> DataLoader:
        return self._rows(card_models.CardAuthorization)

    @cached_property
    def payment_transfers(self) -> DataLoader:
        """authorization id -> its ledger transfers, in order."""
        return self._loader(cards.payment_transfers)

    @cached_property
    def payment_network(self) -> DataLoader:
        return self._rows(messaging_models.PaymentNetwork)

    @cached_property
    def network_currencies(self) -> DataLoader:
        """network id -> its settlement currency codes, in order."""
        return self._loader(messaging.network_currencies)

    @cached_property
    def network_members(self) -> DataLoader:
        """network id -> its memberships, by institution."""
        return self._children(messaging_models.NetworkMembership, "network_id", "institution_id")

    @cached_property
    def network_memberships(self) -> DataLoader:
        """institution id -> its network memberships, by network."""
        return self._children(messaging_models.NetworkMembership, "institution_id", "network_id")

    @cached_property
    def interbank_payment(self) -> DataLoader:
        return self._rows(messaging_models.InterbankPayment)

    @cached_property
    def payment_events(self) -> DataLoader:
        """payment id -> its status events, oldest first."""
        return self._children(messaging_models.PaymentEvent, "payment_id", "id")

    @cached_property
    def interbank_transfers(self) -> DataLoader:
        """payment id -> its ledger transfers, in order."""
        return self._loader(messaging.payment_transfers)

    @cached_property
    def settlement_window(self) -> DataLoader:
        return self._rows(settlement_models.SettlementWindow)

    @cached_property
    def window_figures(self) -> DataLoader:
        """window id -> its figures and positions."""
        return self._loader(settlement.figures_by_id)

    @cached_property
    def settlement_transfers(self) -> DataLoader:
        """window id -> the transfers that settled it, in order."""
        return self._loader(settlement.settlement_transfers)

    @cached_property
    def api_key(self) -> DataLoader:
        principal = self._ctx.principal
        return self._loader(lambda session, ids: access.api_keys_by_id(session, principal, ids))


# The fields that show an account's balances (GraphQL names): a page that selects any of
# them loads the lapsed holds of its rows at once, not a field at a time.
BALANCE_FIELDS = frozenset({"debitsPending", "debitsPosted", "creditsPending", "creditsPosted", "balance", "available"})


async def account_page_loads(
    info: Info, rows: Sequence[Any], fields: frozenset[str], visible: Callable[[Any], bool]
) -> dict[int, tuple[ledger.Balances, int]]:
    """Load what a page of account rows needs for the fields the query selects of each
    (`fields`) for the whole page at once, through the request's loaders (the statements
    that field after field would make): owners, currencies, and when balances are selected,
    the lapsed holds of the rows the caller sees (`visible`). Their balances with lapsed holds
    released and their currency's minor units, by row id."""
    lds = loaders(info)
    shown = [row for row in rows if visible(row)] if fields & BALANCE_FIELDS else []
    loads = [lds.lapsed.fill([row.id for row in shown])] if shown else []
    if "currency" in fields:
        loads.append(lds.currency.fill({row.currency_code for row in rows}))
    if "owner" in fields:
        loads.append(lds.institution.fill({row.owner_id for row in rows}))
    loaded = await asyncio.gather(*loads)
    if not shown:
        return {}
    units = await minor_units(info)
    return {
        row.id: (ledger.effective_balances(row, lapsed), units[row.currency_code])
        for row, lapsed in zip(shown, loaded[0], strict=True)
    }


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
