"""Complaints and reports: filing with photos, the staff queue, rating."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from core.storage import BlobStorage, make_storage
from domain.complaints import repository as repo
from domain.complaints import service
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
from schema import complaints as t
from schema.base import Connection


def storage_of(ctx: Context) -> BlobStorage:
    found = ctx.services.get("storage")
    if found is None:
        found = make_storage(ctx.settings.upload_dir)
        ctx.services.extras["storage"] = found
    return found


@loader("complaint")
async def load_complaints(ctx: Context, ids: list[int]) -> list[t.Complaint | None]:
    async with ctx.reading() as s:
        rows = await repo.by_ids(s, ctx.principal, ids)
    return [t.Complaint.from_row(rows[i]) if i in rows else None for i in ids]


@loader("complaint_photos")
async def load_photos(ctx: Context, ids: list[int]) -> list[list[t.ComplaintPhoto]]:
    base = ctx.settings.public_base_url
    async with ctx.reading() as s:
        photos = await repo.photos_of(s, ids)
    return [[t.ComplaintPhoto.from_row(p, base) for p in photos[i]] for i in ids]


@loader("complaint_events")
async def load_events(ctx: Context, ids: list[int]) -> list[list[t.ComplaintEvent]]:
    async with ctx.reading() as s:
        events = await repo.events_of(s, ids)
    return [
        [
            t.ComplaintEvent(
                action=e.action, status=t.ComplaintStatus(e.status), at=e.at, note=e.note
            )
            for e in events[i]
        ]
        for i in ids
    ]


node_type("Complaint")(loader_fetcher("complaint"))
extra_types(t.Complaint)


@query
@strawberry.type
class ComplaintsQuery:
    @strawberry.field(permission_classes=[IsAuthenticated], description="The viewer's own.")
    async def my_complaints(
        self,
        info: Info,
        status: t.ComplaintStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.Complaint]:
        limit, offset = page_args(info, first, after)
        async with info.context.reading() as s:
            rows, total = await repo.mine(
                s,
                info.context.principal,
                status=status.value if status else None,
                limit=limit,
                offset=offset,
            )
        return connection([t.Complaint.from_row(r) for r in rows], total, offset)

    @strawberry.field(permission_classes=[IsStaff], description="Staff: the community's queue.")
    async def complaints(
        self,
        info: Info,
        community_id: strawberry.ID,
        status: t.ComplaintStatus | None = None,
        category: t.ComplaintCategory | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[t.Complaint]:
        limit, offset = page_args(info, first, after)
        cid = parse_id(info, community_id, "Community")
        async with info.context.reading() as s:
            rows, total = await repo.for_staff(
                s,
                info.context.principal,
                cid,
                status=status.value if status else None,
                category=category.value if category else None,
                limit=limit,
                offset=offset,
            )
        return connection([t.Complaint.from_row(r) for r in rows], total, offset)


@mutation
@strawberry.type
class ComplaintsMutation:
    @strawberry.mutation(permission_classes=[IsMember])
    async def file_complaint(self, info: Info, input: t.FileComplaintInput) -> t.ComplaintPayload:
        ctx = info.context

        async def work(s: AsyncSession) -> dict[str, Any]:
            row = await service.file_complaint(
                s,
                ctx.principal,
                community_id=input_id(input.community_id, "Community", ["input", "communityId"]),
                category=input.category.value,
                body=input.body,
                building_id=(
                    input_id(input.building_id, "Building", ["input", "buildingId"])
                    if input.building_id
                    else None
                ),
                location_text=input.location_text,
                photos=list(input.photos or []),
                storage=storage_of(ctx),
                policy=service.UploadPolicy(
                    max_bytes=ctx.settings.upload_max_bytes,
                    max_files=ctx.settings.upload_max_files,
                ),
            )
            return {"complaint": t.Complaint.from_row(row)}

        return await run_mutation(info, t.ComplaintPayload, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def update_complaint(
        self, info: Info, input: t.UpdateComplaintInput
    ) -> t.ComplaintPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            fwd = input.forward_to_city
            row = await service.update_complaint(
                s,
                info.context.principal,
                complaint_id=input_id(input.complaint_id, "Complaint", ["input", "complaintId"]),
                status=input.status.value if input.status else None,
                reason=input.reason,
                note=input.note,
                forward_channel=fwd.channel if fwd else None,
                forward_reference=fwd.reference if fwd else None,
                create_work_order=input.create_work_order,
            )
            return {"complaint": t.Complaint.from_row(row)}

        return await run_mutation(info, t.ComplaintPayload, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def rate_complaint(self, info: Info, input: t.RateComplaintInput) -> t.ComplaintPayload:
        async def work(s: AsyncSession) -> dict[str, Any]:
            row = await service.rate_complaint(
                s,
                info.context.principal,
                complaint_id=input_id(input.complaint_id, "Complaint", ["input", "complaintId"]),
                rating=input.rating,
                comment=input.comment,
            )
            return {"complaint": t.Complaint.from_row(row)}

        return await run_mutation(info, t.ComplaintPayload, work)
