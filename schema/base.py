"""Types every capability shares: Node, connections, Money, UserError, payload bases."""

from __future__ import annotations

import enum
from typing import Generic, TypeVar

import strawberry

from core.money import Money as MoneyValue

T = TypeVar("T")


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int


@strawberry.enum
class ErrorCode(enum.Enum):
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    INVALID = "INVALID"
    CONFLICT = "CONFLICT"
    SLOT_FULL = "SLOT_FULL"
    ALREADY_PAID = "ALREADY_PAID"
    VOTING_CLOSED = "VOTING_CLOSED"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    PROPOSAL_REQUIRED = "PROPOSAL_REQUIRED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    RATE_LIMITED = "RATE_LIMITED"


@strawberry.type
class UserError:
    code: ErrorCode
    field: list[str] | None = strawberry.field(
        default=None,
        description='Path of the offending input field, e.g. ["input", "slotStart"].',
    )
    message: str = strawberry.field(
        description="Human text in the request's language (Accept-Language: zh-CN or en)."
    )


@strawberry.type
class Money:
    amount_minor: int
    currency: str
    formatted: str = strawberry.field(description='Decimal text, e.g. "12.50".')

    @classmethod
    def of(cls, amount_minor: int, currency: str) -> Money:
        value = MoneyValue(amount_minor, currency)
        return cls(amount_minor=amount_minor, currency=currency, formatted=value.formatted())


@strawberry.type
class OkPayload:
    ok: bool
    user_errors: list[UserError]


def edges_of(nodes: list[T], offset: int) -> list[Edge[T]]:
    from schema.pagination import encode_cursor

    return [Edge(cursor=encode_cursor(offset + i), node=n) for i, n in enumerate(nodes)]
