"""What every resolver needs: auth guards, id parsing, pagination and the one place
where domain errors become localised `userErrors`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.permission import BasePermission

from core import i18n
from core.errors import DomainError, Invalid
from core.ids import InvalidGlobalId, decode_gid
from core.principal import Principal, Role
from resolvers.context import Context, Info
from schema.base import Connection, ErrorCode, PageInfo, UserError, edges_of
from schema.pagination import BadCursor, decode_cursor

log = logging.getLogger("linli.graphql")

T = TypeVar("T")
P = TypeVar("P")

DEFAULT_PAGE = 20
MAX_PAGE = 100


class ClientError(GraphQLError):
    """A GraphQL error meant for the client (auth, bad arguments): never masked."""

    def __init__(self, code: str, key: str, locale: str, **params: Any) -> None:
        super().__init__(i18n.translate(key, locale, **params), extensions={"code": code})


def unauthenticated(info: Info) -> ClientError:
    return ClientError("UNAUTHENTICATED", "error.unauthenticated", info.context.locale)


def forbidden(info: Info) -> ClientError:
    return ClientError("FORBIDDEN", "error.forbidden", info.context.locale)


def require_user(info: Info) -> Principal:
    principal = info.context.principal
    if principal.is_anonymous:
        raise unauthenticated(info)
    return principal


class IsAuthenticated(BasePermission):
    message = "UNAUTHENTICATED"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if info.context.principal.is_anonymous:
            raise unauthenticated(info)
        return True


def _community_arg(info: Info, kwargs: dict[str, Any]) -> int:
    raw = kwargs.get("community_id")
    if raw is None and "input" in kwargs:
        raw = getattr(kwargs["input"], "community_id", None)
    try:
        return decode_gid(str(raw), "Community")[1]
    except InvalidGlobalId:
        raise ClientError("INVALID", "error.invalid_id", info.context.locale) from None


class _CommunityRole(BasePermission):
    roles: tuple[Role, ...] = ()

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal.is_anonymous:
            raise unauthenticated(info)
        community_id = _community_arg(info, kwargs)
        allowed = (
            principal.in_community(community_id)
            if not self.roles
            else principal.has_role(community_id, *self.roles)
        )
        if not allowed:
            raise forbidden(info)
        return True


class IsMember(_CommunityRole):
    """Any role in the community named by the `communityId` argument (or input field)."""


class IsStaff(_CommunityRole):
    roles = (Role.STAFF, Role.MANAGER)


class IsManager(_CommunityRole):
    roles = (Role.MANAGER,)


def parse_id(info: Info, gid: Any, expected: str | tuple[str, ...]) -> int:
    """Decode a global ID from a query argument (a GraphQL error when malformed)."""
    try:
        return decode_gid(str(gid), expected)[1]
    except InvalidGlobalId:
        raise ClientError("INVALID", "error.invalid_id", info.context.locale) from None


def input_id(gid: Any, expected: str | tuple[str, ...], field: list[str]) -> int:
    """Decode a global ID from mutation input (a userError when malformed)."""
    try:
        return decode_gid(str(gid), expected)[1]
    except InvalidGlobalId:
        raise Invalid("error.invalid_id", field=field) from None


def page_args(info: Info, first: int | None, after: str | None) -> tuple[int, int]:
    """(limit, offset) from Relay arguments; `first` is capped at 100."""
    limit = DEFAULT_PAGE if first is None else first
    if limit < 0 or limit > MAX_PAGE:
        raise ClientError("INVALID", "error.page_size", info.context.locale, max=MAX_PAGE)
    offset = 0
    if after is not None:
        try:
            offset = decode_cursor(after) + 1
        except BadCursor:
            raise ClientError("INVALID", "error.cursor", info.context.locale) from None
    return limit, offset


def connection(nodes: Sequence[T], total: int, offset: int, cls: type[Any] = Connection) -> Any:
    edges = edges_of(list(nodes), offset)
    return cls(
        edges=edges,
        page_info=PageInfo(
            has_next_page=offset + len(nodes) < total,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total,
    )


def user_error(err: DomainError, locale: str) -> UserError:
    try:
        code = ErrorCode(err.code)
    except ValueError:
        code = ErrorCode.INVALID
    return UserError(
        code=code, field=err.field, message=i18n.translate(err.message_key, locale, **err.params)
    )


async def run_mutation(
    info: Info,
    payload: Callable[..., P],
    work: Callable[[AsyncSession], Awaitable[dict[str, Any]]],
) -> P:
    """Run `work` in one write transaction owned here, the edge.

    On success the payload gets the fields `work` returned; a DomainError becomes a
    localised userError and the transaction is rolled back (unless the error is one
    that must keep its bookkeeping). Side effects queued on the session run only
    after the commit.
    """
    ctx: Context = info.context
    error: DomainError | None = None
    result: dict[str, Any] = {}
    try:
        async with ctx.db.transaction() as session:
            try:
                result = await work(session)
            except DomainError as exc:
                if not exc.keep_changes:
                    raise
                error = exc
    except DomainError as exc:
        error = exc
    finally:
        ctx.after_write()
    if error is not None:
        return payload(user_errors=[user_error(error, ctx.locale)])
    return payload(user_errors=[], **result)


__all__ = [
    "ClientError",
    "IsAuthenticated",
    "IsManager",
    "IsMember",
    "IsStaff",
    "connection",
    "input_id",
    "page_args",
    "parse_id",
    "require_user",
    "run_mutation",
    "strawberry",
]
