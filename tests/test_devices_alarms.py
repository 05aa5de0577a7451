"""Alarm rules, the alerts subscription, work orders and device queries, end to end:
readings go in through `POST /devices/telemetry`, results come out through GraphQL."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from domain.devices import jobs as device_jobs
from domain.devices.models import Device
from domain.notifications.models import Notification
from domain.workorders import service as workorders
from domain.workorders.models import StaffProfile
from tests.support import WSClient
from tests.test_devices_core import basic, ms

ALERTS = """subscription($c: ID!, $min: Severity) {
  alerts(communityId: $c, minSeverity: $min) {
    kind at
    alarm { id type severity status occurrences details
            device { code } workOrder { status assignee { displayName } } }
  }
}"""


async def send(api, code: str, body: Any) -> None:
    r = await api.http.post("/devices/telemetry", content=json.dumps(body), headers=basic(code))
    assert r.status_code == 200, r.text


async def wait_subscribers(api, n: int, community_id: int | None = None) -> None:
    cid = community_id or api.demo.garden_id
    for _ in range(500):
        feed = api.server.state.services.extras.get("alert_feed")
        if feed is not None and feed.count(cid) >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("subscribers did not register")


async def next_data(ws: WSClient, timeout: float = 5.0) -> dict[str, Any]:
    msg = await ws.next(timeout)
    assert msg["type"] == "next", msg
    return msg["payload"]["data"]["alerts"]


async def expect_silence(ws: WSClient, seconds: float = 0.3) -> None:
    try:
        msg = await ws.next(seconds)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected message {msg}")


async def test_alerts_subscription_lifecycle_and_audiences(api, clock):
    staff, carer, critical_only = (
        WSClient(api.ws_url()),
        WSClient(api.ws_url()),
        WSClient(api.ws_url()),
    )
    await staff.connect(api.token("staff1"))
    await carer.connect(api.token("carer1"))
    await critical_only.connect(api.token("manager"))
    try:
        await staff.subscribe(ALERTS, {"c": api.garden})
        await carer.subscribe(ALERTS, {"c": api.garden})
        await critical_only.subscribe(ALERTS, {"c": api.garden, "min": "CRITICAL"})
        await wait_subscribers(api, 3)

        # Smoke in elder1's kitchen: CRITICAL at once (the detector's own alarm flag).
        await send(api, "G-1-301-SMOKE", {"smoke": 6.5, "alarm": True})
        for ws in (staff, carer, critical_only):
            ev = await next_data(ws)
            assert ev["kind"] == "RAISED"
            assert ev["alarm"]["type"] == "SMOKE" and ev["alarm"]["severity"] == "CRITICAL"
            assert ev["alarm"]["device"]["code"] == "G-1-301-SMOKE"
        # staff1 sees the work order: fire safety is staff2's skill, on duty at 10:00.
        assert ev["alarm"]["workOrder"]["status"] == "ASSIGNED"
        assert ev["alarm"]["workOrder"]["assignee"]["displayName"].startswith("孙丽")

        # The next breaching reading folds into the same alarm.
        await send(api, "G-1-301-SMOKE", {"smoke": 9.0, "alarm": True})
        ev = await next_data(staff)
        assert (ev["kind"], ev["alarm"]["occurrences"]) == ("UPDATED", 2)
        assert ev["alarm"]["details"]["peak"] == 1.0  # the alarm flag is the breach
        assert (await next_data(carer))["kind"] == "UPDATED"
        assert (await next_data(critical_only))["kind"] == "UPDATED"
        alarm_id = ev["alarm"]["id"]

        # A transformer alarm is for staff; the caregiver does not hear of it, and the
        # CRITICAL-only subscriber does not hear of a MAJOR one.
        t0 = clock() - timedelta(minutes=3)
        await send(
            api,
            "G-3-TRANS-1",
            [
                {"ts": ms(t0), "values": {"temperature": 90}},
                {"ts": ms(t0 + timedelta(seconds=61)), "values": {"temperature": 91}},
            ],
        )
        ev = await next_data(staff)
        assert (ev["kind"], ev["alarm"]["type"], ev["alarm"]["severity"]) == (
            "RAISED",
            "OVER_TEMPERATURE",
            "MAJOR",
        )
        await expect_silence(carer)
        await expect_silence(critical_only)

        # The caregiver acknowledges through GraphQL; everyone hears it.
        data = await api.gql(
            'mutation($a: ID!) { acknowledgeAlarm(input: {alarmId: $a, note: "calling her"}) '
            "{ alarm { status } userErrors { code } } }",
            {"a": alarm_id},
            as_="carer1",
        )
        assert data["acknowledgeAlarm"] == {"alarm": {"status": "ACTIVE_ACK"}, "userErrors": []}
        assert (await next_data(carer))["kind"] == "ACKNOWLEDGED"
        assert (await next_data(staff))["kind"] == "ACKNOWLEDGED"

        # Smoke gone below the clear threshold, flag off: CLEARED (and acknowledged).
        await send(api, "G-1-301-SMOKE", {"smoke": 0.4, "alarm": False})
        ev = await next_data(carer)
        assert (ev["kind"], ev["alarm"]["status"]) == ("CLEARED", "CLEARED_ACK")
    finally:
        for ws in (staff, carer, critical_only):
            await ws.close()

    # Another community's user cannot subscribe to Demo Garden's alerts.
    outsider = WSClient(api.ws_url())
    await outsider.connect(api.token("residentb"))
    try:
        await outsider.subscribe(ALERTS, {"c": api.garden})
        msg = await outsider.next()
        assert msg["type"] == "error" or msg["payload"].get("errors"), msg
    finally:
        await outsider.close()


async def alarms_of(api, device_code: str, as_: str = "staff1") -> list[dict[str, Any]]:
    data = await api.gql(
        "query($c: ID!) { alarms(communityId: $c, first: 100) { edges { node { id type "
        "severity status occurrences device { code } } } } }",
        {"c": api.garden},
        as_=as_,
    )
    return [
        e["node"]
        for e in data["alarms"]["edges"]
        if e["node"]["device"] and e["node"]["device"]["code"] == device_code
    ]


async def test_rules_duration_hysteresis_escalation_and_repeat_count(api, clock):
    t0 = clock() - timedelta(minutes=4)

    def at(seconds: float, **values: Any) -> dict[str, Any]:
        return {"ts": ms(t0 + timedelta(seconds=seconds)), "values": values}

    # Duration: MAJOR needs > 85 °C for 60 s. A 30 s breach, a dip, then 30 s more: nothing.
    await send(api, "G-3-TRANS-1", [at(0, temperature=90), at(30, temperature=90)])
    await send(api, "G-3-TRANS-1", [at(40, temperature=70), at(50, temperature=90)])
    await send(api, "G-3-TRANS-1", at(80, temperature=92))
    assert await alarms_of(api, "G-3-TRANS-1") == []
    await send(api, "G-3-TRANS-1", at(111, temperature=93))
    [alarm] = await alarms_of(api, "G-3-TRANS-1")
    assert (alarm["type"], alarm["severity"], alarm["status"]) == (
        "OVER_TEMPERATURE",
        "MAJOR",
        "ACTIVE_UNACK",
    )
    # Hysteresis: 80 °C is below the raise threshold but above the clear one (75).
    await send(api, "G-3-TRANS-1", at(120, temperature=80))
    [alarm] = await alarms_of(api, "G-3-TRANS-1")
    assert alarm["status"] == "ACTIVE_UNACK" and alarm["occurrences"] == 1
    # Escalation: above 105 °C is CRITICAL at once; it stays CRITICAL at 100 °C.
    await send(api, "G-3-TRANS-1", [at(130, temperature=110), at(140, temperature=100)])
    [alarm] = await alarms_of(api, "G-3-TRANS-1")
    assert alarm["severity"] == "CRITICAL" and alarm["occurrences"] == 2
    await send(api, "G-3-TRANS-1", at(150, temperature=74))
    [alarm] = await alarms_of(api, "G-3-TRANS-1")
    assert alarm["status"] == "CLEARED_UNACK"

    # A per-device override, and no flapping between the raise (10) and clear (5) levels.
    async with api.db.transaction() as s:
        gas = await s.scalar(select(Device).where(Device.code == "G-2-GAS-B1"))
        assert gas is not None
        gas.config = {
            "rules": {
                "GAS_LEAK": {
                    "metric": "gas",
                    "severities": {"MAJOR": {"op": ">=", "threshold": 10}},
                    "clear": {"op": "<", "threshold": 5},
                }
            }
        }
    for value in (12, 8, 12, 8, 9):
        await send(api, "G-2-GAS-B1", {"gas": value})
    [alarm] = await alarms_of(api, "G-2-GAS-B1")
    assert (alarm["status"], alarm["occurrences"]) == ("ACTIVE_UNACK", 2)
    await send(api, "G-2-GAS-B1", {"gas": 4})
    await send(api, "G-2-GAS-B1", {"gas": 8})
    [alarm] = await alarms_of(api, "G-2-GAS-B1")
    assert alarm["status"] == "CLEARED_UNACK"

    # Repeat count: a tilted manhole cover is MINOR after two readings in a row.
    await send(api, "G-MH-N1", {"tilt": 6})
    assert await alarms_of(api, "G-MH-N1") == []
    await send(api, "G-MH-N1", {"tilt": 7, "battery": 80})
    [alarm] = await alarms_of(api, "G-MH-N1")
    assert (alarm["type"], alarm["severity"]) == ("COVER_TILT", "MINOR")

    # Cleared by hand: staff may, another community's user is told it does not exist.
    clear = (
        'mutation($a: ID!) { clearAlarm(input: {alarmId: $a, note: "cover reseated"}) '
        "{ alarm { status clearedAt } userErrors { code field } } }"
    )
    r = await api.gql(clear, {"a": alarm["id"]}, as_="residentb")
    assert r["clearAlarm"]["userErrors"] == [{"code": "NOT_FOUND", "field": ["input", "alarmId"]}]
    r = await api.gql(clear, {"a": alarm["id"]}, as_="staff1")
    assert r["clearAlarm"]["alarm"]["status"] == "CLEARED_UNACK"
    assert r["clearAlarm"]["alarm"]["clearedAt"] is not None


async def test_inactivity_raises_device_offline_and_speaking_clears_it(api, clock):
    await send(api, "G-1-ELEV-A", {"floor": 3, "door_open": False, "stuck": False})
    query = (
        "query($c: ID!) { devices(communityId: $c, kind: ELEVATOR) { edges { node { code "
        "online lastSeenAt latest building { name } } } } }"
    )

    async def elevator() -> dict[str, Any]:
        data = await api.gql(query, {"c": api.garden}, as_="staff2")
        return next(
            e["node"] for e in data["devices"]["edges"] if e["node"]["code"] == "G-1-ELEV-A"
        )

    node = await elevator()
    assert node["online"] is True and node["latest"] == {
        "floor": 3,
        "door_open": False,
        "stuck": False,
    }
    assert node["building"]["name"] == "1号楼"

    clock.advance(minutes=9)
    async with api.db.transaction() as s:
        assert await device_jobs.sweep_offline_devices(s, now=clock()) == 0
    clock.advance(minutes=2)
    async with api.db.transaction() as s:
        assert await device_jobs.sweep_offline_devices(s, now=clock()) == 1
    async with api.db.transaction() as s:
        assert await device_jobs.sweep_offline_devices(s, now=clock()) == 0  # once
    assert (await elevator())["online"] is False
    [alarm] = await alarms_of(api, "G-1-ELEV-A")
    assert (alarm["type"], alarm["status"]) == ("DEVICE_OFFLINE", "ACTIVE_UNACK")

    await send(api, "G-1-ELEV-A", {"floor": 4})
    assert (await elevator())["online"] is True
    [alarm] = await alarms_of(api, "G-1-ELEV-A")
    assert alarm["status"] == "CLEARED_UNACK"


WORK_ORDERS = """query($c: ID!) { workOrders(communityId: $c) { edges { node {
  id title status dueAt createdAt escalatedAt assignee { displayName }
  alarm { type device { code } } } } } }"""


async def test_work_order_dispatch_sla_escalation_and_updates(api, clock):
    users = api.demo.users
    # staff2 learns electrics too: two candidates, so distance and load decide.
    async with api.db.transaction() as s:
        profile = await s.scalar(
            select(StaffProfile).where(StaffProfile.user_id == users["staff2@demo.linli"])
        )
        assert profile is not None
        profile.skills = [*profile.skills, "electrician"]

    async def orders() -> dict[str, dict[str, Any]]:
        data = await api.gql(WORK_ORDERS, {"c": api.garden}, as_="manager")
        return {
            e["node"]["alarm"]["device"]["code"]: e["node"] for e in data["workOrders"]["edges"]
        }

    # The transformer is behind building 3, staff2's base: nearest wins.
    await send(api, "G-3-TRANS-1", {"temperature": 120})
    wo = (await orders())["G-3-TRANS-1"]
    assert wo["status"] == "ASSIGNED" and wo["assignee"]["displayName"].startswith("孙丽")
    # CRITICAL: due 30 minutes after creation. Repeats do not open another order.
    assert wo["dueAt"].startswith("2026-11-23T02:30:00")
    await send(api, "G-3-TRANS-1", {"temperature": 121})
    assert (
        len([o for o in (await orders()).values() if o["alarm"]["type"] == "OVER_TEMPERATURE"]) == 1
    )

    # The EV charger (building 2) is as far from building 1 as from building 3:
    # the one with less open work (staff1) gets it.
    async with api.db.transaction() as s:
        from domain.alarms.service import raise_alarm

        await raise_alarm(
            s,
            community_id=api.demo.garden_id,
            type="CHARGER_FAULT",
            severity="MAJOR",
            device_id=api.demo.extra["devices"]["G-EV-1"],
        )
    wo = (await orders())["G-EV-1"]
    assert wo["assignee"]["displayName"].startswith("张伟")

    # At 22:00 staff1 is off duty; staff2 is no plumber: the open manhole's order waits,
    # unassigned, and the manager is told.
    clock.set(clock().replace(hour=14))  # 22:00 in Shanghai
    await send(api, "G-MH-S1", {"open": True})
    wo = (await orders())["G-MH-S1"]
    assert wo["status"] == "OPEN" and wo["assignee"] is None

    # Overdue: the transformer order (30 min SLA) escalates to the manager, once.
    clock.advance(minutes=1)
    async with api.db.transaction() as s:
        escalated = await workorders.sweep_overdue(s, now=clock())
    assert escalated >= 1
    async with api.db.transaction() as s:
        again = await workorders.sweep_overdue(s, now=clock())
    assert again == 0
    wo = (await orders())["G-3-TRANS-1"]
    assert wo["escalatedAt"] is not None
    async with api.db.reader() as s:
        titles = list(
            await s.scalars(
                select(Notification.title_key).where(
                    Notification.user_id == users["manager@demo.linli"]
                )
            )
        )
    assert "workorders.notify.overdue_title" in titles
    assert "workorders.notify.unassigned_title" in titles

    # Updates: staff2 starts and finishes; a finished order cannot restart.
    upd = """mutation($w: ID!, $s: WorkOrderStatus, $a: ID) {
      updateWorkOrder(input: {workOrderId: $w, status: $s, assigneeId: $a, note: "on it"}) {
        workOrder { status assignee { displayName } } userErrors { code field message } } }"""
    w = wo["id"]
    r = await api.gql(upd, {"w": w, "s": "IN_PROGRESS"}, as_="staff2")
    assert r["updateWorkOrder"]["workOrder"]["status"] == "IN_PROGRESS"
    r = await api.gql(upd, {"w": w, "s": "DONE"}, as_="staff2")
    assert r["updateWorkOrder"]["workOrder"]["status"] == "DONE"
    r = await api.gql(upd, {"w": w, "s": "IN_PROGRESS"}, as_="staff2", lang="en")
    assert r["updateWorkOrder"]["userErrors"][0]["field"] == ["input", "status"]
    assert "DONE" in r["updateWorkOrder"]["userErrors"][0]["message"]
    # Assigning the manhole order: only to staff of the community.
    pump = (await orders())["G-MH-S1"]["id"]
    r = await api.gql(
        upd, {"w": pump, "a": api.gid("User", users["resident1@demo.linli"])}, as_="manager"
    )
    assert r["updateWorkOrder"]["userErrors"][0]["field"] == ["input", "assigneeId"]
    r = await api.gql(
        upd, {"w": pump, "a": api.gid("User", users["staff1@demo.linli"])}, as_="manager"
    )
    assert r["updateWorkOrder"]["workOrder"]["status"] == "ASSIGNED"
    # Residents and other communities do not find work orders.
    for who in ("resident1", "residentb"):
        r = await api.gql(upd, {"w": pump, "s": "DONE"}, as_=who)
        assert r["updateWorkOrder"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_device_usage_peak_valley_and_visibility(api, clock):
    base = clock().replace(minute=0) - timedelta(hours=3)
    readings = []
    for hour, flows in enumerate([(1.0, 2.0), (6.0, 8.0), (0.5, 0.5)]):
        for i, flow in enumerate(flows):
            ts = base + timedelta(hours=hour, minutes=10 * (i + 1))
            readings.append({"ts": ms(ts), "values": {"flow": flow, "total": 100 + hour * 10 + i}})
    await send(api, "G-1-101-WM", readings)
    q = """query($d: ID!, $from: DateTime!, $to: DateTime!) {
      deviceUsage(deviceId: $d, metric: "flow", from: $from, to: $to) {
        hours { hour avg count } peak { avg } valley { avg } } }"""
    v = {
        "d": api.gid("Device", api.demo.extra["devices"]["G-1-101-WM"]),
        "from": base.isoformat(),
        "to": clock().isoformat(),
    }
    data = (await api.gql(q, v, as_="staff1"))["deviceUsage"]
    assert [h["count"] for h in data["hours"]] == [2, 2, 2]
    assert (data["peak"]["avg"], data["valley"]["avg"]) == (7.0, 0.5)
    # The unit's owner sees her meter; another resident and another community do not.
    assert (await api.gql(q, v, as_="resident1"))["deviceUsage"]["peak"]["avg"] == 7.0
    assert (await api.gql(q, v, as_="resident2"))["deviceUsage"] is None
    assert (await api.gql(q, v, as_="residentb"))["deviceUsage"] is None
    total = await api.gql(
        q.replace('"flow"', '"total"').replace("hours { hour avg count }", "consumption"),
        v,
        as_="resident1",
    )
    assert total["deviceUsage"]["consumption"] == 21.0


async def test_simulator_drives_the_demo_devices_over_http(api):
    # Real time here: the simulator stamps readings with the wall clock.
    import argparse

    from device_bridge.simulate import _run

    args = argparse.Namespace(
        url=api.server.base_url,
        mqtt=None,
        community=None,
        scenario="stuck-elevator",
        rate=40.0,
        seconds=2.0,
    )
    assert await _run(args) == 0
    data = await api.gql(
        "query($c: ID!) { alarms(communityId: $c, first: 100) { edges { node { type "
        "device { code } } } } devices(communityId: $c, first: 100) { edges { node { code "
        "online } } } }",
        {"c": api.garden},
        as_="staff2",
    )
    alarms = {(e["node"]["type"], e["node"]["device"]["code"]) for e in data["alarms"]["edges"]}
    assert ("ELEVATOR_STUCK", "G-2-ELEV-A") in alarms
    # Normal readings raise nothing else (besides the demo's two seeded alarms).
    assert len(alarms) == 3, alarms
    online = [e["node"]["code"] for e in data["devices"]["edges"] if e["node"]["online"]]
    assert len(online) >= 20
