"""The ASGI application: /graphql (POST; GET serves GraphiQL; WebSocket for
subscriptions), the dashboard at /, the IDE's and the dashboard's static assets,
/healthz, and CORS for the origins the settings allow."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from corridor import dashboard, ide, sweeper
from corridor.auth import Authenticator
from corridor.db import create_analytics_engine, create_engine, session_factory
from corridor.endpoint import GraphQLEndpoint
from corridor.events import EventHub
from corridor.http import refusal
from corridor.settings import Settings

log = logging.getLogger("corridor.app")
# A browser app on an allowed origin may send these; preflights are remembered this long.
CORS_HEADERS = ["Authorization", "Content-Type", "Accept"]
CORS_MAX_AGE = 600


class Cors(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as JSON like every refusal."""

    def preflight_response(self, request_headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        problem = response.body.decode("utf-8", "replace")  # "Disallowed CORS origin, headers"
        return refusal(400, f"{problem}: see CORRIDOR_CORS_ORIGINS.", "CORS_NOT_ALLOWED")


def cors(settings: Settings) -> list[Middleware]:
    """CORS for the allowed origins (none by default: then no browser app elsewhere may call)."""
    if not settings.cors_origins:
        return []
    return [
        Middleware(
            Cors,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=CORS_HEADERS,
            max_age=CORS_MAX_AGE,
        )
    ]


async def _http_refusal(_: Request, error: HTTPException) -> Response:
    """An unknown path or a method a route does not take: a JSON refusal like any other."""
    message = {404: "No such path: the API is at /graphql.", 405: "Method not allowed here."}
    return refusal(error.status_code, message.get(error.status_code, error.detail), headers=error.headers)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    engine = create_engine(settings)
    sessions = session_factory(engine)
    analytics_engine = create_analytics_engine(settings)
    analytics = session_factory(analytics_engine) if analytics_engine is not None else None
    hub = EventHub(settings.database_url, limit=settings.max_subscriptions, queue_size=settings.subscriber_queue)
    hub.install(sessions)
    graphql = GraphQLEndpoint(settings, sessions, Authenticator(sessions), hub, analytics)

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
        await hub.start()
        tasks = [asyncio.create_task(sweeper.run(sessions, settings.sweep_seconds))]
        if settings.settlement_schedule:
            closing = sweeper.run_schedule(sessions, settings.settlement_schedule, settings.sweep_seconds)
            tasks.append(asyncio.create_task(closing))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await hub.stop()
            for pool in (engine, analytics_engine):
                if pool is not None:
                    await pool.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", graphql),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz, methods=["GET"]),
            Route(ide.STATIC_ROUTE, ide.asset, methods=["GET"]),
            *dashboard.routes(),
        ],
        middleware=cors(settings),
        exception_handlers={HTTPException: _http_refusal},
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.analytics_engine = analytics_engine
    app.state.sessions = sessions
    app.state.settings = settings
    return app
