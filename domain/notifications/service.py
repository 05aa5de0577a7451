"""Telling people things. Domain code calls `notify` inside its own transaction; the
inbox rows and the outbox rows commit with the change that caused them, and the outbox
worker pushes them only after that commit."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.db import on_commit
from core.principal import Principal
from domain.notifications.errors import BadCategory, BadPushToken, BadTime, TooManyIds
from domain.notifications.models import (
    Delivery,
    Notification,
    NotificationPreference,
    OutboxMessage,
    PushToken,
    QuietHours,
)

# Severities. CRITICAL (alarms) ignores preferences and quiet hours; HIGH (personal,
# transactional: a booking changed, a payment failed, a parcel arrived) respects them;
# NORMAL (broadcasts: announcements, monthly statements) also gets at most one push per
# user per hour. HIGH is the default so that a receipt is never swallowed by the hourly
# cap an announcement used up; broadcasters ask for NORMAL explicitly.
CRITICAL = "CRITICAL"
HIGH = "HIGH"
NORMAL = "NORMAL"
SEVERITIES = (CRITICAL, HIGH, NORMAL)
PLATFORMS = ("ANDROID", "IOS", "WEB")
MAX_MARK_READ = 100

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
    severity: str = HIGH,
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


# ---------------------------------------------------------------- push tokens
_TOKEN_RE = re.compile(r"^[\x21-\x7e]{16,4096}$")


async def register_push_token(
    session: AsyncSession, principal: Principal, *, token: str, platform: str
) -> PushToken:
    """Attach a device token to the caller. A token belongs to one device, and a
    device to whoever signed in last: re-registering moves it (one atomic upsert, so
    concurrent registrations of one token leave exactly one row)."""
    assert principal.user_id is not None
    token = token.strip()
    if not _TOKEN_RE.match(token):
        raise BadPushToken(field=["input", "token"])
    if platform not in PLATFORMS:
        raise BadPushToken(field=["input", "platform"])
    now = utcnow()
    values = {
        "user_id": principal.user_id,
        "token": token,
        "platform": platform,
        "created_at": now,
        "last_registered_at": now,
    }
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(PushToken)
    stmt = ins.values(**values).on_conflict_do_update(
        index_elements=["token"],
        set_={"user_id": principal.user_id, "platform": platform, "last_registered_at": now},
    )
    await session.execute(stmt)
    row = await session.scalar(
        select(PushToken).where(PushToken.token == token).execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def unregister_push_token(session: AsyncSession, principal: Principal, *, token: str) -> bool:
    """Forget the caller's device token (sign-out). Another user's token is left alone."""
    if principal.user_id is None:
        return False
    result = await session.execute(
        delete(PushToken).where(
            PushToken.token == token.strip(), PushToken.user_id == principal.user_id
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def retire_stale_tokens(session: AsyncSession, *, now: Any, max_age_days: int) -> int:
    """Tokens not refreshed for `max_age_days` (FCM: stale after about two months)
    most likely belong to uninstalled apps; pushing to them wastes quota."""
    cutoff = now - timedelta(days=max_age_days)
    result = await session.execute(delete(PushToken).where(PushToken.last_registered_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


async def purge_settled_outbox(session: AsyncSession, *, now: Any, keep_days: int) -> int:
    """Forget push bookkeeping (outbox rows and their deliveries) settled more than
    `keep_days` ago; the inbox keeps the notifications themselves."""
    cutoff = now - timedelta(days=keep_days)
    old = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status.in_(("SENT", "FAILED", "SKIPPED")),  # type: ignore[attr-defined]
            OutboxMessage.created_at < cutoff,
        )
        .scalar_subquery()
    )
    await session.execute(delete(Delivery).where(Delivery.outbox_id.in_(old)))  # type: ignore[attr-defined]
    result = await session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(old)))  # type: ignore[union-attr]
    return int(getattr(result, "rowcount", 0) or 0)


# ---------------------------------------------------------------- inbox
async def mark_read(session: AsyncSession, principal: Principal, *, ids: list[int]) -> int:
    """Mark the caller's notifications read; ids of anyone else's are ignored (their
    existence is not revealed). Returns how many changed."""
    if len(ids) > MAX_MARK_READ:
        raise TooManyIds(field=["input", "ids"], max=MAX_MARK_READ)
    if not ids or principal.user_id is None:
        return 0
    result = await session.execute(
        update(Notification)
        .where(
            Notification.id.in_(ids),  # type: ignore[union-attr]
            Notification.user_id == principal.user_id,
            Notification.read_at.is_(None),  # type: ignore[union-attr]
        )
        .values(read_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


# ---------------------------------------------------------------- preferences
_CATEGORY_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")
_HHMM_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


async def set_preference(
    session: AsyncSession, principal: Principal, *, category: str, push_enabled: bool
) -> NotificationPreference:
    assert principal.user_id is not None
    if not _CATEGORY_RE.match(category):
        raise BadCategory(field=["input", "category"])
    dialect = session.get_bind().dialect.name
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(NotificationPreference)
    await session.execute(
        ins.values(
            user_id=principal.user_id, category=category, push_enabled=push_enabled
        ).on_conflict_do_update(
            index_elements=["user_id", "category"], set_={"push_enabled": push_enabled}
        )
    )
    row = await session.scalar(
        select(NotificationPreference)
        .where(
            NotificationPreference.user_id == principal.user_id,
            NotificationPreference.category == category,
        )
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def set_quiet_hours(
    session: AsyncSession, principal: Principal, *, start: str | None, end: str | None
) -> QuietHours | None:
    """Set (or with no times, clear) the caller's quiet hours, in local wall-clock time
    of their community; a window may cross midnight ("22:00"–"07:00")."""
    assert principal.user_id is not None
    row = await session.get(QuietHours, principal.user_id)
    if start is None and end is None:
        if row is not None:
            await session.delete(row)
        return None
    for name, value in (("start", start), ("end", end)):
        if value is None or not _HHMM_RE.match(value):
            raise BadTime(field=["input", name])
    assert start is not None and end is not None
    if start == end:
        raise BadTime(field=["input", "end"])
    if row is None:
        row = QuietHours(user_id=principal.user_id, start=start, end=end)
        session.add(row)
    else:
        row.start, row.end = start, end
    await session.flush()
    return row
