"""Parking rules: quotes by exit-lane QR or by plate, camera entry/exit events, the
gate, and (with payments) paying for a stay. Never commits: the edge owns the
transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.principal import Principal, Role
from domain.audit import service as audit
from domain.parking import qr
from domain.parking import repository as repo
from domain.parking.errors import InvalidQr, SessionNotFound
from domain.parking.models import (
    EXIT,
    EXITED,
    OPEN,
    PAID,
    ParkingSession,
    ParkingTariff,
    ResidentVehicle,
    VisitorVehicle,
)
from domain.parking.plates import normalize_plate
from domain.parking.tariff import Charge, Tariff, charge

log = logging.getLogger("linli.parking")

# How long a vehicle seen at an exit lane counts as "waiting there" for the lane's QR.
WAITING_TTL = timedelta(minutes=30)


def tariff_of(row: ParkingTariff) -> Tariff:
    return Tariff(
        hourly_minor=row.hourly_minor,
        free_minutes=row.free_minutes,
        daily_cap_minor=row.daily_cap_minor,
        forgive_minutes=row.forgive_minutes,
        reentry_minutes=row.reentry_minutes,
        grace_minutes=row.grace_minutes,
        currency=row.currency,
    )


@dataclass(frozen=True)
class Quote:
    session: ParkingSession
    tariff: Tariff
    charge: Charge
    # A registered car with a valid monthly pass: nothing to pay.
    on_pass: bool

    @property
    def due_minor(self) -> int:
        return 0 if self.on_pass or self.session.exited_at is not None else self.charge.due_minor

    @property
    def status(self) -> str:
        if self.session.exited_at is not None:
            return EXITED
        # Once the grace after a payment has run out the meter runs again: OPEN.
        return PAID if self.charge.within_grace else OPEN

    @property
    def currency(self) -> str:
        return self.session.currency


def pass_valid(vehicle: ResidentVehicle | None, time_zone: str, now: datetime) -> bool:
    """A monthly pass covers the community's local dates from–until inclusive."""
    if vehicle is None or vehicle.pass_valid_from is None or vehicle.pass_valid_until is None:
        return False
    today = now.astimezone(ZoneInfo(time_zone)).date()
    return vehicle.pass_valid_from <= today <= vehicle.pass_valid_until


async def quote_session(
    session: AsyncSession, ps: ParkingSession, *, now: datetime | None = None
) -> Quote:
    now = now or utcnow()
    tariff_row, vehicle, time_zone = await repo.stay_terms(session, ps)
    tariff = tariff_of(tariff_row)
    got = charge(
        tariff,
        entered_at=ps.entered_at,
        now=ps.exited_at or now,
        free_allowance=ps.free_allowance_minutes,
        paid_minor=ps.paid_minor,
        paid_until=ps.paid_until,
    )
    on_pass = ps.exited_at is None and pass_valid(vehicle, time_zone, now)
    return Quote(ps, tariff, got, on_pass)


async def quote_by_qr(session: AsyncSession, principal: Principal, code: str) -> Quote | None:
    """The stay of the vehicle waiting at the exit lane whose QR code was scanned.

    The signed code proves the caller stands at that lane, so any signed-in driver
    (a visitor too) sees the vehicle there; None when no vehicle is waiting."""
    lane_id, version = qr.parse(code, field=["qr"])
    found = await repo.lane_with_waiting(session, lane_id)
    lane, ps = found if found is not None else (None, None)
    if lane is None or lane.qr_version != version or lane.direction != EXIT:
        raise InvalidQr("parking.qr.unknown_lane", field=["qr"])
    now = utcnow()
    if ps is None or (lane.waiting_since is not None and lane.waiting_since < now - WAITING_TTL):
        return None
    return await quote_session(session, ps, now=now)


async def quote_by_plate(session: AsyncSession, principal: Principal, plate: str) -> Quote | None:
    """Pay ahead: the open stay of a plate the caller may look up (see
    repository.plate_communities)."""
    normal = normalize_plate(plate, field=["plate"])
    now = utcnow()
    communities = await repo.plate_communities(session, principal, normal, now=now)
    ps = await repo.latest_open_session_in(session, normal, communities)
    if ps is None:
        return None
    return await quote_session(session, ps, now=now)


async def may_pay(session: AsyncSession, principal: Principal, ps: ParkingSession) -> bool:
    """Whoever may look the plate up, or anyone while the vehicle waits at an exit lane
    (the lane's QR code gave them the session)."""
    now = utcnow()
    if ps.community_id in await repo.plate_communities(session, principal, ps.plate, now=now):
        return True
    return await repo.waiting_lane(session, ps.id or 0, since=now - WAITING_TTL) is not None


async def visible_session(
    session: AsyncSession, principal: Principal, session_id: int, *, lock: bool = False
) -> ParkingSession:
    ps = await repo.parking_session(session, session_id, lock=lock)
    if ps is None or not await may_pay(session, principal, ps):
        raise SessionNotFound(field=["input", "sessionId"])
    return ps


MAX_VISIT_HOURS = 72


async def register_visitor(
    session: AsyncSession, principal: Principal, *, community_id: int, plate: str, hours: int
) -> VisitorVehicle:
    """A resident expects a visitor's car: for the window the host may look the plate up,
    pay for it ahead and is told when it is paid."""
    if principal.user_id is None or not principal.has_role(community_id, Role.RESIDENT):
        raise Forbidden(field=["input", "communityId"])
    normal = normalize_plate(plate, field=["input", "plate"])
    if not 1 <= hours <= MAX_VISIT_HOURS:
        raise Invalid("parking.visitor.hours", field=["input", "hours"], max=MAX_VISIT_HOURS)
    now = utcnow()
    row = VisitorVehicle(
        community_id=community_id,
        plate=normal,
        host_user_id=principal.user_id,
        valid_from=now,
        valid_until=now + timedelta(hours=hours),
    )
    session.add(row)
    await session.flush()
    return row


async def register_resident_vehicle(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    plate: str,
    owner_user_id: int,
    unit_id: int | None,
    pass_valid_from: date | None,
    pass_valid_until: date | None,
) -> ResidentVehicle:
    """Staff register a resident's car, or change its owner or monthly pass (by plate).
    Both pass dates or neither; the owner must be a resident of the community."""
    if not principal.is_staff(community_id):
        raise Forbidden(field=["input", "communityId"])
    normal = normalize_plate(plate, field=["input", "plate"])
    if (pass_valid_from is None) != (pass_valid_until is None) or (
        pass_valid_from is not None
        and pass_valid_until is not None
        and pass_valid_from > pass_valid_until
    ):
        raise Invalid("parking.pass.dates", field=["input", "passValidUntil"])
    if not await repo.is_resident(session, owner_user_id, community_id):
        raise Invalid("parking.vehicle.owner", field=["input", "ownerId"])
    if unit_id is not None and not await repo.unit_in(session, unit_id, community_id):
        raise Invalid("parking.vehicle.unit", field=["input", "unitId"])
    row = await repo.resident_vehicle(session, community_id, normal, lock=True)
    if row is None:
        row = ResidentVehicle(community_id=community_id, plate=normal, owner_user_id=owner_user_id)
    row.owner_user_id = owner_user_id
    row.unit_id = unit_id
    row.pass_valid_from = pass_valid_from
    row.pass_valid_until = pass_valid_until
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        # Registered by another request at the same moment: one row per plate.
        raise Conflict("parking.vehicle.race", field=["input", "plate"]) from None
    audit.record(
        session,
        principal,
        "parking.vehicle",
        community_id=community_id,
        target=f"ResidentVehicle:{row.id}",
        plate=normal,
        pass_until=pass_valid_until.isoformat() if pass_valid_until else None,
    )
    return row


async def update_tariff(
    session: AsyncSession,
    principal: Principal,
    *,
    tariff_id: int,
    changes: dict[str, int | None],
) -> ParkingTariff:
    """Staff change a tariff. Open stays are priced by the tariff as it is when quoted."""
    row = await session.scalar(
        select(ParkingTariff).where(ParkingTariff.id == tariff_id).with_for_update()
    )
    if row is None or not principal.is_staff(row.community_id):
        raise NotFound(field=["input", "tariffId"])
    limits = {
        "hourly_minor": (0, 10**7, "hourlyMinor"),
        "free_minutes": (0, 24 * 60, "freeMinutes"),
        "daily_cap_minor": (0, 10**8, "dailyCapMinor"),
        "forgive_minutes": (0, 59, "forgiveMinutes"),
        "reentry_minutes": (0, 24 * 60, "reentryMinutes"),
        "grace_minutes": (0, 240, "graceMinutes"),
    }
    for name, value in changes.items():
        low, high, field = limits[name]
        if value is None and name != "daily_cap_minor":
            continue
        if value is not None and not low <= value <= high:
            raise Invalid("parking.tariff.range", field=["input", field], low=low, high=high)
        setattr(row, name, value)
    session.add(row)
    await session.flush()
    audit.record(
        session,
        principal,
        "parking.tariff",
        community_id=row.community_id,
        target=f"ParkingTariff:{row.id}",
        **{k: v for k, v in changes.items()},
    )
    return row


async def stays_of(
    session: AsyncSession,
    principal: Principal,
    *,
    community_id: int,
    open_only: bool,
    limit: int,
    offset: int,
) -> tuple[list[Quote], int]:
    """Staff's view of the community's stays, newest first."""
    if not principal.is_staff(community_id):
        return [], 0
    rows, total = await repo.stays_in(
        session, community_id, open_only=open_only, limit=limit, offset=offset
    )
    return await quote_many(session, community_id, rows), total


async def quote_many(
    session: AsyncSession, community_id: int, stays: list[ParkingSession]
) -> list[Quote]:
    """Quotes for a page of one community's stays in a constant number of queries."""
    if not stays:
        return []
    now = utcnow()
    tariffs = await repo.tariffs_by_lot(session, {s.lot_id for s in stays})
    vehicles = await repo.vehicles_by_plate(session, community_id, {s.plate for s in stays})
    time_zone = await repo.time_zone_of(session, community_id)
    out = []
    for ps in stays:
        tariff = tariff_of(tariffs[ps.lot_id])
        got = charge(
            tariff,
            entered_at=ps.entered_at,
            now=ps.exited_at or now,
            free_allowance=ps.free_allowance_minutes,
            paid_minor=ps.paid_minor,
            paid_until=ps.paid_until,
        )
        on_pass = ps.exited_at is None and pass_valid(vehicles.get(ps.plate), time_zone, now)
        out.append(Quote(ps, tariff, got, on_pass))
    return out
