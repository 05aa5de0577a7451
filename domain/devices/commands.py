"""Commands to devices (open the gate). Recorded in the caller's transaction, published
after commit on `linli/<community>/<device-code>/commands` as
`{"id": .., "name": .., "params": {..}}`, republished until the device acknowledges on
`.../commands/ack` with `{"id": .., "ok": true|false, ...}` or the command times out.

The device bridge installs the publisher; without one (no MQTT configured) commands stay
PENDING and a bridge that starts later picks them up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import utcnow
from core.db import emit, on_commit
from domain.devices.errors import UnknownDevice
from domain.devices.models import Device, DeviceCommand

log = logging.getLogger("linli.devices.commands")

DEFAULT_TIMEOUT_S = 30
RETRY_AFTER_S = 3

# publish(topic, payload) -> None; raises when the broker is unreachable.
Publisher = Callable[[str, dict[str, Any]], Awaitable[None]]
_publisher: list[Publisher] = []


def set_publisher(fn: Publisher | None) -> None:
    _publisher.clear()
    if fn is not None:
        _publisher.append(fn)


def command_topic(device: Device) -> str:
    return f"linli/{device.community_id}/{device.code}/commands"


def command_message(command: DeviceCommand) -> dict[str, Any]:
    return {"id": command.id, "name": command.name, "params": command.params}


def commands_topic(community_id: int) -> str:
    """Bus topic for command outcomes (ACKED, FAILED, TIMED_OUT)."""
    return f"device_commands:{community_id}"


async def send_command(
    session: AsyncSession,
    *,
    device_id: int,
    name: str,
    params: dict[str, Any] | None = None,
    timeout_s: int = DEFAULT_TIMEOUT_S,
) -> DeviceCommand:
    device = await session.get(Device, device_id)
    if device is None:
        raise UnknownDevice()
    now = utcnow()
    command = DeviceCommand(
        device_id=device_id,
        name=name,
        params=dict(params or {}),
        expires_at=now + timedelta(seconds=timeout_s),
    )
    session.add(command)
    await session.flush()
    topic, message = command_topic(device), command_message(command)

    async def publish_after_commit() -> None:
        await publish_now(topic, message)

    on_commit(session, publish_after_commit)
    return command


async def publish_now(topic: str, message: dict[str, Any]) -> bool:
    """Publish if a bridge is connected; the retry sweep covers every failure."""
    if not _publisher:
        return False
    try:
        await _publisher[0](topic, message)
    except Exception:
        log.warning("publishing command %s failed; the retry sweep will resend", message["id"])
        return False
    return True


async def due_for_publishing(
    session: AsyncSession, *, now: datetime, retry_after_s: int = RETRY_AFTER_S
) -> list[tuple[str, dict[str, Any]]]:
    """Claim the commands to (re)publish now, mark them SENT and time out the expired.
    Returns (topic, message) pairs to publish after commit."""
    rows = (
        await session.execute(
            select(DeviceCommand, Device)
            .join(Device, Device.id == DeviceCommand.device_id)
            .where(DeviceCommand.status.in_(("PENDING", "SENT")))  # type: ignore[attr-defined]
            .order_by(DeviceCommand.id)
            .limit(500)
            .with_for_update(skip_locked=True, of=DeviceCommand)
        )
    ).all()
    out: list[tuple[str, dict[str, Any]]] = []
    for command, device in rows:
        if command.expires_at <= now:
            command.status = "TIMED_OUT"
            emit(session, commands_topic(device.community_id), _outcome(command, device))
            continue
        # Published at commit (or last retry) too recently: give the device time to ack.
        last = command.sent_at or command.created_at
        if last > now - timedelta(seconds=retry_after_s):
            continue
        command.status = "SENT"
        command.sent_at = now
        command.attempts += 1
        out.append((command_topic(device), command_message(command)))
    return out


def _outcome(command: DeviceCommand, device: Device) -> dict[str, Any]:
    return {
        "command_id": command.id,
        "device_id": device.id,
        "name": command.name,
        "status": command.status,
    }


async def record_ack(
    session: AsyncSession, *, device: Device, command_id: int, ok: bool, result: dict[str, Any]
) -> DeviceCommand | None:
    """A device's acknowledgement; ignored unless the command is this device's and open."""
    command = await session.scalar(
        select(DeviceCommand)
        .where(DeviceCommand.id == command_id, DeviceCommand.device_id == device.id)
        .with_for_update()
    )
    if command is None or command.status not in ("PENDING", "SENT"):
        return command
    command.status = "ACKED" if ok else "FAILED"
    command.acked_at = utcnow()
    command.result = result
    emit(session, commands_topic(device.community_id), _outcome(command, device))
    return command
