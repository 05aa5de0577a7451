"""Parking queries. Who may see a session is decided here (`plate_communities`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Principal, Role
from domain.accounts.models import Community, Membership, Unit
from domain.parking.models import (
    EXIT,
    ChargingSession,
    EvCharger,
    ParkingLane,
    ParkingLot,
    ParkingSession,
    ParkingTariff,
    ResidentVehicle,
    VisitorVehicle,
)


async def lane(session: AsyncSession, lane_id: int, *, lock: bool = False) -> ParkingLane | None:
    stmt = select(ParkingLane).where(ParkingLane.id == lane_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def lane_by_camera(session: AsyncSession, device_id: int) -> ParkingLane | None:
    return await session.scalar(
        select(ParkingLane).where(ParkingLane.camera_device_id == device_id)
    )


async def lot_and_tariff(session: AsyncSession, lot_id: int) -> tuple[ParkingLot, ParkingTariff]:
    row = (
        await session.execute(
            select(ParkingLot, ParkingTariff)
            .join(ParkingTariff, ParkingTariff.id == ParkingLot.tariff_id)
            .where(ParkingLot.id == lot_id)
        )
    ).one()
    return row[0], row[1]


async def parking_session(
    session: AsyncSession, session_id: int, *, lock: bool = False
) -> ParkingSession | None:
    stmt = select(ParkingSession).where(ParkingSession.id == session_id)
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def open_session(
    session: AsyncSession, lot_id: int, plate: str, *, lock: bool = False
) -> ParkingSession | None:
    stmt = select(ParkingSession).where(
        ParkingSession.lot_id == lot_id,
        ParkingSession.plate == plate,
        ParkingSession.exited_at.is_(None),  # type: ignore[union-attr]
    )
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def last_exit(
    session: AsyncSession, lot_id: int, plate: str, *, since: datetime
) -> ParkingSession | None:
    """The vehicle's latest finished stay in this lot that ended after `since`."""
    return await session.scalar(
        select(ParkingSession)
        .where(
            ParkingSession.lot_id == lot_id,
            ParkingSession.plate == plate,
            ParkingSession.exited_at >= since,  # type: ignore[operator]
        )
        .order_by(ParkingSession.exited_at.desc())  # type: ignore[union-attr]
        .limit(1)
    )


async def resident_vehicle(
    session: AsyncSession, community_id: int, plate: str, *, lock: bool = False
) -> ResidentVehicle | None:
    stmt = select(ResidentVehicle).where(
        ResidentVehicle.community_id == community_id, ResidentVehicle.plate == plate
    )
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def is_resident(session: AsyncSession, user_id: int, community_id: int) -> bool:
    found = await session.scalar(
        select(Membership.id).where(
            Membership.user_id == user_id,
            Membership.community_id == community_id,
            Membership.role == Role.RESIDENT.value,
        )
    )
    return found is not None


async def unit_in(session: AsyncSession, unit_id: int, community_id: int) -> bool:
    found = await session.scalar(
        select(Unit.id).where(Unit.id == unit_id, Unit.community_id == community_id)
    )
    return found is not None


async def plate_communities(
    session: AsyncSession, principal: Principal, plate: str, *, now: datetime
) -> set[int]:
    """Communities in which the principal may look up this plate's stays: staff there,
    the car's registered owner, or the host of a visitor registration valid now.
    Knowing a plate alone shows nothing (it is written on the car)."""
    if principal.user_id is None:
        return set()
    found = set(principal.communities_with(Role.STAFF, Role.MANAGER))
    members = principal.community_ids
    owned = select(ResidentVehicle.community_id).where(
        ResidentVehicle.plate == plate, ResidentVehicle.owner_user_id == principal.user_id
    )
    hosted = select(VisitorVehicle.community_id).where(
        VisitorVehicle.plate == plate,
        VisitorVehicle.host_user_id == principal.user_id,
        VisitorVehicle.valid_from <= now,
        VisitorVehicle.valid_until >= now,
    )
    registered = await session.scalars(union(owned, hosted))
    found |= {c for c in registered if c in members}
    return found


async def latest_open_session_in(
    session: AsyncSession, plate: str, community_ids: set[int]
) -> ParkingSession | None:
    if not community_ids:
        return None
    return await session.scalar(
        select(ParkingSession)
        .where(
            ParkingSession.plate == plate,
            ParkingSession.community_id.in_(community_ids),  # type: ignore[attr-defined]
            ParkingSession.exited_at.is_(None),  # type: ignore[union-attr]
        )
        .order_by(ParkingSession.entered_at.desc())  # type: ignore[attr-defined]
        .limit(1)
    )


async def waiting_lane(
    session: AsyncSession, session_id: int, *, since: datetime
) -> ParkingLane | None:
    """The exit lane at which this session's vehicle is waiting (recently seen there)."""
    return await session.scalar(
        select(ParkingLane).where(
            ParkingLane.waiting_session_id == session_id,
            ParkingLane.direction == EXIT,
            or_(ParkingLane.waiting_since.is_(None), ParkingLane.waiting_since >= since),  # type: ignore[union-attr, operator]
        )
    )


async def charger_by_device(session: AsyncSession, device_id: int) -> EvCharger | None:
    return await session.scalar(select(EvCharger).where(EvCharger.device_id == device_id))


async def active_charge(
    session: AsyncSession, charger_id: int, *, lock: bool = False
) -> ChargingSession | None:
    stmt = select(ChargingSession).where(
        ChargingSession.charger_id == charger_id, ChargingSession.status == "CHARGING"
    )
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def my_charges(
    session: AsyncSession, user_id: int, *, limit: int, offset: int
) -> tuple[list[tuple[ChargingSession, EvCharger]], int]:
    """The charges of the user's own registered cars, newest first."""
    from sqlalchemy import func

    where = ChargingSession.user_id == user_id
    total = await session.scalar(select(func.count()).select_from(ChargingSession).where(where))
    rows = await session.execute(
        select(ChargingSession, EvCharger)
        .join(EvCharger, EvCharger.id == ChargingSession.charger_id)
        .where(where)
        .order_by(ChargingSession.started_at.desc(), ChargingSession.id.desc())  # type: ignore[attr-defined, union-attr]
        .limit(limit)
        .offset(offset)
    )
    return [(r[0], r[1]) for r in rows.all()], int(total or 0)


async def visitor_hosts(
    session: AsyncSession, community_id: int, plate: str, *, now: datetime
) -> list[int]:
    rows = await session.scalars(
        select(VisitorVehicle.host_user_id).where(
            VisitorVehicle.community_id == community_id,
            VisitorVehicle.plate == plate,
            VisitorVehicle.valid_from <= now,
            VisitorVehicle.valid_until >= now,
        )
    )
    return list(rows)


async def chargers_of(session: AsyncSession, community_id: int) -> list[EvCharger]:
    rows = await session.scalars(
        select(EvCharger).where(EvCharger.community_id == community_id).order_by(EvCharger.id)
    )
    return list(rows)


async def stay_terms(
    session: AsyncSession, stay: ParkingSession
) -> tuple[ParkingTariff, ResidentVehicle | None, str]:
    """What pricing a stay needs, in one round-trip: the lot's tariff, the plate's
    registration in the community (monthly pass) and the community's time zone."""
    row = (
        await session.execute(
            select(ParkingTariff, ResidentVehicle, Community.time_zone)
            .select_from(ParkingLot)
            .join(ParkingTariff, ParkingTariff.id == ParkingLot.tariff_id)
            .join(Community, Community.id == ParkingLot.community_id)
            .outerjoin(
                ResidentVehicle,
                (ResidentVehicle.community_id == ParkingLot.community_id)
                & (ResidentVehicle.plate == stay.plate),
            )
            .where(ParkingLot.id == stay.lot_id)
        )
    ).one()
    return row[0], row[1], row[2] or "Asia/Shanghai"


async def lane_with_waiting(
    session: AsyncSession, lane_id: int
) -> tuple[ParkingLane, ParkingSession | None] | None:
    """A lane and the open stay waiting at it, in one round-trip."""
    row = (
        await session.execute(
            select(ParkingLane, ParkingSession)
            .outerjoin(
                ParkingSession,
                (ParkingSession.id == ParkingLane.waiting_session_id)
                & ParkingSession.exited_at.is_(None),  # type: ignore[union-attr]
            )
            .where(ParkingLane.id == lane_id)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def stays_in(
    session: AsyncSession, community_id: int, *, open_only: bool, limit: int, offset: int
) -> tuple[list[ParkingSession], int]:
    from sqlalchemy import func

    where = [ParkingSession.community_id == community_id]
    if open_only:
        where.append(ParkingSession.exited_at.is_(None))  # type: ignore[union-attr]
    total = await session.scalar(select(func.count()).select_from(ParkingSession).where(*where))
    rows = await session.scalars(
        select(ParkingSession)
        .where(*where)
        .order_by(ParkingSession.entered_at.desc(), ParkingSession.id.desc())  # type: ignore[attr-defined, union-attr]
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def tariffs_by_lot(session: AsyncSession, lot_ids: set[int]) -> dict[int, ParkingTariff]:
    rows = await session.execute(
        select(ParkingLot.id, ParkingTariff)
        .join(ParkingTariff, ParkingTariff.id == ParkingLot.tariff_id)
        .where(ParkingLot.id.in_(lot_ids))  # type: ignore[union-attr]
    )
    return {lot_id: tariff for lot_id, tariff in rows.all()}


async def vehicles_by_plate(
    session: AsyncSession, community_id: int, plates: set[str]
) -> dict[str, ResidentVehicle]:
    rows = await session.scalars(
        select(ResidentVehicle).where(
            ResidentVehicle.community_id == community_id,
            ResidentVehicle.plate.in_(plates),  # type: ignore[attr-defined]
        )
    )
    return {v.plate: v for v in rows}


async def time_zone_of(session: AsyncSession, community_id: int) -> str:
    tz = await session.scalar(select(Community.time_zone).where(Community.id == community_id))
    return tz or "Asia/Shanghai"
