"""What the lot's devices tell us: plate cameras at the lanes and EV chargers.

Both run inside the device-ingest transaction (domain.devices.ingest.register_handler).
A reading that makes no sense (unknown camera, unreadable plate) is logged and
skipped: raising would throw away the rest of the device's batch.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from domain.devices.commands import send_command
from domain.devices.models import Device
from domain.parking import repository as repo
from domain.parking.errors import InvalidPlate
from domain.parking.models import (
    ENTRY,
    EXIT,
    EXITED,
    ChargingSession,
    ParkingLane,
    ParkingSession,
)
from domain.parking.plates import normalize_plate
from domain.parking.service import quote_session, tariff_of
from domain.parking.tariff import free_allowance, stay_minutes

log = logging.getLogger("linli.parking.events")

GATE_OPEN = "open"


async def open_gate(
    session: AsyncSession, lane: ParkingLane, *, parking_session_id: int | None, reason: str
) -> None:
    """Tell the lane's barrier to open: recorded now, published after commit, retried
    by the device bridge until the gate acknowledges or the command times out."""
    if lane.gate_device_id is None:
        log.warning("lane %s has no gate device; cannot open it", lane.id)
        return
    await send_command(
        session,
        device_id=lane.gate_device_id,
        name=GATE_OPEN,
        params={"lane": lane.id, "session": parking_session_id, "reason": reason},
    )


async def on_camera_reading(
    session: AsyncSession, device: Device, ts: datetime, values: dict[str, Any]
) -> None:
    """`{"plate": "京A7B2C9", "direction": "entry" | "exit"}` from a lane's camera."""
    if "plate" not in values:
        return  # a health reading (rssi, online) rather than a vehicle
    lane = await repo.lane_by_camera(session, device.id or 0)
    if lane is None:
        log.warning("camera %s is bound to no lane; plate event ignored", device.code)
        return
    try:
        plate = normalize_plate(str(values.get("plate") or ""))
    except InvalidPlate:
        log.warning("camera %s sent an unreadable plate %r", device.code, values.get("plate"))
        return
    direction = str(values.get("direction") or lane.direction).upper()
    if direction not in (ENTRY, EXIT):
        log.warning("camera %s sent direction %r", device.code, values.get("direction"))
        return
    # Buffered readings keep their capture time; a camera clock running ahead does not.
    at = min(ts, utcnow())
    if direction == ENTRY:
        await vehicle_entered(session, lane, plate, at)
    else:
        await vehicle_at_exit(session, lane, plate, at)


async def vehicle_entered(
    session: AsyncSession, lane: ParkingLane, plate: str, at: datetime
) -> ParkingSession:
    existing = await repo.open_session(session, lane.lot_id, plate)
    if existing is not None:
        # The camera fires again while the car waits at the barrier: one stay.
        return existing
    lot, tariff_row = await repo.lot_and_tariff(session, lane.lot_id)
    tariff = tariff_of(tariff_row)
    previous = await repo.last_exit(
        session, lot.id or 0, plate, since=at - timedelta(minutes=tariff.reentry_minutes)
    )
    allowance = tariff.free_minutes
    if previous is not None and previous.exited_at is not None:
        allowance = free_allowance(
            tariff,
            entering_at=at,
            previous_exited_at=previous.exited_at,
            previous_minutes=stay_minutes(previous.entered_at, previous.exited_at),
            previous_allowance=previous.free_allowance_minutes,
        )
    stay = ParkingSession(
        community_id=lane.community_id,
        lot_id=lane.lot_id,
        plate=plate,
        entered_at=at,
        entry_lane_id=lane.id,
        free_allowance_minutes=allowance,
        previous_session_id=previous.id if previous is not None else None,
        currency=tariff.currency,
    )
    try:
        async with session.begin_nested():
            session.add(stay)
    except IntegrityError:
        # Another bridge process recorded the same entry first (unique open stay).
        found = await repo.open_session(session, lane.lot_id, plate)
        assert found is not None
        return found
    await open_gate(session, lane, parking_session_id=stay.id, reason="entry")
    return stay


async def vehicle_at_exit(
    session: AsyncSession, lane: ParkingLane, plate: str, at: datetime
) -> ParkingSession | None:
    """Open the gate if nothing is due (free time, paid within grace, monthly pass);
    otherwise the vehicle waits at the lane and the lane's QR code shows its stay."""
    stay = await repo.open_session(session, lane.lot_id, plate, lock=True)
    if stay is None:
        log.warning("plate %s at exit lane %s has no open stay; staff must help", plate, lane.id)
        return None
    quote = await quote_session(session, stay, now=at)
    if quote.due_minor > 0:
        lane.waiting_session_id = stay.id
        lane.waiting_since = at
        session.add(lane)
        await session.flush()
        return stay
    stay.exited_at = at
    stay.exit_lane_id = lane.id
    stay.status = EXITED
    stay.exited_on_pass = quote.on_pass
    session.add(stay)
    if lane.waiting_session_id == stay.id:
        lane.waiting_session_id = None
        lane.waiting_since = None
        session.add(lane)
    await session.flush()
    await open_gate(
        session, lane, parking_session_id=stay.id, reason="pass" if quote.on_pass else "exit"
    )
    return stay


# ---------------------------------------------------------------- EV chargers
CHARGING = "CHARGING"


def charging_amount(energy_wh: int, price_per_kwh_minor: int, service_fee_minor: int) -> int:
    """kWh × price, rounded half up to the minor unit, plus the flat service fee."""
    energy_cost = (energy_wh * price_per_kwh_minor + 500) // 1000
    return energy_cost + service_fee_minor


async def on_charger_reading(
    session: AsyncSession, device: Device, ts: datetime, values: dict[str, Any]
) -> None:
    """`{"status": "CHARGING" | "AVAILABLE" | "FAULT", "meter_wh": <cumulative Wh>,
    "plate": "京AD12345"}`: a charge starts when the status becomes CHARGING and ends
    (priced, awaiting payment) when it leaves CHARGING."""
    charger = await repo.charger_by_device(session, device.id or 0)
    status = values.get("status")
    if charger is None or not isinstance(status, str):
        return
    status = status.upper()
    meter = values.get("meter_wh")
    meter_wh = (
        int(meter) if isinstance(meter, int | float) and not isinstance(meter, bool) else None
    )
    at = min(ts, utcnow())
    active = await repo.active_charge(session, charger.id or 0, lock=True)
    if status == CHARGING and active is None and meter_wh is not None:
        plate = None
        try:
            plate = normalize_plate(str(values["plate"])) if values.get("plate") else None
        except InvalidPlate:
            log.warning("charger %s sent an unreadable plate", device.code)
        owner = None
        if plate is not None:
            vehicle = await repo.resident_vehicle(session, charger.community_id, plate)
            owner = vehicle.owner_user_id if vehicle is not None else None
        try:
            async with session.begin_nested():
                session.add(
                    ChargingSession(
                        community_id=charger.community_id,
                        charger_id=charger.id or 0,
                        plate=plate,
                        user_id=owner,
                        started_at=at,
                        meter_start_wh=meter_wh,
                        currency=charger.currency,
                    )
                )
        except IntegrityError:
            pass  # another process started this charge first
    elif status != CHARGING and active is not None:
        end = meter_wh if meter_wh is not None else active.meter_start_wh
        active.meter_end_wh = end
        active.energy_wh = max(0, end - active.meter_start_wh)
        active.ended_at = at
        active.amount_minor = charging_amount(
            active.energy_wh, charger.price_per_kwh_minor, charger.service_fee_minor
        )
        active.status = "UNPAID" if active.amount_minor > 0 else "PAID"
        session.add(active)
    charger.status = status[:16]
    charger.status_at = at
    session.add(charger)
    await session.flush()
