"""Settings, read once from the environment.

Every knob has a default that makes `corridor serve` work on a fresh machine with
an embedded SQLite database. Production sets DATABASE_URL to PostgreSQL and
CORRIDOR_SECRET to a real secret.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _int(name: str, default: int, maximum: int = 2_147_483_647, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be an integer from {minimum} to {maximum}, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite+aiosqlite:///./corridor.db"
    # Keyed hash secret (HMAC) for card numbers; set it in production.
    secret: str = "corridor-development-secret"
    # Request limits: body size, query depth, tokens, aliases, fields.
    # 4 MiB: a createTransfers batch of 8,189 transfers is about 1.5 MiB of JSON.
    max_body_bytes: int = 4 << 20
    max_depth: int = 12
    max_tokens: int = 4_000
    max_aliases: int = 30
    # Field selections in a document, counted once per fragment spread. GraphiQL's
    # introspection query has 232 (220 with graphql-core's default options), no
    # aliases, and depth 0: what is under __schema or __type is not counted.
    max_fields: int = 1_000
    # Fields with one response name in one selection set, its fragments merged in (what
    # graphql-core compares pairwise). GraphiQL's introspection query has at most 1.
    max_same_name: int = 50
    # Bounded caches of parsed and validated documents, keyed by query text.
    document_cache_size: int = 512
    # How often the background sweep releases lapsed holds (seconds).
    sweep_seconds: int = 5
    # How long an FX quote can be executed (seconds).
    quote_seconds: int = 60
    # How long an uncaptured card authorization holds the cardholder's funds (seconds).
    card_hold_seconds: int = 7 * 86_400
    sqlite_busy_timeout_ms: int = 5_000
    # A request still running after this many seconds is answered 503. Database work it
    # started is never cut off: it commits or rolls back on its own, and the same request
    # sent again (same idempotency key) answers with the outcome.
    request_seconds: int = 30
    pool_size: int = field(default=0)  # 0: the engine's default for the driver
    # Origins a browser app may call the API from (CORS): none by default; "*" for any
    # (development only).
    cors_origins: tuple[str, ...] = ()
    # Settlement windows closed on a schedule: (scope, seconds) pairs, e.g. from
    # CORRIDOR_SETTLEMENT_SCHEDULE="MIR=3600,SPFS=86400" (a window of MIR is closed once it
    # has been open an hour and holds obligations). None by default.
    settlement_schedule: tuple[tuple[str, int], ...] = ()
    # Subscriptions (graphql-transport-ws): at most this many on one connection, and in
    # all on one worker process; a subscriber that falls this many changes behind is dropped.
    max_subscriptions_per_connection: int = 20
    max_subscriptions: int = 1_000
    subscriber_queue: int = 100

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("DATABASE_URL", cls.database_url),
            secret=os.environ.get("CORRIDOR_SECRET", cls.secret),
            max_body_bytes=_int("CORRIDOR_MAX_BODY_BYTES", cls.max_body_bytes),
            max_depth=_int("CORRIDOR_MAX_DEPTH", cls.max_depth),
            max_tokens=_int("CORRIDOR_MAX_TOKENS", cls.max_tokens),
            max_aliases=_int("CORRIDOR_MAX_ALIASES", cls.max_aliases),
            max_fields=_int("CORRIDOR_MAX_FIELDS", cls.max_fields),
            max_same_name=_int("CORRIDOR_MAX_SAME_NAME", cls.max_same_name),
            document_cache_size=_int("CORRIDOR_DOCUMENT_CACHE", cls.document_cache_size),
            sweep_seconds=_int("CORRIDOR_SWEEP_SECONDS", cls.sweep_seconds),
            quote_seconds=_int("CORRIDOR_QUOTE_SECONDS", cls.quote_seconds),
            card_hold_seconds=_int("CORRIDOR_CARD_HOLD_SECONDS", cls.card_hold_seconds),
            sqlite_busy_timeout_ms=_int("CORRIDOR_SQLITE_BUSY_TIMEOUT_MS", cls.sqlite_busy_timeout_ms),
            request_seconds=_int("CORRIDOR_REQUEST_SECONDS", cls.request_seconds),
            pool_size=_int("CORRIDOR_POOL_SIZE", cls.pool_size, maximum=1_000, minimum=0),
            cors_origins=_origins(os.environ.get("CORRIDOR_CORS_ORIGINS", "")),
            settlement_schedule=_schedule(os.environ.get("CORRIDOR_SETTLEMENT_SCHEDULE", "")),
            max_subscriptions_per_connection=_int(
                "CORRIDOR_MAX_SUBSCRIPTIONS_PER_CONNECTION", cls.max_subscriptions_per_connection
            ),
            max_subscriptions=_int("CORRIDOR_MAX_SUBSCRIPTIONS", cls.max_subscriptions),
            subscriber_queue=_int("CORRIDOR_SUBSCRIBER_QUEUE", cls.subscriber_queue),
        )


def _origins(raw: str) -> tuple[str, ...]:
    """Comma-separated origins (scheme://host[:port], or *), checked."""
    origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    for origin in origins:
        if origin != "*" and "://" not in origin:
            raise ValueError(f"CORRIDOR_CORS_ORIGINS: {origin!r} is no origin (like https://app.example.com, or *)")
    return origins


SCHEDULE_MAX_SECONDS = 366 * 86_400


def _schedule(raw: str) -> tuple[tuple[str, int], ...]:
    """Comma-separated SCOPE=SECONDS pairs (a scheme or network code, 60 s to a year), checked."""
    pairs = []
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        scope, _, seconds = part.partition("=")
        scope = scope.strip().upper()
        if not (scope and seconds.strip().isascii() and seconds.strip().isdigit()):
            raise ValueError(f"CORRIDOR_SETTLEMENT_SCHEDULE: {part!r} is not SCOPE=SECONDS (like MIR=3600)")
        if not 60 <= int(seconds) <= SCHEDULE_MAX_SECONDS:
            raise ValueError(
                f"CORRIDOR_SETTLEMENT_SCHEDULE: {scope}'s {seconds.strip()} s is not 60 to {SCHEDULE_MAX_SECONDS}"
            )
        pairs.append((scope, int(seconds)))
    return tuple(pairs)
