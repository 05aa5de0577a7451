"""Complaint queries. A complaint is seen by its reporter and by the community's staff,
nobody else: that is what keeps reporters anonymous to their neighbours."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal, Role
from domain.complaints.models import Complaint, ComplaintEvent, ComplaintPhoto


def readable(principal: Principal) -> ColumnElement[bool]:
    if principal.is_anonymous:
        return false()
    staff_in = principal.communities_with(Role.STAFF, Role.MANAGER)
    return or_(
        Complaint.reporter_id == principal.user_id,
        Complaint.community_id.in_(staff_in),  # type: ignore[attr-defined]
    )


async def _page(
    session: AsyncSession, cond: ColumnElement[bool], *, limit: int, offset: int
) -> tuple[list[Complaint], int]:
    total = await session.scalar(select(func.count()).select_from(Complaint).where(cond))
    rows = await session.scalars(
        select(Complaint)
        .where(cond)
        .order_by(Complaint.created_at.desc(), Complaint.id.desc())  # type: ignore[attr-defined,union-attr]
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def mine(
    session: AsyncSession, principal: Principal, *, status: str | None, limit: int, offset: int
) -> tuple[list[Complaint], int]:
    cond: ColumnElement[bool] = Complaint.reporter_id == principal.user_id  # type: ignore[assignment]
    if status:
        cond = cond & (Complaint.status == status)
    return await _page(session, cond, limit=limit, offset=offset)


async def for_staff(
    session: AsyncSession,
    principal: Principal,
    community_id: int,
    *,
    status: str | None,
    category: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Complaint], int]:
    if not principal.is_staff(community_id):
        return [], 0
    cond: ColumnElement[bool] = Complaint.community_id == community_id  # type: ignore[assignment]
    if status:
        cond = cond & (Complaint.status == status)
    if category:
        cond = cond & (Complaint.category == category)
    return await _page(session, cond, limit=limit, offset=offset)


async def by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, Complaint]:
    ids = list(set(ids))
    if not ids or principal.is_anonymous:
        return {}
    rows = await session.scalars(
        select(Complaint).where(Complaint.id.in_(ids), readable(principal))  # type: ignore[union-attr]
    )
    return {c.id: c for c in rows if c.id is not None}


async def photos_of(
    session: AsyncSession, complaint_ids: Sequence[int]
) -> dict[int, list[ComplaintPhoto]]:
    out: dict[int, list[ComplaintPhoto]] = {i: [] for i in complaint_ids}
    if not complaint_ids:
        return out
    rows = await session.scalars(
        select(ComplaintPhoto)
        .where(ComplaintPhoto.complaint_id.in_(complaint_ids))  # type: ignore[attr-defined]
        .order_by(ComplaintPhoto.complaint_id, ComplaintPhoto.position)
    )
    for p in rows:
        out[p.complaint_id].append(p)
    return out


async def events_of(
    session: AsyncSession, complaint_ids: Sequence[int]
) -> dict[int, list[ComplaintEvent]]:
    out: dict[int, list[ComplaintEvent]] = {i: [] for i in complaint_ids}
    if not complaint_ids:
        return out
    rows = await session.scalars(
        select(ComplaintEvent)
        .where(ComplaintEvent.complaint_id.in_(complaint_ids))  # type: ignore[attr-defined]
        .order_by(ComplaintEvent.complaint_id, ComplaintEvent.id)
    )
    for e in rows:
        out[e.complaint_id].append(e)
    return out


async def readable_photo(
    session: AsyncSession, principal: Principal, photo_id: int
) -> ComplaintPhoto | None:
    """A photo, if its complaint is readable by the principal."""
    if principal.is_anonymous:
        return None
    return await session.scalar(
        select(ComplaintPhoto)
        .join(Complaint, Complaint.id == ComplaintPhoto.complaint_id)
        .where(ComplaintPhoto.id == photo_id, readable(principal))
    )
