"""What changed in a transaction, for the live updates (subscriptions).

A rule that creates or changes a payment, a settlement window or a card authorization
notes it here, on its session, with what the subscriptions filter and check visibility
on; nothing is sent from here. The service publishes a transaction's changes after it
commits (never those of a transaction rolled back or retried: a retry notes them again).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

CHANGES = "corridor.changes"  # the key of the list in the session's `info`


class Kind:
    PAYMENT = "payment"
    WINDOW = "window"
    AUTHORIZATION = "authorization"


@dataclass(frozen=True)
class Change:
    """One row that changed: `kind`, its id, and the ids a subscription filters on (a
    payment's network and institutions, a window's scope, an authorization's merchant,
    acquirer and issuer) and its state."""

    kind: str
    id: int
    state: str
    scope: int | str | None = None  # network id, window scope, merchant id
    parties: tuple[int, ...] = ()  # the institutions whose own data it is
    key: str | None = None  # a payment's UETR

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def of(cls, data: dict) -> Change:
        parties = tuple(data.get("parties") or ())
        return cls(data["kind"], data["id"], data["state"], data.get("scope"), parties, data.get("key"))


@dataclass(frozen=True)
class Wanted:
    """What one subscription asks for: changes of `kind`, and of these (when not None)."""

    kind: str
    scope: int | str | None = None
    state: str | None = None
    key: str | None = None

    def matches(self, change: Change) -> bool:
        return (
            change.kind == self.kind
            and self.scope in (None, change.scope)
            and self.state in (None, change.state)
            and self.key in (None, change.key)
        )


def changed(session: AsyncSession, *changes: Change) -> None:
    """Note `changes` on the session's transaction, published once it commits."""
    session.info.setdefault(CHANGES, []).extend(changes)


def take_changes(info: dict) -> list[Change]:
    """The changes noted on a session (by its `info`), forgetting them."""
    return info.pop(CHANGES, [])
