"""The input boundary: every string a request carries is checked once, before execution.

A string in a variable (at any depth, keys included) or a string literal in the
document must be valid Unicode (no lone surrogate, which no database driver can
encode), hold no NUL character (PostgreSQL text cannot), and be at most STRING_MAX
characters. A request breaking one of these is refused as a whole with a GraphQL error
(code BAD_USER_INPUT, and the variable path at fault), before any resolver runs, so
no field can forget the check and no such value ever reaches the database, nor a
group-committed transaction shared with other requests.

Field-specific limits (a name's 100 characters, a reference's 140) stay with the rules
of each domain; ids are decoded in one place, `schema.base.node_key`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, ExecutionResult, GraphQLError, StringValueNode, visit
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension

# Long enough for an ISO 20022 document of many transactions in one string; the body
# limit (CORRIDOR_MAX_BODY_BYTES) bounds a request as a whole.
STRING_MAX = 2_000_000
# JSON nests objects in lists in objects; no input of this API is nearly this deep.
DEPTH_MAX = 32


def string_problem(value: str) -> str | None:
    """Why a string may not enter the service, or None."""
    if len(value) > STRING_MAX:
        return f"is longer than {STRING_MAX} characters"
    if "\x00" in value:
        return "contains a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid Unicode (a lone surrogate)"
    return None


def value_problem(value: Any, path: list[str], depth: int = 0) -> tuple[str, list[str]] | None:
    """The first string problem in a JSON value, with its path, or None."""
    if isinstance(value, str):
        problem = string_problem(value)
        return (f"The value {problem}.", path) if problem else None
    if depth > DEPTH_MAX:
        return (f"The value nests deeper than {DEPTH_MAX} levels.", path)
    if isinstance(value, dict):
        for key, item in value.items():
            problem = string_problem(key) if isinstance(key, str) else None
            if problem:
                return (f"A field name {problem}.", path)
            found = value_problem(item, [*path, str(key)], depth + 1)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = value_problem(item, [*path, str(index)], depth + 1)
            if found:
                return found
    return None


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.problem: str | None = None

    def enter_string_value(self, node: StringValueNode, *_args) -> Any:
        problem = string_problem(node.value)
        if problem:
            self.problem = f"A string literal {problem}."
            return self.BREAK
        return None


def document_problem(document: DocumentNode) -> str | None:
    """The first bad string literal of a document, or None."""
    visitor = _Literals()
    visit(document, visitor)
    return visitor.problem


# Documents are parsed once per query text (the parser cache); their literals are
# checked once per query text too.
_checked: OrderedDict[str, str | None] = OrderedDict()
CHECKED_MAX = 1024


def checked_document_problem(query: str | None, document: DocumentNode) -> str | None:
    if query is None:
        return document_problem(document)
    if query in _checked:
        _checked.move_to_end(query)
        return _checked[query]
    problem = _checked[query] = document_problem(document)
    if len(_checked) > CHECKED_MAX:
        _checked.popitem(last=False)
    return problem


def refusal(message: str, field: list[str] | None) -> GraphQLError:
    extensions: dict[str, Any] = {"code": "BAD_USER_INPUT"}
    if field:
        extensions["field"] = field
    return GraphQLError(message, extensions=extensions)


class InputBoundary(SchemaExtension):
    """Refuses an operation whose variables or literals carry a string that may not enter."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        error = None
        if context.graphql_document is not None:
            problem = checked_document_problem(context.query, context.graphql_document)
            if problem:
                error = refusal(problem, None)
        if error is None and context.variables:
            found = value_problem(context.variables, [])
            if found:
                message, path = found
                error = refusal(f"{message} (variable ${'.'.join(path)})", path)
        if error is not None:
            context.result = ExecutionResult(data=None, errors=[error])
        yield
