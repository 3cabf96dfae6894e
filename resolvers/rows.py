"""Rows by key, lined up with the keys asked for: what a DataLoader's batch function
returns. One statement per batch, whatever the number of keys. `insert_all`: many
rows of a table in one statement. And `kept`: rows of a few kinds that a session holds
on to while a block runs."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import Table, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
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


_TYPMOD = re.compile(r"\([\d, ]+\)")


@lru_cache(maxsize=64)  # a few tables' column sets per engine
def _unnest_insert(table: Table, columns: tuple[str, ...], returning: tuple[str, ...], dialect: Dialect):
    """PostgreSQL's INSERT of `columns` from one array parameter per column, and each
    column's bind processor (what SQLAlchemy would apply to its values: an enum's name)."""
    types = [table.c[name].type for name in columns]
    # Arrays of the unbounded type (VARCHAR, not VARCHAR(8)): an explicit cast would cut a
    # value too long, where the INSERT's own assignment to the column refuses it.
    elements = [_TYPMOD.sub("", kind.compile(dialect=dialect)) for kind in types]
    arrays = ", ".join(f"${k}::{element}[]" for k, element in enumerate(elements, start=1))
    text = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
    if returning:
        text += f" RETURNING {', '.join(returning)}"
    processors: list[Callable | None] = [kind.dialect_impl(dialect).bind_processor(dialect) for kind in types]
    return text, processors


async def insert_all(
    connection: AsyncConnection,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    returning: tuple[str, ...] = (),
) -> list[Any]:
    """Insert `rows` (each the values of `columns`, in order) into `table`: the `returning`
    columns of each new row (in no promised order: match them by a unique column). On
    PostgreSQL one INSERT from arrays (one per column), one statement text and one
    execution whatever the number of rows, where an executemany runs the INSERT once a
    row; elsewhere a plain executemany, or SQLAlchemy's multi-row INSERT when something
    is returned."""
    if not rows:
        return []
    assert all(len(row) == len(columns) for row in rows), "a value for every column"
    if connection.dialect.name != "postgresql":
        statement = table.insert()
        if returning:
            statement = statement.returning(*(table.c[name] for name in returning))
        result = await connection.execute(statement, [dict(zip(columns, row, strict=True)) for row in rows])
        return result.all() if returning else []
    text, processors = _unnest_insert(table, columns, returning, connection.dialect)
    arrays = []
    for values, process in zip(zip(*rows, strict=True), processors, strict=True):
        arrays.append([process(value) for value in values] if process is not None else list(values))
    result = await connection.exec_driver_sql(text, tuple(arrays))
    return result.all() if returning else []


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
