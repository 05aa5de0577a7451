"""Device sweeps: silent devices go offline (DEVICE_OFFLINE), old raw readings go."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.alarms import service as alarms
from domain.alarms.rules import DEVICE_OFFLINE
from domain.devices.models import Device, DeviceReading

# A dead safety device is itself an emergency waiting to happen: it gets a work order.
OFFLINE_SEVERITY = {"SMOKE_DETECTOR": "MAJOR", "GAS_DETECTOR": "MAJOR"}
MIN_TIMEOUT_S = 30


async def sweep_offline_devices(session: AsyncSession, *, now: datetime, limit: int = 500) -> int:
    """Mark devices silent for longer than their inactivity timeout offline and raise
    DEVICE_OFFLINE; the next reading clears it (domain.alarms.rules). Devices that never
    spoke are not expected to, yet, and are left alone."""
    candidates = list(
        await session.scalars(
            select(Device)
            .where(
                Device.online.is_(True),  # type: ignore[attr-defined]
                Device.last_seen_at < now - timedelta(seconds=MIN_TIMEOUT_S),  # type: ignore[operator]
            )
            .order_by(Device.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    gone = 0
    for device in candidates:
        assert device.last_seen_at is not None
        timeout = max(device.inactivity_timeout_s, MIN_TIMEOUT_S)
        if device.last_seen_at + timedelta(seconds=timeout) > now:
            continue
        device.online = False
        await alarms.raise_alarm(
            session,
            community_id=device.community_id,
            type=DEVICE_OFFLINE,
            severity=OFFLINE_SEVERITY.get(device.kind, "MINOR"),
            device_id=device.id,
            unit_id=device.unit_id,
            details={"last_seen_at": device.last_seen_at.isoformat(), "timeout_s": timeout},
            at=now,
        )
        gone += 1
    return gone


async def purge_old_readings(session: AsyncSession, *, now: datetime, retention_days: int) -> int:
    result = await session.execute(
        delete(DeviceReading).where(DeviceReading.ts < now - timedelta(days=retention_days))  # type: ignore[operator]
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
