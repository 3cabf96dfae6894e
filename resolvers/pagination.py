"""Keyset pagination: pages cut by the last key seen, stable while rows are appended.

An offset cursor shifts when rows are inserted before it; a key does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from resolvers.errors import invalid

T = TypeVar("T")

MAX_PAGE = 100
DEFAULT_PAGE = 20


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    has_next: bool
    has_previous: bool


def empty_page(first: int | None, after: int | None) -> Page:
    """The page a caller who may see no row gets: `first` checked as for a real page."""
    page_size(first, None)
    return Page(rows=[], has_next=False, has_previous=after is not None)


def page_size(first: int | None, last: int | None) -> tuple[int, bool]:
    """(size, backwards) for first/last; at most MAX_PAGE; not both."""
    if first is not None and last is not None:
        raise invalid("Pass either first or last, not both.", "first")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise invalid(f"{name} must be between 0 and {MAX_PAGE}.", name)
    if last is not None:
        return last, True
    return (first if first is not None else DEFAULT_PAGE), False


async def keyset_page(
    session: AsyncSession,
    statement: Select,
    key: Any,
    *,
    first: int | None = None,
    after: int | None = None,
    last: int | None = None,
    before: int | None = None,
    descending: bool = False,
) -> Page:
    """One page of `statement` ordered by the unique column `key`.

    `descending` orders newest first (for a growing key); `after`/`before` are keys
    taken from cursors, exclusive. Forward pages read first+1 rows to learn whether
    there is a next page; backward pages likewise for a previous one.
    """
    size, backwards = page_size(first, last)
    stmt = statement
    # "after" moves along the order; "before" against it.
    if after is not None:
        stmt = stmt.where(key < after if descending else key > after)
    if before is not None:
        stmt = stmt.where(key > before if descending else key < before)
    along = key.desc() if descending else key.asc()
    against = key.asc() if descending else key.desc()
    stmt = stmt.order_by(against if backwards else along).limit(size + 1)
    return cut_page(list((await session.exec(stmt)).all()), size, backwards, after=after, before=before)


def cut_page(rows: list, size: int, backwards: bool, *, after: Any = None, before: Any = None) -> Page:
    """A Page from up to size+1 rows read in page order (against the order when
    `backwards`): the extra row only says that there is more."""
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
        return Page(rows=rows, has_next=before is not None, has_previous=more)
    return Page(rows=rows, has_next=more, has_previous=after is not None)


def in_key_order(rows: Iterable[T], keys: Sequence[Any], key: Callable[[T], Any]) -> list[T | None]:
    """`rows` lined up with `keys` (None where none matched): what a DataLoader returns."""
    found = {key(row): row for row in rows}
    return [found.get(k) for k in keys]


def grouped_in_key_order(rows: Iterable[T], keys: Sequence[Any], key: Callable[[T], Any]) -> list[list[T]]:
    """`rows` gathered into one list per key, lined up with `keys` (empty where none)."""
    found: dict[Any, list[T]] = {k: [] for k in keys}
    for row in rows:
        found[key(row)].append(row)
    return [found[k] for k in keys]
