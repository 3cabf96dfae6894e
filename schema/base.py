"""What every domain's GraphQL types share: Node and global ids, cursors, PageInfo,
UserError and the payload convention, Money."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import inspect
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from corridor.context import Context
from resolvers.access import Principal
from resolvers.errors import DomainError, ErrorCode

ErrorCodeType = strawberry.enum(ErrorCode, name="ErrorCode")


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class UserError:
    code: ErrorCodeType
    message: str
    field: list[str] | None = strawberry.field(
        default=None, description='Path to the input field at fault, e.g. ["transfers", "2", "amount"].'
    )

    @classmethod
    def of(cls, error: DomainError) -> UserError:
        return cls(code=error.code, message=error.message, field=error.field)


@strawberry.type
class Money:
    amount: Decimal
    currency: str


# ---------------------------------------------------------------- ids and cursors


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(token: str) -> str:
    padded = token + "=" * (-len(token) % 4)
    return base64.urlsafe_b64decode(padded.encode()).decode()


def global_id(type_name: str, key: int | str) -> strawberry.ID:
    """The opaque id of a Node: base64 of "Type:key"."""
    return strawberry.ID(_b64(f"{type_name}:{key}"))


# Our ids are short ("Transfer:<up to 19 digits>" in base64); longer strings are not ids,
# and are never parsed nor cached.
GLOBAL_ID_MAX = 64
# Keys are signed 64-bit integers: a larger number is no key of ours (and no database
# driver may ever be handed one).
KEY_MAX = (1 << 63) - 1


def parse_key(text: str) -> int | None:
    """A row key spelled in ASCII digits within 64 bits, or None. The one place that
    turns the key part of a global id or cursor into an int: `int()` alone would take
    "²" or "٣" and raise, or numbers no column can hold."""
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        return None
    key = int(text)
    return key if key <= KEY_MAX else None


def parse_global_id(value: str) -> tuple[str, str] | None:
    """("Type", "key") of a global id, or None."""
    if len(value) > GLOBAL_ID_MAX:
        return None
    return _parse_global_id(value)


@functools.lru_cache(maxsize=65_536)  # batches name the same accounts again and again
def _parse_global_id(value: str) -> tuple[str, str] | None:
    try:
        type_name, sep, key = _unb64(value).partition(":")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    if not sep or not type_name or not key:
        return None
    return type_name, key


def node_key(value: str) -> tuple[str, int] | None:
    """(type name, integer key) of a global id, or None for anything that is not one."""
    parsed = parse_global_id(value)
    if parsed is None:
        return None
    key = parse_key(parsed[1])
    return None if key is None else (parsed[0], key)


def decode_id(value: str, type_name: str, *field: str) -> int:
    """The integer key of a global id of `type_name`, or INVALID_INPUT on `field`."""
    found = node_key(value)
    if found is None or found[0] != type_name:
        raise DomainError(ErrorCode.INVALID_INPUT, f"Not the id of a {type_name}.", list(field) or None)
    return found[1]


def cursor(key: int) -> str:
    return _b64(f"cursor:{key}")


def decode_cursor(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    found = node_key(value)
    if found is None or found[0] != "cursor":
        raise DomainError(ErrorCode.INVALID_INPUT, f"{name} is not a cursor from this connection.", [name])
    return found[1]


def connection(kind: type, edge: type, page, node: Callable[[Any], Any]):
    """A Relay connection of `kind` from a keyset page of rows keyed by `id`: each row an
    `edge` whose node is `node(row)`. Every connection of the API is built here."""
    return kind(
        page_info=page_info(page, lambda row: row.id),
        edges=[edge(cursor=cursor(row.id), node=node(row)) for row in page.rows],
    )


def page_info(page, key: Callable[[Any], int]) -> PageInfo:
    rows = page.rows
    return PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=cursor(key(rows[0])) if rows else None,
        end_cursor=cursor(key(rows[-1])) if rows else None,
    )


# ---------------------------------------------------------------- plain resolvers


def install_plain_resolvers(schema: strawberry.Schema, type_name: str, *fields: str) -> None:
    """Let graphql-core call these fields' own functions, `(self, info)`, without strawberry's
    wrapper around each call (an Info object, argument conversion, the extension chain),
    which on a page of rows cost more than the fields themselves. Only for what the wrapper
    adds nothing to, checked here so that a field that changes fails the build: no
    argument, no extension, no permission class, a function of `self` and `info` that uses
    of `info` only `context` (graphql-core's info has the same, and so has what
    `schema.execution` passes). Such a function may return its value or an awaitable
    (graphql-core awaits either)."""
    definition = schema.get_type_by_name(type_name)
    graphql_type = schema._schema.type_map[type_name]
    for name in fields:
        field = definition.get_field(name)
        resolver = field.base_resolver
        assert resolver is not None and not field.arguments, f"{type_name}.{name}: not a plain resolver"
        assert not field.extensions and not field.permission_classes, f"{type_name}.{name}: would be skipped"
        function = resolver.wrapped_func
        assert list(inspect.signature(function).parameters) == ["self", "info"], f"{type_name}.{name}: (self, info)"
        graphql_type.fields[schema.config.name_converter.get_graphql_name(field)].resolve = function
        PLAIN.add(function)


PLAIN: set[Callable] = set()  # the functions install_plain_resolvers put on fields (schema.execution)


# ---------------------------------------------------------------- request helpers


def context(info: Info) -> Context:
    return info.context


def selected(info: Info, *path: str) -> frozenset[str]:
    """The names of the fields the query selects at `path` below the field being resolved
    (`selected(info, "edges", "node")`), through fragments and whatever their directives
    say: what a page may load for its rows at once, before their fields ask."""
    level = [child for field in info.selected_fields for child in field.selections]  # the field's own
    for name in path:
        level = [child for field in _fields(level) if field.name == name for child in field.selections]
    return frozenset(field.name for field in _fields(level))


def _fields(selections) -> list:
    """The fields of a selection list, its fragments and inline fragments spread."""
    found = []
    for selection in selections:
        if isinstance(selection, SelectedField):
            found.append(selection)
        else:
            found.extend(_fields(selection.selections))
    return found


def principal(info: Info) -> Principal:
    caller = info.context.principal
    assert caller is not None, "the endpoint authenticates every request before execution"
    return caller


def now(info: Info) -> dt.datetime:
    """The request's clock, read once when the request began (Context.now)."""
    return info.context.now


T = TypeVar("T")


async def mutate(info: Info, work: Callable[..., Awaitable[T]], /, *args: Any, **kwargs: Any) -> T:
    """The one way a mutation writes: `work(session, principal, *args, **kwargs)` (a
    resolver-layer function) in a write transaction of its own, committed when it
    returns and rolled back when it raises, tried again when the database refuses it
    for a reason a new try resolves (Context.write). Pass `now=now(info)` where the rule
    needs the time, so one request sees one clock. (createTransfers and sendPayment
    write through their group commit instead, corridor/batcher.py: the same retries, a
    transaction shared with concurrent requests of their kind.)"""
    caller = principal(info)
    return await context(info).write(lambda session: work(session, caller, *args, **kwargs))


P = TypeVar("P")


def user_errors(payload: type[P], *prefix: str) -> Callable[[Callable[..., Awaitable[P]]], Callable[..., Awaitable[P]]]:
    """Turn a DomainError raised by a mutation into `payload(errors=[...])`.

    `prefix` is the argument whose fields the resolver's error paths are relative
    to, e.g. "input".
    """

    def decorate(resolver: Callable[..., Awaitable[P]]) -> Callable[..., Awaitable[P]]:
        @functools.wraps(resolver)
        async def wrapped(*args: Any, **kwargs: Any) -> P:
            try:
                return await resolver(*args, **kwargs)
            except DomainError as error:
                found = error.under(*prefix)
                return payload(errors=[UserError.of(e) for e in getattr(found, "errors", [found])])

        return wrapped

    return decorate
