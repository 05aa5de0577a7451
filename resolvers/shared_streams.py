"""One execution per group of identical subscriptions (as Hasura multiplexes live
queries): subscribers with the same document, variables, locale and visibility join a
group; the group runs the subscription once, with its first member's context, and every
member gets the same results. Delivering one alert to a thousand staff subscribers then
costs one execution and a thousand sends, not a thousand executions.

Visibility: a caller whose roles are all staff roles sees what any caller with the same
roles sees, so such callers share by their roles; anyone else (a caregiver sees only
their elders) shares only with their own other connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

from core.principal import STAFF_ROLES, Principal

log = logging.getLogger("linli.subscriptions")

_END = object()
QUEUE = 256


class _Group:
    def __init__(self) -> None:
        self.members: set[asyncio.Queue[Any]] = set()
        self.task: asyncio.Task[None] | None = None


class SharedStreams:
    def __init__(self, fields: set[str]) -> None:
        self.fields = frozenset(fields)
        self._groups: dict[tuple[Any, ...], _Group] = {}
        self._parsed: dict[str, str | None] = {}

    def group_count(self) -> int:
        return len(self._groups)

    def _shared_field(self, query: str, operation_name: str | None) -> str | None:
        if query in self._parsed:
            return self._parsed[query]
        field: str | None = None
        try:
            doc = parse(query)
        except GraphQLError:
            doc = None
        if doc is not None:
            ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
            if len(ops) == 1 and len(doc.definitions) == 1:
                op = ops[0]
                selections = op.selection_set.selections
                if (
                    op.operation == OperationType.SUBSCRIPTION
                    and (operation_name is None or (op.name and op.name.value == operation_name))
                    and len(selections) == 1
                    and getattr(selections[0], "name", None) is not None
                    and selections[0].name.value in self.fields  # type: ignore[attr-defined]
                ):
                    field = selections[0].name.value  # type: ignore[attr-defined]
        if len(self._parsed) < 10_000:
            self._parsed[query] = field
        return field

    def key(
        self,
        query: str,
        variables: dict[str, Any] | None,
        context: Any,
        operation_name: str | None,
    ) -> tuple[Any, ...] | None:
        principal = getattr(context, "principal", None)
        if not isinstance(principal, Principal) or principal.is_anonymous:
            return None
        if self._shared_field(query, operation_name) is None:
            return None
        try:
            encoded = json.dumps(variables or {}, sort_keys=True)
        except (TypeError, ValueError):
            return None
        roles = tuple(sorted((c, tuple(sorted(r))) for c, r in principal.roles.items()))
        staff_only = all(set(r) <= STAFF_ROLES for r in principal.roles.values())
        audience: Any = ("roles", roles) if staff_only and roles else ("user", principal.user_id)
        return (query, encoded, operation_name, getattr(context, "locale", None), audience)

    async def join(
        self, key: tuple[Any, ...], start: Callable[[], Awaitable[Any]]
    ) -> AsyncGenerator[Any, None]:
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
            try:
                source = await start()
            except BaseException:
                del self._groups[key]
                raise
            group.task = asyncio.create_task(self._pump(key, group, source))
        queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE)
        group.members.add(queue)
        return self._member(key, group, queue)

    async def _pump(self, key: tuple[Any, ...], group: _Group, source: Any) -> None:
        try:
            async for result in source:
                for queue in tuple(group.members):
                    if queue.full():
                        queue.get_nowait()  # a slow subscriber loses its oldest result
                    queue.put_nowait(result)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("shared subscription failed")
        finally:
            with contextlib.suppress(Exception):
                await source.aclose()
            if self._groups.get(key) is group:
                del self._groups[key]
            for queue in tuple(group.members):
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(_END)

    async def _member(
        self, key: tuple[Any, ...], group: _Group, queue: asyncio.Queue[Any]
    ) -> AsyncGenerator[Any, None]:
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                yield item
        finally:
            group.members.discard(queue)
            if not group.members and group.task is not None:
                if self._groups.get(key) is group:
                    del self._groups[key]
                group.task.cancel()
