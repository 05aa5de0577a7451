"""The device bridge against a real Mosquitto: alarms reach WebSocket subscribers,
commands go out and come back acknowledged, junk does not stop valid readings, and a
broker restart mid-stream loses no QoS 1 reading."""

from __future__ import annotations

import asyncio
import os
import shutil

import aiomqtt
import orjson
import pytest
from sqlalchemy import select

from domain.devices import commands
from domain.devices.models import Device, DeviceCommand, DeviceReading
from tests.mqtt_support import (
    PrivateBroker,
    dumps,
    publish_all,
    require_mosquitto,
    running_bridge,
    telemetry_topic,
)
from tests.support import WSClient
from tests.test_devices_alarms import ALERTS, next_data, wait_subscribers
from tests.test_devices_core import ms


async def _async(value: bool) -> bool:
    return value


async def wait_until(check, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        if await check():
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_mqtt_alarm_lifecycle_reaches_websocket_and_commands_round_trip(api, clock):
    require_mosquitto()
    garden = api.demo.garden_id
    ws = WSClient(api.ws_url())
    await ws.connect(api.token("staff2"))
    async with running_bridge(api.server.state) as bridge:
        try:
            await ws.subscribe(ALERTS, {"c": api.garden})
            await wait_subscribers(api, 1)
            topic = telemetry_topic(bridge, garden, "G-1-301-GAS")
            await publish_all(1883, [(topic, dumps({"gas": 30}))])
            ev = await next_data(ws)
            assert (ev["kind"], ev["alarm"]["type"], ev["alarm"]["severity"]) == (
                "RAISED",
                "GAS_LEAK",
                "CRITICAL",
            )
            await publish_all(1883, [(topic, dumps({"ts": ms(clock()), "values": {"gas": 33}}))])
            ev = await next_data(ws)
            assert (ev["kind"], ev["alarm"]["occurrences"]) == ("UPDATED", 2)
            data = await api.gql(
                "mutation($a: ID!) { acknowledgeAlarm(input: {alarmId: $a}) { alarm { status } } }",
                {"a": ev["alarm"]["id"]},
                as_="staff2",
            )
            assert data["acknowledgeAlarm"]["alarm"]["status"] == "ACTIVE_ACK"
            assert (await next_data(ws))["kind"] == "ACKNOWLEDGED"
            await publish_all(1883, [(topic, dumps([{"gas": 3}]))])
            ev = await next_data(ws)
            assert (ev["kind"], ev["alarm"]["status"]) == ("CLEARED", "CLEARED_ACK")

            # A gate command: published after commit, acknowledged by the "gate".
            gate_id = api.demo.extra["devices"]["G-GATE-N-OUT"]
            async with aiomqtt.Client("127.0.0.1", 1883, timeout=5) as gate:
                await gate.subscribe(f"{bridge.topic_root}/{garden}/G-GATE-N-OUT/commands", qos=1)
                async with api.db.transaction() as s:
                    cmd = await commands.send_command(
                        s, device_id=gate_id, name="open", params={"reason": "paid"}
                    )
                msg = await asyncio.wait_for(anext(gate.messages), 5)
                body = orjson.loads(msg.payload)
                assert body == {"id": cmd.id, "name": "open", "params": {"reason": "paid"}}
                await gate.publish(
                    f"{bridge.topic_root}/{garden}/G-GATE-N-OUT/commands/ack",
                    dumps({"id": cmd.id, "ok": True, "opened_ms": 850}),
                    qos=1,
                )

            async def acked() -> bool:
                async with api.db.reader() as s:
                    row = await s.get(DeviceCommand, cmd.id)
                    return row is not None and row.status == "ACKED"

            await wait_until(acked)
        finally:
            await ws.close()


async def test_malformed_flood_does_not_stop_valid_readings(api, clock):
    require_mosquitto()
    garden = api.demo.garden_id
    async with running_bridge(api.server.state) as bridge:
        pump = telemetry_topic(bridge, garden, "G-2-PUMP-1")
        junk = [
            b"{not json",
            b"",
            dumps([]),
            dumps({"values": {"x": {"nested": 1}}}),
            dumps({"ts": "soon", "values": {"pressure": 1}}),
            b'{"pressure": NaN}',
            b"\xff\xfe\x00",
            dumps([{"pressure": 1}] * 1001),
        ]
        messages = []
        valid = 0
        for i in range(10_000):
            kind = i % 10
            if kind == 9:
                # Unknown device, wrong community, a foreign topic.
                other = [
                    (telemetry_topic(bridge, garden, "NO-SUCH-DEVICE"), dumps({"p": 1})),
                    (telemetry_topic(bridge, 999, "G-2-PUMP-1"), dumps({"pressure": 1})),
                    (f"{bridge.topic_root}/x/G-2-PUMP-1/telemetry", dumps({"pressure": 1})),
                ]
                messages.append(other[i % 3])
            else:
                messages.append((pump, junk[i % len(junk)]))
            if i % 200 == 0:
                messages.append((pump, dumps({"pressure": 250, "seq": valid})))
                valid += 1
        await publish_all(1883, messages, bridge=bridge)

        async def all_valid_stored() -> bool:
            async with api.db.reader() as s:
                rows = (
                    await s.scalars(
                        select(DeviceReading.values)
                        .join(Device, Device.id == DeviceReading.device_id)
                        .where(Device.code == "G-2-PUMP-1")
                    )
                ).all()
            # Only the valid readings: the wrong-community ones were refused.
            assert all("seq" in v for v in rows), rows
            seen = {v["seq"] for v in rows}
            return seen == set(range(valid))

        await wait_until(all_valid_stored, timeout=120)
        async with api.db.reader() as s:
            bad = await s.scalar(select(Device.bad_payloads).where(Device.code == "G-2-PUMP-1"))
        # Every malformed message to the pump was counted against it (at least once).
        assert bad is not None and bad >= 9000
        assert bridge.stats.unknown >= 600


async def test_broker_restart_mid_stream_loses_no_qos1_reading(api, clock):
    if shutil.which("mosquitto") is None and not os.path.exists("/usr/sbin/mosquitto"):
        pytest.skip("no mosquitto binary for a private broker")
    broker = PrivateBroker()
    await broker.start()
    try:
        async with running_bridge(api.server.state, port=broker.port) as bridge:
            topic = telemetry_topic(bridge, api.demo.garden_id, "G-3-PM-MAIN")
            n = 600
            messages = [(topic, dumps({"power": 100, "seq": i})) for i in range(n)]
            publisher = asyncio.create_task(
                publish_all(
                    broker.port,
                    messages,
                    client_id=f"{bridge.topic_root}-pub",
                    window=10,
                    pause_s=0.01,
                )
            )
            # Stop the broker while readings are flowing (some sent, some not yet).
            await wait_until(lambda: _async(bridge.stats.received >= 50), timeout=20)
            assert not publisher.done()
            await broker.stop()
            await asyncio.sleep(0.3)
            await broker.start()
            await asyncio.wait_for(publisher, 60)

            async def all_stored() -> bool:
                async with api.db.reader() as s:
                    rows = (
                        await s.scalars(
                            select(DeviceReading.values)
                            .join(Device, Device.id == DeviceReading.device_id)
                            .where(Device.code == "G-3-PM-MAIN")
                        )
                    ).all()
                missing[:] = sorted(set(range(n)) - {v["seq"] for v in rows})
                return not missing

            missing: list[int] = []
            try:
                await wait_until(all_stored, timeout=60)
            except AssertionError:
                raise AssertionError(f"lost readings {missing[:20]}; {bridge.stats}") from None
            assert bridge.stats.connects >= 2
    finally:
        await broker.cleanup()
