"""Announcements (通知公告): staff publish to a community or to chosen buildings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, utc_field


class Announcement(SQLModel, table=True):
    __tablename__ = "announcements"
    __table_args__ = (
        CheckConstraint("kind IN ('NORMAL', 'EMERGENCY')", name="kind"),
        # Residents' list: published ones of a community, pinned first, newest first.
        Index("ix_announcements_feed", "community_id", "published_at"),
        # The scheduled-publishing sweep looks only at the not yet published.
        Index("ix_announcements_due", "publish_at", "published_at"),
        # A staff app retrying a publish after a lost answer must not notify twice.
        UniqueConstraint("created_by", "idempotency_key", name="uq_announcements_author_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id", index=False)
    kind: str = Field(default="NORMAL", max_length=10)
    # Content in both languages; at least one of each pair is set (the service checks).
    title_zh: str | None = Field(default=None, max_length=200)
    title_en: str | None = Field(default=None, max_length=200)
    body_zh: str | None = Field(default=None, max_length=10000)
    body_en: str | None = Field(default=None, max_length=10000)
    pinned: bool = False
    # Scoped to chosen buildings when it has AnnouncementBuilding rows, else community-wide.
    whole_community: bool = True
    publish_at: datetime = utc_field(nullable=False)
    # Set when it went out (at once, or by the scheduled-publishing sweep).
    published_at: datetime | None = utc_field()
    # Recipients notified when published (the denominator of the read count).
    audience_count: int = 0
    created_by: int = fk("users.id", index=False)
    idempotency_key: str | None = Field(default=None, max_length=100)
    created_at: datetime = created_at_field()


class AnnouncementBuilding(SQLModel, table=True):
    __tablename__ = "announcement_buildings"
    __table_args__ = (UniqueConstraint("announcement_id", "building_id"),)
    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = fk("announcements.id", index=False, ondelete="CASCADE")
    building_id: int = fk("buildings.id")


class AnnouncementRead(SQLModel, table=True):
    """A read receipt: one per reader and announcement (the first read counts)."""

    __tablename__ = "announcement_reads"
    __table_args__ = (UniqueConstraint("announcement_id", "user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = fk("announcements.id", index=False, ondelete="CASCADE")
    user_id: int = fk("users.id")
    read_at: datetime = created_at_field()
