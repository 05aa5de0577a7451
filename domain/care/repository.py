"""Who may act for which elder."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.care.models import CaregiverLink, Elder


def active_link_filter():
    return (
        CaregiverLink.consented_at.is_not(None),  # type: ignore[union-attr]
        CaregiverLink.removed_at.is_(None),  # type: ignore[union-attr]
    )


async def is_caregiver_of(session: AsyncSession, caregiver_user_id: int, elder_id: int) -> bool:
    found = await session.scalar(
        select(CaregiverLink.id).where(
            CaregiverLink.elder_id == elder_id,
            CaregiverLink.caregiver_user_id == caregiver_user_id,
            *active_link_filter(),
        )
    )
    return found is not None


async def elders_cared_for(session: AsyncSession, caregiver_user_id: int) -> list[Elder]:
    rows = await session.scalars(
        select(Elder)
        .join(CaregiverLink, CaregiverLink.elder_id == Elder.id)
        .where(CaregiverLink.caregiver_user_id == caregiver_user_id, *active_link_filter())
        .order_by(Elder.id)
    )
    return list(rows)


async def cared_unit_ids(session: AsyncSession, caregiver_user_id: int) -> list[int]:
    """Units of the elders this user is a consented caregiver of."""
    return [e.unit_id for e in await elders_cared_for(session, caregiver_user_id)]


async def caregivers_in_order(session: AsyncSession, elder_id: int) -> list[int]:
    rows = await session.scalars(
        select(CaregiverLink.caregiver_user_id)
        .where(CaregiverLink.elder_id == elder_id, *active_link_filter())
        .order_by(CaregiverLink.position, CaregiverLink.id)
    )
    return list(rows)
