"""Device queries and who sees which device: staff of its community, and the people of
its unit (occupants, and caregivers of an elder living there)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal
from domain.accounts.repository import occupied_unit_ids
from domain.care.repository import cared_unit_ids
from domain.devices.models import Device, DeviceUsageHourly


async def personal_unit_ids(session: AsyncSession, principal: Principal) -> set[int]:
    """Units whose devices and alarms a non-staff person may see."""
    if principal.user_id is None:
        return set()
    units: set[int] = {int(u) for u in await session.scalars(occupied_unit_ids(principal.user_id))}  # type: ignore[arg-type, call-overload]
    units.update(await cared_unit_ids(session, principal.user_id))
    return units


async def devices_page(
    session: AsyncSession,
    principal: Principal,
    community_id: int,
    *,
    kind: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Device], int]:
    if not principal.is_staff(community_id):
        return [], 0
    where = [Device.community_id == community_id]
    if kind is not None:
        where.append(Device.kind == kind)
    total = await session.scalar(select(func.count()).select_from(Device).where(*where)) or 0
    rows = await session.scalars(
        select(Device).where(*where).order_by(Device.code).limit(limit).offset(offset)
    )
    return list(rows), total


async def devices_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, Device]:
    wanted = list(set(ids))
    if not wanted or principal.is_anonymous:
        return {}
    rows = list(await session.scalars(select(Device).where(Device.id.in_(wanted))))  # type: ignore[union-attr]
    units: set[int] | None = None
    out: dict[int, Device] = {}
    for row in rows:
        assert row.id is not None
        if principal.is_staff(row.community_id):
            out[row.id] = row
            continue
        if row.unit_id is None:
            continue
        if units is None:
            units = await personal_unit_ids(session, principal)
        if row.unit_id in units:
            out[row.id] = row
    return out


async def usage(
    session: AsyncSession, device_id: int, metric: str, start: datetime, end: datetime
) -> list[DeviceUsageHourly]:
    rows = await session.scalars(
        select(DeviceUsageHourly)
        .where(
            DeviceUsageHourly.device_id == device_id,
            DeviceUsageHourly.metric == metric,
            DeviceUsageHourly.hour >= start,  # type: ignore[operator]
            DeviceUsageHourly.hour < end,  # type: ignore[operator]
        )
        .order_by(DeviceUsageHourly.hour)
        .limit(24 * 366)
    )
    return list(rows)
