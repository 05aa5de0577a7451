"""Devices: the HTTP telemetry endpoint, the demo devices and the on-duty roster."""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

import domain.alarms.rules  # noqa: F401 - registers the alarm rules with the ingest
from api.app import AppState, Component, add_components, add_routes
from api.jobs import job
from api.seed import Demo, seed_step
from core.clock import utcnow
from domain.alarms.models import Alarm
from domain.devices import jobs as device_jobs
from domain.devices import payloads
from domain.devices.credentials import authenticate_device
from domain.devices.demo import DEMO_DEVICES
from domain.devices.errors import BadPayload
from domain.devices.ingest import ingest
from domain.devices.models import Device
from domain.workorders import service as workorders
from domain.workorders.models import DutyShift, StaffProfile, WorkOrder

log = logging.getLogger("linli.devices.http")

MAX_BODY = 1 << 20


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    code, sep, credential = decoded.partition(":")
    return (code, credential) if sep else None


def _unauthorized() -> Response:
    return JSONResponse(
        {"error": "device authentication required"},
        status_code=401,
        headers={"www-authenticate": 'Basic realm="linli-devices"'},
    )


@add_routes
def device_routes(state: AppState) -> list[BaseRoute]:
    async def telemetry(request: Request) -> Response:
        """One reading or a batch from a gateway or HTTP device (HTTP Basic: device code
        and credential). 200 {"accepted": n}; 400 for a bad payload, 401, 413."""
        creds = _basic_credentials(request)
        if creds is None:
            return _unauthorized()
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return JSONResponse({"error": "payload too large"}, status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        try:
            readings = payloads.parse_bytes(body, utcnow())
        except BadPayload as exc:
            # Refused before the credential check: junk must not cost an argon2 hash.
            return JSONResponse({"error": exc.reason}, status_code=400)
        async with state.db.transaction() as session:
            device = await authenticate_device(session, creds[0], creds[1], lock=True)
            if device is None:
                return _unauthorized()
            accepted = await ingest(session, [(device, readings)])
        return JSONResponse({"accepted": accepted})

    return [Route("/devices/telemetry", telemetry, methods=["POST"])]


@add_components
def device_bridge_component(state: AppState) -> list[Component]:
    settings = state.settings
    if not settings.mqtt_url:
        return []
    from device_bridge.bridge import DeviceBridge

    return [
        DeviceBridge(
            settings.mqtt_url,
            shared_group=settings.mqtt_shared_group,
            batch_size=settings.mqtt_batch_size,
            queue_size=settings.mqtt_queue_size,
            client_id=settings.mqtt_client_id,
        )
    ]


# ---------------------------------------------------------------- jobs
# Work orders follow serious alarms (the listener registers when the module loads).
assert workorders.on_alarm in workorders.alarms._listeners


@job("sweep_offline_devices", seconds=30)
async def sweep_offline_devices(state: AppState) -> None:
    async with state.db.transaction() as session:
        await device_jobs.sweep_offline_devices(session, now=utcnow())


@job("sweep_overdue_work_orders", seconds=60)
async def sweep_overdue_work_orders(state: AppState) -> None:
    async with state.db.transaction() as session:
        await workorders.sweep_overdue(session, now=utcnow())


@job("purge_old_device_readings", seconds=3600)
async def purge_old_device_readings(state: AppState) -> None:
    async with state.db.transaction() as session:
        await device_jobs.purge_old_readings(
            session, now=utcnow(), retention_days=state.settings.device_readings_retention_days
        )


# ---------------------------------------------------------------- demo data
# The on-duty roster: skills, home building and daily hours (local time).
DEMO_STAFF: dict[str, tuple[list[str], str, list[tuple[int, int]]]] = {
    "staff1@demo.linli": (["electrician", "plumber"], "1", [(8 * 60, 20 * 60)]),
    "staff2@demo.linli": (["elevator", "fire_safety"], "3", [(8 * 60, 20 * 60), (20 * 60, 8 * 60)]),
}


@seed_step
async def seed_devices(session: AsyncSession, demo: Demo) -> None:
    # The demo credential is the demo password: its argon2id hash is already computed.
    credential_hash = demo.password_hash
    ids: dict[str, int] = {}
    for code, kind, building, unit, floor, location in DEMO_DEVICES:
        device = Device(
            community_id=demo.garden_id,
            building_id=demo.buildings[building] if building else None,
            unit_id=demo.units[unit] if unit else None,
            code=code,
            kind=kind,
            floor=floor,
            location=location,
            credential_hash=credential_hash,
        )
        session.add(device)
        await session.flush()
        assert device.id is not None
        ids[code] = device.id
    other = Device(
        community_id=demo.heights_id,
        code="H-A-SMOKE-L1",
        kind="SMOKE_DETECTOR",
        floor=1,
        location="Building A lobby",
        credential_hash=credential_hash,
    )
    session.add(other)
    await session.flush()
    assert other.id is not None
    ids[other.code] = other.id
    demo.extra["devices"] = ids

    for login, (skills, building, shifts) in DEMO_STAFF.items():
        uid = demo.users[login]
        session.add(
            StaffProfile(
                user_id=uid,
                community_id=demo.garden_id,
                skills=skills,
                base_building_id=demo.buildings[building],
            )
        )
        for start, end in shifts:
            session.add(
                DutyShift(
                    user_id=uid, community_id=demo.garden_id, start_minute=start, end_minute=end
                )
            )
    await session.flush()
    await _seed_alarms(session, demo, ids)


async def _seed_alarms(session: AsyncSession, demo: Demo, devices: dict[str, int]) -> None:
    """A little history for the demo: a low battery nobody has looked at yet, and a
    vibrating pump with its work order in staff1's hands. Written directly (no events,
    no dispatch) so the seed does not depend on the hour it runs at."""
    now = utcnow()
    battery = Alarm(
        community_id=demo.garden_id,
        device_id=devices["G-MH-S1"],
        originator=f"device:{devices['G-MH-S1']}",
        type="LOW_BATTERY",
        severity="WARNING",
        started_at=now - timedelta(hours=5),
        last_seen_at=now - timedelta(minutes=20),
        occurrences=12,
        details={"metric": "battery", "value": 16, "peak": 15, "direction": "low"},
    )
    pump = Alarm(
        community_id=demo.garden_id,
        device_id=devices["G-2-PUMP-1"],
        originator=f"device:{devices['G-2-PUMP-1']}",
        type="HIGH_VIBRATION",
        severity="MAJOR",
        status="ACTIVE_ACK",
        started_at=now - timedelta(hours=1),
        last_seen_at=now - timedelta(minutes=2),
        acknowledged_at=now - timedelta(minutes=50),
        acknowledged_by=demo.users["staff1@demo.linli"],
        occurrences=4,
        details={"metric": "vibration", "value": 12.4, "peak": 13.1, "direction": "high"},
    )
    session.add_all([battery, pump])
    await session.flush()
    assert battery.id is not None and pump.id is not None
    order = WorkOrder(
        community_id=demo.garden_id,
        alarm_id=pump.id,
        building_id=demo.buildings["2"],
        title="HIGH_VIBRATION · G-2-PUMP-1 · Building 2 pump room",
        skill="plumber",
        severity="MAJOR",
        status="ASSIGNED",
        assignee_id=demo.users["staff1@demo.linli"],
        created_at=now - timedelta(hours=1),
        due_at=now + timedelta(hours=3),
    )
    session.add(order)
    await session.flush()
    assert order.id is not None
    demo.extra["alarms"] = {"battery": battery.id, "pump": pump.id}
    demo.extra["work_orders"] = {"pump": order.id}
