"""`node(id:)`: each capability registers how to fetch its types, visibility included."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from core.ids import InvalidGlobalId, decode_gid
from resolvers.base import ClientError, IsAuthenticated
from resolvers.context import Info
from schema.base import Node

NodeFetcher = Callable[[Info, int], Awaitable[Any]]
_fetchers: dict[str, NodeFetcher] = {}


def node_type(type_name: str) -> Callable[[NodeFetcher], NodeFetcher]:
    def register(fn: NodeFetcher) -> NodeFetcher:
        _fetchers[type_name] = fn
        return fn

    return register


def loader_fetcher(loader_name: str) -> NodeFetcher:
    """A fetcher that reuses a visibility-checking DataLoader."""

    async def fetch(info: Info, pk: int) -> Any:
        return await getattr(info.context.loaders, loader_name).load(pk)

    return fetch


@strawberry.type
class NodeQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        try:
            type_name, pk = decode_gid(str(id))
        except InvalidGlobalId:
            raise ClientError("INVALID", "error.invalid_id", info.context.locale) from None
        fetch = _fetchers.get(type_name)
        if fetch is None:
            return None
        # Rows the viewer may not see are simply absent: existence is not revealed.
        return await fetch(info, pk)
