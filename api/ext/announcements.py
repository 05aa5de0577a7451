"""Announcements: the scheduled-publishing job and demo notices."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from api.jobs import job
from api.seed import Demo, seed_step
from core.clock import utcnow
from domain.announcements.models import Announcement, AnnouncementBuilding

if TYPE_CHECKING:
    from api.app import AppState


@job("publish_scheduled_announcements", seconds=30)
async def publish_scheduled_announcements(state: AppState) -> None:
    from domain.announcements.service import publish_due

    async with state.db.transaction() as session:
        await publish_due(session, now=utcnow())


@seed_step
async def seed_announcements(session: AsyncSession, demo: Demo) -> None:
    """Two published notices (one pinned, one for building 1 only); no notifications,
    so the demo inboxes start empty."""
    staff = demo.users["staff1@demo.linli"]
    now = utcnow()
    rows = {
        "water": Announcement(
            community_id=demo.garden_id,
            title_zh="11月25日停水通知",
            title_en="Water supply interruption on 25 November",
            body_zh="因管道检修，11月25日 9:00–15:00 全小区停水，请提前储水。",
            body_en="Pipe maintenance: no water across the community on 25 November, "
            "9:00–15:00. Please store water in advance.",
            pinned=True,
            publish_at=now - timedelta(days=1),
            published_at=now - timedelta(days=1),
            created_by=staff,
        ),
        "elevator": Announcement(
            community_id=demo.garden_id,
            title_zh="1号楼电梯年检",
            title_en="Building 1 elevator inspection",
            body_zh="1号楼电梯将于本周五上午进行年检，届时暂停使用两小时。",
            body_en="Building 1's elevator has its yearly inspection on Friday morning; "
            "it is out of service for two hours.",
            whole_community=False,
            publish_at=now - timedelta(hours=3),
            published_at=now - timedelta(hours=3),
            created_by=staff,
        ),
    }
    session.add_all(rows.values())
    await session.flush()
    session.add(
        AnnouncementBuilding(
            announcement_id=rows["elevator"].id,  # type: ignore[arg-type]
            building_id=demo.buildings["1"],
        )
    )
    await session.flush()
    demo.extra["announcements"] = {k: v.id for k, v in rows.items() if v.id is not None}
