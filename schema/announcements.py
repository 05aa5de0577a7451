"""Announcement types (通知公告)."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from core.ids import encode_gid
from domain.announcements import models as m
from schema.accounts import Building, Community, User
from schema.base import Connection, Node, UserError

Info = strawberry.Info


@strawberry.enum
class AnnouncementKind(enum.Enum):
    NORMAL = "NORMAL"
    EMERGENCY = "EMERGENCY"


@strawberry.type
class AnnouncementReadReceipt:
    user: User | None
    read_at: datetime


@strawberry.type(
    description="A notice from the property office to a community or to chosen buildings."
)
class Announcement(Node):
    kind: AnnouncementKind
    title_zh: str | None
    title_en: str | None
    body_zh: str | None
    body_en: str | None
    pinned: bool
    whole_community: bool = strawberry.field(
        description="Whole community when true; otherwise the buildings listed."
    )
    publish_at: datetime = strawberry.field(
        description="When it goes (or went) out; a future time for scheduled ones (staff only)."
    )
    published_at: datetime | None
    created_at: datetime
    _pk: strawberry.Private[int]
    _community_id: strawberry.Private[int]
    _audience: strawberry.Private[int]

    @strawberry.field(description="The title in the request's language (the other if missing).")
    def title(self, info: Info) -> str:
        if info.context.locale == "en":
            return self.title_en or self.title_zh or ""
        return self.title_zh or self.title_en or ""

    @strawberry.field(description="The body in the request's language (the other if missing).")
    def body(self, info: Info) -> str:
        if info.context.locale == "en":
            return self.body_en or self.body_zh or ""
        return self.body_zh or self.body_en or ""

    @strawberry.field
    async def community(self, info: Info) -> Community | None:
        return await info.context.loaders.community.load(self._community_id)

    @strawberry.field
    async def buildings(self, info: Info) -> list[Building]:
        return await info.context.loaders.announcement_buildings.load(self._pk)

    @strawberry.field(description="When the viewer first read it; null while unread.")
    async def read_at(self, info: Info) -> datetime | None:
        return await info.context.loaders.announcement_read_by_viewer.load(self._pk)

    @strawberry.field(description="Staff only: how many of the audience have read it.")
    async def read_count(self, info: Info) -> int | None:
        if not info.context.principal.is_staff(self._community_id):
            return None
        return await info.context.loaders.announcement_read_count.load(self._pk)

    @strawberry.field(description="Staff only: how many people it was sent to.")
    def audience_count(self, info: Info) -> int | None:
        if not info.context.principal.is_staff(self._community_id):
            return None
        return self._audience

    @classmethod
    def from_row(cls, row: m.Announcement) -> Announcement:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Announcement", row.id)),
            kind=AnnouncementKind(row.kind),
            title_zh=row.title_zh,
            title_en=row.title_en,
            body_zh=row.body_zh,
            body_en=row.body_en,
            pinned=row.pinned,
            whole_community=row.whole_community,
            publish_at=row.publish_at,
            published_at=row.published_at,
            created_at=row.created_at,
            _pk=row.id,
            _community_id=row.community_id,
            _audience=row.audience_count,
        )


AnnouncementReadConnection = Connection[AnnouncementReadReceipt]


@strawberry.input
class PublishAnnouncementInput:
    community_id: strawberry.ID
    kind: AnnouncementKind = strawberry.field(
        default=AnnouncementKind.NORMAL,
        description="EMERGENCY goes out at once as a CRITICAL push to everyone in scope.",
    )
    title_zh: str | None = strawberry.field(
        default=None, description="Title and body in Chinese and/or English: one at least."
    )
    title_en: str | None = None
    body_zh: str | None = None
    body_en: str | None = None
    building_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Omitted or empty: the whole community."
    )
    pinned: bool = False
    publish_at: datetime | None = strawberry.field(
        default=None, description="A future time schedules it (NORMAL only); omitted: at once."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A retried request with the same key returns the same announcement "
        "and notifies nobody twice.",
    )


@strawberry.input
class MarkAnnouncementReadInput:
    announcement_id: strawberry.ID


@strawberry.type
class AnnouncementPayload:
    announcement: Announcement | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
