"""Who may act for which elder."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal, Role
from domain.accounts.models import Community, Membership
from domain.care.models import CaregiverLink, CheckInPlan, Elder, Visit
from domain.workorders.models import DutyShift


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


# ---------------------------------------------------------------- visibility
def readable_elders(principal: Principal) -> ColumnElement[bool]:
    """Elders the principal may see: themselves, those who consented to them as
    caregiver (checked in the database on every query, so a removal bites at once),
    and the elders of communities where the principal is staff."""
    if principal.is_anonymous:
        return false()
    staff_in = principal.communities_with(Role.STAFF, Role.MANAGER)
    cared = select(CaregiverLink.elder_id).where(
        CaregiverLink.caregiver_user_id == principal.user_id, *active_link_filter()
    )
    return or_(
        Elder.user_id == principal.user_id,
        Elder.id.in_(cared),  # type: ignore[union-attr]
        Elder.community_id.in_(staff_in),  # type: ignore[attr-defined]
    )


async def elders_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, Elder]:
    ids = list(set(ids))
    if not ids:
        return {}
    rows = await session.scalars(
        select(Elder).where(Elder.id.in_(ids), readable_elders(principal))  # type: ignore[union-attr]
    )
    return {e.id: e for e in rows if e.id is not None}


async def elder_of_user(session: AsyncSession, user_id: int) -> Elder | None:
    result: Elder | None = await session.scalar(select(Elder).where(Elder.user_id == user_id))
    return result


async def elders_of_community(
    session: AsyncSession, community_id: int, *, limit: int, offset: int
) -> tuple[list[Elder], int]:
    base = select(Elder).where(Elder.community_id == community_id)
    total = await session.scalar(select(func.count()).select_from(base.subquery()))
    rows = await session.scalars(base.order_by(Elder.id).limit(limit).offset(offset))
    return list(rows), int(total or 0)


async def overdue_visits(session: AsyncSession, community_id: int, *, now: datetime) -> list[Elder]:
    rows = await session.scalars(
        select(Elder)
        .where(
            Elder.community_id == community_id,
            Elder.next_visit_due_at <= now,  # type: ignore[operator]
        )
        .order_by(Elder.next_visit_due_at, Elder.id)
    )
    return list(rows)


async def plans_by_elder_ids(
    session: AsyncSession, elder_ids: Iterable[int]
) -> dict[int, CheckInPlan]:
    ids = list(set(elder_ids))
    if not ids:
        return {}
    rows = await session.scalars(select(CheckInPlan).where(CheckInPlan.elder_id.in_(ids)))  # type: ignore[attr-defined]
    return {p.elder_id: p for p in rows}


async def links_of_elders(
    session: AsyncSession, elder_ids: Iterable[int], *, include_removed: bool = False
) -> dict[int, list[CaregiverLink]]:
    ids = list(set(elder_ids))
    if not ids:
        return {}
    q = select(CaregiverLink).where(CaregiverLink.elder_id.in_(ids))  # type: ignore[attr-defined]
    if not include_removed:
        q = q.where(CaregiverLink.removed_at.is_(None))  # type: ignore[union-attr]
    rows = await session.scalars(q.order_by(CaregiverLink.position, CaregiverLink.id))
    out: dict[int, list[CaregiverLink]] = {}
    for link in rows:
        out.setdefault(link.elder_id, []).append(link)
    return out


async def visits_of_elder(session: AsyncSession, elder_id: int, *, limit: int) -> list[Visit]:
    rows = await session.scalars(
        select(Visit)
        .where(Visit.elder_id == elder_id)
        .order_by(Visit.visited_at.desc(), Visit.id.desc())  # type: ignore[attr-defined,union-attr]
        .limit(limit)
    )
    return list(rows)


async def staff_of_community(session: AsyncSession, community_id: int) -> list[int]:
    rows = await session.scalars(
        select(Membership.user_id)
        .where(
            Membership.community_id == community_id,
            Membership.role.in_((Role.STAFF.value, Role.MANAGER.value)),  # type: ignore[attr-defined]
        )
        .distinct()
    )
    return sorted(rows)


async def on_duty_staff(session: AsyncSession, community_id: int, *, at: datetime) -> list[int]:
    """The property staff called on after the caregivers: those whose duty shift covers
    `at` in the community's time zone. With no roster, or nobody rostered right now,
    every STAFF member of the community — someone must always be told."""
    staff = set(
        await session.scalars(
            select(Membership.user_id).where(
                Membership.community_id == community_id, Membership.role == Role.STAFF.value
            )
        )
    )
    shifts = list(
        await session.scalars(select(DutyShift).where(DutyShift.community_id == community_id))
    )
    community = await session.get(Community, community_id)
    if not shifts or community is None:
        return sorted(staff)
    local = at.astimezone(ZoneInfo(community.time_zone))
    minute, today = local.hour * 60 + local.minute, local.weekday()
    yesterday = (today - 1) % 7
    on_duty = set()
    for sh in shifts:
        if sh.start_minute < sh.end_minute:
            covers = sh.weekday in (None, today) and sh.start_minute <= minute < sh.end_minute
        else:  # runs past midnight
            covers = (sh.weekday in (None, today) and minute >= sh.start_minute) or (
                sh.weekday in (None, yesterday) and minute < sh.end_minute
            )
        if covers:
            on_duty.add(sh.user_id)
    members = set(await staff_of_community(session, community_id))
    on_duty &= members
    return sorted(on_duty or staff)


async def is_member(session: AsyncSession, user_id: int, community_id: int) -> bool:
    found = await session.scalar(
        select(Membership.id).where(
            Membership.user_id == user_id, Membership.community_id == community_id
        )
    )
    return found is not None
