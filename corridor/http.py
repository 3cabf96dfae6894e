"""What the HTTP layer answers with: JSON refusals with a code, written in ASCII, and the
check that a request body is one GraphQL operation."""

from __future__ import annotations

import json

from starlette.responses import Response

from schema.inputs import string_problem

# Status of a refusal -> its code in the JSON errors list.
HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    503: "TIMEOUT",
}


def json_text(data: object) -> str:
    """JSON as the endpoint writes it: ASCII, so that no string echoed from a request (a
    lone surrogate in an unknown operation's name, say) can make a response unwritable."""
    return json.dumps(data, separators=(",", ":"))


def refusal(status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """A refusal as every client of the endpoint reads it: a JSON `errors` list with a code."""
    code = code or HTTP_CODES.get(status, "BAD_REQUEST")
    body = json_text({"errors": [{"message": message, "extensions": {"code": code}}]})
    return Response(body, status, headers=headers, media_type="application/json")


def body_problem(data: object) -> str | None:
    """Why a decoded JSON body is not one GraphQL operation, or None."""
    if isinstance(data, list):
        return "Batching is not supported: send one operation per request."
    if not isinstance(data, dict):
        return 'The body must be a JSON object such as {"query": "{ viewer { role } }"}.'
    for name, kinds in (("query", str), ("operationName", str), ("variables", dict), ("extensions", dict)):
        value = data.get(name)
        if value is not None and not isinstance(value, kinds):
            return f"`{name}` must be {'a string' if kinds is str else 'an object'} or null."
        problem = string_problem(value) if isinstance(value, str) else None
        if problem:  # the variables are checked with the operation, by the input boundary
            return f"`{name}` {problem}."
    return None
