"""GraphQL types of the access domain: the viewer and API keys."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry.types import Info

from corridor.auth import forget_key
from models import access as models
from resolvers import access
from schema.base import (
    Node,
    PageInfo,
    UserError,
    connection,
    context,
    decode_cursor,
    decode_id,
    global_id,
    mutate,
    now,
    principal,
    user_errors,
)
from schema.loaders import loaders
from schema.reference import Institution

Role = strawberry.enum(models.Role, name="Role")


@strawberry.type
class Viewer:
    role: Role
    _institution_id: strawberry.Private[int | None]

    @strawberry.field
    async def institution(self, info: Info) -> Institution | None:
        if self._institution_id is None:
            return None
        return await Institution.resolve_node(info, self._institution_id)


@strawberry.type(description="An API key as the operator sees it: never its secret.")
class ApiKey(Node):
    id: strawberry.ID
    role: Role
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = strawberry.field(
        description="Set once revoked: the key then answers 401 on every worker within a second."
    )
    _institution_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, key: access.KeyView) -> ApiKey:
        return cls(
            id=global_id("ApiKey", key.id),
            role=key.role,
            label=key.label,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            _institution_id=key.institution_id,
        )

    @classmethod
    async def resolve_node(cls, info: Info, key: int) -> ApiKey | None:
        """A key for an operator only (the loader answers None to anyone else)."""
        found = await loaders(info).api_key.load(key)
        return cls.of(found) if found is not None else None

    @strawberry.field
    async def institution(self, info: Info) -> Institution | None:
        if self._institution_id is None:
            return None
        return await Institution.resolve_node(info, self._institution_id)


@strawberry.type
class ApiKeyEdge:
    cursor: str
    node: ApiKey


@strawberry.type
class ApiKeyConnection:
    page_info: PageInfo
    edges: list[ApiKeyEdge]


@strawberry.input
class ApiKeyInput:
    role: Role
    institution_id: strawberry.ID | None = strawberry.field(default=None, description="Required for PARTICIPANT.")
    label: str


@strawberry.type
class ApiKeyPayload:
    secret: str | None = strawberry.field(default=None, description="Shown once; only its hash is stored.")
    api_key: ApiKey | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AccessQuery:
    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        caller = principal(info)
        return Viewer(role=caller.role, _institution_id=caller.institution_id)

    @strawberry.field(description="Every API key, revoked ones included, newest first. Operators only (FORBIDDEN).")
    async def api_keys(self, info: Info, first: int | None = None, after: str | None = None) -> ApiKeyConnection:
        caller = principal(info)
        access.require(caller, access.Action.MANAGE_KEYS)
        after_key = decode_cursor(after, "after")
        page = await context(info).read(
            lambda session: access.list_api_keys(session, caller, first=first, after=after_key)
        )
        return connection(ApiKeyConnection, ApiKeyEdge, page, ApiKey.of)


@strawberry.type
class AccessMutation:
    @strawberry.mutation
    @user_errors(ApiKeyPayload, "input")
    async def create_api_key(self, info: Info, input: ApiKeyInput) -> ApiKeyPayload:
        caller = principal(info)
        access.require(caller, access.Action.MANAGE_KEYS)
        institution_id = (
            decode_id(input.institution_id, "Institution", "institutionId")
            if input.institution_id is not None
            else None
        )
        key, secret = await mutate(
            info, access.create_api_key, role=input.role, label=input.label, institution_id=institution_id
        )
        return ApiKeyPayload(secret=secret, api_key=ApiKey.of(key))

    @strawberry.mutation(
        description="Revoke a key for good (operators only); again on a revoked key, it answers the key unchanged."
    )
    @user_errors(ApiKeyPayload)
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> ApiKeyPayload:
        caller = principal(info)
        access.require(caller, access.Action.MANAGE_KEYS)
        key_id = decode_id(id, "ApiKey", "id")
        key = await mutate(info, access.revoke_api_key, key_id, now(info))
        forget_key(key.id)  # committed: this process stops accepting the key now
        return ApiKeyPayload(api_key=ApiKey.of(key))
