"""Elder care: how long the every-minute check-in sweep takes for 10,000 elders' plans.

A migrated, demo-seeded database gets 10,000 more elders, each with a consented
caregiver and a plan whose window has just been judged (its end plus grace passed).
One in ten did not check in. Figures, per database:
- the sweep that judges all 10,000 windows (1,000 alarms raised and caregivers told),
- the next minute's sweep with nothing due (the steady state: an index look-up),
- the escalation sweep moving those 1,000 unacknowledged alarms to the next level.
The sweep runs in this process against the database, as the scheduler runs it.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from tests.bench.harness import BenchServer, Harness

ELDERS = 10_000
MISSED_EVERY = 10


async def _populate(db, now: datetime, n: int) -> None:
    from domain.accounts.models import Community, Membership, Unit, User
    from domain.care.models import CaregiverLink, CheckInPlan, Elder

    async with db.transaction() as s:
        garden = await s.scalar(select(Community).where(Community.name == "Demo Garden"))
        units = list(await s.scalars(select(Unit.id).where(Unit.community_id == garden.id)))
        carer = await s.scalar(
            select(Membership.user_id).where(
                Membership.community_id == garden.id, Membership.role == "CAREGIVER"
            )
        )
        first_user = (await s.scalar(select(func.max(User.id)))) + 1
        chunk = 2000
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            await s.execute(
                insert(User),
                [
                    {"id": first_user + i, "display_name": f"elder {i}", "password_hash": "x"}
                    for i in range(lo, hi)
                ],
            )
            ids = list(
                (
                    await s.execute(
                        insert(Elder).returning(Elder.id),
                        [
                            {
                                "user_id": first_user + i,
                                "community_id": garden.id,
                                "unit_id": units[i % len(units)],
                                "created_at": now,
                            }
                            for i in range(lo, hi)
                        ],
                    )
                ).scalars()
            )
            await s.execute(
                insert(CaregiverLink),
                [
                    {
                        "elder_id": eid,
                        "caregiver_user_id": carer,
                        "position": 0,
                        "invited_at": now,
                        "consented_at": now,
                    }
                    for eid in ids
                ],
            )
            start = now - timedelta(hours=2)
            await s.execute(
                insert(CheckInPlan),
                [
                    {
                        "elder_id": eid,
                        "community_id": garden.id,
                        "windows": [{"start": "08:00", "end": "09:30"}],
                        "grace_minutes": 30,
                        "escalation_user_ids": [],
                        "ack_timeout_minutes": [15],
                        "next_window_start": start,
                        "next_due_at": now - timedelta(seconds=30),
                        # One in ten did not check in during the window.
                        "last_check_in_at": None if (lo + k) % MISSED_EVERY == 0 else start,
                        "updated_at": now,
                    }
                    for k, eid in enumerate(ids)
                ],
            )


async def _measure(h: Harness, kind: str, n: int) -> None:
    import domain.registry  # noqa: F401 - every table, so foreign keys resolve
    from api.ext.care import run_care_sweeps
    from core.db import Database
    from domain.alarms.models import Alarm

    srv = BenchServer(kind)
    await srv.prepare_database()
    db = Database(srv.url)
    try:
        # 09:00 UTC = 17:00 in Shanghai; the windows judged "now" were 08:00–09:30 local.
        now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        await _populate(db, now, n)

        t0 = time.perf_counter()
        await run_care_sweeps(db, now=now)
        judged = time.perf_counter() - t0
        async with db.reader() as s:
            raised = await s.scalar(
                select(func.count()).select_from(Alarm).where(Alarm.type == "CHECK_IN_MISSED")
            )
        h.result(
            f"{kind}: check-in sweep, {n} plans due",
            judged * 1000,
            "ms",
            target="< 60000",
            ok=judged < 60,
            note=f"{raised} alarms raised; {n / judged:.0f} plans/s",
        )

        t0 = time.perf_counter()
        await run_care_sweeps(db, now=now + timedelta(minutes=1))
        idle = time.perf_counter() - t0
        h.result(f"{kind}: check-in sweep, nothing due", idle * 1000, "ms")

        t0 = time.perf_counter()
        await run_care_sweeps(db, now=now + timedelta(minutes=16))
        escalated = time.perf_counter() - t0
        async with db.reader() as s:
            level1 = await s.scalar(
                select(func.count()).select_from(Alarm).where(Alarm.escalation_level == 1)
            )
        h.result(
            f"{kind}: escalation sweep",
            escalated * 1000,
            "ms",
            note=f"{level1} alarms moved to level 1",
        )
    finally:
        await db.dispose()
        await srv.stop()  # drops the PostgreSQL database
        if srv._tmp:
            shutil.rmtree(srv._tmp, ignore_errors=True)


async def run(h: Harness) -> None:
    n = 2_000 if h.quick else ELDERS
    for kind in ("sqlite", "postgres"):
        await _measure(h, kind, n)
