"""Rows by key, lined up with the keys asked for: what a DataLoader's batch function
returns. One statement per batch, whatever the number of keys. And `kept`: rows of a
few kinds that a session holds on to while a block runs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Table, event
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from resolvers.pagination import grouped_in_key_order, in_key_order

M = TypeVar("M", bound=SQLModel)


async def rows_by_id(session: AsyncSession, model: type[M], ids: Sequence[Any]) -> list[M | None]:
    """The `model` rows whose primary key (one column) is each of `ids`, None where none is."""
    (key,) = model.__table__.primary_key.columns
    rows = await session.exec(select(model).where(key.in_(set(ids))))
    return in_key_order(rows, ids, lambda row: getattr(row, key.name))


async def table_rows_by_id(session: AsyncSession, table: Table, ids: Sequence[Any]) -> list[Any]:
    """As `rows_by_id`, for a Core table read as plain rows (no ORM objects)."""
    (key,) = table.primary_key.columns
    connection = await session.connection()
    rows = await connection.execute(select(table).where(key.in_(set(ids))))
    return in_key_order(rows, ids, lambda row: getattr(row, key.name))


async def rows_by_parent(
    session: AsyncSession, model: type[M], parent: str, ids: Sequence[Any], *order: str
) -> list[list[M]]:
    """The `model` rows whose column `parent` is each of `ids`, gathered per id, ordered
    by `order` (columns) within each."""
    column = getattr(model, parent)
    statement = select(model).where(column.in_(set(ids))).order_by(column, *(getattr(model, o) for o in order))
    return grouped_in_key_order(await session.exec(statement), ids, lambda row: getattr(row, parent))


@contextmanager
def kept(session: AsyncSession, *models: type[SQLModel]) -> Iterator[None]:
    """While the block runs, every row of `models` the session loads stays in its identity
    map, so that `session.get` answers it again without a statement. The map holds rows
    weakly: a row one request of a group commit looked up and let go was read again by the
    next. For rows that the block does not change by other means than the session (a Core
    UPDATE would leave a kept row stale): schemes, memberships, not accounts."""
    rows: list[SQLModel] = []

    def keep(_session, instance) -> None:
        if isinstance(instance, models):
            rows.append(instance)

    target = session.sync_session
    event.listen(target, "loaded_as_persistent", keep)
    try:
        yield
    finally:
        event.remove(target, "loaded_as_persistent", keep)
        rows.clear()
