"""careAlerts over a real graphql-transport-ws connection, and acknowledging a care
alarm through acknowledgeAlarm."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest
from sqlalchemy import select

from api.ext.care import run_care_sweeps
from domain.care.alerts import care_topic
from domain.notifications.models import Notification
from tests.support import WSClient
from tests.test_devices_alarms import wait_subscribers
from tests.test_devices_core import basic

CARE_ALERTS = """subscription { careAlerts { kind at alarm { id type severity status
  escalationLevel elder { id displayName } } } }"""
SET_PLAN = """mutation($e: ID!) { setCheckInPlan(input: {elderId: $e, graceMinutes: 0,
  windows: [{start: "09:00", end: "11:00"}], escalationUserIds: [], ackTimeoutMinutes: [5]})
  { userErrors { code } } }"""
CHECK_IN = """mutation($k: CheckInKind!, $e: ID) { checkIn(input: {kind: $k, elderId: $e})
  { userErrors { code } } }"""
ACK = """mutation($a: ID!) { acknowledgeAlarm(input: {alarmId: $a})
  { alarm { status escalationLevel } userErrors { code } } }"""


def uid(api, login: str) -> int:
    return api.demo.users[f"{login}@demo.linli"]


async def subscribed(api, login: str) -> WSClient:
    client = WSClient(api.ws_url())
    await client.connect(api.token(login))
    await client.subscribe(CARE_ALERTS)
    # Wait until the server listens, so the events below cannot slip past.
    bus = api.server.state.bus
    for _ in range(500):
        if bus.subscriber_count(care_topic(uid(api, login))):
            return client
        await asyncio.sleep(0.01)
    raise AssertionError("subscription did not start")


async def event(client: WSClient) -> dict:
    msg = await client.next()
    assert msg["type"] == "next", msg
    return msg["payload"]["data"]["careAlerts"]


async def nothing_more(client: WSClient) -> None:
    with pytest.raises(TimeoutError):
        await client.next(timeout=0.3)


async def test_caregiver_gets_own_elders_alerts_only(api, clock):
    elder1 = api.gid("Elder", api.demo.elders["elder1@demo.linli"])
    # A second elder (resident2 in 1-102) cared for by carer2 only.
    reg = await api.gql(
        """mutation($u: ID!, $unit: ID!) { registerElder(input: {userId: $u, unitId: $unit})
        { elder { id } } }""",
        {"u": api.gid("User", uid(api, "resident2")), "unit": api.unit_gid("1-102")},
        as_="staff1",
    )
    elder2 = reg["registerElder"]["elder"]["id"]
    await api.gql(
        """mutation($e: ID!, $u: ID!) { inviteCaregiver(input: {elderId: $e, caregiverUserId: $u})
        { link { status } } }""",
        {"e": elder2, "u": api.gid("User", uid(api, "carer2"))},
        as_="resident2",  # the elder names the caregiver: consent given
    )
    # resident1 is invited for elder1 but elder1 never consents.
    pending = await api.gql(
        """mutation($e: ID!, $u: ID!) { inviteCaregiver(input: {elderId: $e, caregiverUserId: $u})
        { link { status } } }""",
        {"e": elder1, "u": api.gid("User", uid(api, "resident1"))},
        as_="staff1",
    )
    assert pending["inviteCaregiver"]["link"]["status"] == "PENDING"
    for e, who in ((elder1, "carer1"), (elder2, "resident2")):
        out = await api.gql(SET_PLAN, {"e": e}, as_=who)
        assert out["setCheckInPlan"]["userErrors"] == []

    carer1 = await subscribed(api, "carer1")
    unconsented = await subscribed(api, "resident1")
    try:
        clock.advance(hours=1, minutes=1)  # both elders miss 09:00–11:00
        await run_care_sweeps(api.db, now=clock())
        first = await event(carer1)
        assert first["kind"] == "RAISED"
        assert first["alarm"]["type"] == "CHECK_IN_MISSED"
        assert first["alarm"]["elder"]["id"] == elder1
        assert first["alarm"]["escalationLevel"] == 0

        # The other elder asks for help: not carer1's business.
        await api.gql(CHECK_IN, {"k": "NEED_HELP"}, as_="resident2")
        # elder1 asks for help: the missed alarm is superseded, the help alarm raised.
        await api.gql(CHECK_IN, {"k": "NEED_HELP"}, as_="elder1")
        cleared = await event(carer1)
        assert (cleared["kind"], cleared["alarm"]["type"]) == ("CLEARED", "CHECK_IN_MISSED")
        helped = await event(carer1)
        assert (helped["kind"], helped["alarm"]["type"]) == ("RAISED", "HELP_REQUESTED")
        assert helped["alarm"]["severity"] == "CRITICAL"
        assert helped["alarm"]["elder"]["id"] == elder1
        await nothing_more(carer1)
        await nothing_more(unconsented)
    finally:
        await carer1.close()
        await unconsented.close()


async def test_removed_caregiver_stops_receiving_and_ack_stops_escalation(api, clock):
    elder1 = api.gid("Elder", api.demo.elders["elder1@demo.linli"])
    await api.gql(SET_PLAN, {"e": elder1}, as_="carer1")
    carer1 = await subscribed(api, "carer1")
    carer2 = await subscribed(api, "carer2")
    try:
        clock.advance(hours=1, minutes=1)
        await run_care_sweeps(api.db, now=clock())
        raised = await event(carer2)
        assert raised["kind"] == "RAISED"
        assert (await event(carer1))["kind"] == "RAISED"
        alarm_id = raised["alarm"]["id"]

        # elder1 removes carer2: from this commit on carer2 hears nothing and may not act.
        link = api.gid("CaregiverLink", api.demo.extra["caregiver_links"]["carer2"])
        await api.gql(
            "mutation($l: ID!) { removeCaregiver(input: {linkId: $l}) { link { status } } }",
            {"l": link},
            as_="elder1",
        )
        refused = await api.gql(ACK, {"a": alarm_id}, as_="carer2")
        assert refused["acknowledgeAlarm"]["userErrors"][0]["code"] == "NOT_FOUND"
        assert (await api.gql("{ myElders { id } }", as_="carer2"))["myElders"] == []

        # carer1 acknowledges: the escalation stops at level 0.
        acked = await api.gql(ACK, {"a": alarm_id}, as_="carer1")
        assert acked["acknowledgeAlarm"]["alarm"]["status"] == "ACTIVE_ACK"
        got = await event(carer1)
        assert (got["kind"], got["alarm"]["status"]) == ("ACKNOWLEDGED", "ACTIVE_ACK")
        clock.advance(hours=1)
        await run_care_sweeps(api.db, now=clock())
        await nothing_more(carer1)
        await nothing_more(carer2)
        node = await api.gql(
            "query($id: ID!) { node(id: $id) { ... on Alarm { escalationLevel status } } }",
            {"id": alarm_id},
            as_="carer1",
        )
        assert node["node"] == {"escalationLevel": 0, "status": "ACTIVE_ACK"}
    finally:
        await carer1.close()
        await carer2.close()


async def test_smoke_in_elder_home_reaches_caregivers_not_lobby_smoke(api, clock):
    carer1 = await subscribed(api, "carer1")
    try:
        for code in ("G-1-SMOKE-L1", "G-1-301-SMOKE"):  # the lobby first, then her home
            r = await api.http.post(
                "/devices/telemetry",
                content=json.dumps({"smoke": 6.0, "alarm": True}),
                headers=basic(code),
            )
            assert r.status_code == 200, r.text
        got = await event(carer1)
        assert (got["kind"], got["alarm"]["type"], got["alarm"]["severity"]) == (
            "RAISED",
            "SMOKE",
            "CRITICAL",
        )
        await nothing_more(carer1)
    finally:
        await carer1.close()
    async with api.db.reader() as s:
        told = Counter(
            await s.scalars(
                select(Notification.user_id).where(Notification.title_key == "care.device.title")
            )
        )
    assert told == Counter({uid(api, "carer1"): 1, uid(api, "carer2"): 1})


async def test_removed_caregiver_gets_no_more_community_alerts(api, clock):
    """The device helper's `alerts` subscription shows caregivers their elders' homes;
    a caregiver removed while subscribed must get nothing more there either."""
    alerts = """subscription($c: ID!) { alerts(communityId: $c) { kind alarm { type } } }"""
    clients = {}
    for login in ("carer1", "carer2"):
        clients[login] = WSClient(api.ws_url())
        await clients[login].connect(api.token(login))
        await clients[login].subscribe(alerts, {"c": api.garden})
    await wait_subscribers(api, 2)

    async def smoke(code: str, body: dict) -> None:
        r = await api.http.post("/devices/telemetry", content=json.dumps(body), headers=basic(code))
        assert r.status_code == 200, r.text

    try:
        await smoke("G-1-301-SMOKE", {"smoke": 6.0, "alarm": True})
        for login in ("carer1", "carer2"):
            msg = await clients[login].next()
            assert msg["payload"]["data"]["alerts"]["alarm"]["type"] == "SMOKE"
        link = api.gid("CaregiverLink", api.demo.extra["caregiver_links"]["carer2"])
        await api.gql(
            "mutation($l: ID!) { removeCaregiver(input: {linkId: $l}) { link { status } } }",
            {"l": link},
            as_="elder1",
        )
        await smoke("G-1-301-GAS", {"gas": 30})
        msg = await clients["carer1"].next()
        assert msg["payload"]["data"]["alerts"]["alarm"]["type"] == "GAS_LEAK"
        await nothing_more(clients["carer2"])
    finally:
        for c in clients.values():
            await c.close()
