"""How errors leave the API.

- A malformed request (syntax, validation, limits) keeps graphql-core's message.
- A DomainError raised in a query keeps its message and carries its code and field
  in `extensions`.
- Anything else is an internal fault: the client sees "Unexpected error." and a
  request id; the server logs the exception with that id. No stack trace or SQL
  ever reaches the client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import SchemaExtension

from resolvers.errors import DomainError

log = logging.getLogger("corridor.errors")

MASKED_MESSAGE = "Unexpected error."


# Messages of graphql-core's own coercion of variables and literals.
_BAD_INPUT = ("has invalid value", "got invalid value", "was not provided", "must not be null")


def with_code(error: GraphQLError) -> GraphQLError:
    """A pre-execution error with a code, as every error of the API has one:
    GRAPHQL_PARSE_FAILED, BAD_USER_INPUT (a variable or literal the API's types refuse),
    or GRAPHQL_VALIDATION_FAILED. Errors that carry a code keep it."""
    if error.extensions and "code" in error.extensions:
        return error
    message = error.message
    if isinstance(error, GraphQLSyntaxError):
        code = "GRAPHQL_PARSE_FAILED"
    elif message.startswith("Expected value of type") or (
        message.startswith("Variable '$") and any(words in message for words in _BAD_INPUT)
    ):
        code = "BAD_USER_INPUT"
    else:
        code = "GRAPHQL_VALIDATION_FAILED"
    return GraphQLError(
        message,
        nodes=error.nodes,
        path=error.path,
        original_error=error.original_error,
        extensions={**(error.extensions or {}), "code": code},
    )


def _name_the_operation(execution_context) -> None:
    """Tell the request's context which operation ran (for the access log): the name the
    client gave, else the document's operation's own."""
    context = execution_context.context
    if context is not None and hasattr(context, "operation_name"):
        context.operation_name = execution_context.operation_name


class ErrorPolicy(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        _name_the_operation(self.execution_context)
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [self._public(error) for error in errors]

    def _public(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, GraphQLError) or error.path is None:
            # Errors without a path come before execution (parsing, validation, variable
            # coercion such as "1.2.3" for a Decimal): their message is for the client.
            return with_code(error)
        if isinstance(original, DomainError):
            extensions = {"code": original.code.value}
            if original.field is not None:
                extensions["field"] = original.field
            return GraphQLError(original.message, nodes=error.nodes, path=error.path, extensions=extensions)
        request_id = getattr(self.execution_context.context, "request_id", None)
        log.error(
            "internal error in request %s at %s",
            request_id,
            ".".join(str(p) for p in error.path or ()),
            exc_info=(type(original), original, original.__traceback__),
        )
        return GraphQLError(
            MASKED_MESSAGE,
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_ERROR", "requestId": request_id},
        )
