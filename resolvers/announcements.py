"""Announcements: the feed, publishing, read receipts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from domain.announcements import repository as repo
from domain.announcements import service
from resolvers.base import (
    IsAuthenticated,
    IsMember,
    IsStaff,
    connection,
    input_id,
    page_args,
    parse_id,
    run_mutation,
)
from resolvers.context import Context, Info
from resolvers.loaders import loader
from resolvers.node import loader_fetcher, node_type
from resolvers.roots import extra_types, mutation, query
from schema import announcements as t
from schema.accounts import Building
from schema.base import Connection


@loader("announcement")
async def load_announcements(ctx: Context, ids: list[int]) -> list[t.Announcement | None]:
    async with ctx.reading() as s:
        rows = await repo.by_ids(s, ctx.principal, ids)
    return [t.Announcement.from_row(rows[i]) if i in rows else None for i in ids]


@loader("announcement_buildings")
async def load_scope(ctx: Context, ids: list[int]) -> list[list[Building]]:
    async with ctx.reading() as s:
        scopes = await repo.building_ids_of(s, ids)
    wanted = sorted({b for v in scopes.values() for b in v})
    buildings = await ctx.loaders.building.load_many(wanted)
    by_id = {b._pk: b for b in buildings if b is not None}
    return [[by_id[b] for b in scopes[i] if b in by_id] for i in ids]


@loader("announcement_read_by_viewer")
async def load_read_at(ctx: Context, ids: list[int]) -> list[datetime | None]:
    if ctx.principal.user_id is None:
        return [None for _ in ids]
    async with ctx.reading() as s:
        reads = await repo.reads_of_user(s, ctx.principal.user_id, ids)
    return [reads[i].read_at if i in reads else None for i in ids]


@loader("announcement_read_count")
async def load_read_counts(ctx: Context, ids: list[int]) -> list[int]:
    async with ctx.reading() as s:
        counts = await repo.read_counts(s, ids)
    return [counts[i] for i in ids]


node_type("Announcement")(loader_fetcher("announcement"))
extra_types(t.Announcement)


@query
@strawberry.type
class AnnouncementsQuery:
    @strawberry.field(
        permission_classes=[IsMember],
        description="Pinned first, then newest first. Staff also see scheduled ones.",
    )
    async def announcements(
        self,
        info: Info,
        community_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.Announcement]:
        limit, offset = page_args(info, first, after)
        cid = parse_id(info, community_id, "Community")
        async with info.context.reading() as s:
            rows, total = await repo.list_for(
                s, info.context.principal, cid, limit=limit, offset=offset
            )
        return connection([t.Announcement.from_row(r) for r in rows], total, offset)

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description="Staff: who has read an announcement, first readers first.",
    )
    async def announcement_reads(
        self,
        info: Info,
        announcement_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> t.AnnouncementReadConnection:
        limit, offset = page_args(info, first, after)
        aid = parse_id(info, announcement_id, "Announcement")
        principal = info.context.principal
        async with info.context.reading() as s:
            row = await repo.get_visible(s, principal, aid)
            if row is None or not principal.is_staff(row.community_id):
                return connection([], 0, 0)
            reads, total = await repo.reads_page(s, aid, limit=limit, offset=offset)
        users = await info.context.loaders.user.load_many([r.user_id for r in reads])
        nodes = [
            t.AnnouncementReadReceipt(user=u, read_at=r.read_at)
            for r, u in zip(reads, users, strict=True)
        ]
        return connection(nodes, total, offset)


@mutation
@strawberry.type
class AnnouncementsMutation:
    @strawberry.mutation(permission_classes=[IsStaff])
    async def publish_announcement(
        self, info: Info, input: t.PublishAnnouncementInput
    ) -> t.AnnouncementPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            row = await service.publish(
                s,
                info.context.principal,
                community_id=input_id(input.community_id, "Community", ["input", "communityId"]),
                kind=input.kind.value,
                title_zh=input.title_zh,
                title_en=input.title_en,
                body_zh=input.body_zh,
                body_en=input.body_en,
                building_ids=[
                    input_id(b, "Building", ["input", "buildingIds"])
                    for b in input.building_ids or []
                ],
                pinned=input.pinned,
                publish_at=input.publish_at,
                idempotency_key=input.idempotency_key,
            )
            return {"announcement": t.Announcement.from_row(row)}

        return await run_mutation(info, t.AnnouncementPayload, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def mark_announcement_read(
        self, info: Info, input: t.MarkAnnouncementReadInput
    ) -> t.AnnouncementPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            row = await service.mark_read(
                s,
                info.context.principal,
                announcement_id=input_id(
                    input.announcement_id, "Announcement", ["input", "announcementId"]
                ),
            )
            return {"announcement": t.Announcement.from_row(row)}

        return await run_mutation(info, t.AnnouncementPayload, work)
