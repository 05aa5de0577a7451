"""The event bus behind GraphQL subscriptions.

Domain code emits events on the session (`core.db.emit`); after commit the edge
publishes them here. Subscribers get events of topics they listen to through
bounded queues: a slow subscriber loses its oldest events, never the process's memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

log = logging.getLogger("linli.bus")


class EventBus(Protocol):
    async def publish(self, topic: str, event: dict[str, Any]) -> None: ...

    def listen(self, topic: str) -> Any: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class _Subscription:
    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: dict[str, Any]) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)


class InProcessBus:
    """Fan-out inside one process; the default for the embedded deployment."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._subs: dict[str, set[_Subscription]] = {}
        self._queue_size = queue_size

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self._subs.clear()

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        self.deliver_local(topic, event)

    def deliver_local(self, topic: str, event: dict[str, Any]) -> None:
        for sub in tuple(self._subs.get(topic, ())):
            sub.offer(event)

    def subscriber_count(self, topic: str) -> int:
        return len(self._subs.get(topic, ()))

    @asynccontextmanager
    async def listen(self, topic: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        sub = _Subscription(self._queue_size)
        self._subs.setdefault(topic, set()).add(sub)
        try:
            yield self._iterate(sub)
        finally:
            subs = self._subs.get(topic)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subs[topic]

    @staticmethod
    async def _iterate(sub: _Subscription) -> AsyncIterator[dict[str, Any]]:
        while True:
            yield await sub.queue.get()
