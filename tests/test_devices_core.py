"""The shared device core through HTTP: telemetry ingest, handlers, alarms, commands."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from core.principal import Principal, Role
from domain.alarms import service as alarms
from domain.alarms.errors import AlarmNotFound
from domain.alarms.models import Alarm
from domain.devices import commands
from domain.devices.ingest import register_handler, unregister_handler
from domain.devices.models import Device, DeviceCommand, DeviceReading, DeviceUsageHourly

DEMO_CREDENTIAL = "linli-demo-2026"


def basic(code: str, credential: str = DEMO_CREDENTIAL) -> dict[str, str]:
    token = base64.b64encode(f"{code}:{credential}".encode()).decode()
    return {"authorization": f"Basic {token}", "content-type": "application/json"}


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


async def post_telemetry(api, code: str, body: Any, credential: str = DEMO_CREDENTIAL):
    import json

    return await api.http.post(
        "/devices/telemetry", content=json.dumps(body), headers=basic(code, credential)
    )


async def test_http_telemetry_shapes_auth_and_rollups(api, clock):
    code = "G-2-PUMP-1"
    t0 = clock()
    # One reading with a time, a bare reading (time = arrival), and an out-of-order batch.
    r = await post_telemetry(
        api, code, {"ts": ms(t0), "values": {"pressure": 300, "running": True}}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 1}
    r = await post_telemetry(api, code, {"pressure": 320.5})
    assert r.json() == {"accepted": 1}
    older = ms(t0) - 60_000
    batch = [
        {"ts": ms(t0) + 5_000, "values": {"pressure": 310, "vibration": 2.5}},
        {"ts": older, "values": {"pressure": 280}},
    ]
    r = await post_telemetry(api, code, batch)
    assert r.json() == {"accepted": 2}

    # Refusals: wrong credential, unknown device, no auth, junk, wrong shapes.
    assert (await post_telemetry(api, code, {"pressure": 1}, "wrong")).status_code == 401
    assert (await post_telemetry(api, "NO-SUCH", {"pressure": 1})).status_code == 401
    r = await api.http.post("/devices/telemetry", content=b"{}")
    assert r.status_code == 401 and "basic" in r.headers["www-authenticate"].lower()
    bad = await api.http.post("/devices/telemetry", content=b"{nope", headers=basic(code))
    assert bad.status_code == 400
    for junk in ([], {}, {"values": {"x": [1]}}, {"ts": "yesterday", "values": {"p": 1}}, 5):
        assert (await post_telemetry(api, code, junk)).status_code == 400, junk

    async with api.db.reader() as s:
        device = await s.scalar(select(Device).where(Device.code == code))
        assert device is not None
        assert device.online and device.last_seen_at == t0
        # The latest values come from the newest reading; the older buffered one
        # did not overwrite them.
        assert device.latest["pressure"] == 310
        assert device.latest["vibration"] == 2.5
        assert device.latest["running"] is True
        stored = await s.scalar(
            select(func.count())
            .select_from(DeviceReading)
            .where(DeviceReading.device_id == device.id)
        )
        assert stored == 4
        usage = (
            await s.scalars(
                select(DeviceUsageHourly).where(
                    DeviceUsageHourly.device_id == device.id, DeviceUsageHourly.metric == "pressure"
                )
            )
        ).all()
        by_hour = {u.hour: u for u in usage}
        this_hour = t0.replace(minute=0, second=0, microsecond=0)
        assert by_hour[this_hour].count == 3
        assert by_hour[this_hour].min_value == 300 and by_hour[this_hour].max_value == 320.5
        assert by_hour[this_hour].sum_value == 930.5
        # 09:59 the hour before (the frozen clock is 02:00 UTC, so 01:00).
        prev = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
        assert by_hour[prev].count == 1 and by_hour[prev].max_value == 280

    # Retention: raw readings go after the retention period, the roll-ups stay.
    from datetime import timedelta

    from domain.devices.jobs import purge_old_readings

    async with api.db.transaction() as s:
        assert await purge_old_readings(s, now=t0 + timedelta(days=29), retention_days=30) == 0
    async with api.db.transaction() as s:
        assert await purge_old_readings(s, now=t0 + timedelta(days=31), retention_days=30) == 4
    async with api.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(DeviceReading)) == 0
        assert await s.scalar(select(func.count()).select_from(DeviceUsageHourly)) > 0


async def test_kind_handlers_run_in_the_ingest_transaction(api, clock):
    seen: list[tuple[str, dict[str, Any]]] = []

    async def on_gate(session, device, ts, values):
        seen.append((device.code, values))
        if values.get("plate") == "FAIL":
            raise RuntimeError("handler failure rolls the batch back")

    register_handler("PARKING_GATE", on_gate)
    try:
        r = await post_telemetry(api, "G-GATE-N-IN", {"plate": "沪A12345", "direction": "entry"})
        assert r.status_code == 200
        assert seen == [("G-GATE-N-IN", {"plate": "沪A12345", "direction": "entry"})]
        # Another kind's readings do not reach the handler.
        await post_telemetry(api, "G-2-PUMP-1", {"pressure": 300})
        assert len(seen) == 1
    finally:
        unregister_handler("PARKING_GATE", on_gate)


def staff(api, login: str = "staff1") -> Principal:
    return Principal.build(
        api.demo.users[f"{login}@demo.linli"], [(api.demo.garden_id, "STAFF")], "en"
    )


async def test_alarm_lifecycle_events_listeners_and_permissions(api, clock):
    garden = api.demo.garden_id
    device_id = api.demo.extra["devices"]["G-1-301-SMOKE"]
    unit_id = api.demo.units["1-301"]
    heard: list[tuple[int, str]] = []

    async def listener(session, alarm, kind):
        # Runs inside the transaction: the alarm already has its id.
        heard.append((alarm.id, kind))

    alarms.register_alarm_listener(listener)
    try:
        async with api.server.state.bus.listen(alarms.alerts_topic(garden)) as events:

            async def raise_smoke(severity: str, value: float):
                async with api.db.transaction() as s:
                    return await alarms.raise_alarm(
                        s,
                        community_id=garden,
                        type="SMOKE",
                        severity=severity,
                        device_id=device_id,
                        unit_id=unit_id,
                        details={"metric": "smoke", "value": value},
                    )

            alarm, kind = await raise_smoke("MAJOR", 12.0)
            assert kind == "RAISED"
            ev = await asyncio.wait_for(anext(events), 2)
            assert ev["kind"] == "RAISED" and ev["alarm_id"] == alarm.id
            assert ev["unit_id"] == unit_id and ev["severity"] == "MAJOR"

            # A repeat folds in; severity rises and never falls while active.
            alarm2, kind = await raise_smoke("CRITICAL", 20.0)
            assert (alarm2.id, kind) == (alarm.id, "UPDATED")
            alarm3, _ = await raise_smoke("MINOR", 15.0)
            assert alarm3.severity == "CRITICAL" and alarm3.occurrences == 3
            assert alarm3.details["peak"] == 20.0
            for _ in range(2):
                assert (await asyncio.wait_for(anext(events), 2))["kind"] == "UPDATED"

            # A resident of another unit may not acknowledge; caregivers of the elder in
            # 1-301 may; acknowledging again changes nothing.
            resident = Principal.build(
                api.demo.users["resident1@demo.linli"], [(garden, Role.RESIDENT.value)], "en"
            )
            carer = Principal.build(
                api.demo.users["carer1@demo.linli"], [(garden, Role.CAREGIVER.value)], "en"
            )
            try:
                async with api.db.transaction() as s:
                    await alarms.acknowledge(s, resident, alarm.id)
                raise AssertionError("a resident acknowledged an alarm")
            except AlarmNotFound:
                pass
            async with api.db.transaction() as s:
                acked = await alarms.acknowledge(s, carer, alarm.id, note="on my way")
            assert acked.status == "ACTIVE_ACK"
            assert (await asyncio.wait_for(anext(events), 2))["kind"] == "ACKNOWLEDGED"
            async with api.db.transaction() as s:
                await alarms.acknowledge(s, staff(api), alarm.id)

            async with api.db.transaction() as s:
                row = await s.get(Alarm, alarm.id)
                assert row is not None
                cleared = await alarms.clear_alarm(s, row, note="kitchen smoke, no fire")
            assert cleared.status == "CLEARED_ACK"
            ev = await asyncio.wait_for(anext(events), 2)
            assert ev["kind"] == "CLEARED" and ev["status"] == "CLEARED_ACK"

            # After clearing, the same breach starts a new alarm.
            fresh, kind = await raise_smoke("MAJOR", 11.0)
            assert kind == "RAISED" and fresh.id != alarm.id
    finally:
        alarms._listeners.remove(listener)
    kinds = [k for _, k in heard]
    assert kinds == ["RAISED", "UPDATED", "UPDATED", "ACKNOWLEDGED", "CLEARED", "RAISED"]


async def test_one_open_alarm_per_originator_under_concurrency(api, clock):
    garden = api.demo.garden_id
    device_id = api.demo.extra["devices"]["G-3-TRANS-1"]

    async def raise_once():
        async with api.db.transaction() as s:
            alarm, kind = await alarms.raise_alarm(
                s,
                community_id=garden,
                type="OVER_TEMPERATURE",
                severity="MAJOR",
                device_id=device_id,
            )
            return alarm.id, kind

    results = await asyncio.gather(*(raise_once() for _ in range(8)))
    assert len({aid for aid, _ in results}) == 1
    assert [k for _, k in results].count("RAISED") == 1
    async with api.db.reader() as s:
        rows = (await s.scalars(select(Alarm).where(Alarm.device_id == device_id))).all()
        assert len(rows) == 1 and rows[0].occurrences == 8


async def test_send_command_publishes_after_commit_only(api, clock):
    published: list[tuple[str, dict[str, Any]]] = []

    async def publisher(topic, message):
        published.append((topic, message))

    gate = api.demo.extra["devices"]["G-GATE-N-OUT"]
    commands.set_publisher(publisher)
    try:
        try:
            async with api.db.transaction() as s:
                await commands.send_command(s, device_id=gate, name="open", params={"lane": 1})
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        assert published == []
        async with api.db.transaction() as s:
            cmd = await commands.send_command(s, device_id=gate, name="open", params={"lane": 1})
        topic = f"linli/{api.demo.garden_id}/G-GATE-N-OUT/commands"
        assert published == [(topic, {"id": cmd.id, "name": "open", "params": {"lane": 1}})]

        # Not acknowledged: republished after the retry delay, then timed out.
        clock.advance(seconds=5)
        async with api.db.transaction() as s:
            due = await commands.due_for_publishing(s, now=clock())
        assert due == [(topic, {"id": cmd.id, "name": "open", "params": {"lane": 1}})]
        async with api.db.transaction() as s:
            device = await s.get(Device, gate)
            assert device is not None
            acked = await commands.record_ack(
                s, device=device, command_id=cmd.id, ok=True, result={"opened": True}
            )
            assert acked is not None and acked.status == "ACKED"
        clock.advance(seconds=60)
        async with api.db.transaction() as s:
            assert await commands.due_for_publishing(s, now=clock()) == []
        async with api.db.reader() as s:
            statuses = (await s.scalars(select(DeviceCommand.status))).all()
        assert statuses == ["ACKED"]
    finally:
        commands.set_publisher(None)
