"""Alarm queries. Staff see every alarm of their community; other members see those of
their own units and of the elders they care for (and an elder her own)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from domain.alarms.models import SEVERITY_RANK, Alarm
from domain.care.models import Elder
from domain.care.repository import elders_cared_for
from domain.devices.repository import personal_unit_ids


async def personal_elder_ids(session: AsyncSession, principal: Principal) -> set[int]:
    if principal.user_id is None:
        return set()
    elders = {e.id for e in await elders_cared_for(session, principal.user_id) if e.id}
    elders.update(await session.scalars(select(Elder.id).where(Elder.user_id == principal.user_id)))
    return elders


async def readable_filter(session: AsyncSession, principal: Principal, community_id: int) -> Any:
    if principal.is_staff(community_id):
        return Alarm.community_id == community_id
    if not principal.in_community(community_id):
        return false()
    units = await personal_unit_ids(session, principal)
    elders = await personal_elder_ids(session, principal)
    if not units and not elders:
        return false()
    return and_(
        Alarm.community_id == community_id,
        or_(
            Alarm.unit_id.in_(units),  # type: ignore[union-attr]
            Alarm.elder_id.in_(elders),  # type: ignore[union-attr]
        ),
    )


async def alarms_page(
    session: AsyncSession,
    principal: Principal,
    community_id: int,
    *,
    status: str | None,
    min_severity: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Alarm], int]:
    where = [await readable_filter(session, principal, community_id)]
    if status is not None:
        where.append(Alarm.status == status)
    if min_severity is not None:
        allowed = [s for s, r in SEVERITY_RANK.items() if r >= SEVERITY_RANK[min_severity]]
        where.append(Alarm.severity.in_(allowed))  # type: ignore[attr-defined]
    total = await session.scalar(select(func.count()).select_from(Alarm).where(*where)) or 0
    rows = await session.scalars(
        select(Alarm)
        .where(*where)
        .order_by(Alarm.last_seen_at.desc(), Alarm.id.desc())  # type: ignore[attr-defined, union-attr]
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


async def alarms_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, Alarm]:
    wanted = list(set(ids))
    if not wanted or principal.is_anonymous:
        return {}
    rows = list(await session.scalars(select(Alarm).where(Alarm.id.in_(wanted))))  # type: ignore[union-attr]
    out: dict[int, Alarm] = {}
    personal: tuple[set[int], set[int]] | None = None
    for row in rows:
        assert row.id is not None
        if principal.is_staff(row.community_id):
            out[row.id] = row
            continue
        if not principal.in_community(row.community_id):
            continue
        if personal is None:
            personal = (
                await personal_unit_ids(session, principal),
                await personal_elder_ids(session, principal),
            )
        if row.unit_id in personal[0] or row.elder_id in personal[1]:
            out[row.id] = row
    return out
