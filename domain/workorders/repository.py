"""Work orders are for the property staff of their community only."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from domain.workorders.models import WorkOrder


async def work_orders_page(
    session: AsyncSession,
    principal: Principal,
    community_id: int,
    *,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[WorkOrder], int]:
    if not principal.is_staff(community_id):
        return [], 0
    where = [WorkOrder.community_id == community_id]
    if status is not None:
        where.append(WorkOrder.status == status)
    total = await session.scalar(select(func.count()).select_from(WorkOrder).where(*where)) or 0
    rows = await session.scalars(
        select(WorkOrder)
        .where(*where)
        .order_by(WorkOrder.created_at.desc(), WorkOrder.id.desc())  # type: ignore[attr-defined, union-attr]
        .limit(limit)
        .offset(offset)
    )
    return list(rows), total


def _visible(principal: Principal, rows: Iterable[WorkOrder]) -> list[WorkOrder]:
    return [r for r in rows if principal.is_staff(r.community_id)]


async def work_orders_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, WorkOrder]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = await session.scalars(select(WorkOrder).where(WorkOrder.id.in_(wanted)))  # type: ignore[union-attr]
    return {r.id: r for r in _visible(principal, rows) if r.id is not None}


async def work_orders_of_alarms(
    session: AsyncSession, principal: Principal, alarm_ids: Iterable[int]
) -> dict[int, WorkOrder]:
    wanted = list(set(alarm_ids))
    if not wanted:
        return {}
    rows = await session.scalars(select(WorkOrder).where(WorkOrder.alarm_id.in_(wanted)))  # type: ignore[union-attr]
    return {r.alarm_id: r for r in _visible(principal, rows) if r.alarm_id is not None}
