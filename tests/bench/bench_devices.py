"""Device ingest and alert latency (DESIGN.md §5), against a private Mosquitto and a
real `linli serve` process with the MQTT bridge on (SQLite, one process).

- readings/s persisted with the alarm rules on: the bridge's broker session is left
  holding a backlog of single readings (QoS 1, one per message, demo devices) while the
  server is down; the figure is how fast the restarted server drains it into the
  database, from the first reading stored to the last (target ≥ 10,000/s). A backlog
  measures the server, not how fast one Python publisher can publish.
- alert latency: 1,000 WebSocket subscribers (one client process, one `alerts`
  subscription each) while another process publishes 1,000 readings/s, one in 200 of
  them an alarm repeat; p50/p99 from MQTT publish to each subscriber's receipt (target
  p99 < 100 ms).
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing as mp
import sqlite3
import time
from typing import Any

from tests.bench.harness import BenchServer, Harness

FLOOD = 60_000
SUBSCRIBERS = 1000
LATENCY_RATE = 1000.0
ALARM_EVERY = 200
ALERTS = (
    "subscription($c: ID!) { alerts(communityId: $c) { kind at alarm { id type severity "
    "occurrences details } } }"
)
CODES = [
    ("G-2-PUMP-1", {"pressure": 300.0, "vibration": 2.0, "running": True}),
    ("G-3-TRANS-1", {"temperature": 60.0, "load": 55.0}),
    ("G-1-ELEV-A", {"floor": 3, "door_open": False, "stuck": False}),
    ("G-1-101-WM", {"flow": 0.4, "total": 1234.5}),
    ("G-1-SMOKE-L1", {"smoke": 0.2, "alarm": False, "battery": 90}),
    ("G-MH-N1", {"tilt": 0.4, "open": False, "battery": 80}),
]


def _flood_process(port: int, community: int, n: int, out: Any) -> None:
    import aiomqtt
    import orjson

    async def main() -> tuple[float, float]:
        payloads = [
            (f"linli/{community}/{code}/telemetry", orjson.dumps(values)) for code, values in CODES
        ]
        async with aiomqtt.Client(
            "127.0.0.1", port, identifier="bench-flood", max_inflight_messages=2000
        ) as client:
            client.pending_calls_threshold = 1 << 30  # no warning per queued publish
            started = time.time()
            window = 1000
            for i in range(0, n, window):
                await asyncio.gather(
                    *(
                        client.publish(*payloads[j % len(payloads)], qos=1)
                        for j in range(i, min(n, i + window))
                    )
                )
            return started, time.time()

    out.send(asyncio.run(main()))


def _latency_publisher(port: int, community: int, seconds: float, out: Any) -> None:
    import aiomqtt
    import orjson

    async def main() -> dict[int, float]:
        sent: dict[int, float] = {}
        async with aiomqtt.Client("127.0.0.1", port, identifier="bench-latency-pub") as client:
            interval = 1.0 / LATENCY_RATE
            next_at = time.perf_counter()
            deadline = next_at + seconds
            i = seq = 0
            while time.perf_counter() < deadline:
                if i % ALARM_EVERY == 0:
                    seq += 1
                    # The gas level carries the sequence number into the alert.
                    body = orjson.dumps({"gas": 30 + seq / 1000})
                    sent[seq] = time.time()
                    await client.publish(f"linli/{community}/G-2-GAS-B1/telemetry", body, qos=1)
                else:
                    code, values = CODES[i % len(CODES)]
                    await client.publish(
                        f"linli/{community}/{code}/telemetry", orjson.dumps(values), qos=1
                    )
                i += 1
                next_at += interval
                delay = next_at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
        return sent

    out.send(asyncio.run(main()))


def _subscriber_process(
    port: int, token: str, community_gid: str, n: int, seconds: float, ready: Any, out: Any
) -> None:
    import websockets

    async def one(received: list[tuple[float, float]], go: asyncio.Event, opened: list[int]):
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            max_size=1 << 20,
            open_timeout=60,
        ) as ws:
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                )
            )
            await ws.recv()
            await ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": ALERTS, "variables": {"c": community_gid}},
                    }
                )
            )
            opened[0] += 1
            await go.wait()
            deadline = time.time() + seconds
            while True:
                remaining = deadline - time.time()
                if remaining <= 0:
                    break
                try:
                    raw = await asyncio.wait_for(ws.recv(), remaining)
                except TimeoutError:
                    break
                now = time.time()
                msg = json.loads(raw)
                if msg.get("type") != "next":
                    continue
                alarm = msg["payload"]["data"]["alerts"]["alarm"]
                value = (alarm.get("details") or {}).get("value")
                if alarm["type"] == "GAS_LEAK" and isinstance(value, int | float):
                    received.append((round((value - 30) * 1000), now))

    async def main() -> list[tuple[float, float]]:
        received: list[tuple[float, float]] = []
        go = asyncio.Event()
        opened = [0]
        sem = asyncio.Semaphore(50)

        async def gated():
            async with sem:
                task = asyncio.ensure_future(one(received, go, opened))
                while opened[0] < 1 and not task.done():
                    await asyncio.sleep(0)
                return task

        tasks = [await gated() for _ in range(n)]
        while opened[0] < n and not all(t.done() for t in tasks):
            await asyncio.sleep(0.05)
        ready.send(opened[0])
        ready.recv()  # the publisher is about to start
        go.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        return received

    out.send(asyncio.run(main()))


async def _pipeline(h: Harness, url: str) -> None:
    """The ingest pipeline alone, in this process: parse, rules, raw insert, roll-ups and
    device updates, batches of 1000 readings per transaction (the bridge's writer minus
    MQTT). Shows how much of the MQTT figure the database side leaves."""
    import domain.alarms.rules
    import domain.registry
    import domain.workorders.service  # noqa: F401
    from core import keys
    from core.clock import utcnow
    from core.db import Database
    from domain.devices.ingest import devices_by_code, ingest
    from domain.devices.payloads import parse

    keys.configure(b"bench-pipeline-" + b"z" * 40)
    db = Database(url)
    batches = 5 if h.quick else 30
    started = time.perf_counter()
    for _ in range(batches):
        now = utcnow()
        groups: dict[str, list[Any]] = {}
        for i in range(1000):
            code, values = CODES[i % len(CODES)]
            groups.setdefault(code, []).extend(parse(dict(values), now))
        async with db.transaction() as session:
            devices = await devices_by_code(session, groups)
            await ingest(session, [(devices[c], r) for c, r in groups.items()])
    rate = batches * 1000 / (time.perf_counter() - started)
    await db.dispose()
    h.result(
        "devices: ingest pipeline alone (DB + rules, in-process)",
        rate,
        "readings/s",
        note="no MQTT: parse, rules, batched writes",
    )


def _pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    data = sorted(values)
    return data[min(len(data) - 1, int(len(data) * p / 100))]


def _count(db_path: str) -> int:
    with sqlite3.connect(db_path) as conn:
        return int(conn.execute("SELECT count(*) FROM device_readings").fetchone()[0])


async def run(h: Harness) -> None:
    from tests.mqtt_support import PrivateBroker

    broker = PrivateBroker()
    await broker.start()
    ctx = mp.get_context("spawn")
    try:
        env = {
            "LINLI_MQTT_URL": f"mqtt://127.0.0.1:{broker.port}",
            "LINLI_BACKGROUND_JOBS": "true",
            "LINLI_COUNT_SQL": "false",
            "LINLI_MQTT_BATCH_SIZE": "1000",
            "LINLI_MQTT_CLIENT_ID": f"bench-bridge-{broker.port}",
        }
        first = BenchServer("sqlite", env=env)
        await first.start()  # creates the bridge's session and subscription
        await asyncio.sleep(1.5)
        await first.stop()
        n = FLOOD // 4 if h.quick else FLOOD
        community = 1
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_flood_process, args=(broker.port, community, n, child))
        proc.start()
        started, published = await asyncio.to_thread(parent.recv)
        proc.join()
        srv = BenchServer("sqlite", env=env, url=first.url)
        try:
            await srv.start()
            db_path = srv.url.split(":///", 1)[1]

            # ---------------------------------------------------------- ingest
            deadline = time.time() + 120
            t_first = None
            count = c0 = 0
            while time.time() < deadline:
                count = _count(db_path)
                if count and t_first is None:
                    t_first, c0 = time.time(), count
                if count >= n:
                    break
                await asyncio.sleep(0.05)
            done = time.time()
            rate = (count - c0) / (done - t_first) if t_first and done > t_first else 0.0
            h.result(
                "devices: readings/s persisted (MQTT, rules on)",
                rate,
                "readings/s",
                target=">= 10000",
                ok=rate >= 10_000,
                note=f"{count}/{n} stored; backlog published at {n / (published - started):.0f}/s",
            )

            # ---------------------------------------------------------- latency
            token = await srv.token("staff1@demo.linli")
            garden_gid = base64.urlsafe_b64encode(f"Community:{community}".encode()).decode()
            garden_gid = garden_gid.rstrip("=")
            seconds = 5.0 if h.quick else 10.0
            subscribers = 200 if h.quick else SUBSCRIBERS
            ready_parent, ready_child = ctx.Pipe()
            sub_parent, sub_child = ctx.Pipe()
            subs = ctx.Process(
                target=_subscriber_process,
                args=(
                    srv.port,
                    token,
                    garden_gid,
                    subscribers,
                    seconds + 3,
                    ready_child,
                    sub_child,
                ),
            )
            subs.start()
            opened = await asyncio.to_thread(ready_parent.recv)
            await asyncio.sleep(1.0)  # the last subscriptions register on the server
            pub_parent, pub_child = ctx.Pipe()
            pub = ctx.Process(
                target=_latency_publisher, args=(broker.port, community, seconds, pub_child)
            )
            ready_parent.send(True)
            pub.start()
            sent = await asyncio.to_thread(pub_parent.recv)
            received = await asyncio.to_thread(sub_parent.recv)
            pub.join()
            subs.join()
            latencies = [(t - sent[seq]) * 1000 for seq, t in received if seq in sent]
            expected = len(sent) * opened
            p50, p99 = _pct(latencies, 50), _pct(latencies, 99)
            note = f"{opened} subscribers, {len(sent)} alerts, {len(latencies)}/{expected} received"
            h.result("devices: alert latency p50", p50, "ms", note=note)
            h.result(
                "devices: alert latency p99",
                p99,
                "ms",
                target="< 100",
                ok=p99 < 100 and len(latencies) >= 0.99 * expected,
            )
        finally:
            await srv.stop()
        await _pipeline(h, srv.url)
    finally:
        await broker.cleanup()
