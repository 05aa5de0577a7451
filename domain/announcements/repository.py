"""Announcement queries; who sees which announcement is decided here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, false, func, or_, select, true, union
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal, Role
from domain.accounts.models import Membership, Ownership, Tenancy, Unit
from domain.accounts.repository import occupied_unit_ids
from domain.announcements.models import Announcement, AnnouncementBuilding, AnnouncementRead
from domain.care.models import CaregiverLink, Elder
from domain.care.repository import active_link_filter

READER_ROLES = (Role.RESIDENT, Role.CAREGIVER)


def _home_buildings(user_id: int) -> Any:
    """Buildings where the user lives, or where an elder they care for lives."""
    cared = (
        select(Elder.unit_id)
        .join(CaregiverLink, CaregiverLink.elder_id == Elder.id)
        .where(CaregiverLink.caregiver_user_id == user_id, *active_link_filter())
    )
    return select(Unit.building_id).where(
        or_(Unit.id.in_(occupied_unit_ids(user_id)), Unit.id.in_(cared))  # type: ignore[union-attr]
    )


def visible(principal: Principal, community_id: int) -> ColumnElement[bool]:
    """Staff see everything of their community, scheduled ones included; residents and
    caregivers the published ones addressed to the whole community or to a building
    they live in (or their elder does); anyone else (merchants) nothing."""
    if principal.is_anonymous or not principal.in_community(community_id):
        return false()
    in_community: ColumnElement[bool] = Announcement.community_id == community_id  # type: ignore[assignment]
    if principal.is_staff(community_id):
        return in_community
    if not principal.has_role(community_id, *READER_ROLES):
        return false()
    assert principal.user_id is not None
    addressed = select(AnnouncementBuilding.announcement_id).where(
        AnnouncementBuilding.building_id.in_(_home_buildings(principal.user_id))  # type: ignore[attr-defined]
    )
    return (
        in_community
        & Announcement.published_at.is_not(None)  # type: ignore[union-attr]
        & or_(Announcement.whole_community == true(), Announcement.id.in_(addressed))  # type: ignore[union-attr]
    )


async def list_for(
    session: AsyncSession, principal: Principal, community_id: int, *, limit: int, offset: int
) -> tuple[list[Announcement], int]:
    cond = visible(principal, community_id)
    total = await session.scalar(select(func.count()).select_from(Announcement).where(cond))
    rows = await session.scalars(
        select(Announcement)
        .where(cond)
        .order_by(
            Announcement.pinned.desc(),  # type: ignore[attr-defined]
            func.coalesce(Announcement.published_at, Announcement.publish_at).desc(),
            Announcement.id.desc(),  # type: ignore[union-attr]
        )
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, Announcement]:
    ids = list(set(ids))
    if not ids or not principal.community_ids:
        return {}
    rows = await session.scalars(
        select(Announcement).where(
            Announcement.id.in_(ids),  # type: ignore[union-attr]
            or_(*(visible(principal, c) for c in principal.community_ids)),
        )
    )
    return {r.id: r for r in rows if r.id is not None}


async def get_visible(
    session: AsyncSession, principal: Principal, announcement_id: int
) -> Announcement | None:
    return (await by_ids(session, principal, [announcement_id])).get(announcement_id)


async def building_ids_of(
    session: AsyncSession, announcement_ids: Sequence[int]
) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {i: [] for i in announcement_ids}
    if not announcement_ids:
        return out
    rows = await session.execute(
        select(AnnouncementBuilding.announcement_id, AnnouncementBuilding.building_id)
        .where(AnnouncementBuilding.announcement_id.in_(announcement_ids))  # type: ignore[attr-defined]
        .order_by(AnnouncementBuilding.building_id)
    )
    for aid, bid in rows.all():
        out[aid].append(bid)
    return out


async def reads_of_user(
    session: AsyncSession, user_id: int, announcement_ids: Sequence[int]
) -> dict[int, AnnouncementRead]:
    if not announcement_ids:
        return {}
    rows = await session.scalars(
        select(AnnouncementRead).where(
            AnnouncementRead.user_id == user_id,
            AnnouncementRead.announcement_id.in_(announcement_ids),  # type: ignore[attr-defined]
        )
    )
    return {r.announcement_id: r for r in rows}


async def read_counts(session: AsyncSession, announcement_ids: Sequence[int]) -> dict[int, int]:
    out = dict.fromkeys(announcement_ids, 0)
    if not announcement_ids:
        return out
    rows = await session.execute(
        select(AnnouncementRead.announcement_id, func.count())
        .where(AnnouncementRead.announcement_id.in_(announcement_ids))  # type: ignore[attr-defined]
        .group_by(AnnouncementRead.announcement_id)
    )
    for aid, n in rows.all():
        out[aid] = int(n)
    return out


async def reads_page(
    session: AsyncSession, announcement_id: int, *, limit: int, offset: int
) -> tuple[list[AnnouncementRead], int]:
    base = AnnouncementRead.announcement_id == announcement_id
    total = await session.scalar(select(func.count()).select_from(AnnouncementRead).where(base))
    rows = await session.scalars(
        select(AnnouncementRead)
        .where(base)
        .order_by(AnnouncementRead.read_at, AnnouncementRead.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def audience(
    session: AsyncSession, community_id: int, building_ids: Sequence[int] | None
) -> list[int]:
    """Who hears of an announcement: the community's residents living in scope (owners
    and tenants), and the caregivers of elders living in scope."""
    units = select(Unit.id).where(Unit.community_id == community_id)
    if building_ids:
        units = units.where(Unit.building_id.in_(building_ids))  # type: ignore[attr-defined]
    residents = select(Membership.user_id).where(
        Membership.community_id == community_id, Membership.role == Role.RESIDENT.value
    )
    occupants = union(
        select(Ownership.user_id).where(Ownership.unit_id.in_(units)),  # type: ignore[attr-defined]
        select(Tenancy.user_id).where(Tenancy.unit_id.in_(units)),  # type: ignore[attr-defined]
    ).subquery()
    rows = await session.scalars(
        select(occupants.c[0]).where(occupants.c[0].in_(residents)).distinct()
    )
    people = set(rows)
    if not building_ids:
        # Community-wide: also residents not (yet) tied to a unit.
        people |= set(await session.scalars(residents))
    carers = await session.scalars(
        select(CaregiverLink.caregiver_user_id)
        .join(Elder, Elder.id == CaregiverLink.elder_id)
        .where(Elder.unit_id.in_(units), *active_link_filter())  # type: ignore[attr-defined]
    )
    people |= set(carers)
    return sorted(people)
