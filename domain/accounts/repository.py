"""Queries for accounts and tenancy; row visibility per principal lives here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Select, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal, Role
from domain.accounts.models import (
    Building,
    Community,
    Membership,
    Ownership,
    Tenancy,
    Unit,
    User,
)


async def load_principal_rows(
    session: AsyncSession, user_id: int
) -> tuple[User | None, list[tuple[int, str]]]:
    user = await session.get(User, user_id)
    if user is None or user.closed_at is not None:
        return None, []
    rows = await session.execute(
        select(Membership.community_id, Membership.role).where(Membership.user_id == user_id)
    )
    return user, [(c, r) for c, r in rows.all()]


async def communities_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, Community]:
    wanted = [i for i in set(ids) if principal.in_community(i)]
    if not wanted:
        return {}
    rows = await session.scalars(select(Community).where(Community.id.in_(wanted)))  # type: ignore[union-attr]
    return {c.id: c for c in rows if c.id is not None}


async def buildings_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, Building]:
    ids = list(set(ids))
    if not ids or principal.is_anonymous:
        return {}
    rows = await session.scalars(
        select(Building).where(
            Building.id.in_(ids),  # type: ignore[union-attr]
            Building.community_id.in_(principal.community_ids),  # type: ignore[attr-defined]
        )
    )
    return {b.id: b for b in rows if b.id is not None}


async def buildings_of_communities(
    session: AsyncSession, principal: Principal, community_ids: Iterable[int]
) -> dict[int, list[Building]]:
    wanted = [c for c in set(community_ids) if principal.in_community(c)]
    out: dict[int, list[Building]] = {c: [] for c in community_ids}
    if not wanted:
        return out
    rows = await session.scalars(
        select(Building).where(Building.community_id.in_(wanted)).order_by(Building.id)  # type: ignore[attr-defined]
    )
    for b in rows:
        out.setdefault(b.community_id, []).append(b)
    return out


async def units_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, Unit]:
    ids = list(set(ids))
    if not ids or principal.is_anonymous:
        return {}
    rows = await session.scalars(
        select(Unit).where(
            Unit.id.in_(ids),  # type: ignore[union-attr]
            Unit.community_id.in_(principal.community_ids),  # type: ignore[attr-defined]
        )
    )
    return {u.id: u for u in rows if u.id is not None}


async def units_of_buildings(
    session: AsyncSession, principal: Principal, building_ids: Iterable[int]
) -> dict[int, list[Unit]]:
    building_ids = list(set(building_ids))
    out: dict[int, list[Unit]] = {b: [] for b in building_ids}
    if not building_ids or principal.is_anonymous:
        return out
    rows = await session.scalars(
        select(Unit)
        .where(
            Unit.building_id.in_(building_ids),  # type: ignore[attr-defined]
            Unit.community_id.in_(principal.community_ids),  # type: ignore[attr-defined]
        )
        .order_by(Unit.building_id, Unit.label)
    )
    for u in rows:
        out.setdefault(u.building_id, []).append(u)
    return out


def owned_unit_ids(user_id: int) -> Select[tuple[int]]:
    return select(Ownership.unit_id).where(Ownership.user_id == user_id)


def occupied_unit_ids(user_id: int) -> Select[tuple[int]]:
    """Units the user owns or currently rents."""
    return select(
        union(
            select(Ownership.unit_id).where(Ownership.user_id == user_id),
            select(Tenancy.unit_id).where(Tenancy.user_id == user_id),
        )
        .subquery()
        .c[0]
    )


async def units_of_user(session: AsyncSession, user_id: int) -> list[Unit]:
    rows = await session.scalars(
        select(Unit)
        .where(Unit.id.in_(occupied_unit_ids(user_id)))  # type: ignore[union-attr]
        .order_by(Unit.community_id, Unit.building_id, Unit.label)
    )
    return list(rows)


async def is_owner(session: AsyncSession, user_id: int, unit_id: int) -> bool:
    found = await session.scalar(
        select(Ownership.id).where(Ownership.user_id == user_id, Ownership.unit_id == unit_id)
    )
    return found is not None


async def occupies(session: AsyncSession, user_id: int, unit_id: int) -> bool:
    """Owner or tenant of the unit."""
    found = await session.scalar(
        select(func.count()).where(
            or_(
                select(Ownership.id)
                .where(Ownership.user_id == user_id, Ownership.unit_id == unit_id)
                .exists(),
                select(Tenancy.id)
                .where(Tenancy.user_id == user_id, Tenancy.unit_id == unit_id)
                .exists(),
            )
        )
    )
    return bool(found)


async def users_by_ids(
    session: AsyncSession, principal: Principal, ids: Iterable[int]
) -> dict[int, User]:
    """Users the principal may see: themselves, and members of a community where the
    principal lives or works. A merchant's role alone does not open the residents'
    directory (merchants see the people who booked them through their bookings)."""
    ids = list(set(ids))
    if not ids or principal.is_anonymous:
        return {}
    communities = principal.communities_with(
        Role.RESIDENT, Role.CAREGIVER, Role.STAFF, Role.MANAGER
    )
    shared = select(Membership.user_id).where(
        Membership.community_id.in_(communities)  # type: ignore[attr-defined]
    )
    rows = await session.scalars(
        select(User).where(
            User.id.in_(ids),  # type: ignore[union-attr]
            or_(User.id == principal.user_id, User.id.in_(shared)),  # type: ignore[union-attr]
        )
    )
    return {u.id: u for u in rows if u.id is not None}


async def user_communities(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, set[int]]:
    rows = await session.execute(
        select(Membership.user_id, Membership.community_id).where(
            Membership.user_id.in_(user_ids)  # type: ignore[attr-defined]
        )
    )
    out: dict[int, set[int]] = {}
    for uid, cid in rows.all():
        out.setdefault(uid, set()).add(cid)
    return out
