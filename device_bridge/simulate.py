"""`linli simulate`: the demo community's devices, simulated, publishing to a running
server over HTTP (`POST /devices/telemetry`) or MQTT.

Scenarios: `normal` (plausible readings from every device), `fire` (smoke rising in
elder1's kitchen until the detector alarms), `stuck-elevator` (building 2's lift
reports stuck), `silent` (the transformer stops reporting: DEVICE_OFFLINE after its
inactivity timeout).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from domain.devices.demo import DEMO_CREDENTIAL, DEMO_DEVICES

Send = Callable[[str, dict[str, Any]], Awaitable[None]]


class SimulatedDevice:
    def __init__(self, code: str, kind: str, rng: random.Random) -> None:
        self.code = code
        self.kind = kind
        self.rng = rng
        self.total = rng.uniform(100, 5000)
        self.started = time.monotonic()

    def reading(self, scenario: str) -> dict[str, Any] | None:
        r, k = self.rng, self.kind
        elapsed = time.monotonic() - self.started
        values: dict[str, Any]
        if k == "SMOKE_DETECTOR":
            smoke = round(r.uniform(0.0, 0.4), 2)
            if scenario == "fire" and self.code == "G-1-301-SMOKE":
                smoke = round(min(20.0, 0.3 + elapsed * 1.2), 2)
            values = {"smoke": smoke, "alarm": smoke >= 8.0, "battery": 93}
        elif k == "GAS_DETECTOR":
            values = {"gas": round(r.uniform(0.0, 2.0), 1), "battery": 88}
        elif k == "ELEVATOR":
            stuck = scenario == "stuck-elevator" and self.code == "G-2-ELEV-A"
            values = {
                "floor": 7 if stuck else r.randint(1, 10),
                "door_open": False if stuck else r.random() < 0.2,
                "stuck": stuck,
            }
        elif k == "WATER_PUMP":
            values = {
                "pressure": round(r.gauss(300, 12), 1),
                "vibration": round(r.uniform(1.5, 3.5), 2),
                "running": True,
            }
        elif k == "TRANSFORMER":
            if scenario == "silent" and self.code == "G-3-TRANS-1":
                return None
            values = {"temperature": round(r.gauss(60, 3), 1), "load": round(r.uniform(45, 75), 1)}
        elif k == "MANHOLE_COVER":
            values = {"tilt": round(r.uniform(0, 1), 2), "open": False, "battery": 71}
        elif k == "WATER_METER":
            flow = round(r.uniform(0, 1.5), 3)
            self.total += flow / 3600
            values = {"flow": flow, "total": round(self.total, 3)}
        elif k == "POWER_METER":
            power = round(r.uniform(0.3, 3.0), 2)
            self.total += power / 3600
            values = {"power": power, "total": round(self.total, 3)}
        else:
            values = {"rssi": r.randint(-90, -40)}
        return {"ts": int(time.time() * 1000), "values": values}


def _http_sender(base_url: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    import httpx

    client = httpx.AsyncClient(base_url=base_url, timeout=10)

    async def send(code: str, reading: dict[str, Any]) -> None:
        token = base64.b64encode(f"{code}:{DEMO_CREDENTIAL}".encode()).decode()
        r = await client.post(
            "/devices/telemetry",
            content=orjson.dumps(reading),
            headers={"authorization": f"Basic {token}", "content-type": "application/json"},
        )
        if r.status_code != 200:
            print(f"{code}: HTTP {r.status_code} {r.text[:200]}")

    return send, client.aclose


async def _run(args: argparse.Namespace) -> int:
    rng = random.Random(2026)  # noqa: S311 - simulated readings, not security
    devices = [SimulatedDevice(code, kind, rng) for code, kind, *_ in DEMO_DEVICES]
    community = args.community or "1"
    interval = 1.0 / max(args.rate, 0.1)
    deadline = time.monotonic() + args.seconds
    sent = 0
    if args.mqtt:
        import aiomqtt

        from device_bridge.bridge import parse_mqtt_url

        host, port = parse_mqtt_url(args.mqtt)
        async with aiomqtt.Client(
            host, port, identifier=f"linli-sim-{rng.randint(0, 1 << 30)}"
        ) as c:

            async def send(code: str, reading: dict[str, Any]) -> None:
                topic = f"linli/{community}/{code}/telemetry"
                await c.publish(topic, orjson.dumps(reading), qos=1)

            sent = await _loop(devices, send, args.scenario, interval, deadline)
    else:
        send_http, close = _http_sender(args.url)
        try:
            sent = await _loop(devices, send_http, args.scenario, interval, deadline)
        finally:
            await close()
    print(f"simulated {sent} readings ({args.scenario})")
    return 0


async def _loop(
    devices: list[SimulatedDevice], send: Send, scenario: str, interval: float, deadline: float
) -> int:
    """Keep the pace whatever the server's latency: sends run concurrently (bounded)."""
    sent = 0
    next_at = time.monotonic()
    slots = asyncio.Semaphore(32)
    pending: set[asyncio.Task[None]] = set()

    async def one(code: str, reading: dict[str, Any]) -> None:
        try:
            await send(code, reading)
        finally:
            slots.release()

    for device in itertools.cycle(devices):
        if time.monotonic() >= deadline:
            break
        reading = device.reading(scenario)
        if reading is not None:
            await slots.acquire()
            task = asyncio.create_task(one(device.code, reading))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    return sent


def main(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
