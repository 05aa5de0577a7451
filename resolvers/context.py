"""The typed GraphQL context, built per request (HTTP) or per connection (WebSocket)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from core.bus import EventBus
from core.db import Database
from core.principal import ANONYMOUS, Principal
from core.settings import Settings
from resolvers.loaders import Loaders


def _noop(_: int | None = None) -> None:
    return None


@dataclass
class Services:
    """Adapters the composition root wires in (payments, push, device commands)."""

    # Drop a user's cached roles (after a role change or a closed account).
    invalidate_principal: Callable[[int | None], None] = _noop
    extras: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        return self.extras.get(name)


@dataclass
class Context:
    db: Database
    settings: Settings
    bus: EventBus
    principal: Principal = ANONYMOUS
    locale: str = "zh-CN"
    request: Any = None
    services: Services = field(default_factory=Services)
    connection_params: dict[str, Any] | None = None
    # A WebSocket context lives as long as the connection: it must not hold a database
    # session open, so each use gets a fresh one.
    long_lived: bool = False
    loaders: Loaders = field(init=False)
    _session: AsyncSession | None = field(default=None, init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """The request's read session. Resolvers run concurrently, so access to the one
        session is serialised; each DataLoader batch is one short critical section."""
        if self.long_lived:
            async with self.db.reader() as session:
                try:
                    yield session
                finally:
                    # Loaders read rows after this block; the reader's rollback would
                    # expire them (DetachedInstanceError), detached rows keep their values.
                    session.expunge_all()
            return
        async with self._lock:
            if self._session is None:
                self._session = self.db.read_session()
            yield self._session

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.rollback()
            await session.close()

    def after_write(self) -> None:
        # A mutation changed rows: nothing cached before it may be served after it.
        self.loaders.clear()


Info = strawberry.Info[Context, None]
