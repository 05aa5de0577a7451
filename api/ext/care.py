"""Elder care: scheduled sweeps, and demo data (elder1 with carer1 then carer2, both
consented)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from api.app import AppState
from api.jobs import job
from api.seed import Demo, seed_step
from core.clock import utcnow
from core.db import Database
from domain.care import alerts
from domain.care import service as care_service
from domain.care.models import CaregiverLink, Elder


@seed_step
async def seed_care(session: AsyncSession, demo: Demo) -> None:
    elder = Elder(
        user_id=demo.users["elder1@demo.linli"],
        community_id=demo.garden_id,
        unit_id=demo.units["1-301"],
    )
    session.add(elder)
    await session.flush()
    assert elder.id is not None
    demo.elders["elder1@demo.linli"] = elder.id
    links = demo.extra.setdefault("caregiver_links", {})
    for position, login in enumerate(("carer1@demo.linli", "carer2@demo.linli")):
        link = CaregiverLink(
            elder_id=elder.id,
            caregiver_user_id=demo.users[login],
            position=position,
            consented_at=utcnow(),
            consented_by=demo.users["elder1@demo.linli"],
        )
        session.add(link)
        await session.flush()
        assert link.id is not None
        links[login.split("@")[0]] = link.id


SWEEP_BATCH = 500


@job("care.check_ins", seconds=60)
async def check_in_sweep(state: AppState) -> None:
    """Judge due windows, then escalate timed-out levels; one short transaction per
    batch so locks are held briefly and other instances can take the next batch."""
    await run_care_sweeps(state.db, now=utcnow())


async def run_care_sweeps(db: Database, *, now: datetime, batch: int = SWEEP_BATCH) -> None:
    for sweep in (alerts.sweep_missed_check_ins, alerts.sweep_escalations):
        for _ in range(1000):
            async with db.transaction() as session:
                done = await sweep(session, now=now, batch=batch)
            if done < batch:
                break


@job("care.visit_reminders", seconds=300)
async def visit_reminders(state: AppState) -> None:
    async with state.db.transaction() as session:
        await care_service.sweep_visit_reminders(session, now=utcnow())
