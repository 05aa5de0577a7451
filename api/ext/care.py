"""Elder care: demo data (elder1 with carer1 then carer2, both consented)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from api.seed import Demo, seed_step
from core.clock import utcnow
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
    for position, login in enumerate(("carer1@demo.linli", "carer2@demo.linli")):
        session.add(
            CaregiverLink(
                elder_id=elder.id,
                caregiver_user_id=demo.users[login],
                position=position,
                consented_at=utcnow(),
                consented_by=demo.users["elder1@demo.linli"],
            )
        )
    await session.flush()
