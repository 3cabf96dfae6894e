"""The GraphQL endpoint: strawberry's ASGI view behind the body-size limit, bearer
authentication and the request time limit, with one access-log line per request; and
subscriptions over graphql-transport-ws on the same path, the key in the connection's
init payload (a connection without a valid one is closed with 4403 Forbidden)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry import UNSET
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type

from corridor import ide
from corridor.auth import Authenticator
from corridor.batcher import card_batcher, payment_batcher, transfer_batcher
from corridor.context import Context
from corridor.events import EventHub
from corridor.http import body_problem, json_text, refusal
from corridor.settings import Settings
from schema.errors import with_code
from schema.root import build_schema

log = logging.getLogger("corridor.app")
access_log = logging.getLogger("corridor.access")
GRAPHQL_RESPONSE = "application/graphql-response+json"
GRAPHQL_TRANSPORT_WS = "graphql-transport-ws"
INIT_SECONDS = 10  # a connection that sends no connection_init by then is closed (4408)


class GraphQLEndpoint(GraphQL):
    """Strawberry's ASGI view behind the body-size limit, bearer authentication and the
    request time limit. Every refusal is a JSON `errors` list with a code."""

    def __init__(
        self, settings: Settings, sessions, authenticator: Authenticator, events: EventHub, analytics=None
    ) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql",
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS,),
            connection_init_wait_timeout=dt.timedelta(seconds=INIT_SECONDS),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            allowed_origins=settings.cors_origins,
        )
        self.settings = settings
        self.sessions = sessions
        self.analytics = analytics  # the analytics pool's sessions (None: `sessions` serve them)
        self.authenticator = authenticator
        self.events = events
        self.batcher = transfer_batcher(sessions)
        self.payments = payment_batcher(sessions)
        self.cards = card_batcher(sessions, settings)
        self._closing: set[asyncio.Task] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._subscriptions(scope, receive, send)
            return
        if scope["type"] != "http":
            await refusal(404, "Not found.")(scope, receive, send)
            return
        request = Request(scope, receive)
        started = time.perf_counter()
        response = await self._respond(request)
        self._log(request, response, time.perf_counter() - started)
        await response(scope, receive, send)

    async def _subscriptions(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A graphql-transport-ws connection: its context lives as long as it does (each
        event renews the clock and loaders, and gives the database connection back)."""
        ctx = Context(sessions=self.sessions, settings=self.settings, events=self.events, analytics=self.analytics)
        scope.setdefault("state", {})["corridor"] = ctx
        started = time.perf_counter()
        try:
            await self.run(WebSocket(scope, receive=receive, send=send))
        finally:
            await ctx.close()
            role = ctx.principal.role.value if ctx.principal is not None else "-"
            access_log.info("WS %s closed after %.1fs role=%s", scope["path"], time.perf_counter() - started, role)

    async def on_ws_connect(self, context: Context):
        """The key of the init payload ({"Authorization": "Bearer <key>"}), or 4403."""
        header = credentials(context.connection_params)
        principal = await self.authenticator(header)
        if principal is None:
            raise ConnectionRejectionError
        context.principal = principal

        async def reauthenticate() -> bool:
            return await self.authenticator(header) is not None

        context.reauthenticate = reauthenticate
        return UNSET  # an ack with no payload

    def _log(self, request: Request, response: Response, seconds: float) -> None:
        """One line per request: method, path, status, duration, operation, role. Never
        the key, the variables or the query text (a card number may be in them)."""
        ctx: Context | None = request.scope.get("state", {}).get("corridor")
        role = ctx.principal.role.value if ctx is not None and ctx.principal is not None else "-"
        operation = (ctx.operation_name if ctx is not None else None) or "-"
        access_log.info(
            "%s %s %d %.1fms op=%s role=%s",
            request.scope["method"],
            request.scope["path"],  # not request.url, which builds the whole URL
            response.status_code,
            seconds * 1000,
            operation if len(operation) <= 64 else operation[:61] + "...",
            role,
        )

    async def _respond(self, request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            return refusal(405, "Use POST (or GET for queries).", headers={"Allow": "GET, POST"})
        if request.method == "GET" and "query" not in request.query_params:
            return await self._run(request)  # the GraphiQL page needs no key
        body = await self._read_body(request)
        if body is None:
            return refusal(413, f"Request body exceeds {self.settings.max_body_bytes} bytes.")
        principal = await self.authenticator(request.headers.get("authorization"))
        if principal is None:
            return refusal(
                401,
                "A valid API key is required: Authorization: Bearer <key>.",
                headers={"WWW-Authenticate": 'Bearer realm="corridor"'},
            )
        ctx = Context(
            sessions=self.sessions,
            analytics=self.analytics,
            settings=self.settings,
            principal=principal,
            batcher=self.batcher,
            payments=self.payments,
            cards=self.cards,
        )
        request.scope.setdefault("state", {})["corridor"] = ctx

        async def replay() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            async with asyncio.timeout(self.settings.request_seconds):
                response = _as_requested(request, await self._run(Request(request.scope, replay)))
        except TimeoutError:
            log.warning("request %s unanswered after %s s", ctx.request_id, self.settings.request_seconds)
            self._close_later(ctx)  # its database work settles, then its connection goes back
            return refusal(
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
        except HTTPException as refused:
            return refusal(refused.status_code, refused.reason)

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
        problem = body_problem(data)
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
        (a syntax error). A result with no data and errors only from before execution is
        a request error, which a client asking for application/graphql-response+json
        gets with status 400 (GraphQL over HTTP)."""
        if result.errors:
            result.errors = [with_code(error) for error in result.errors]
            if result.data is None and all(error.path is None for error in result.errors):
                request.scope.setdefault("state", {})["corridor_request_error"] = True
        return await super().process_result(request, result)

    async def render_graphql_ide(self, request) -> Response:
        return ide.page()

    async def get_context(self, request, response) -> Context | None:
        return request.scope.get("state", {}).get("corridor")

    def encode_json(self, data: object) -> str:
        return json_text(data)


def credentials(params: object) -> str | None:
    """The `Authorization` value of a connection's init payload (any case), or an
    `apiKey` as a bearer key."""
    if not isinstance(params, dict):
        return None
    for name, value in params.items():
        if isinstance(name, str) and name.lower() == "authorization" and isinstance(value, str):
            return value
    key = params.get("apiKey")
    return f"Bearer {key}" if isinstance(key, str) else None


def _as_requested(request: Request, response: Response) -> Response:
    """The answer in the media type the client asked for: application/graphql-response+json
    when its Accept header names it (a request error then has status 400), else
    application/json (always 200 for a GraphQL result, as before the draft)."""
    if GRAPHQL_RESPONSE not in request.headers.get("accept", "") or response.media_type != "application/json":
        return response
    response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
    if response.status_code == 200 and request.scope.get("state", {}).get("corridor_request_error"):
        response.status_code = 400
    return response
