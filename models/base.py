"""Column types shared by every domain's tables."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Integer, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# Constraint names that Alembic can find again (SQLite batch mode needs them).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# A 64-bit surrogate key; on SQLite it must be spelled INTEGER to alias the rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")


# The service's clock runs this far ahead of the system clock: zero but in tests
# that move time forward (hold expiry) without sleeping.
_skew = dt.timedelta(0)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + _skew


def set_clock_skew(skew: dt.timedelta) -> None:
    global _skew
    _skew = skew


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so values are normalised to naive UTC on the way in and
    tagged UTC on the way out; PostgreSQL gets `timestamp with time zone`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class CalendarStart(FunctionElement):
    """The UTC calendar day, ISO week (from Monday) or month that a timestamp falls in,
    as the text of its first day ('2024-03-01'), the same on both engines."""

    type = String()
    inherit_cache = True
    name = "calendar_start"
    # The unit is part of the statement's cache key (a month's SQL is not a day's).
    _traverse_internals = [*FunctionElement._traverse_internals, ("unit", InternalTraversal.dp_string)]

    def __init__(self, unit: str, moment) -> None:
        assert unit in ("day", "week", "month"), unit
        self.unit = unit
        super().__init__(moment)


@compiles(CalendarStart, "sqlite")
def _calendar_start_sqlite(element: CalendarStart, compiler, **kw) -> str:
    moment = compiler.process(next(iter(element.clauses)), **kw)
    # SQLite keeps naive UTC text ('2024-03-05 10:00:00.000000'): date() reads it.
    return {
        "day": f"date({moment})",
        "week": f"date({moment}, '-6 days', 'weekday 1')",
        "month": f"strftime('%Y-%m-01', {moment})",
    }[element.unit]


@compiles(CalendarStart, "postgresql")
def _calendar_start_postgresql(element: CalendarStart, compiler, **kw) -> str:
    moment = compiler.process(next(iter(element.clauses)), **kw)
    return f"to_char(date_trunc('{element.unit}', {moment} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"
