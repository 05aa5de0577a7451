"""Announcements through the public API: emergency fan-out, building scope, scheduled
publishing, read receipts, bad input."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from core.clock import utcnow
from domain.accounts.models import Membership
from domain.announcements.models import Announcement
from domain.announcements.service import publish_due
from domain.notifications.models import Notification, OutboxMessage

PUBLISH = """
mutation($input: PublishAnnouncementInput!) {
  publishAnnouncement(input: $input) {
    announcement { id kind title publishedAt audienceCount wholeCommunity buildings { name } }
    userErrors { code field message }
  }
}"""
FEED = """
query($c: ID!) { announcements(communityId: $c, first: 20) {
  totalCount edges { node { id title body kind pinned readAt readCount audienceCount } } } }"""
READ = """
mutation($a: ID!) { markAnnouncementRead(input: {announcementId: $a}) {
  announcement { id readAt } userErrors { code } } }"""


async def _notified(api, announcement_gid: str) -> dict[int, Notification]:
    async with api.db.reader() as s:
        rows = await s.scalars(select(Notification).where(Notification.category == "ANNOUNCEMENT"))
        out = {n.user_id: n for n in rows if n.data.get("announcementId") == announcement_gid}
        s.expunge_all()  # keep them readable after the reader's rollback
        return out


async def _outbox_users(api, notification_ids: list[int]) -> set[int]:
    async with api.db.reader() as s:
        rows = await s.scalars(
            select(OutboxMessage.user_id).where(OutboxMessage.notification_id.in_(notification_ids))
        )
        return set(rows)


async def test_emergency_reaches_every_resident_at_once_and_reads_are_counted(api, clock):
    d = api.demo
    res = await api.gql(
        PUBLISH,
        {
            "input": {
                "communityId": api.garden,
                "kind": "EMERGENCY",
                "titleZh": "3号楼燃气泄漏，请立即撤离",
                "titleEn": "Gas leak in building 3: leave now",
                "bodyZh": "请勿使用明火和电器，沿楼梯撤离到南门广场。",
                "bodyEn": "Do not use flames or switches; take the stairs to the south gate.",
            }
        },
        as_="staff1",
    )
    payload = res["publishAnnouncement"]
    assert payload["userErrors"] == []
    ann = payload["announcement"]
    assert ann["kind"] == "EMERGENCY" and ann["wholeCommunity"] is True
    assert ann["publishedAt"] is not None

    async with api.db.reader() as s:
        residents = set(
            await s.scalars(
                select(Membership.user_id).where(
                    Membership.community_id == d.garden_id, Membership.role == "RESIDENT"
                )
            )
        )
    carers = {d.users["carer1@demo.linli"], d.users["carer2@demo.linli"]}
    notified = await _notified(api, ann["id"])
    # Every resident of the community (and the caregivers of its elder), nobody else.
    assert set(notified) == residents | carers
    assert ann["audienceCount"] == len(residents | carers) > 50
    assert {n.severity for n in notified.values()} == {"CRITICAL"}
    assert d.users["residentb@demo.linli"] not in notified
    assert d.users["merchant1@demo.linli"] not in notified
    # ...and each has its push queued in the same commit.
    assert await _outbox_users(api, [n.id for n in notified.values()]) == set(notified)

    # The inbox renders the announcement's own title in the reader's language.
    n = notified[d.users["resident1@demo.linli"]]
    assert n.title_key == "announcements.notify.title_emergency"
    assert n.params["title_en"] == "Gas leak in building 3: leave now"

    feed = (await api.gql(FEED, {"c": api.garden}, as_="resident1", lang="en"))["announcements"]
    mine = {e["node"]["id"]: e["node"] for e in feed["edges"]}
    assert mine[ann["id"]]["title"] == "Gas leak in building 3: leave now"
    assert mine[ann["id"]]["readAt"] is None
    assert mine[ann["id"]]["readCount"] is None  # counts are for staff
    # Pinned first.
    assert feed["edges"][0]["node"]["pinned"] is True

    for who in ("resident1", "resident1", "tenant1"):
        out = (await api.gql(READ, {"a": ann["id"]}, as_=who))["markAnnouncementRead"]
        assert out["userErrors"] == [] and out["announcement"]["readAt"]
    staff_feed = (await api.gql(FEED, {"c": api.garden}, as_="staff1"))["announcements"]
    row = next(e["node"] for e in staff_feed["edges"] if e["node"]["id"] == ann["id"])
    assert row["readCount"] == 2  # reading twice counts once
    reads = await api.gql(
        "query($a: ID!) { announcementReads(announcementId: $a) { totalCount "
        "edges { node { user { id } readAt } } } }",
        {"a": ann["id"]},
        as_="staff1",
    )
    got = {e["node"]["user"]["id"] for e in reads["announcementReads"]["edges"]}
    assert got == {
        api.gid("User", d.users["resident1@demo.linli"]),
        api.gid("User", d.users["tenant1@demo.linli"]),
    }
    # Residents get no receipts; another community sees nothing.
    other = await api.gql(
        "query($a: ID!) { announcementReads(announcementId: $a) { totalCount } }",
        {"a": ann["id"]},
        as_="resident1",
    )
    assert other["announcementReads"]["totalCount"] == 0
    b = await api.gql(READ, {"a": ann["id"]}, as_="residentb")
    assert b["markAnnouncementRead"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_building_scope_and_scheduled_publishing(api, clock):
    d = api.demo
    b2 = api.gid("Building", d.buildings["2"])
    res = await api.gql(
        PUBLISH,
        {
            "input": {
                "communityId": api.garden,
                "titleZh": "2号楼外墙清洗",
                "bodyZh": "周三清洗外墙，请关好窗户。",
                "buildingIds": [b2],
            }
        },
        as_="staff2",
    )
    ann = res["publishAnnouncement"]["announcement"]
    assert ann["wholeCommunity"] is False and ann["buildings"] == [{"name": "2号楼"}]
    notified = await _notified(api, ann["id"])
    assert d.users["tenant1@demo.linli"] in notified  # tenant of 2-301
    assert d.users["resident2@demo.linli"] in notified  # owns 2-201
    assert d.users["resident1@demo.linli"] not in notified  # lives in building 1
    assert {n.severity for n in notified.values()} == {"NORMAL"}

    async def ids(who: str) -> set[str]:
        feed = await api.gql(FEED, {"c": api.garden}, as_=who)
        return {e["node"]["id"] for e in feed["announcements"]["edges"]}

    assert ann["id"] in await ids("tenant1")
    assert ann["id"] not in await ids("resident1")
    assert ann["id"] not in await ids("merchant1")

    # Scheduled: invisible to residents and unsent until its time, then sent once.
    later = (utcnow() + timedelta(hours=2)).isoformat()
    res = await api.gql(
        PUBLISH,
        {
            "input": {
                "communityId": api.garden,
                "titleEn": "Fire drill on Saturday",
                "bodyEn": "Meet at the south gate at 10:00.",
                "publishAt": later,
                "pinned": True,
            }
        },
        as_="staff1",
    )
    sched = res["publishAnnouncement"]["announcement"]
    assert sched["publishedAt"] is None
    assert sched["title"] == "Fire drill on Saturday"  # zh reader falls back to en
    assert sched["id"] not in await ids("resident1")
    assert sched["id"] in await ids("staff1")
    async with api.db.transaction() as s:
        assert await publish_due(s, now=utcnow()) == 0
    assert await _notified(api, sched["id"]) == {}

    clock.advance(hours=2)
    async with api.db.transaction() as s:
        assert await publish_due(s, now=utcnow()) == 1
    async with api.db.transaction() as s:
        assert await publish_due(s, now=utcnow()) == 0  # idempotent
    notified = await _notified(api, sched["id"])
    assert d.users["resident1@demo.linli"] in notified
    feed = await api.gql(FEED, {"c": api.garden}, as_="resident1")
    assert feed["announcements"]["edges"][0]["node"]["id"] == sched["id"]  # pinned, newest


async def test_bad_announcements_are_refused_and_nothing_is_stored(api, clock):
    async with api.db.reader() as s:
        before = await s.scalar(select(func.count()).select_from(Announcement))
    base = {"communityId": api.garden, "titleZh": "标题", "bodyZh": "正文"}
    cases = [
        (
            {**base, "kind": "EMERGENCY", "publishAt": (utcnow() + timedelta(hours=1)).isoformat()},
            "INVALID",
            ["input", "publishAt"],
        ),
        (
            {**base, "buildingIds": [api.gid("Building", 999999)]},
            "INVALID",
            ["input", "buildingIds"],
        ),
        ({**base, "titleZh": "  "}, "INVALID", ["input", "titleZh"]),
        ({**base, "bodyZh": None}, "INVALID", ["input", "bodyZh"]),
        ({**base, "buildingIds": ["not-an-id"]}, "INVALID", ["input", "buildingIds"]),
    ]
    for inp, code, field in cases:
        res = await api.gql(PUBLISH, {"input": inp}, as_="staff1", lang="en")
        err = res["publishAnnouncement"]["userErrors"][0]
        assert (err["code"], err["field"]) == (code, field), inp
        assert err["message"] and res["publishAnnouncement"]["announcement"] is None
    # Residents and other communities' staff may not publish.
    errs = await api.errors(PUBLISH, {"input": base}, as_="resident1")
    assert errs[0]["extensions"]["code"] == "FORBIDDEN"
    errs = await api.errors(PUBLISH, {"input": {**base, "communityId": api.heights}}, as_="staff1")
    assert errs[0]["extensions"]["code"] == "FORBIDDEN"
    async with api.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Announcement)) == before
        assert (
            await s.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.category == "ANNOUNCEMENT")
            )
            == 0
        )


async def test_emergency_pushes_through_quiet_hours_normal_keeps_the_push_rules(api, clock):
    """What the outbox worker would push: an emergency goes through quiet hours and
    the hourly cap; ordinary announcements respect both."""
    from domain.notifications.outbox import claim_due

    for who in ("resident1", "tenant1"):
        ok = await api.gql(
            "mutation($t: String!) { registerPushToken(input: {token: $t, platform: ANDROID}) "
            "{ ok userErrors { code } } }",
            {"t": f"token-of-{who}-" + "x" * 20},
            as_=who,
        )
        assert ok["registerPushToken"]["ok"], ok
    # resident1 sleeps through the morning (it is 10:00 in Shanghai).
    await api.gql(
        'mutation { setQuietHours(input: {start: "09:00", end: "11:00"}) { userErrors { code } } }',
        as_="resident1",
    )
    ids = {}
    for name, kind in (("first", "NORMAL"), ("second", "NORMAL"), ("fire", "EMERGENCY")):
        res = await api.gql(
            PUBLISH,
            {"input": {"communityId": api.garden, "kind": kind, "titleZh": name, "bodyZh": "x"}},
            as_="staff1",
        )
        ids[name] = res["publishAnnouncement"]["announcement"]["id"]
    async with api.db.transaction() as s:
        claim = await claim_due(s, now=utcnow(), limit=10_000, lease_seconds=60)
    pushed = {p.outbox_id for p in claim.pushes}
    async with api.db.reader() as s:
        rows = (
            await s.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.user_id,
                    OutboxMessage.status,
                    OutboxMessage.last_error,
                    Notification.data,
                )
                .join(Notification, Notification.id == OutboxMessage.notification_id)
                .where(Notification.category == "ANNOUNCEMENT")
            )
        ).all()
    fate = {}
    for oid, uid, _status, error, data in rows:
        name = next(k for k, v in ids.items() if v == data["announcementId"])
        fate[(uid, name)] = "PUSH" if oid in pushed else error
    r1, t1 = api.demo.users["resident1@demo.linli"], api.demo.users["tenant1@demo.linli"]
    assert fate[(r1, "first")] == "QUIET_HOURS"
    assert fate[(r1, "fire")] == "PUSH"
    assert fate[(t1, "first")] == "PUSH"
    assert fate[(t1, "second")] == "RATE_LIMITED"  # one ordinary push per hour
    assert fate[(t1, "fire")] == "PUSH"


async def test_concurrent_sweeps_publish_a_scheduled_announcement_once(api, clock):
    import asyncio

    res = await api.gql(
        PUBLISH,
        {
            "input": {
                "communityId": api.garden,
                "titleZh": "定时",
                "bodyZh": "x",
                "publishAt": (utcnow() + timedelta(minutes=5)).isoformat(),
            }
        },
        as_="staff1",
    )
    gid = res["publishAnnouncement"]["announcement"]["id"]
    clock.advance(minutes=5)

    async def sweep() -> int:
        async with api.db.transaction() as s:
            return await publish_due(s, now=utcnow())

    counts = await asyncio.gather(*(sweep() for _ in range(4)))
    notified = await _notified(api, gid)
    async with api.db.reader() as s:
        per_user = (
            await s.execute(
                select(Notification.user_id, func.count())
                .where(Notification.category == "ANNOUNCEMENT")
                .group_by(Notification.user_id)
            )
        ).all()
    assert notified and all(n == 1 for _, n in per_user)
    assert sum(counts) >= 1


async def test_retried_publish_with_one_key_publishes_and_notifies_once(api, clock):
    """A staff app that lost the answer retries with the same key, even several times at
    once: one announcement, each resident notified once."""
    import asyncio

    payload = {
        "communityId": api.garden,
        "kind": "EMERGENCY",
        "titleZh": "停水通知",
        "bodyZh": "今晚停水。",
        "idempotencyKey": "outage-2026-11-23",
    }
    answers = await asyncio.gather(
        *[api.gql(PUBLISH, {"input": payload}, as_="staff1") for _ in range(8)]
    )
    ids = {a["publishAnnouncement"]["announcement"]["id"] for a in answers}
    assert len(ids) == 1 and all(not a["publishAnnouncement"]["userErrors"] for a in answers)
    [gid] = ids
    notified = await _notified(api, gid)
    assert notified
    async with api.db.reader() as s:
        count = await s.scalar(select(func.count()).where(Notification.category == "ANNOUNCEMENT"))
        assert count == len(notified)  # nobody twice
    # The same author's key reused for another community is a conflict; nothing stored.
    mine = {**payload, "kind": "NORMAL", "idempotencyKey": "m-1"}
    first = await api.gql(PUBLISH, {"input": mine}, as_="manager")
    assert first["publishAnnouncement"]["announcement"] is not None
    async with api.db.reader() as s:
        before = await s.scalar(select(func.count()).select_from(Announcement))
    clash = await api.gql(PUBLISH, {"input": {**mine, "communityId": api.heights}}, as_="manager")
    assert clash["publishAnnouncement"]["announcement"] is None
    assert [e["code"] for e in clash["publishAnnouncement"]["userErrors"]] == ["CONFLICT"]
    async with api.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Announcement)) == before
