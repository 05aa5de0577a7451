"""Parking over a real Mosquitto: plate cameras publish through the device bridge, and
the exit gate receives its "open" command over MQTT once the stay is paid, then
acknowledges it."""

from __future__ import annotations

import asyncio

import aiomqtt
import orjson
from sqlalchemy import select

from domain.devices.models import DeviceCommand
from domain.parking.models import ParkingLane
from tests.mqtt_support import (
    dumps,
    publish_all,
    require_mosquitto,
    running_bridge,
    telemetry_topic,
)
from tests.stubs.stripe_stub import StripeStub
from tests.support import GraphQLClient
from tests.test_devices_mqtt import wait_until
from tests.test_parking import exit_qr, pk, quote, stays
from tests.test_parking_pay import pay, settle


async def test_cameras_and_gate_over_mqtt(api: GraphQLClient, clock, stripe_stub: StripeStub):
    require_mosquitto()
    garden = api.demo.garden_id
    plate = "鲁B13579"
    async with running_bridge(api.server.state) as bridge:
        entry = telemetry_topic(bridge, garden, "G-CAM-N-IN")
        await publish_all(1883, [(entry, dumps({"plate": plate, "direction": "entry"}))])

        async def entered() -> bool:
            return len(await stays(api, plate)) == 1

        await wait_until(entered)
        clock.advance(hours=1, minutes=5)
        out = telemetry_topic(bridge, garden, "G-CAM-N-OUT")
        await publish_all(1883, [(out, dumps({"plate": plate, "direction": "exit"}))])

        async def waiting() -> bool:
            async with api.db.reader() as s:
                lane = await s.get(ParkingLane, pk(api, "exit_lane"))
                return lane is not None and lane.waiting_session_id is not None

        await wait_until(waiting)
        got = await quote(api, "tenant1", qr=exit_qr(api))
        assert got["amountDue"]["amountMinor"] == 1000

        gate_topic = f"{bridge.topic_root}/{garden}/G-GATE-N-OUT/commands"
        async with aiomqtt.Client("127.0.0.1", 1883, timeout=5) as gate:
            await gate.subscribe(gate_topic, qos=1)
            paid = await pay(api, "tenant1", got["session"]["id"], "mqtt-flow-0001")
            await settle(api, stripe_stub, paid["payment"]["id"])
            msg = await asyncio.wait_for(anext(gate.messages), 5)
            body = orjson.loads(msg.payload)
            assert body["name"] == "open" and body["params"]["reason"] == "paid"
            await gate.publish(f"{gate_topic}/ack", dumps({"id": body["id"], "ok": True}), qos=1)

        async def acked() -> bool:
            async with api.db.reader() as s:
                row = await s.scalar(select(DeviceCommand).where(DeviceCommand.id == body["id"]))
                return row is not None and row.status == "ACKED"

        await wait_until(acked)
        # Through the opened gate: the camera sees the car leave within the grace.
        clock.advance(minutes=2)
        await publish_all(1883, [(out, dumps({"plate": plate, "direction": "exit"}))])

        async def left() -> bool:
            return (await stays(api, plate))[0].status == "EXITED"

        await wait_until(left)
