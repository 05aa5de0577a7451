"""MQTT helpers for the device tests: a bridge on its own topic root, publishers, and a
private Mosquitto for the broker-restart test."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import orjson

from device_bridge.bridge import DeviceBridge
from tests.support import mqtt_reachable, service_missing


def require_mosquitto(port: int = 1883) -> None:
    if not mqtt_reachable(port=port):
        service_missing(
            "Mosquitto", "start it with `mosquitto -d -c /etc/mosquitto/mosquitto.conf`"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def running_bridge(state: Any, port: int = 1883, **kw: Any) -> AsyncIterator[DeviceBridge]:
    root = f"linli-test-{uuid.uuid4().hex[:8]}"
    bridge = DeviceBridge(
        f"mqtt://127.0.0.1:{port}",
        client_id=f"{root}-bridge",
        topic_root=root,
        session_expiry_s=120,
        command_retry_s=0.5,
        **kw,
    )
    await bridge.start(state)
    try:
        await asyncio.wait_for(bridge.connected.wait(), 10)
        yield bridge
    finally:
        await bridge.stop()


def telemetry_topic(bridge: DeviceBridge, community_id: int, code: str) -> str:
    return f"{bridge.topic_root}/{community_id}/{code}/telemetry"


async def publish_all(
    port: int,
    messages: list[tuple[str, bytes]],
    *,
    client_id: str | None = None,
    window: int = 100,
    bridge: DeviceBridge | None = None,
    max_ahead: int = 2000,
    pause_s: float = 0.0,
) -> None:
    """Publish at QoS 1, `window` at a time, reconnecting and resending until every
    message is accepted (so a message may arrive twice: QoS 1 is at-least-once).

    With `bridge`, stay at most `max_ahead` messages ahead of what it has received: a
    broker holds only so many messages per subscriber (Mosquitto's max_queued_messages,
    1000 by default, beyond the in-flight window) and drops the rest, QoS 1 or not."""
    i = 0
    while i < len(messages):
        try:
            async with aiomqtt.Client(
                "127.0.0.1",
                port,
                identifier=client_id or f"pub-{uuid.uuid4().hex[:8]}",
                clean_session=False,
                # A publish cut off by a broker restart fails fast and is sent again.
                timeout=2,
                max_inflight_messages=window,
            ) as client:
                while i < len(messages):
                    while bridge is not None and i - bridge.stats.received > max_ahead:
                        await asyncio.sleep(0.01)
                    chunk = messages[i : i + window]
                    await asyncio.gather(*(client.publish(t, p, qos=1) for t, p in chunk))
                    i += len(chunk)
                    if pause_s:
                        await asyncio.sleep(pause_s)
        except aiomqtt.MqttError:
            await asyncio.sleep(0.2)


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


class PrivateBroker:
    """A Mosquitto of our own, with persistence, that a test may stop and restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="linli-mqtt-"))
        # Started as root, Mosquitto drops to its own user: it must be able to write
        # its persistence file (sessions and queued messages survive the restart).
        self.dir.chmod(0o777)
        self.conf = self.dir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.dir}/\n"
            "max_queued_messages 100000\n"
            "log_dest none\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.proc = subprocess.Popen([exe, "-c", str(self.conf)])
        for _ in range(200):
            if mqtt_reachable(port=self.port):
                return
            await asyncio.sleep(0.02)
        raise RuntimeError("private mosquitto did not start")

    async def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: mosquitto saves its persistence file
            await asyncio.to_thread(self.proc.wait, 10)
            self.proc = None

    async def cleanup(self) -> None:
        await self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
