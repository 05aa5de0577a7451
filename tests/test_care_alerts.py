"""Care alarms driven by the injected clock: missed windows, escalation, help requests,
all clear, pauses, midnight-crossing windows and concurrent sweeps."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from api.ext.care import run_care_sweeps
from domain.accounts.models import User
from domain.alarms.models import Alarm
from domain.care.models import CaregiverLink, CheckInPlan, Elder
from domain.notifications.models import Notification

SET_PLAN = """mutation($e: ID!, $w: [CheckInWindowInput!]!, $g: Int!, $chain: [ID!]!, $t: [Int!]) {
  setCheckInPlan(input: {elderId: $e, windows: $w, graceMinutes: $g, escalationUserIds: $chain,
                         ackTimeoutMinutes: $t})
  { plan { nextDueAt } userErrors { code field message } } }"""
CHECK_IN = """mutation($k: CheckInKind!, $e: ID) { checkIn(input: {kind: $k, elderId: $e})
  { checkIn { id } userErrors { code } } }"""
STATUS = "{ myElders { id status } }"


def uid(api, login: str) -> int:
    return api.demo.users[f"{login}@demo.linli"]


def elder_id(api) -> int:
    return api.demo.elders["elder1@demo.linli"]


async def set_plan(api, windows, grace=30, chain=(), timeouts=None, as_="carer1"):
    out = await api.gql(
        SET_PLAN,
        {
            "e": api.gid("Elder", elder_id(api)),
            "w": [{"start": s, "end": e} for s, e in windows],
            "g": grace,
            "chain": [api.gid("User", uid(api, c)) for c in chain],
            "t": timeouts,
        },
        as_=as_,
    )
    assert out["setCheckInPlan"]["userErrors"] == [], out
    return out["setCheckInPlan"]["plan"]


async def sweep(api, clock) -> None:
    await run_care_sweeps(api.db, now=clock())


async def told(api, title_key: str) -> Counter[int]:
    async with api.db.reader() as s:
        rows = await s.scalars(
            select(Notification.user_id).where(Notification.title_key == title_key)
        )
        return Counter(rows)


async def care_alarms(api, type_: str | None = None) -> list[Alarm]:
    async with api.db.reader() as s:
        q = select(Alarm).where(Alarm.elder_id.is_not(None))  # type: ignore[union-attr]
        if type_:
            q = q.where(Alarm.type == type_)
        rows = list(await s.scalars(q.order_by(Alarm.id)))
        s.expunge_all()  # keep the loaded values past the reader's rollback
        return rows


async def status(api, as_="carer1") -> str:
    return (await api.gql(STATUS, as_=as_))["myElders"][0]["status"]


async def test_missed_escalates_to_caregivers_then_staff_and_late_check_in_clears(api, clock):
    # 10:00 in Shanghai; window 09:00–11:00 + 30 min grace; chain carer1, carer2, staff.
    await set_plan(api, [("09:00", "11:00")], grace=30, timeouts=[10, 20])
    assert await status(api) == "DUE"
    clock.advance(hours=1, minutes=29)  # 11:29: still in grace
    await sweep(api, clock)
    assert await care_alarms(api) == []

    clock.advance(minutes=2)  # 11:31: judged missed
    await sweep(api, clock)
    [alarm] = await care_alarms(api)
    assert (alarm.type, alarm.severity, alarm.status) == (
        "CHECK_IN_MISSED",
        "MAJOR",
        "ACTIVE_UNACK",
    )
    assert alarm.escalation_level == 0
    assert await told(api, "care.missed.title") == Counter({uid(api, "carer1"): 1})
    assert await status(api) == "MISSED"
    assert await status(api, as_="carer2") == "MISSED"

    await sweep(api, clock)  # idempotent: nothing new
    assert len(await care_alarms(api)) == 1
    assert await told(api, "care.missed.title") == Counter({uid(api, "carer1"): 1})

    clock.advance(minutes=9)  # level 0 times out after 10 minutes
    await sweep(api, clock)
    assert (await care_alarms(api))[0].escalation_level == 0
    clock.advance(minutes=1)
    await sweep(api, clock)
    assert (await care_alarms(api))[0].escalation_level == 1
    assert await told(api, "care.missed.title") == Counter(
        {uid(api, "carer1"): 1, uid(api, "carer2"): 1}
    )

    clock.advance(minutes=20)  # level 1 (timeout 20): on to the on-duty staff
    await sweep(api, clock)
    assert (await care_alarms(api))[0].escalation_level == 2
    staff = {uid(api, "staff1"), uid(api, "staff2")}  # both on shift at 12:01
    assert set(await told(api, "care.missed.title")) == {
        uid(api, "carer1"),
        uid(api, "carer2"),
        *staff,
    }
    clock.advance(hours=3)  # the staff level is the last one
    await sweep(api, clock)
    assert (await care_alarms(api))[0].escalation_level == 2
    assert sum((await told(api, "care.missed.title")).values()) == 4

    # A late check-in clears the alarm and tells everyone alerted: all clear.
    out = await api.gql(CHECK_IN, {"k": "OK"}, as_="elder1")
    assert out["checkIn"]["userErrors"] == []
    [alarm] = await care_alarms(api)
    assert alarm.status == "CLEARED_UNACK" and alarm.cleared_at is not None
    assert set(await told(api, "care.allclear.title")) == {
        uid(api, "carer1"),
        uid(api, "carer2"),
        *staff,
    }
    assert await status(api) == "OK"
    async with api.db.reader() as s:
        severities = dict(
            (
                await s.execute(
                    select(Notification.title_key, Notification.severity).where(
                        Notification.title_key.in_(("care.missed.title", "care.allclear.title"))  # type: ignore[attr-defined]
                    )
                )
            ).all()
        )
    # Escalation pushes must reach people at once (no quiet hours, no hourly limit).
    assert severities == {"care.missed.title": "CRITICAL", "care.allclear.title": "HIGH"}


async def test_acknowledged_at_level_one_stops_escalation(api, clock):
    await set_plan(api, [("09:00", "11:00")], grace=0, timeouts=[5])
    clock.advance(hours=1, minutes=1)
    await sweep(api, clock)
    clock.advance(minutes=5)
    await sweep(api, clock)
    [alarm] = await care_alarms(api)
    assert alarm.escalation_level == 1
    # carer2 (level 1) acknowledges through the API.
    acked = await api.gql(
        """mutation($a: ID!) { acknowledgeAlarm(input: {alarmId: $a})
        { alarm { status escalationLevel } userErrors { code } } }""",
        {"a": api.gid("Alarm", alarm.id)},
        as_="carer2",
    )
    assert acked["acknowledgeAlarm"]["alarm"] == {"status": "ACTIVE_ACK", "escalationLevel": 1}
    clock.advance(hours=2)
    await sweep(api, clock)
    [alarm] = await care_alarms(api)
    assert alarm.status == "ACTIVE_ACK" and alarm.escalation_level == 1
    assert set(await told(api, "care.missed.title")) == {uid(api, "carer1"), uid(api, "carer2")}


async def test_window_crossing_midnight_and_early_check_in(api, clock):
    plan = await set_plan(api, [("22:00", "01:00")], grace=15)
    # 10:00 now: next judgement 01:15 tomorrow, Shanghai = 17:15 UTC today.
    assert plan["nextDueAt"].startswith("2026-11-23T17:15:00")
    clock.advance(hours=12, minutes=30)  # 22:30: inside the window
    assert await status(api) == "DUE"
    await api.gql(CHECK_IN, {"k": "OK"}, as_="elder1")
    assert await status(api) == "OK"
    clock.advance(hours=3)  # 01:30 next day: judged, checked in
    await sweep(api, clock)
    assert await care_alarms(api) == []
    # The next night: a check-in at 21:59 is before the window and does not count.
    clock.advance(hours=20, minutes=29)  # 21:59
    await api.gql(CHECK_IN, {"k": "OK"}, as_="elder1")
    clock.advance(hours=3, minutes=17)  # 01:16
    await sweep(api, clock)
    [alarm] = await care_alarms(api)
    assert alarm.details["window"] == "22:00–01:00"


async def test_paused_plan_raises_nothing(api, clock):
    await set_plan(api, [("09:00", "11:00")], grace=0)
    pause = """mutation($e: ID!, $u: DateTime) { pauseCheckInPlan(input: {elderId: $e, until: $u})
      { plan { pausedUntil } userErrors { code } } }"""
    until = (clock() + timedelta(days=2)).isoformat()
    await api.gql(pause, {"e": api.gid("Elder", elder_id(api)), "u": until}, as_="elder1")
    assert await status(api) == "OK"
    for _ in range(4):  # two days of windows
        clock.advance(hours=12)
        await sweep(api, clock)
    assert await care_alarms(api) == []
    clock.advance(hours=24)  # the pause is over: the next window counts again
    await sweep(api, clock)
    assert len(await care_alarms(api)) == 1


async def test_need_help_tells_the_whole_chain_and_staff_at_once(api, clock):
    await set_plan(api, [("09:00", "11:00")], grace=0)
    clock.advance(hours=1, minutes=1)
    await sweep(api, clock)
    assert len(await care_alarms(api, "CHECK_IN_MISSED")) == 1
    # carer2 checks in for the elder and asks for help: recorded as on behalf.
    out = await api.gql(
        CHECK_IN, {"k": "NEED_HELP", "e": api.gid("Elder", elder_id(api))}, as_="carer2"
    )
    assert out["checkIn"]["userErrors"] == []
    [help_alarm] = await care_alarms(api, "HELP_REQUESTED")
    assert help_alarm.severity == "CRITICAL" and help_alarm.status == "ACTIVE_UNACK"
    everyone = {uid(api, x) for x in ("carer1", "carer2", "staff1", "staff2")}
    assert set(await told(api, "care.help.title")) == everyone
    async with api.db.reader() as s:
        crit = await s.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.title_key == "care.help.title", Notification.severity == "CRITICAL")
        )
        assert crit == len(everyone)
    # The missed alarm is superseded (cleared) without a misleading "all clear".
    [missed] = await care_alarms(api, "CHECK_IN_MISSED")
    assert missed.cleared_at is not None
    assert await told(api, "care.allclear.title") == Counter()
    assert await status(api) == "HELP_REQUESTED"
    clock.advance(hours=1)
    await sweep(api, clock)  # nothing left to escalate
    assert set(await told(api, "care.help.title")) == everyone
    assert sum((await told(api, "care.help.title")).values()) == len(everyone)


async def test_concurrent_sweeps_raise_each_alarm_once(api, clock):
    """Several instances sweeping at the same moment: every missed window gives exactly
    one alarm and one notification (PostgreSQL: SKIP LOCKED; SQLite: serialised).
    Each elder is set up directly: building twelve elders through the API is not the
    point here."""
    n = 12
    async with api.db.transaction() as s:
        # Residents of building 2 become elders with carer1 and the same plan.
        units = [api.demo.units[f"2-{floor}{door:02d}"] for floor in range(1, 7) for door in (1, 2)]
        for i, unit_id in enumerate(units[:n]):
            user = User(display_name=f"elder {i}", password_hash="x")
            s.add(user)
            await s.flush()
            elder = Elder(user_id=user.id, community_id=api.demo.garden_id, unit_id=unit_id)
            s.add(elder)
            await s.flush()
            s.add(
                CaregiverLink(
                    elder_id=elder.id,
                    caregiver_user_id=uid(api, "carer1"),
                    consented_at=clock(),
                    consented_by=user.id,
                )
            )
            plan = CheckInPlan(
                elder_id=elder.id,  # type: ignore[arg-type]
                community_id=api.demo.garden_id,
                windows=[{"start": "09:00", "end": "11:00"}],
                grace_minutes=0,
                next_window_start=clock() - timedelta(hours=1),
                next_due_at=clock() + timedelta(hours=1),
            )
            s.add(plan)
    clock.advance(hours=1, minutes=1)
    await asyncio.gather(*(run_care_sweeps(api.db, now=clock(), batch=3) for _ in range(4)))
    raised = await care_alarms(api, "CHECK_IN_MISSED")
    assert len(raised) == n
    # Judged once each: a second judgement would have folded in as a repeat.
    assert [a.occurrences for a in raised] == [1] * n
    assert sum((await told(api, "care.missed.title")).values()) == n
