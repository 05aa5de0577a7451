"""Live alerts across processes: the PostgreSQL (LISTEN/NOTIFY) and Redis buses, and
two `linli serve` processes where a reading ingested by one reaches a subscriber on
the other."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from core.bus_remote import PostgresBus, RedisBus
from tests.support import PG_DSN, SECRET, WSClient, pg_reachable, service_missing
from tests.test_devices_alarms import ALERTS
from tests.test_devices_core import basic

ROOT = Path(__file__).resolve().parents[1]


def redis_reachable() -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 6379), timeout=2):
        return True
    return False


async def _crosses(make) -> None:
    a, b = make(), make()
    await a.start()
    await b.start()
    try:
        async with (
            a.listen("alerts:7") as on_a,
            b.listen("alerts:7") as on_b,
            b.listen("alerts:8") as other,
        ):
            await a.publish("alerts:7", {"kind": "RAISED", "alarm_id": 1})
            # Every process, the publisher's included, gets it once.
            assert await asyncio.wait_for(anext(on_b), 5) == {"kind": "RAISED", "alarm_id": 1}
            assert await asyncio.wait_for(anext(on_a), 5) == {"kind": "RAISED", "alarm_id": 1}
            await b.publish("alerts:7", {"kind": "CLEARED", "alarm_id": 1})
            assert (await asyncio.wait_for(anext(on_a), 5))["kind"] == "CLEARED"
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(other), 0.3)
    finally:
        await a.stop()
        await b.stop()


async def test_postgres_bus_crosses_instances():
    if not await pg_reachable():
        service_missing("PostgreSQL", "start it")
    await _crosses(lambda: PostgresBus(PG_DSN))


async def test_redis_bus_crosses_instances():
    if not redis_reachable():
        service_missing("Redis", "start it with `redis-server --daemonize yes`")
    await _crosses(lambda: RedisBus("redis://127.0.0.1:6379/0"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(url: str, bus: str, count: int) -> AsyncIterator[list[str]]:
    """`count` real `linli serve` processes on one database, started side by side."""
    env = dict(os.environ)
    env.update(
        LINLI_ENV="test",
        LINLI_SECRET_KEY=SECRET,
        LINLI_DATABASE_URL=url,
        LINLI_BUS=bus,
        LINLI_BACKGROUND_JOBS="false",
        LINLI_LOG_LEVEL="WARNING",
        LINLI_LOG_JSON="false",
    )
    env.pop("LINLI_MQTT_URL", None)
    ports = [_free_port() for _ in range(count)]
    procs = [
        subprocess.Popen(
            [str(Path(sys.executable).parent / "linli"), "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        async with httpx.AsyncClient() as client:
            for base, proc in zip(bases, procs, strict=True):
                for _ in range(600):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{base}/readyz")).status_code == 200:
                            break
                    if proc.poll() is not None:
                        raise RuntimeError("server process exited")
                    await asyncio.sleep(0.1)
        yield bases
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            await asyncio.to_thread(proc.wait, 20)


async def test_two_processes_share_alerts_over_postgres(api):
    # No frozen clock: the other processes check the token against real time.
    if api.backend.name != "postgres":
        pytest.skip("the cross-process bus rides on PostgreSQL here")
    async with serve(api.backend.url, "postgres", 2) as (a, b):
        ws = WSClient(b.replace("http://", "ws://") + "/graphql")
        await ws.connect(api.token("staff1"))
        try:
            await ws.subscribe(ALERTS, {"c": api.garden})
            async with httpx.AsyncClient(base_url=a) as http:
                # B registers the subscription asynchronously: repeat the breach (RAISED,
                # then UPDATED) until B's subscriber hears of it.
                for _ in range(20):
                    r = await http.post(
                        "/devices/telemetry",
                        content=json.dumps({"gas": 40}),
                        headers=basic("G-2-GAS-B1"),
                    )
                    assert r.status_code == 200, r.text
                    try:
                        msg = await ws.next(1.0)
                        break
                    except TimeoutError:
                        continue
                else:
                    raise AssertionError("no alert reached the other process")
            event = msg["payload"]["data"]["alerts"]
            assert event["kind"] in ("RAISED", "UPDATED")
            assert event["alarm"]["type"] == "GAS_LEAK"
            assert event["alarm"]["device"]["code"] == "G-2-GAS-B1"
        finally:
            await ws.close()
