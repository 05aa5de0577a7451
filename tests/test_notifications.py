"""Notifications end to end: the outbox worker drives the real firebase-admin library
against a local stub of the FCM v1 API (tests/stubs/fcm_stub.py); the inbox, tokens
and settings go through GraphQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from api.ext.notifications import purge_settled_outbox, retire_push_tokens
from core import i18n
from core.clock import utcnow
from core.db import Database
from domain.notifications.models import Delivery, Notification, OutboxMessage, PushToken
from domain.notifications.outbox import RetryPolicy
from domain.notifications.service import notify
from notifications.fcm import FcmSender
from notifications.worker import OutboxWorker
from tests.stubs.fcm_stub import FcmStub

i18n.register(
    {
        "test.parcel.title": {"zh-CN": "包裹到了", "en": "Parcel arrived"},
        "test.parcel.body": {"zh-CN": "快递柜 {box} 号", "en": "Locker {box}"},
    }
)

REGISTER = """mutation($t: String!, $p: PushPlatform!) {
  registerPushToken(input: {token: $t, platform: $p}) { ok userErrors { code field message } } }"""
INBOX = """query($first: Int, $after: String) { notifications(first: $first, after: $after) {
  totalCount unreadCount pageInfo { hasNextPage endCursor }
  edges { node { id title body category readAt data } } } }"""
MARK = """mutation($ids: [ID!]!) { markNotificationsRead(input: {ids: $ids}) {
  ok userErrors { code message } } }"""


@pytest.fixture(scope="module")
def fcm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FcmStub, Path]]:
    stub = FcmStub().start()
    creds = stub.service_account(tmp_path_factory.mktemp("fcm"))
    yield stub, creds
    stub.stop()


@pytest.fixture
async def stub(fcm: tuple[FcmStub, Path]) -> AsyncIterator[FcmStub]:
    fcm[0].reset()
    yield fcm[0]


def fcm_worker(db: Database, fcm: tuple[FcmStub, Path], **kw: Any) -> OutboxWorker:
    stub, creds = fcm
    kw.setdefault("retry", RetryPolicy(max_attempts=3, backoff_seconds=30, cap_seconds=600))
    return OutboxWorker(db, FcmSender(credentials_path=creds, endpoint=stub.url), **kw)


@pytest.fixture
async def fresh(api) -> None:
    """Start from empty inboxes: other capabilities' demo data notifies people too,
    and these tests count exactly what they sent."""
    async with api.db.transaction() as s:
        for model in (Delivery, OutboxMessage, Notification):
            await s.execute(delete(model))


@pytest.fixture
async def worker(api, fcm, fresh) -> AsyncIterator[OutboxWorker]:
    w = fcm_worker(api.db, fcm)
    yield w
    await w.sender.close()


async def send(api, logins: list[str], *, severity: str = "HIGH", **kw: Any) -> list[int]:
    """What a capability does: notify inside its own transaction."""
    kw.setdefault("params", {"box": 7})
    async with api.db.transaction() as s:
        rows = await notify(
            s,
            user_ids=[api.demo.users[f"{login}@demo.linli"] for login in logins],
            category=kw.pop("category", "PARCEL"),
            title_key="test.parcel.title",
            body_key="test.parcel.body",
            severity=severity,
            community_id=api.demo.garden_id,
            **kw,
        )
    return [r.id for r in rows]


async def register(api, login: str, token: str, platform: str = "ANDROID") -> None:
    data = await api.gql(REGISTER, {"t": token, "p": platform}, as_=login)
    assert data["registerPushToken"] == {"ok": True, "userErrors": []}


async def outbox_rows(api) -> list[OutboxMessage]:
    async with api.db.reader() as s:
        rows = list((await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())
        s.expunge_all()
        return rows


async def deliveries(api) -> list[tuple[str, str | None]]:
    async with api.db.reader() as s:
        rows = await s.execute(select(Delivery.status, Delivery.error).order_by(Delivery.id))
        return [(r[0], r[1]) for r in rows]


async def test_delivery_through_fcm_and_the_inbox(api, clock, stub, worker):
    await register(api, "resident1", "android-token-resident1-0001", "ANDROID")
    await register(api, "residentb", "ios-token-residentb-00000001", "IOS")
    await send(api, ["resident1"], severity="CRITICAL")
    await send(api, ["residentb"], severity="HIGH")
    stats = await worker.drain()
    assert (stats.sent, stats.failed, stats.retrying) == (2, 0, 0)

    by_token = {m["token"]: m for m in stub.messages}
    android = by_token["android-token-resident1-0001"]
    assert android["notification"] == {"title": "包裹到了", "body": "快递柜 7 号"}
    assert android["android"]["priority"] == "high"
    assert android["android"]["notification"]["channel_id"] == "linli_critical"
    assert android["data"]["category"] == "PARCEL"
    ios = by_token["ios-token-residentb-00000001"]
    assert ios["notification"] == {"title": "Parcel arrived", "body": "Locker 7"}  # her locale
    assert ios["apns"]["payload"]["aps"] == {"sound": "default", "badge": 1}
    assert ios["apns"]["headers"]["apns-priority"] == "10"
    assert [r.status for r in await outbox_rows(api)] == ["SENT", "SENT"]
    assert [d[0] for d in await deliveries(api)] == ["DELIVERED", "DELIVERED"]
    assert await worker.drain() == type(stats)()  # nothing is sent twice

    # The inbox: texts in the reader's language, unread count, marking read.
    zh = (await api.gql(INBOX, as_="resident1"))["notifications"]
    assert (zh["totalCount"], zh["unreadCount"]) == (1, 1)
    node = zh["edges"][0]["node"]
    assert (node["title"], node["body"], node["readAt"]) == ("包裹到了", "快递柜 7 号", None)
    assert android["data"]["notificationId"] == node["id"]
    en = (await api.gql(INBOX, as_="resident1", lang="en"))["notifications"]
    assert en["edges"][0]["node"]["title"] == "Parcel arrived"
    # Somebody else's notification: neither readable nor markable.
    other = (await api.gql(INBOX, as_="residentb"))["notifications"]["edges"][0]["node"]["id"]
    assert (await api.gql("query($id: ID!) { node(id: $id) { id } }", {"id": other},
                          as_="resident1"))["node"] is None  # fmt: skip
    assert (await api.gql(MARK, {"ids": [node["id"], other]}, as_="resident1"))[
        "markNotificationsRead"
    ]["ok"]
    assert (await api.gql(INBOX, as_="resident1"))["notifications"]["unreadCount"] == 0
    assert (await api.gql(INBOX, as_="residentb"))["notifications"]["unreadCount"] == 1
    bad = await api.gql(MARK, {"ids": ["nonsense"]}, as_="resident1", lang="en")
    assert bad["markNotificationsRead"]["userErrors"][0]["code"] == "INVALID"
    assert (await api.errors(INBOX))[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_dead_tokens_are_deleted_and_others_kept(api, clock, stub, worker):
    await register(api, "resident1", "good-token-000000000000001")
    await register(api, "resident1", "gone-token-000000000000001", "IOS")
    await register(api, "resident1", "bad-token-0000000000000001", "WEB")
    await register(api, "resident1", "payload-refused-token-0001")
    stub.unregistered.add("gone-token-000000000000001")
    stub.invalid.add("bad-token-0000000000000001")
    # INVALID_ARGUMENT about something else than the token: the token stays.
    stub.bad_payload.add("payload-refused-token-0001")
    await send(api, ["resident1"])
    stats = await worker.drain()
    assert (stats.sent, stats.tokens_removed) == (1, 2)
    assert stub.tokens_sent() == ["good-token-000000000000001"]
    assert sorted(d[0] for d in await deliveries(api)) == [
        "DELIVERED",
        "FAILED",
        "INVALID",
        "UNREGISTERED",
    ]
    async with api.db.reader() as s:
        left = sorted((await s.scalars(select(PushToken.token))).all())
    assert left == ["good-token-000000000000001", "payload-refused-token-0001"]
    [row] = await outbox_rows(api)
    assert row.status == "SENT" and "UNREGISTERED" in (row.last_error or "")


async def test_transient_failures_back_off_then_deliver_or_give_up(api, clock, stub, worker):
    await register(api, "resident1", "retry-token-00000000000001")
    stub.fail_next(1, status=503)
    await send(api, ["resident1"])
    stats = await worker.drain()
    assert (stats.sent, stats.retrying) == (0, 1)
    [row] = await outbox_rows(api)
    assert (row.status, row.attempts) == ("PENDING", 1)
    assert row.next_attempt_at == utcnow() + timedelta(seconds=30)
    assert "UNAVAILABLE" in (row.last_error or "")
    assert (await worker.drain()).claimed == 0  # not due yet
    clock.advance(seconds=30)
    assert (await worker.drain()).sent == 1
    assert [d[0] for d in await deliveries(api)] == ["RETRY", "DELIVERED"]
    assert stub.tokens_sent() == ["retry-token-00000000000001"]

    # Still failing after max_attempts (3): given up, the reason kept; backoff doubles.
    stub.fail_next(10, status=500)
    await send(api, ["resident1"])
    for delay in (30, 60):  # 30 s · 2^(attempt-1)
        assert (await worker.drain()).retrying == 1
        assert (await outbox_rows(api))[-1].next_attempt_at == utcnow() + timedelta(seconds=delay)
        clock.advance(seconds=delay)
    final = await worker.drain()
    assert (final.failed, final.sent) == (1, 0)
    row = (await outbox_rows(api))[-1]
    assert row.status == "FAILED" and row.attempts == 3
    assert (row.last_error or "").startswith("gave up after 3 attempts: INTERNAL")


async def test_payload_too_large_is_refused_before_sending(api, clock, stub, worker):
    await register(api, "resident1", "big-token-0000000000000001")
    await send(api, ["resident1"], data={"blob": "x" * 4100})
    stats = await worker.drain()
    assert (stats.failed, stats.retrying) == (1, 0)
    assert stub.messages == []
    [row] = await outbox_rows(api)
    assert row.status == "FAILED" and "PAYLOAD_TOO_LARGE" in (row.last_error or "")
    # The inbox still has it, also once the push bookkeeping is purged (30 days).
    assert (await api.gql(INBOX, as_="resident1"))["notifications"]["totalCount"] == 1
    await send(api, ["resident1"])
    await worker.drain()
    clock.advance(days=30, seconds=1)
    await send(api, ["resident1"])  # still pending: kept
    await purge_settled_outbox(api.server.state)
    assert [(r.status, r.attempts) for r in await outbox_rows(api)] == [("PENDING", 0)]
    assert await deliveries(api) == []
    assert (await api.gql(INBOX, as_="resident1"))["notifications"]["totalCount"] == 3


async def test_rolled_back_transaction_sends_nothing(api, clock, stub, worker):
    await register(api, "resident1", "rollback-token-00000000001")
    woken: list[int] = []
    from domain.notifications.service import register_waker, unregister_waker

    def waker() -> None:
        woken.append(1)

    register_waker(waker)
    try:
        with pytest.raises(RuntimeError):
            async with api.db.transaction() as s:
                await notify(
                    s,
                    user_ids=[api.demo.users["resident1@demo.linli"]],
                    category="PARCEL",
                    title_key="test.parcel.title",
                    body_key="test.parcel.body",
                    severity="CRITICAL",
                )
                raise RuntimeError("the domain change failed")
    finally:
        unregister_waker(waker)
    assert woken == []
    assert (await worker.drain()).claimed == 0
    assert stub.messages == [] and await outbox_rows(api) == []
    async with api.db.reader() as s:
        assert await s.scalar(select(func.count()).select_from(Notification)) == 0


async def test_running_worker_wakes_on_commit(api, clock, stub, fcm, fresh):
    await register(api, "resident1", "wake-token-000000000000001")
    live = fcm_worker(api.db, fcm, poll_seconds=600)  # only a wake-up can be this quick
    await live.start()
    try:
        await send(api, ["resident1"])
        for _ in range(300):
            if stub.messages and [r.status for r in await outbox_rows(api)] == ["SENT"]:
                break
            await asyncio.sleep(0.01)
        assert stub.tokens_sent() == ["wake-token-000000000000001"]
        assert [r.status for r in await outbox_rows(api)] == ["SENT"]
    finally:
        await live.stop()


async def test_preferences_quiet_hours_and_hourly_limit(api, clock, stub, worker):
    await register(api, "resident1", "policy-token-0000000000001")
    settings = await api.gql(
        """mutation { setNotificationPreference(input: {category: "MARKETING", pushEnabled: false})
        { settings { preferences { category pushEnabled } } userErrors { code } } }""",
        as_="resident1",
    )
    assert settings["setNotificationPreference"]["settings"]["preferences"] == [
        {"category": "MARKETING", "pushEnabled": False}
    ]
    await send(api, ["resident1"], category="MARKETING")
    assert (await worker.drain()).skipped == 1

    # NORMAL: one push per hour, the rest inbox-only. HIGH is not limited.
    await send(api, ["resident1"], severity="NORMAL")
    await send(api, ["resident1"], severity="NORMAL")
    await send(api, ["resident1"], severity="HIGH")
    stats = await worker.drain()
    assert (stats.sent, stats.skipped) == (2, 1)
    clock.advance(minutes=61)
    await send(api, ["resident1"], severity="NORMAL")
    assert (await worker.drain()).sent == 1

    # Quiet hours in the community's zone (now 11:01 in Shanghai): NORMAL and HIGH
    # stay in the inbox, CRITICAL still rings.
    quiet = await api.gql(
        """mutation { setQuietHours(input: {start: "10:30", end: "12:00"})
        { settings { quietHours { start end } } userErrors { code } } }""",
        as_="resident1",
    )
    assert quiet["setQuietHours"]["settings"]["quietHours"] == {"start": "10:30", "end": "12:00"}
    await send(api, ["resident1"], severity="HIGH")
    await send(api, ["resident1"], severity="CRITICAL")
    stats = await worker.drain()
    assert (stats.sent, stats.skipped) == (1, 1)
    reasons = [r.last_error for r in await outbox_rows(api) if r.status == "SKIPPED"]
    assert reasons == ["PREFERENCE_OFF", "RATE_LIMITED", "QUIET_HOURS"]
    assert len(stub.messages) == 4
    assert stub.messages[-1]["android"]["notification"]["channel_id"] == "linli_critical"
    bad = await api.gql(
        'mutation { setQuietHours(input: {start: "7pm", end: "07:00"}) '
        "{ userErrors { code field message } } }",
        as_="resident1",
        lang="en",
    )
    assert bad["setQuietHours"]["userErrors"] == [
        {
            "code": "INVALID",
            "field": ["input", "start"],
            "message": "Times must be HH:MM (00:00–23:59).",
        }
    ]
    cleared = await api.gql(
        "mutation { setQuietHours(input: {}) { settings { quietHours { start } } } }",
        as_="resident1",
    )
    assert cleared["setQuietHours"]["settings"]["quietHours"] is None


async def test_token_registration_moves_retires_and_signs_out(api, clock):
    token = "shared-device-token-000000001"
    await register(api, "resident1", token)
    await register(api, "resident2", token, "IOS")  # the latest sign-in wins the device
    if api.backend.name == "postgres":
        await asyncio.gather(*(register(api, who, token) for who in ["resident1", "resident2"] * 5))
        await register(api, "resident2", token, "IOS")
    async with api.db.reader() as s:
        rows = (
            await s.execute(
                select(PushToken.user_id, PushToken.platform).where(PushToken.token == token)
            )
        ).all()
    assert [tuple(r) for r in rows] == [(api.demo.users["resident2@demo.linli"], "IOS")]
    bad = await api.gql(REGISTER, {"t": "no spaces allowed in tokens", "p": "WEB"},
                        as_="resident1", lang="en")  # fmt: skip
    assert bad["registerPushToken"] == {
        "ok": False,
        "userErrors": [
            {
                "code": "INVALID",
                "field": ["input", "token"],
                "message": "The push token is invalid.",
            }
        ],
    }
    # Signing out on the device stops its pushes; someone else's token is not touched.
    await register(api, "resident1", "resident1-phone-token-00001")
    sign_out = (
        """mutation($t: String) { signOut(input: {refreshToken: "x", pushToken: $t}) { ok } }"""
    )
    await api.gql(sign_out, {"t": token}, as_="resident1")
    await api.gql(sign_out, {"t": "resident1-phone-token-00001"}, as_="resident1")
    async with api.db.reader() as s:
        left = sorted((await s.scalars(select(PushToken.token))).all())
    assert left == [token]

    # Not refreshed for 60 days: retired by the job; a refreshed one stays.
    await register(api, "resident1", "resident1-tablet-token-0001")
    clock.advance(days=59)
    await register(api, "resident1", "resident1-tablet-token-0001")
    clock.advance(days=2)
    await retire_push_tokens(api.server.state)
    async with api.db.reader() as s:
        left = sorted((await s.scalars(select(PushToken.token))).all())
    assert left == ["resident1-tablet-token-0001"]


class Crash(BaseException):
    """The process dying: not an Exception, nothing in the worker catches it."""


class CrashAfterClaim:
    name = "crash"

    async def send(self, messages):
        raise Crash

    async def close(self) -> None:
        return None


async def test_two_workers_and_a_crash_never_lose_or_double_send(api, clock, stub, fcm, fresh):
    owners = sorted(k.split("@")[0] for k in api.demo.users if k.startswith("owner"))[:12]
    for i, login in enumerate(owners):
        await register(api, login, f"owner-token-{i:04d}-0000000000", ("ANDROID", "IOS")[i % 2])
    for _ in range(4):
        await send(api, owners, severity="HIGH")
    total = 4 * len(owners)

    # Worker one claims a batch and dies before it sends or records anything.
    dying = OutboxWorker(api.db, CrashAfterClaim(), batch_size=10, lease_seconds=120)
    with pytest.raises(Crash):
        await dying.run_once()
    leased = [r for r in await outbox_rows(api) if r.status == "SENDING"]
    assert len(leased) == 10

    # Two workers, each with its own engine (as two processes), drain concurrently.
    dbs = [Database(api.backend.url, pool_size=3) for _ in range(2)]
    workers = [fcm_worker(db, fcm, batch_size=7) for db in dbs]
    try:
        first = await asyncio.gather(*(w.drain() for w in workers))
        assert sum(s.sent for s in first) == total - 10  # the dead worker's rows wait
        assert all(s.sent > 0 for s in first)  # both really worked, side by side
        clock.advance(seconds=121)  # its lease runs out
        second = await asyncio.gather(*(w.drain() for w in workers))
        assert sum(s.sent for s in second) == 10
    finally:
        for w in workers:
            await w.sender.close()
        for db in dbs:
            await db.dispose()
    sent = Counter((m["token"], m["data"]["notificationId"]) for m in stub.messages)
    assert len(sent) == total and set(sent.values()) == {1}
    rows = await outbox_rows(api)
    assert {r.status for r in rows} == {"SENT"} and len(rows) == total
    assert [d[0] for d in await deliveries(api)].count("DELIVERED") == total


async def test_hourly_limit_holds_across_concurrent_workers(api, clock, stub, fcm, fresh):
    owners = sorted(k.split("@")[0] for k in api.demo.users if k.startswith("owner"))[:10]
    for i, login in enumerate(owners):
        await register(api, login, f"limit-token-{i:04d}-0000000000")
    # Each owner's three rows are adjacent in the queue and batches are small, so the
    # two workers claim rows of the same owner at the same time and race for her window.
    for login in owners:
        for _ in range(3):
            await send(api, [login], severity="NORMAL")
    dbs = [Database(api.backend.url, pool_size=3) for _ in range(2)]
    workers = [fcm_worker(db, fcm, batch_size=2) for db in dbs]
    try:
        stats = await asyncio.gather(*(w.drain() for w in workers))
    finally:
        for w in workers:
            await w.sender.close()
        for db in dbs:
            await db.dispose()
    assert sum(s.sent for s in stats) == len(owners)
    assert sorted(Counter(stub.tokens_sent()).values()) == [1] * len(owners)
    reasons = Counter(r.last_error for r in await outbox_rows(api) if r.status == "SKIPPED")
    assert reasons == {"RATE_LIMITED": 2 * len(owners)}
