"""The ASGI application: /graphql (POST; GET serves GraphiQL) and /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL

from corridor import sweeper
from corridor.auth import Authenticator
from corridor.batcher import TransferBatcher
from corridor.context import Context
from corridor.db import create_engine, session_factory
from corridor.settings import Settings
from schema.root import build_schema

log = logging.getLogger("corridor.app")


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status, headers=headers)


class GraphQLEndpoint(GraphQL):
    """Strawberry's ASGI view behind the body-size limit and bearer authentication."""

    def __init__(self, settings: Settings, sessions, authenticator: Authenticator) -> None:
        super().__init__(build_schema(settings), graphql_ide="graphiql")
        self.settings = settings
        self.sessions = sessions
        self.authenticator = authenticator
        self.batcher = TransferBatcher(sessions)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await _error(404, "Not found.", "NOT_FOUND")(scope, receive, send)
            return
        request = Request(scope, receive)
        if request.method == "GET" and "query" not in request.query_params:
            await super().__call__(scope, receive, send)  # the GraphiQL page needs no key
            return
        body = await self._read_body(request)
        if body is None:
            await _error(413, f"Request body exceeds {self.settings.max_body_bytes} bytes.", "PAYLOAD_TOO_LARGE")(
                scope, receive, send
            )
            return
        principal = await self.authenticator(request.headers.get("authorization"))
        if principal is None:
            await _error(
                401,
                "A valid API key is required: Authorization: Bearer <key>.",
                "UNAUTHENTICATED",
                {"WWW-Authenticate": 'Bearer realm="corridor"'},
            )(scope, receive, send)
            return
        ctx = Context(sessions=self.sessions, settings=self.settings, principal=principal, batcher=self.batcher)
        scope.setdefault("state", {})["corridor"] = ctx

        async def replay() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        try:
            await super().__call__(scope, replay, send)
        finally:
            await ctx.close()

    async def _read_body(self, request: Request) -> bytes | None:
        """The whole body, or None once it passes the limit (read no further)."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def get_context(self, request, response) -> Context | None:
        return request.scope.get("state", {}).get("corridor")

    def encode_json(self, data: object) -> str:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


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
        routes=[Route("/graphql", graphql, methods=["GET", "POST"]), Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.settings = settings
    return app
