"""Owners' council: the opening/closing sweep and demo proposals."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.jobs import job
from api.seed import Demo, seed_step
from core.clock import utcnow
from domain.accounts.models import Ownership, Unit
from domain.council import service
from domain.council.models import (
    Ballot,
    BallotCast,
    Choice,
    Comment,
    Matter,
    Proposal,
    Status,
    kind_of,
)

if TYPE_CHECKING:
    from api.app import AppState


@job("council_sweep", seconds=30)
async def council_sweep(state: AppState) -> None:
    async with state.db.transaction() as session:
        await service.sweep_proposals(session, now=utcnow())


@seed_step
async def seed_council(session: AsyncSession, demo: Demo) -> None:
    now = utcnow()
    staff = demo.users["staff1@demo.linli"]
    open_p = Proposal(
        community_id=demo.garden_id,
        title="1号楼加装电梯 Elevator retrofit for building 1",
        body="拟为1号楼加装一部电梯，费用由1号楼业主按楼层分摊。"
        " A proposal to add an elevator to building 1, paid by its owners by floor.",
        matter=Matter.RENOVATION_REBUILD,
        kind=kind_of(Matter.RENOVATION_REBUILD),
        status=Status.OPEN,
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=14),
        live_tally=True,
        attachments=["https://example.org/linli-demo/elevator-plan.pdf"],
        created_by=staff,
        opened_at=now - timedelta(days=1),
    )
    # A decided FUND_USE proposal, so the ledger demo has authorised spending.
    fund_use = Proposal(
        community_id=demo.garden_id,
        title="使用维修资金更换2号楼水泵 Replace building 2's water pump from the fund",
        body="2号楼二次供水水泵老化，拟使用专项维修资金更换，预算 18,000 元。"
        " Building 2's booster pump is worn out; replace it from the fund, budget CNY 18,000.",
        matter=Matter.FUND_USE,
        kind=kind_of(Matter.FUND_USE),
        status=Status.OPEN,
        opens_at=now - timedelta(days=20),
        closes_at=now - timedelta(days=6),
        approved_amount_minor=1_800_000,
        created_by=staff,
        opened_at=now - timedelta(days=20),
    )
    session.add_all([open_p, fund_use])
    await session.flush()
    assert open_p.id is not None and fund_use.id is not None
    owned = await session.scalars(
        select(Ownership.unit_id)
        .join(Unit, Unit.id == Ownership.unit_id)  # type: ignore[arg-type]
        .where(Unit.community_id == demo.garden_id)
        .distinct()
        .order_by(Ownership.unit_id)
    )
    owners = {
        u: uid
        for u, uid in (await session.execute(select(Ownership.unit_id, Ownership.user_id))).all()
    }
    voters = [u for u in owned if u not in (demo.units["1-101"], demo.units["1-202"])]
    for i, unit_id in enumerate(voters):
        at = fund_use.opens_at + timedelta(hours=1, minutes=i)
        choice = Choice.AGAINST if i % 9 == 0 else Choice.FOR
        cast = BallotCast(
            proposal_id=fund_use.id,
            unit_id=unit_id,
            voter_user_id=owners[unit_id],
            choice=choice,
            cast_at=at,
            idempotency_key=f"demo-seed-{fund_use.id}-{unit_id}",
        )
        session.add(cast)
        await session.flush()
        session.add(
            Ballot(
                proposal_id=fund_use.id,
                unit_id=unit_id,
                choice=choice,
                cast_at=at,
                cast_by=owners[unit_id],
                cast_id=cast.id,
                casts=1,
            )
        )
    comment = Comment(
        proposal_id=open_p.id,
        author_user_id=demo.users["resident1@demo.linli"],
        body="支持加装电梯，家里老人上下楼太难了。 In favour: stairs are hard for our elders.",
        created_at=now - timedelta(hours=20),
    )
    session.add(comment)
    await session.flush()
    await service.sweep_proposals(session, now=now)
    assert comment.id is not None
    demo.extra["council"] = {"open": open_p.id, "fund_use": fund_use.id, "comment": comment.id}
