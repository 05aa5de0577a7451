"""Parcel queries: residents see their units' parcels, staff their community's."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, case, false, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal, Role
from domain.accounts.models import Ownership, Tenancy
from domain.accounts.repository import occupied_unit_ids
from domain.devices.models import Device
from domain.parcels.models import LockerCompartment, Parcel


def readable(principal: Principal) -> ColumnElement[bool]:
    if principal.is_anonymous:
        return false()
    assert principal.user_id is not None
    staff_in = principal.communities_with(Role.STAFF, Role.MANAGER)
    return or_(
        Parcel.unit_id.in_(occupied_unit_ids(principal.user_id)),  # type: ignore[attr-defined]
        Parcel.community_id.in_(staff_in),  # type: ignore[attr-defined]
    )


async def _page(
    session: AsyncSession, cond: ColumnElement[bool], *, limit: int, offset: int
) -> tuple[list[Parcel], int]:
    total = await session.scalar(select(func.count()).select_from(Parcel).where(cond))
    rows = await session.scalars(
        select(Parcel)
        .where(cond)
        .order_by(
            case((Parcel.status == "WAITING", 0), else_=1),
            Parcel.deposited_at.desc(),  # type: ignore[attr-defined]
            Parcel.id.desc(),  # type: ignore[union-attr]
        )
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def mine(
    session: AsyncSession, principal: Principal, *, status: str | None, limit: int, offset: int
) -> tuple[list[Parcel], int]:
    if principal.user_id is None:
        return [], 0
    cond: ColumnElement[bool] = Parcel.unit_id.in_(occupied_unit_ids(principal.user_id))  # type: ignore[attr-defined]
    if status:
        cond = cond & (Parcel.status == status)
    return await _page(session, cond, limit=limit, offset=offset)


async def for_staff(
    session: AsyncSession,
    principal: Principal,
    community_id: int,
    *,
    unit_id: int | None,
    status: str | None,
    limit: int,
    offset: int,
) -> tuple[list[Parcel], int]:
    if not principal.is_staff(community_id):
        return [], 0
    cond: ColumnElement[bool] = Parcel.community_id == community_id  # type: ignore[assignment]
    if unit_id is not None:
        cond = cond & (Parcel.unit_id == unit_id)
    if status:
        cond = cond & (Parcel.status == status)
    return await _page(session, cond, limit=limit, offset=offset)


async def by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, Parcel]:
    ids = list(set(ids))
    if not ids or principal.is_anonymous:
        return {}
    rows = await session.scalars(
        select(Parcel).where(Parcel.id.in_(ids), readable(principal))  # type: ignore[union-attr]
    )
    return {p.id: p for p in rows if p.id is not None}


async def lockers_and_compartments(
    session: AsyncSession, compartment_ids: Iterable[int]
) -> dict[int, tuple[LockerCompartment, Device]]:
    ids = list(set(compartment_ids))
    if not ids:
        return {}
    rows = await session.execute(
        select(LockerCompartment, Device)
        .join(Device, Device.id == LockerCompartment.locker_id)
        .where(LockerCompartment.id.in_(ids))  # type: ignore[union-attr]
    )
    return {c.id: (c, d) for c, d in rows.all() if c.id is not None}


async def occupants(session: AsyncSession, unit_id: int) -> list[int]:
    rows = await session.scalars(
        union(
            select(Ownership.user_id).where(Ownership.unit_id == unit_id),
            select(Tenancy.user_id).where(Tenancy.unit_id == unit_id),
        )
    )
    return sorted(set(rows))
