"""GraphQL types of the access domain: the viewer and API keys."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from models import access as models
from resolvers import access
from schema.base import UserError, context, decode_id, principal, user_errors
from schema.reference import Institution, load_institution

Role = strawberry.enum(models.Role, name="Role")


@strawberry.type
class Viewer:
    role: Role
    _institution_id: strawberry.Private[int | None]

    @strawberry.field
    async def institution(self, info: Info) -> Institution | None:
        if self._institution_id is None:
            return None
        return await load_institution(info, self._institution_id)


@strawberry.input
class ApiKeyInput:
    role: Role
    institution_id: strawberry.ID | None = strawberry.field(default=None, description="Required for PARTICIPANT.")
    label: str


@strawberry.type
class ApiKeyPayload:
    secret: str | None = strawberry.field(default=None, description="Shown once; only its hash is stored.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AccessQuery:
    @strawberry.field
    def viewer(self, info: Info) -> Viewer:
        caller = principal(info)
        return Viewer(role=caller.role, _institution_id=caller.institution_id)


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
        async with context(info).transaction() as session:
            _, secret = await access.create_api_key(
                session, caller, role=input.role, label=input.label, institution_id=institution_id
            )
        return ApiKeyPayload(secret=secret)
