"""The ASGI application: /graphql (POST; GET serves GraphiQL) and /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from cross_web import HTTPException
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type

from corridor import sweeper
from corridor.auth import Authenticator
from corridor.batcher import TransferBatcher
from corridor.context import Context
from corridor.db import create_engine, session_factory
from corridor.settings import Settings
from schema.errors import with_code
from schema.inputs import string_problem
from schema.root import build_schema

log = logging.getLogger("corridor.app")


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


def _json(data: object) -> str:
    """JSON as the endpoint writes it: ASCII, so that no string echoed from a request (a
    lone surrogate in an unknown operation's name, say) can make a response unwritable."""
    return json.dumps(data, separators=(",", ":"))


def _error(status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """A refusal as every client of the endpoint reads it: a JSON `errors` list with a code."""
    code = code or HTTP_CODES.get(status, "BAD_REQUEST")
    body = _json({"errors": [{"message": message, "extensions": {"code": code}}]})
    return Response(body, status, headers=headers, media_type="application/json")


def _body_problem(data: object) -> str | None:
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


class GraphQLEndpoint(GraphQL):
    """Strawberry's ASGI view behind the body-size limit, bearer authentication and the
    request time limit. Every refusal is a JSON `errors` list with a code."""

    def __init__(self, settings: Settings, sessions, authenticator: Authenticator) -> None:
        super().__init__(build_schema(settings), graphql_ide="graphiql")
        self.settings = settings
        self.sessions = sessions
        self.authenticator = authenticator
        self.batcher = TransferBatcher(sessions)
        self._closing: set[asyncio.Task] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await _error(404, "Not found.")(scope, receive, send)
            return
        response = await self._respond(Request(scope, receive))
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            return _error(405, "Use POST (or GET for queries).", headers={"Allow": "GET, POST"})
        if request.method == "GET" and "query" not in request.query_params:
            return await self._run(request)  # the GraphiQL page needs no key
        body = await self._read_body(request)
        if body is None:
            return _error(413, f"Request body exceeds {self.settings.max_body_bytes} bytes.")
        principal = await self.authenticator(request.headers.get("authorization"))
        if principal is None:
            return _error(
                401,
                "A valid API key is required: Authorization: Bearer <key>.",
                headers={"WWW-Authenticate": 'Bearer realm="corridor"'},
            )
        ctx = Context(sessions=self.sessions, settings=self.settings, principal=principal, batcher=self.batcher)
        request.scope.setdefault("state", {})["corridor"] = ctx

        async def replay() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            async with asyncio.timeout(self.settings.request_seconds):
                response = await self._run(Request(request.scope, replay))
        except TimeoutError:
            log.warning("request %s unanswered after %s s", ctx.request_id, self.settings.request_seconds)
            self._close_later(ctx)  # its database work settles, then its connection goes back
            return _error(
                503,
                f"No answer within {self.settings.request_seconds} s. Work already started finishes on its own: "
                "send the same request again (same idempotency key) to learn its outcome.",
            )
        except BaseException:
            await ctx.close()
            raise
        await ctx.close()
        return response

    def _close_later(self, ctx: Context) -> None:
        task = asyncio.create_task(ctx.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _run(self, request: Request) -> Response:
        try:
            return await self.run(request)
        except HTTPException as refusal:
            return _error(refusal.status_code, refusal.reason)

    async def _read_body(self, request: Request) -> bytes | None:
        """The whole body, or None once it passes the limit (read no further)."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > limit:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def parse_http_body(self, request):
        """A POST body is one JSON object: checked here, so that no shape of body (an
        array, null, a number, invalid UTF-8, nesting past the parser's recursion) gets
        past as anything but a 400 that says what is wrong."""
        if request.method != "POST":
            return await super().parse_http_body(request)
        content_type, _ = parse_content_type(request.content_type or "")
        if content_type != "application/json":
            raise HTTPException(415, "Send the operation as Content-Type: application/json.")
        data = self.parse_json(await request.get_body())
        problem = _body_problem(data)
        if problem is not None:
            raise HTTPException(400, problem)
        return GraphQLRequestData(
            query=data.get("query"),
            variables=data.get("variables"),
            operation_name=data.get("operationName"),
            extensions=data.get("extensions"),
        )

    def decode_json(self, data: str | bytes) -> object:
        try:
            return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
        except UnicodeDecodeError:
            raise HTTPException(400, "The body is not valid UTF-8.") from None
        except (ValueError, RecursionError):  # not JSON, nested too deep, an integer of thousands of digits
            raise HTTPException(
                400, "The body is not valid JSON (or nests too deep, or holds a number too long)."
            ) from None

    async def process_result(self, request, result):
        """Every error has a code, those raised before any extension could see them too
        (a syntax error)."""
        if result.errors:
            result.errors = [with_code(error) for error in result.errors]
        return await super().process_result(request, result)

    async def get_context(self, request, response) -> Context | None:
        return request.scope.get("state", {}).get("corridor")

    def encode_json(self, data: object) -> str:
        return _json(data)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    engine = create_engine(settings)
    sessions = session_factory(engine)
    graphql = GraphQLEndpoint(settings, sessions, Authenticator(sessions))

    async def healthz(_: Request) -> Response:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # the database is down or unreachable: say so, without details
            log.exception("health check failed")
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette):
        task = asyncio.create_task(sweeper.run(sessions, settings.sweep_seconds))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await engine.dispose()

    app = Starlette(
        routes=[Route("/graphql", graphql), Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.settings = settings
    return app
