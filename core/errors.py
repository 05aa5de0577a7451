"""Domain errors carry a stable code (the contract's ErrorCode) and a message key.

The GraphQL layer maps them, in one place, to localised `userErrors`.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "INVALID"
    default_key = "error.invalid"
    # Most errors undo the whole change. A few must keep their bookkeeping (a failed
    # sign-in counts toward the lockout; a reused refresh token revokes its family),
    # so the edge commits those before it reports the error.
    keep_changes = False

    def __init__(
        self,
        message_key: str | None = None,
        *,
        field: list[str] | None = None,
        code: str | None = None,
        **params: object,
    ) -> None:
        self.message_key = message_key or self.default_key
        self.field = field
        if code is not None:
            self.code = code
        self.params = params
        super().__init__(self.message_key)


class Invalid(DomainError):
    code = "INVALID"
    default_key = "error.invalid"


class NotFound(DomainError):
    code = "NOT_FOUND"
    default_key = "error.not_found"


class Forbidden(DomainError):
    code = "FORBIDDEN"
    default_key = "error.forbidden"


class Conflict(DomainError):
    code = "CONFLICT"
    default_key = "error.invalid"


class RateLimited(DomainError):
    code = "RATE_LIMITED"
    default_key = "error.rate_limited"


class Unauthenticated(Exception):
    """Not a user error: the caller has no valid credentials (a GraphQL error)."""
