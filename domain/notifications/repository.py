"""Notification queries. Every inbox query is the principal's own: nobody reads
another person's notifications, staff included."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from domain.notifications.models import Notification, NotificationPreference, QuietHours


async def inbox(
    session: AsyncSession, principal: Principal, *, limit: int, offset: int
) -> tuple[list[Notification], int, int]:
    """(page newest first, total, unread) of the principal's inbox."""
    uid = principal.user_id
    if uid is None:
        return [], 0, 0
    counts = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Notification.read_at.is_(None)),  # type: ignore[union-attr]
            ).where(Notification.user_id == uid)
        )
    ).one()
    rows: Sequence[Notification] = []
    if limit > 0 and offset < counts[0]:
        rows = (
            await session.scalars(
                select(Notification)
                .where(Notification.user_id == uid)
                .order_by(Notification.created_at.desc(), Notification.id.desc())  # type: ignore[attr-defined,union-attr]
                .limit(limit)
                .offset(offset)
            )
        ).all()
    return list(rows), int(counts[0]), int(counts[1])


async def notifications_by_ids(
    session: AsyncSession, principal: Principal, ids: list[int]
) -> dict[int, Notification]:
    if principal.user_id is None or not ids:
        return {}
    rows = await session.scalars(
        select(Notification).where(
            Notification.id.in_(ids),  # type: ignore[union-attr]
            Notification.user_id == principal.user_id,
        )
    )
    return {r.id: r for r in rows if r.id is not None}


async def settings_of(
    session: AsyncSession, principal: Principal
) -> tuple[list[NotificationPreference], QuietHours | None]:
    uid = principal.user_id
    if uid is None:
        return [], None
    prefs = (
        await session.scalars(
            select(NotificationPreference)
            .where(NotificationPreference.user_id == uid)
            .order_by(NotificationPreference.category)
        )
    ).all()
    quiet = await session.get(QuietHours, uid)
    return list(prefs), quiet
