"""Event buses that span processes: PostgreSQL LISTEN/NOTIFY or Redis pub/sub.

Each process keeps its subscribers in an in-process bus; `publish` sends the event to
the shared channel only, and every process (the publisher's too) delivers what arrives
on the channel to its own subscribers. So a reading ingested by one `linli serve`
process reaches a WebSocket subscriber connected to another.

Events are small (ids and the fields subscribers filter on): PostgreSQL limits a
notification to 8000 bytes. Delivery is best effort, like the in-process bus: while the
listening connection is being re-established events are missed, and the subscribers'
queries remain the source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from typing import Any

import orjson

from core.bus import InProcessBus

log = logging.getLogger("linli.bus")

CHANNEL = "linli_bus"
MAX_NOTIFY_BYTES = 7900


def _encode(topic: str, event: dict[str, Any]) -> bytes:
    return orjson.dumps({"t": topic, "e": event})


class _RemoteBus(InProcessBus, ABC):
    """What both remote buses share: local delivery, the listener's reconnect loop.
    Each transport says how to listen once (until its connection is lost)."""

    def __init__(self, queue_size: int = 1000) -> None:
        super().__init__(queue_size)
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    def _on_raw(self, raw: bytes | str) -> None:
        try:
            message = orjson.loads(raw)
            topic, event = message["t"], message["e"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("ignoring a malformed bus message")
            return
        self.deliver_local(topic, event)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name=type(self).__name__)
        # Subscribers of the first request must not miss events: wait for the listener.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self._close()
        await super().stop()

    async def _listen_forever(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self._listen_once()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bus listener lost (%s); reconnecting in %.1fs", exc, backoff)
            self._ready.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)

    @abstractmethod
    async def _listen_once(self) -> None:
        """Listen on the channel until the connection is lost (then raise)."""

    async def _close(self) -> None:
        return None


class PostgresBus(_RemoteBus):
    """LISTEN/NOTIFY on one channel of the application database."""

    def __init__(self, url: str, queue_size: int = 1000) -> None:
        super().__init__(queue_size)
        # asyncpg takes a plain libpq URL, SQLAlchemy's has the driver in the scheme.
        self._dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._pool: Any = None

    async def _publisher(self) -> Any:
        if self._pool is None:
            import asyncpg

            self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=4)
        return self._pool

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        payload = _encode(topic, event).decode()
        if len(payload.encode()) > MAX_NOTIFY_BYTES:
            log.error("bus event on %s too large for NOTIFY; delivered locally only", topic)
            self.deliver_local(topic, event)
            return
        pool = await self._publisher()
        await pool.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)

    async def _listen_once(self) -> None:
        import asyncpg

        conn = await asyncpg.connect(self._dsn)
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _c: lost.set())
            await conn.add_listener(CHANNEL, lambda _c, _pid, _ch, payload: self._on_raw(payload))
            self._ready.set()
            while not lost.is_set():
                # A cheap liveness check: a dead socket is noticed within seconds.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), 5)
                if not lost.is_set():
                    await asyncio.wait_for(conn.execute("SELECT 1"), 5)
            raise ConnectionError("listener connection closed")
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def _close(self) -> None:
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await self._pool.close()
            self._pool = None


class RedisBus(_RemoteBus):
    """Redis pub/sub on one channel."""

    def __init__(self, url: str, queue_size: int = 1000) -> None:
        super().__init__(queue_size)
        self._url = url
        self._client: Any = None

    def _redis(self) -> Any:
        if self._client is None:
            import redis.asyncio as redis

            self._client = redis.from_url(self._url)
        return self._client

    async def publish(self, topic: str, event: dict[str, Any]) -> None:
        await self._redis().publish(CHANNEL, _encode(topic, event))

    async def _listen_once(self) -> None:
        pubsub = self._redis().pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(CHANNEL)
            self._ready.set()
            while True:
                message = await pubsub.get_message(timeout=5.0)
                if message is not None and message.get("type") == "message":
                    self._on_raw(message["data"])
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None
