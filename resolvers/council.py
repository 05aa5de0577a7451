"""Owners' council resolvers: proposals, ballots, the discussion."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from core.principal import Role
from domain.council import models as m
from domain.council import service
from resolvers.base import (
    IsAuthenticated,
    IsStaff,
    _CommunityRole,
    connection,
    input_id,
    page_args,
    parse_id,
    run_mutation,
)
from resolvers.context import Context, Info
from resolvers.loaders import loader
from resolvers.node import node_type
from resolvers.roots import extra_types, mutation, query
from schema import council as t


class IsResidentOrStaff(_CommunityRole):
    """Residents, staff and managers of the community (not merchants or caregivers)."""

    roles = (Role.RESIDENT, Role.STAFF, Role.MANAGER)


def ballot_of(unit_id: int, choice: str, cast_at: Any) -> t.Ballot:
    return t.Ballot(choice=m.Choice(choice), cast_at=cast_at, _unit_id=unit_id)


@loader("council_my_ballots")
async def load_my_ballots(ctx: Context, ids: list[int]) -> list[list[t.Ballot]]:
    async with ctx.reading() as s:
        rows = await service.my_ballots(s, ctx.principal, ids)
    return [[ballot_of(b.unit_id, b.choice or "", b.cast_at) for b in rows.get(i, [])] for i in ids]


@loader("proposal")
async def load_proposals(ctx: Context, ids: list[int]) -> list[t.Proposal | None]:
    async with ctx.reading() as s:
        rows = await service.proposals_by_ids(s, ctx.principal, ids)
    return [t.Proposal.from_row(rows[i]) if i in rows else None for i in ids]


@node_type("Proposal")
async def fetch_proposal(info: Info, pk: int) -> t.Proposal | None:
    return await info.context.loaders.proposal.load(pk)


extra_types(t.Proposal, t.Comment)


@query
@strawberry.type
class CouncilQuery:
    @strawberry.field(permission_classes=[IsResidentOrStaff])
    async def proposals(
        self,
        info: Info,
        community_id: strawberry.ID,
        status: t.ProposalStatus | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> t.Connection[t.Proposal]:
        limit, offset = page_args(info, first, after)
        cid = parse_id(info, community_id, "Community")
        async with info.context.reading() as s:
            rows, total = await service.list_proposals(
                s,
                info.context.principal,
                community_id=cid,
                status=m.Status(status.value if hasattr(status, "value") else status)
                if status
                else None,
                limit=limit,
                offset=offset,
            )
        return connection([t.Proposal.from_row(p) for p in rows], total, offset)


@mutation
@strawberry.type
class CouncilMutation:
    @strawberry.mutation(permission_classes=[IsStaff])
    async def create_proposal(self, info: Info, input: t.CreateProposalInput) -> t.ProposalPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            p = await service.create_proposal(
                s,
                info.context.principal,
                community_id=input_id(input.community_id, "Community", ["input", "communityId"]),
                title=input.title,
                body=input.body,
                matter=m.Matter(input.matter),
                opens_at=input.opens_at,
                closes_at=input.closes_at,
                live_tally=bool(input.live_tally),
                attachments=input.attachments,
                approved_amount_minor=input.approved_amount_minor,
            )
            return {"proposal": t.Proposal.from_row(p)}

        return await run_mutation(info, t.ProposalPayload, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def cast_ballot(self, info: Info, input: t.CastBallotInput) -> t.BallotPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            cast = await service.cast_ballot(
                s,
                info.context.principal,
                proposal_id=input_id(input.proposal_id, "Proposal", ["input", "proposalId"]),
                unit_id=input_id(input.unit_id, "Unit", ["input", "unitId"]),
                choice=m.Choice(input.choice),
                idempotency_key=input.idempotency_key,
            )
            return {"ballot": ballot_of(cast.unit_id, cast.choice, cast.cast_at)}

        return await run_mutation(info, t.BallotPayload, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def post_comment(self, info: Info, input: t.PostCommentInput) -> t.CommentPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            c = await service.post_comment(
                s,
                info.context.principal,
                proposal_id=input_id(input.proposal_id, "Proposal", ["input", "proposalId"]),
                body=input.body,
            )
            return {"comment": t.Comment.from_row(c)}

        return await run_mutation(info, t.CommentPayload, work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="Staff hide an abusive comment: it is kept, marked hidden and audited.",
    )
    async def hide_comment(self, info: Info, input: t.HideCommentInput) -> t.CommentPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            c = await service.hide_comment(
                s,
                info.context.principal,
                comment_id=input_id(input.comment_id, "Comment", ["input", "commentId"]),
                reason=input.reason,
            )
            return {"comment": t.Comment.from_row(c)}

        return await run_mutation(info, t.CommentPayload, work)
