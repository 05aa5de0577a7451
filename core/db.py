"""Database engine, sessions and the unit of work.

The edge (a request, a message batch, a job) owns the transaction through
`Database.transaction()`: commit on success, roll back on error, and only after a
commit run the side effects that domain code queued with `on_commit` / `emit`.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from core.clock import utcnow

log = logging.getLogger("linli.db")

AfterCommit = Callable[[], Awaitable[None] | None]

# When set (per request, by the app when LINLI_COUNT_SQL is on), every statement sent
# to the database adds one: the benchmarks report round-trips per request with it.
sql_counter: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "sql_counter", default=None
)


def _count_statement(*_: Any) -> None:
    counter = sql_counter.get()
    if counter is not None:
        counter[0] += 1


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on SQLite (which has no zones) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def on_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the current transaction has committed (never if it rolls back)."""
    session.info.setdefault("on_commit", []).append(callback)


def on_rollback(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Undo something outside the database (a file written for this change) if the
    transaction rolls back; never run after a commit."""
    session.info.setdefault("on_rollback", []).append(callback)


def emit(session: AsyncSession, topic: str, payload: dict[str, Any]) -> None:
    """Publish an event on the bus after commit (subscriptions see only committed state)."""
    session.info.setdefault("events", []).append((topic, payload))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # We issue BEGIN ourselves (see _sqlite_begin), so the driver must not.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _make_sqlite_begin(immediate: bool) -> Callable[[Any], None]:
    # Writers take the write lock at BEGIN: SQLite then serialises writers, so a
    # read-check-write inside one write transaction cannot race another writer.
    stmt = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    def _begin(conn: Any) -> None:
        conn.exec_driver_sql(stmt)

    return _begin


def _run_rollback_callbacks(session: AsyncSession) -> None:
    for callback in session.info.pop("on_rollback", []):
        try:
            callback()
        except Exception:
            log.exception("rollback callback failed")


class Database:
    def __init__(
        self, url: str, *, pool_size: int = 10, echo: bool = False, null_pool: bool = False
    ) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._publisher: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
        if self.is_sqlite:
            self.write_engine = self._sqlite_engine(url, immediate=True, echo=echo)
            self.read_engine = self._sqlite_engine(url, immediate=False, echo=echo)
        else:
            kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
            if null_pool:
                kwargs["poolclass"] = NullPool
            else:
                kwargs.update(pool_size=pool_size, max_overflow=pool_size * 2, pool_timeout=60)
            self.write_engine = create_async_engine(url, **kwargs)
            self.read_engine = self.write_engine
        for engine in {self.write_engine, self.read_engine}:
            event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @staticmethod
    def _sqlite_engine(url: str, *, immediate: bool, echo: bool) -> AsyncEngine:
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 15})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _make_sqlite_begin(immediate))
        return engine

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    def set_publisher(self, publish: Callable[[str, dict[str, Any]], Awaitable[None]]) -> None:
        self._publisher = publish

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """One unit of work. Side effects queued on the session run after commit."""
        maker = self._write_sessions if write else self._read_sessions
        async with maker() as session:
            # After-commit work that needs its own unit of work finds the database here.
            session.info["database"] = self
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                _run_rollback_callbacks(session)
                raise
            session.info.pop("on_rollback", None)
            callbacks: list[AfterCommit] = session.info.pop("on_commit", [])
            events: list[tuple[str, dict[str, Any]]] = session.info.pop("events", [])
        await self._run_after_commit(callbacks, events)

    def read_session(self) -> AsyncSession:
        return self._read_sessions()

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A read-only session; never committed, so nothing it does can persist."""
        async with self._read_sessions() as session:
            try:
                yield session
            finally:
                await session.rollback()

    async def _run_after_commit(
        self, callbacks: list[AfterCommit], events: list[tuple[str, dict[str, Any]]]
    ) -> None:
        for topic, payload in events:
            if self._publisher is not None:
                try:
                    await self._publisher(topic, payload)
                except Exception:
                    log.exception("publishing %s after commit failed", topic)
        for callback in callbacks:
            try:
                result = callback()
                if result is not None:
                    await result
            except Exception:
                # The change is committed; a failing side effect must not undo it.
                log.exception("after-commit callback failed")

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


def database_of(session: AsyncSession) -> Database:
    """The Database whose `transaction()` opened `session` (for after-commit work)."""
    db = session.info.get("database")
    if not isinstance(db, Database):
        raise RuntimeError("session was not opened by Database.transaction()")
    return db


def now() -> datetime:
    return utcnow()
