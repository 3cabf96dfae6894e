"""Access: API keys, who is calling, and the one policy of who may do what.

Every permission check in Corridor goes through `require` (what a role may do) and
`may_act_for` / `visible_institution` (whose data a participant may touch).

A key's secret and hash never leave this module: callers get `KeyView`s.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.access import ApiKey, Role
from models.reference import Institution
from resolvers.errors import DomainError, ErrorCode, invalid, not_found
from resolvers.pagination import Page, keyset_page

SECRET_PREFIX = "cor_"
LABEL_MAX = 100


@dataclass(frozen=True)
class Principal:
    """The caller of a request, from its API key."""

    role: Role
    institution_id: int | None
    key_id: int | None = None


# The service acting on its own behalf (command line, demo loader): full rights.
SYSTEM = Principal(role=Role.OPERATOR, institution_id=None)


class Action(enum.StrEnum):
    READ_REFERENCE = "read reference data"
    MANAGE_INSTITUTIONS = "create institutions"
    MANAGE_KEYS = "create, list or revoke API keys"
    READ_ANALYTICS = "read rates and analytics"
    READ_FLOWS = "read the flows of a corridor between two countries"
    READ_OWN = "read an institution's own accounts, transfers, cards and payments"
    WRITE_OWN = "move an institution's own funds"
    READ_ALL = "read every institution's data"
    OPERATE = "run the network: schemes, networks, memberships, settlement"


# What each role may do. PARTICIPANT actions are further limited to its own
# institution by `may_act_for`.
POLICY: dict[Role, frozenset[Action]] = {
    Role.OPERATOR: frozenset(Action),
    Role.PARTICIPANT: frozenset({Action.READ_REFERENCE, Action.READ_ANALYTICS, Action.READ_OWN, Action.WRITE_OWN}),
    Role.ANALYST: frozenset({Action.READ_REFERENCE, Action.READ_ANALYTICS, Action.READ_FLOWS}),
}


def allowed(principal: Principal, action: Action) -> bool:
    return action in POLICY[principal.role]


def require(principal: Principal, action: Action) -> None:
    if not allowed(principal, action):
        raise DomainError(
            ErrorCode.FORBIDDEN,
            f"A {principal.role.value} key may not {action.value}.",
        )


def may_act_for(principal: Principal, institution_id: int) -> bool:
    """Whether the caller may see or move the funds of `institution_id`."""
    if principal.role is Role.OPERATOR:
        return True
    return principal.role is Role.PARTICIPANT and principal.institution_id == institution_id


def visible_institution(principal: Principal) -> int | None:
    """The one institution whose private data the caller sees, or None for all (operators)."""
    if principal.role is Role.OPERATOR:
        return None
    if principal.role is Role.PARTICIPANT:
        return principal.institution_id
    return -1  # analysts see no institution's private data


def hash_secret(secret: str) -> str:
    # Secrets carry 256 random bits: a plain SHA-256 is enough to store them and
    # keeps the per-request lookup cheap (no password-style key stretching needed).
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


async def authenticate(session: AsyncSession, authorization: str | None) -> Principal | None:
    """The principal for an `Authorization: Bearer <key>` header, or None (also for a revoked key)."""
    if not authorization:
        return None
    scheme, _, secret = authorization.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        return None
    key = (await session.exec(select(ApiKey).where(ApiKey.key_hash == hash_secret(secret)))).one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    return Principal(role=key.role, institution_id=key.institution_id, key_id=key.id)


@dataclass(frozen=True)
class KeyView:
    """An API key as the API shows it: never its secret nor its hash."""

    id: int
    role: Role
    institution_id: int | None
    label: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyView:
        return cls(
            id=key.id,
            role=key.role,
            institution_id=key.institution_id,
            label=key.label,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


async def create_api_key(
    session: AsyncSession,
    principal: Principal | None,
    *,
    role: Role,
    label: str,
    institution_id: int | None = None,
) -> tuple[KeyView, str]:
    """A new key and its secret (shown once). `principal` None is the command line."""
    if principal is not None:
        require(principal, Action.MANAGE_KEYS)
    label = label.strip()
    if not label or len(label) > LABEL_MAX:
        raise invalid(f"label must be 1 to {LABEL_MAX} characters.", "label")
    if role is Role.PARTICIPANT:
        if institution_id is None:
            raise invalid("A PARTICIPANT key needs the institution it acts for.", "institutionId")
        if await session.get(Institution, institution_id) is None:
            raise not_found("No such institution.", "institutionId")
    elif institution_id is not None:
        raise invalid(f"A {role.value} key acts for no institution; leave institutionId out.", "institutionId")
    secret = new_secret()
    key = ApiKey(key_hash=hash_secret(secret), role=role, institution_id=institution_id, label=label)
    session.add(key)
    await session.flush()
    return KeyView.of(key), secret


async def list_api_keys(
    session: AsyncSession, principal: Principal, *, first: int | None = None, after: int | None = None
) -> Page[KeyView]:
    """Every key, revoked ones included, newest first. Operators only (FORBIDDEN otherwise)."""
    require(principal, Action.MANAGE_KEYS)
    page = await keyset_page(session, select(ApiKey), ApiKey.id, first=first, after=after, descending=True)
    return Page(rows=[KeyView.of(key) for key in page.rows], has_next=page.has_next, has_previous=page.has_previous)


async def api_keys_by_id(session: AsyncSession, principal: Principal, ids: Sequence[int]) -> list[KeyView | None]:
    """Keys by id for an operator; None where unknown, and for anyone who is no operator."""
    if not allowed(principal, Action.MANAGE_KEYS):
        return [None] * len(ids)
    keys = await session.exec(select(ApiKey).where(ApiKey.id.in_(set(ids))))
    found = {key.id: KeyView.of(key) for key in keys}
    return [found.get(key_id) for key_id in ids]


async def revoke_api_key(session: AsyncSession, principal: Principal, key_id: int, now: dt.datetime) -> KeyView:
    """Revoke a key for good (operators only). Revoking a revoked key is a replay: the
    key comes back unchanged, with the time of its first revocation. An operator may
    revoke its own key; the request doing it still completes.

    The caller's cache of verified keys must drop the key once this commits."""
    require(principal, Action.MANAGE_KEYS)
    statement = select(ApiKey).where(ApiKey.id == key_id).with_for_update().execution_options(populate_existing=True)
    key = (await session.exec(statement)).one_or_none()
    if key is None:
        raise not_found("No such API key.", "id")
    if key.revoked_at is None:
        key.revoked_at = now
        session.add(key)
        await session.flush()
    return KeyView.of(key)
