"""Domain errors: what a caller did wrong, by code, with the input field at fault."""

from __future__ import annotations

import enum
from collections.abc import Sequence


class ErrorCode(enum.StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    SAME_ACCOUNT = "SAME_ACCOUNT"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    INSUFFICIENT_LIQUIDITY = "INSUFFICIENT_LIQUIDITY"
    ATOMIC_BATCH_FAILED = "ATOMIC_BATCH_FAILED"
    TRANSFER_NOT_PENDING = "TRANSFER_NOT_PENDING"
    TRANSFER_EXPIRED = "TRANSFER_EXPIRED"
    AMOUNT_EXCEEDS_PENDING = "AMOUNT_EXCEEDS_PENDING"
    NO_RATE = "NO_RATE"
    QUOTE_EXPIRED = "QUOTE_EXPIRED"
    QUOTE_USED = "QUOTE_USED"
    NOT_A_MEMBER = "NOT_A_MEMBER"
    PARTICIPANT_SUSPENDED = "PARTICIPANT_SUSPENDED"
    UNSUPPORTED_CURRENCY = "UNSUPPORTED_CURRENCY"
    NO_ROUTE = "NO_ROUTE"
    INVALID_STATE = "INVALID_STATE"
    SETTLEMENT_SHORTFALL = "SETTLEMENT_SHORTFALL"
    SUBSCRIPTION_LIMIT = "SUBSCRIPTION_LIMIT"
    SUBSCRIBER_TOO_SLOW = "SUBSCRIBER_TOO_SLOW"


class DomainError(Exception):
    """A business outcome: the request is refused and nothing was changed.

    `field` is the path to the input at fault, relative to the argument the caller
    passed (the schema layer puts the argument's name in front).
    """

    def __init__(self, code: ErrorCode, message: str, field: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = list(field) if field is not None else None

    def under(self, *prefix: str) -> DomainError:
        """The same error with its field path nested under `prefix` (an error about no field stays so)."""
        if self.field is None:
            return self
        return DomainError(self.code, self.message, [*prefix, *self.field])

    @property
    def extensions(self) -> dict:
        """The code (and field) a GraphQL error made from this one carries: graphql-core
        copies an original error's `extensions` (so a subscription's error has its code too)."""
        return {"code": self.code.value} | ({"field": self.field} if self.field is not None else {})

    def __repr__(self) -> str:
        return f"DomainError({self.code.value}, {self.message!r}, {self.field!r})"


class DomainErrors(DomainError):
    """Several refusals of one request, each its own UserError (e.g. every institution short
    of funds for a settlement); nothing was changed."""

    def __init__(self, errors: Sequence[DomainError]) -> None:
        assert errors
        super().__init__(errors[0].code, "; ".join(error.message for error in errors), errors[0].field)
        self.errors = list(errors)

    def under(self, *prefix: str) -> DomainErrors:
        return DomainErrors([error.under(*prefix) for error in self.errors])


def invalid(message: str, *field: str) -> DomainError:
    return DomainError(ErrorCode.INVALID_INPUT, message, field or None)


def not_found(message: str, *field: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, message, field or None)
