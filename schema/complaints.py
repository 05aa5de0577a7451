"""Complaint and report types (投诉举报)."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.file_uploads import Upload

from core.ids import encode_gid
from domain.complaints import models as m
from schema.accounts import Building, User
from schema.base import Node, UserError
from schema.devices import WorkOrder

Info = strawberry.Info


@strawberry.enum
class ComplaintCategory(enum.Enum):
    ILLEGAL_CONSTRUCTION = "ILLEGAL_CONSTRUCTION"
    OCCUPIED_GREEN_SPACE = "OCCUPIED_GREEN_SPACE"
    THROWN_FROM_HEIGHT = "THROWN_FROM_HEIGHT"
    NOISE = "NOISE"
    OTHER = "OTHER"


@strawberry.enum
class ComplaintStatus(enum.Enum):
    OPEN = "OPEN"
    ACCEPTED = "ACCEPTED"
    IN_PROGRESS = "IN_PROGRESS"
    RESOLVED = "RESOLVED"
    REJECTED = "REJECTED"


@strawberry.type
class ComplaintPhoto(Node):
    content_type: str
    size_bytes: int
    url: str = strawberry.field(
        description="GET it with the same Authorization header (reporter and staff only)."
    )

    @classmethod
    def from_row(cls, row: m.ComplaintPhoto, base_url: str) -> ComplaintPhoto:
        assert row.id is not None
        gid = encode_gid("ComplaintPhoto", row.id)
        return cls(
            id=strawberry.ID(gid),
            content_type=row.content_type,
            size_bytes=row.size_bytes,
            url=f"{base_url.rstrip('/')}/complaints/photos/{gid}",
        )


@strawberry.type
class ComplaintEvent:
    "FILED, ACCEPTED, IN_PROGRESS, RESOLVED, REJECTED, FORWARDED, WORK_ORDER or RATED."

    action: str
    status: ComplaintStatus
    at: datetime
    note: str | None


@strawberry.type
class CityForward:
    "The hand-over to the city-management channel (e.g. the 12319 hotline)."

    channel: str
    reference: str
    at: datetime


@strawberry.type(
    description="A complaint or report. Its reporter is shown to staff and to the "
    "reporter only: neighbours never see who filed it."
)
class Complaint(Node):
    category: ComplaintCategory
    body: str
    location_text: str | None
    status: ComplaintStatus
    reason: str | None = strawberry.field(description="Why rejected, or how resolved.")
    rating: int | None
    rating_comment: str | None
    rated_at: datetime | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    city_forward: CityForward | None
    _pk: strawberry.Private[int]
    _community_id: strawberry.Private[int]
    _reporter_id: strawberry.Private[int]
    _building_id: strawberry.Private[int | None]
    _work_order_id: strawberry.Private[int | None]

    @strawberry.field(description="The work order opened for it; staff only.")
    async def work_order(self, info: Info) -> WorkOrder | None:
        if self._work_order_id is None:
            return None
        return await info.context.loaders.work_order.load(self._work_order_id)

    @strawberry.field
    async def building(self, info: Info) -> Building | None:
        if self._building_id is None:
            return None
        return await info.context.loaders.building.load(self._building_id)

    @strawberry.field(description="Staff and the reporter only; null for anyone else.")
    async def reporter(self, info: Info) -> User | None:
        principal = info.context.principal
        if principal.user_id != self._reporter_id and not principal.is_staff(self._community_id):
            return None
        return await info.context.loaders.user.load(self._reporter_id)

    @strawberry.field
    async def photos(self, info: Info) -> list[ComplaintPhoto]:
        return await info.context.loaders.complaint_photos.load(self._pk)

    @strawberry.field
    async def history(self, info: Info) -> list[ComplaintEvent]:
        return await info.context.loaders.complaint_events.load(self._pk)

    @classmethod
    def from_row(cls, row: m.Complaint) -> Complaint:
        assert row.id is not None
        forward = None
        if row.city_reference and row.city_channel and row.city_forwarded_at:
            forward = CityForward(
                channel=row.city_channel, reference=row.city_reference, at=row.city_forwarded_at
            )
        return cls(
            id=strawberry.ID(encode_gid("Complaint", row.id)),
            category=ComplaintCategory(row.category),
            body=row.body,
            location_text=row.location_text,
            status=ComplaintStatus(row.status),
            reason=row.reason,
            rating=row.rating,
            rating_comment=row.rating_comment,
            rated_at=row.rated_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            resolved_at=row.resolved_at,
            city_forward=forward,
            _pk=row.id,
            _community_id=row.community_id,
            _reporter_id=row.reporter_id,
            _building_id=row.building_id,
            _work_order_id=row.work_order_id,
        )


@strawberry.input
class FileComplaintInput:
    community_id: strawberry.ID
    category: ComplaintCategory
    body: str
    building_id: strawberry.ID | None = None
    location_text: str | None = None
    photos: list[Upload] | None = strawberry.field(
        default=None,
        description="Images (JPEG, PNG, WebP, HEIC) sent as a GraphQL multipart request.",
    )


@strawberry.input
class CityForwardInput:
    reference: str
    channel: str | None = strawberry.field(default=None, description='Default "12319".')


@strawberry.input
class UpdateComplaintInput:
    complaint_id: strawberry.ID
    status: ComplaintStatus | None = None
    reason: str | None = strawberry.field(
        default=None, description="Required for REJECTED; how it was resolved for RESOLVED."
    )
    note: str | None = None
    forward_to_city: CityForwardInput | None = None
    create_work_order: bool = strawberry.field(
        default=False, description="Open a work order for it (ACCEPTED or IN_PROGRESS)."
    )


@strawberry.input
class RateComplaintInput:
    complaint_id: strawberry.ID
    rating: int = strawberry.field(description="1 (poor) to 5 (excellent).")
    comment: str | None = None


@strawberry.type
class ComplaintPayload:
    complaint: Complaint | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
