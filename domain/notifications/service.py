"""Telling people things. Domain code calls `notify` inside its own transaction; the
inbox rows and the outbox rows commit with the change that caused them, and the outbox
worker pushes them only after that commit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import on_commit
from domain.notifications.models import Notification, OutboxMessage

CRITICAL = "CRITICAL"

# The outbox worker registers a callback here so that a commit wakes it at once
# instead of at its next poll.
_wakers: list[Callable[[], None]] = []


def register_waker(fn: Callable[[], None]) -> None:
    _wakers.append(fn)


def unregister_waker(fn: Callable[[], None]) -> None:
    if fn in _wakers:
        _wakers.remove(fn)


def _wake() -> None:
    for fn in list(_wakers):
        fn()


async def notify(
    session: AsyncSession,
    *,
    user_ids: Iterable[int],
    category: str,
    title_key: str,
    body_key: str,
    params: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    severity: str = "NORMAL",
    community_id: int | None = None,
    push: bool = True,
) -> list[Notification]:
    """Put a notification in each recipient's inbox and queue its push.

    `title_key`/`body_key` are i18n keys (registered with core.i18n in both languages);
    `params` fill their placeholders. `severity="CRITICAL"` ignores quiet hours and
    preferences. Nothing is pushed unless the caller's transaction commits.
    """
    recipients = sorted(set(user_ids))
    rows = [
        Notification(
            user_id=uid,
            community_id=community_id,
            category=category,
            severity=severity,
            title_key=title_key,
            body_key=body_key,
            params=dict(params or {}),
            data={str(k): v for k, v in (data or {}).items()},
        )
        for uid in recipients
    ]
    session.add_all(rows)
    await session.flush()
    if push:
        session.add_all(
            OutboxMessage(notification_id=n.id, user_id=n.user_id)  # type: ignore[arg-type]
            for n in rows
        )
        await session.flush()
        on_commit(session, _wake)
    return rows
