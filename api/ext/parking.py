"""Parking: the printable exit-lane QR codes, the device handlers (plate cameras, EV
chargers) and the demo lot."""

from __future__ import annotations

import io
from datetime import timedelta

import segno
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from api.app import AppState, add_routes
from api.seed import Demo, seed_step
from core.clock import utcnow
from core.errors import Unauthenticated
from domain.devices.ingest import register_handler
from domain.devices.models import Device
from domain.parking import events, payments, qr
from domain.parking import repository as repo
from domain.parking.models import (
    ENTRY,
    EXIT,
    EvCharger,
    ParkingLane,
    ParkingLot,
    ParkingTariff,
    ResidentVehicle,
)

# Plate cameras and chargers report through the normal device ingest.
register_handler("CAMERA", events.on_camera_reading)
register_handler("EV_CHARGER", events.on_charger_reading)
# Verified payments of these purposes settle stays and charges.
payments.register()


@add_routes
def parking_routes(state: AppState) -> list[BaseRoute]:
    async def lane_qr(request: Request) -> Response:
        """The exit lane's static QR code as SVG, for staff of its community to print."""
        try:
            principal = await state.principals.from_authorization(
                request.headers.get("authorization")
            )
        except Unauthenticated:
            principal = None
        if principal is None or principal.is_anonymous:
            return JSONResponse({"error": "sign in as staff"}, status_code=401)
        raw = request.path_params["lane_id"]
        if not raw.isdigit() or len(raw) > 12:
            return JSONResponse({"error": "no such lane"}, status_code=404)
        async with state.db.reader() as session:
            lane = await repo.lane(session, int(raw))
            found = (
                (lane.community_id, lane.direction, lane.qr_version, lane.name)
                if lane is not None
                else None
            )
        # Other communities' lanes are "not found": their existence is not revealed.
        if found is None or not principal.is_staff(found[0]):
            return JSONResponse({"error": "no such lane"}, status_code=404)
        _, direction, version, name = found
        if direction != EXIT:
            return JSONResponse({"error": "only exit lanes have a QR code"}, status_code=404)
        url = qr.lane_url(state.settings.public_base_url, int(raw), version)
        out = io.BytesIO()
        segno.make(url, error="m").save(out, kind="svg", scale=8, border=4, title=name)
        return Response(
            out.getvalue(),
            media_type="image/svg+xml",
            headers={"cache-control": "private, no-store"},
        )

    return [Route("/parking/lanes/{lane_id}/qr.svg", lane_qr, methods=["GET"])]


# ---------------------------------------------------------------- demo data
async def _device(session: AsyncSession, demo: Demo, code: str, kind: str, location: str) -> int:
    """The device with this code (the device seed may have made it), else a new one."""
    found = await session.scalar(select(Device.id).where(Device.code == code))
    if found is not None:
        return found
    device = Device(
        community_id=demo.garden_id,
        code=code,
        kind=kind,
        location=location,
        # The demo credential is the demo password (its argon2id hash is at hand).
        credential_hash=demo.password_hash,
    )
    session.add(device)
    await session.flush()
    assert device.id is not None
    return device.id


@seed_step
async def seed_parking(session: AsyncSession, demo: Demo) -> None:
    tariff = ParkingTariff(
        community_id=demo.garden_id,
        name="Visitors 访客",
        hourly_minor=500,
        free_minutes=30,
        daily_cap_minor=4000,
        forgive_minutes=0,
        reentry_minutes=60,
        grace_minutes=15,
    )
    session.add(tariff)
    await session.flush()
    assert tariff.id is not None
    lot = ParkingLot(
        community_id=demo.garden_id, tariff_id=tariff.id, name="北门地面停车场 North lot"
    )
    session.add(lot)
    await session.flush()
    assert lot.id is not None
    gate_in = await _device(session, demo, "G-GATE-N-IN", "PARKING_GATE", "North gate, entry lane")
    gate_out = await _device(session, demo, "G-GATE-N-OUT", "PARKING_GATE", "North gate, exit lane")
    cam_in = await _device(session, demo, "G-CAM-N-IN", "CAMERA", "North gate, entry lane")
    cam_out = await _device(session, demo, "G-CAM-N-OUT", "CAMERA", "North gate, exit lane")
    entry = ParkingLane(
        community_id=demo.garden_id,
        lot_id=lot.id,
        name="北门入口 North entry",
        direction=ENTRY,
        gate_device_id=gate_in,
        camera_device_id=cam_in,
    )
    exit_ = ParkingLane(
        community_id=demo.garden_id,
        lot_id=lot.id,
        name="北门出口 North exit",
        direction=EXIT,
        gate_device_id=gate_out,
        camera_device_id=cam_out,
    )
    session.add_all([entry, exit_])
    await session.flush()
    assert entry.id is not None and exit_.id is not None
    today = utcnow().date()
    car = ResidentVehicle(
        community_id=demo.garden_id,
        plate="京A7B2C9",
        owner_user_id=demo.users["resident1@demo.linli"],
        unit_id=demo.units["1-101"],
        # A monthly pass valid around "now" whenever the demo is seeded.
        pass_valid_from=today - timedelta(days=10),
        pass_valid_until=today + timedelta(days=365),
    )
    ev = ResidentVehicle(
        community_id=demo.garden_id,
        plate="京AD12345",
        owner_user_id=demo.users["resident2@demo.linli"],
        unit_id=demo.units["1-102"],
    )
    session.add_all([car, ev])
    charger_device = await _device(session, demo, "G-EV-1", "EV_CHARGER", "Garage, bay 12")
    charger = EvCharger(
        community_id=demo.garden_id,
        lot_id=lot.id,
        device_id=charger_device,
        name="充电桩 1 Charger 1",
        price_per_kwh_minor=120,
        service_fee_minor=200,
    )
    session.add(charger)
    await session.flush()
    assert car.id is not None and ev.id is not None and charger.id is not None
    demo.extra["parking"] = {
        "tariff": tariff.id,
        "lot": lot.id,
        "entry_lane": entry.id,
        "exit_lane": exit_.id,
        "gate_in": gate_in,
        "gate_out": gate_out,
        "camera_in": cam_in,
        "camera_out": cam_out,
        "resident1_car": car.id,
        "resident2_ev": ev.id,
        "charger": charger.id,
        "charger_device": charger_device,
    }
