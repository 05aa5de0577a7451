"""Push throughput: notifications committed to the outbox and pushed by the server's
own outbox worker (claim → firebase-admin send_each → FCM stub → record) until every
row is recorded SENT. The stub runs in this process; the server is `linli serve`."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from core.db import Database
from domain.accounts.models import User
from domain.notifications.models import OutboxMessage, PushToken
from domain.notifications.service import notify
from tests.bench.harness import Harness
from tests.stubs.fcm_stub import FcmStub


async def run(h: Harness) -> None:
    stub = FcmStub().start()
    creds = stub.service_account(Path(tempfile.mkdtemp(prefix="linli-bench-fcm-")))
    total_wanted = 1000 if h.quick else 5000
    try:
        for kind in ("sqlite", "postgres"):
            stub.reset()
            env = {
                "LINLI_FCM_CREDENTIALS": str(creds),
                "LINLI_FCM_ENDPOINT": stub.url,
                "LINLI_OUTBOX_POLL_SECONDS": "0.1",
            }
            async with h.server(kind, env=env) as srv:
                db = Database(srv.url)
                try:
                    rate, total = await _measure(db, stub, total_wanted)
                finally:
                    await db.dispose()
            h.result(
                f"{kind}: notifications pushed through the outbox",
                rate,
                "notif/s",
                note=f"{total} pushes, one token each, batches of 500",
            )
    finally:
        stub.stop()


async def _measure(db: Database, stub: FcmStub, wanted: int) -> tuple[float, int]:
    async with db.transaction() as s:
        users = list((await s.scalars(select(User.id).order_by(User.id))).all())
        s.add_all(
            PushToken(user_id=u, token=f"bench-token-{u:06d}-{'x' * 140}", platform="ANDROID")
            for u in users
        )
    rounds = max(1, wanted // len(users))
    async with db.transaction() as s:
        for i in range(rounds):
            # HIGH: pushed every time (NORMAL would be limited to one per user per hour).
            await notify(
                s,
                user_ids=users,
                category="BENCH",
                title_key="notifications.notice.title",
                body_key="notifications.notice.body",
                params={"title": f"Notice {i}", "body": "Water off 10:00–12:00 in building 2."},
                data={"round": str(i)},
                severity="HIGH",
            )
    total = rounds * len(users)
    started = time.perf_counter()
    deadline = started + 180
    while time.perf_counter() < deadline:
        async with db.reader() as s:
            done = await s.scalar(
                select(func.count()).where(OutboxMessage.status == "SENT")  # type: ignore[arg-type]
            )
        if done == total:
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    if len(stub.messages) != total:
        raise AssertionError(f"stub got {len(stub.messages)} pushes, expected {total}")
    return total / elapsed, total
