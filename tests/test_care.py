"""Elder care through the public API: consent, plans, check-ins, visits."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from domain.audit.models import AuditEntry
from domain.care import service as care_service
from domain.notifications.models import Notification

MY_ELDERS = "{ myElders { id displayName status lastCheckInAt unit { label } } }"
PROFILE = (
    "{ myElderProfile { id status caregivers { id status position caregiver { displayName } } } }"
)
INVITE = """mutation($e: ID!, $u: ID!) { inviteCaregiver(input: {elderId: $e, caregiverUserId: $u})
  { link { id status } userErrors { code field } } }"""
ACCEPT = """mutation($l: ID!) { acceptCaregiver(input: {linkId: $l})
  { link { id status } userErrors { code } } }"""
REMOVE = """mutation($l: ID!) { removeCaregiver(input: {linkId: $l})
  { link { id status } userErrors { code } } }"""
CHECK_IN = """mutation($k: CheckInKind!, $e: ID, $n: String) {
  checkIn(input: {kind: $k, elderId: $e, note: $n})
  { checkIn { id kind onBehalf at by { displayName } elder { id } }
    userErrors { code field message } } }"""
SET_PLAN = """mutation($e: ID!, $w: [CheckInWindowInput!]!, $g: Int!, $chain: [ID!]!, $t: [Int!]) {
  setCheckInPlan(input: {elderId: $e, windows: $w, graceMinutes: $g, escalationUserIds: $chain,
                         ackTimeoutMinutes: $t})
  { plan { windows { start end } graceMinutes ackTimeoutMinutes nextDueAt pausedUntil
           escalation { id displayName } }
    userErrors { code field message } } }"""
PAUSE = """mutation($e: ID!, $u: DateTime) { pauseCheckInPlan(input: {elderId: $e, until: $u})
  { plan { pausedUntil } userErrors { code field } } }"""


def elder_gid(api) -> str:
    return api.gid("Elder", api.demo.elders["elder1@demo.linli"])


def user_gid(api, login: str) -> str:
    return api.gid("User", api.demo.users[f"{login}@demo.linli"])


async def test_caregiver_consent_and_removal_take_effect_at_once(api, clock):
    elder = elder_gid(api)
    # carer1 was consented to in the demo: sees the elder.
    data = await api.gql(MY_ELDERS, as_="carer1")
    assert [e["id"] for e in data["myElders"]] == [elder]
    assert data["myElders"][0]["unit"]["label"] == "1-301"

    # Staff invite resident2 (a neighbour): pending until the elder consents.
    data = await api.gql(INVITE, {"e": elder, "u": user_gid(api, "resident2")}, as_="staff1")
    link = data["inviteCaregiver"]["link"]
    assert link["status"] == "PENDING"
    assert (await api.gql(MY_ELDERS, as_="resident2"))["myElders"] == []
    refused = await api.gql(CHECK_IN, {"k": "OK", "e": elder}, as_="resident2")
    assert refused["checkIn"]["userErrors"][0]["code"] == "NOT_FOUND"
    node = await api.gql("query($id: ID!) { node(id: $id) { id } }", {"id": elder}, as_="resident2")
    assert node["node"] is None
    # A caregiver cannot accept their own invitation; the invited twice is refused.
    own = await api.gql(ACCEPT, {"l": link["id"]}, as_="resident2")
    assert own["acceptCaregiver"]["userErrors"][0]["code"] == "FORBIDDEN"
    again = await api.gql(INVITE, {"e": elder, "u": user_gid(api, "resident2")}, as_="staff1")
    assert again["inviteCaregiver"]["userErrors"][0]["code"] == "CONFLICT"
    # The other community's user cannot be linked.
    other = await api.gql(INVITE, {"e": elder, "u": user_gid(api, "residentb")}, as_="staff1")
    assert other["inviteCaregiver"]["userErrors"][0]["field"] == ["input", "caregiverUserId"]

    # The elder sees the invitation and consents.
    profile = (await api.gql(PROFILE, as_="elder1"))["myElderProfile"]
    assert [c["status"] for c in profile["caregivers"]] == ["ACTIVE", "ACTIVE", "PENDING"]
    accepted = await api.gql(ACCEPT, {"l": link["id"]}, as_="elder1")
    assert accepted["acceptCaregiver"]["link"]["status"] == "ACTIVE"
    assert [e["id"] for e in (await api.gql(MY_ELDERS, as_="resident2"))["myElders"]] == [elder]
    ok = await api.gql(CHECK_IN, {"k": "OK", "e": elder}, as_="resident2")
    assert ok["checkIn"]["checkIn"]["onBehalf"] is True

    # Removed by the elder: the very next request sees nothing.
    removed = await api.gql(REMOVE, {"l": link["id"]}, as_="elder1")
    assert removed["removeCaregiver"]["link"]["status"] == "REMOVED"
    assert (await api.gql(MY_ELDERS, as_="resident2"))["myElders"] == []
    refused = await api.gql(CHECK_IN, {"k": "OK", "e": elder}, as_="resident2")
    assert refused["checkIn"]["userErrors"][0]["code"] == "NOT_FOUND"
    again = await api.gql(ACCEPT, {"l": link["id"]}, as_="elder1")
    assert again["acceptCaregiver"]["userErrors"][0]["code"] == "INVALID"

    # Staff may record consent on the elder's behalf: audited as such.
    reinvite = await api.gql(INVITE, {"e": elder, "u": user_gid(api, "resident2")}, as_="staff1")
    lid = reinvite["inviteCaregiver"]["link"]["id"]
    assert reinvite["inviteCaregiver"]["link"]["status"] == "PENDING"
    await api.gql(ACCEPT, {"l": lid}, as_="staff2")
    async with api.db.reader() as s:
        entry = await s.scalar(
            select(AuditEntry)
            .where(AuditEntry.action == "care.caregiver.consent")
            .order_by(AuditEntry.id.desc())  # type: ignore[union-attr]
        )
        assert entry is not None and entry.details["on_behalf"] is True
        assert entry.actor_user_id == api.demo.users["staff2@demo.linli"]
        invited = await s.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.user_id == api.demo.users["elder1@demo.linli"],
                Notification.title_key == "care.invited.title",
            )
        )
        assert invited == 2
    # A stranger to the elder (another community's manager-less resident) learns nothing.
    stranger = await api.gql(REMOVE, {"l": lid}, as_="residentb")
    assert stranger["removeCaregiver"]["userErrors"][0]["code"] == "NOT_FOUND"
    # A caregiver may step down themselves, not remove another caregiver.
    carer2_link = api.gid("CaregiverLink", api.demo.extra["caregiver_links"]["carer2"])
    other_link = await api.gql(REMOVE, {"l": carer2_link}, as_="resident2")
    assert other_link["removeCaregiver"]["userErrors"][0]["code"] == "FORBIDDEN"
    mine = await api.gql(REMOVE, {"l": lid}, as_="resident2")
    assert mine["removeCaregiver"]["link"]["status"] == "REMOVED"
    # The caregiver list is the elder's and staff's business, not other caregivers'.
    q = "query($id: ID!) { node(id: $id) { ... on Elder { caregivers { id } } } }"
    assert (await api.gql(q, {"id": elder}, as_="carer1"))["node"]["caregivers"] == []
    assert len((await api.gql(q, {"id": elder}, as_="staff1"))["node"]["caregivers"]) == 2


async def test_plan_validation_status_and_check_ins(api, clock):
    elder = elder_gid(api)
    windows = [{"start": "09:00", "end": "11:00"}, {"start": "22:00", "end": "01:00"}]
    bad = [
        ([{"start": "9:00", "end": "11:00"}], 30, [], None, ["input", "windows", "0"]),
        ([{"start": "08:00", "end": "08:00"}], 30, [], None, ["input", "windows", "0"]),
        (
            [{"start": "08:00", "end": "10:00"}, {"start": "09:30", "end": "11:00"}],
            30,
            [],
            None,
            ["input", "windows"],
        ),
        (
            [{"start": "23:00", "end": "09:00"}, {"start": "08:00", "end": "08:30"}],
            30,
            [],
            None,
            ["input", "windows"],
        ),
        ([], 30, [], None, ["input", "windows"]),
        (windows, -1, [], None, ["input", "graceMinutes"]),
        (windows, 30, [user_gid(api, "resident1")], None, ["input", "escalationUserIds"]),
        (
            windows,
            30,
            [user_gid(api, "carer1"), user_gid(api, "carer1")],
            None,
            ["input", "escalationUserIds"],
        ),
        (windows, 30, [], [0], ["input", "ackTimeoutMinutes"]),
    ]
    for w, g, chain, timeouts, field in bad:
        out = await api.gql(
            SET_PLAN, {"e": elder, "w": w, "g": g, "chain": chain, "t": timeouts}, as_="carer1"
        )
        errs = out["setCheckInPlan"]["userErrors"]
        assert errs and errs[0]["field"] == field, (w, g, chain, errs)
        assert errs[0]["message"]
    en = await api.gql(
        SET_PLAN, {"e": elder, "w": [], "g": 30, "chain": []}, as_="carer1", lang="en"
    )
    assert "window" in en["setCheckInPlan"]["userErrors"][0]["message"]

    chain = [user_gid(api, "carer2"), user_gid(api, "carer1"), user_gid(api, "staff2")]
    out = await api.gql(
        SET_PLAN, {"e": elder, "w": windows, "g": 30, "chain": chain, "t": [10, 20]}, as_="carer1"
    )
    plan = out["setCheckInPlan"]["plan"]
    assert out["setCheckInPlan"]["userErrors"] == []
    assert [u["id"] for u in plan["escalation"]] == chain
    assert plan["ackTimeoutMinutes"] == [10, 20]
    # 10:00 in Shanghai: inside 09:00–11:00, judged at 11:30 local = 03:30 UTC.
    assert plan["nextDueAt"].startswith("2026-11-23T03:30:00")

    assert (await api.gql(MY_ELDERS, as_="carer1"))["myElders"][0]["status"] == "DUE"
    done = await api.gql(CHECK_IN, {"k": "OK", "n": "早上好"}, as_="elder1")
    ci = done["checkIn"]["checkIn"]
    assert ci["onBehalf"] is False and ci["elder"]["id"] == elder
    mine = (await api.gql(MY_ELDERS, as_="carer1"))["myElders"][0]
    assert mine["status"] == "OK" and mine["lastCheckInAt"] is not None

    # Someone who is not an elder has no button; nobody else's elder either.
    notelder = await api.gql(CHECK_IN, {"k": "OK"}, as_="resident1")
    assert notelder["checkIn"]["userErrors"][0]["field"] == ["input", "elderId"]
    staff = await api.gql(CHECK_IN, {"k": "OK", "e": elder}, as_="staff1")
    assert staff["checkIn"]["userErrors"][0]["code"] == "FORBIDDEN"

    # Removing a caregiver drops them from the chain at once.
    await api.gql(
        REMOVE,
        {"l": api.gid("CaregiverLink", api.demo.extra["caregiver_links"]["carer2"])},
        as_="elder1",
    )
    q = "query($id: ID!) { node(id: $id) { ... on Elder { plan { escalation { id } } } } }"
    got = (await api.gql(q, {"id": elder}, as_="staff1"))["node"]["plan"]["escalation"]
    assert [u["id"] for u in got] == chain[1:]

    # Pause: bounded to 30 days, in the future; null resumes.
    now = clock()
    too_long = (now + timedelta(days=31)).isoformat()
    out = await api.gql(PAUSE, {"e": elder, "u": too_long}, as_="elder1")
    assert out["pauseCheckInPlan"]["userErrors"][0]["field"] == ["input", "until"]
    past = (now - timedelta(minutes=1)).isoformat()
    out = await api.gql(PAUSE, {"e": elder, "u": past}, as_="elder1")
    assert out["pauseCheckInPlan"]["userErrors"][0]["field"] == ["input", "until"]
    fine = (now + timedelta(days=3)).isoformat()
    out = await api.gql(PAUSE, {"e": elder, "u": fine}, as_="elder1")
    assert out["pauseCheckInPlan"]["plan"]["pausedUntil"] is not None
    out = await api.gql(PAUSE, {"e": elder}, as_="staff1")
    assert out["pauseCheckInPlan"]["plan"]["pausedUntil"] is None
    # A time without an offset is read as UTC, not refused with a server error.
    naive = (now + timedelta(days=1)).replace(tzinfo=None).isoformat()
    out = await api.gql(PAUSE, {"e": elder, "u": naive}, as_="elder1")
    assert out["pauseCheckInPlan"]["plan"]["pausedUntil"].startswith(naive[:16])


VISIT = """mutation($e: ID!, $w: Wellbeing!, $n: String, $at: DateTime) {
  logVisit(input: {elderId: $e, wellbeing: $w, notes: $n, visitedAt: $at})
  { visit { id wellbeing visitedAt visitor { displayName } } userErrors { code field } } }"""


async def test_visits_cadence_overdue_list_and_one_reminder(api, clock):
    elder = elder_gid(api)
    cadence = """mutation($e: ID!) { setVisitCadence(input: {elderId: $e, cadence: WEEKLY})
      { elder { visitCadenceDays nextVisitDueAt } userErrors { code } } }"""
    refused = await api.gql(cadence, {"e": elder}, as_="carer1")
    assert refused["setVisitCadence"]["userErrors"][0]["code"] == "FORBIDDEN"
    out = await api.gql(cadence, {"e": elder}, as_="staff1")
    assert out["setVisitCadence"]["elder"]["visitCadenceDays"] == 7

    overdue = "query($c: ID!) { overdueVisits(communityId: $c) { id displayName } }"
    assert (await api.gql(overdue, {"c": api.garden}, as_="staff1"))["overdueVisits"] == []
    clock.advance(days=7, minutes=1)
    listed = (await api.gql(overdue, {"c": api.garden}, as_="staff1"))["overdueVisits"]
    assert [e["id"] for e in listed] == [elder]

    async def sweep() -> int:
        async with api.db.transaction() as s:
            return await care_service.sweep_visit_reminders(s, now=clock())

    assert await sweep() == 1
    assert await sweep() == 0  # one reminder per overdue visit
    async with api.db.reader() as s:
        reminded = set(
            await s.scalars(
                select(Notification.user_id).where(Notification.title_key == "care.visit_due.title")
            )
        )
    staff = {api.demo.users[f"{x}@demo.linli"] for x in ("staff1", "staff2", "manager")}
    assert reminded == staff

    future = (clock() + timedelta(hours=2)).isoformat()
    out = await api.gql(VISIT, {"e": elder, "w": "WELL", "at": future}, as_="staff1")
    assert out["logVisit"]["userErrors"][0]["field"] == ["input", "visitedAt"]
    refused = await api.gql(VISIT, {"e": elder, "w": "WELL"}, as_="carer1")
    assert refused["logVisit"]["userErrors"][0]["code"] == "FORBIDDEN"
    out = await api.gql(VISIT, {"e": elder, "w": "CONCERN", "n": "咳嗽"}, as_="staff1")
    assert out["logVisit"]["visit"]["visitor"]["displayName"].startswith("张伟")
    assert (await api.gql(overdue, {"c": api.garden}, as_="staff1"))["overdueVisits"] == []
    q = "query($id: ID!) { node(id: $id) { ... on Elder { visits { wellbeing notes } } } }"
    seen = (await api.gql(q, {"id": elder}, as_="carer1"))["node"]["visits"]
    assert seen == [{"wellbeing": "CONCERN", "notes": "咳嗽"}]
    async with api.db.reader() as s:
        told = set(
            await s.scalars(
                select(Notification.user_id).where(
                    Notification.title_key == "care.visit_concern.title"
                )
            )
        )
    assert told == {api.demo.users["carer1@demo.linli"], api.demo.users["carer2@demo.linli"]}
    # The next overdue is a week after this visit; a new reminder then.
    clock.advance(days=7, minutes=1)
    assert await sweep() == 1


async def test_register_elder(api, clock):
    reg = """mutation($u: ID!, $unit: ID!) { registerElder(input: {userId: $u, unitId: $unit})
      { elder { id displayName status unit { label } } userErrors { code field } } }"""
    wrong_unit = await api.gql(
        reg, {"u": user_gid(api, "resident2"), "unit": api.unit_gid("1-101")}, as_="staff1"
    )
    assert wrong_unit["registerElder"]["userErrors"][0]["field"] == ["input", "userId"]
    out = await api.gql(
        reg, {"u": user_gid(api, "resident2"), "unit": api.unit_gid("1-102")}, as_="staff1"
    )
    assert out["registerElder"]["elder"]["unit"]["label"] == "1-102"
    twice = await api.gql(
        reg, {"u": user_gid(api, "resident2"), "unit": api.unit_gid("1-102")}, as_="staff1"
    )
    assert twice["registerElder"]["userErrors"][0]["code"] == "CONFLICT"
    listed = await api.gql(
        "query($c: ID!) { elders(communityId: $c) { totalCount edges { node { displayName } } } }",
        {"c": api.garden},
        as_="staff1",
    )
    assert listed["elders"]["totalCount"] == 2
