"""Complaints and reports (投诉举报): illegal construction, occupied green space,
things thrown from height, noise. Known to staff, anonymous to neighbours."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, utc_field

CATEGORIES = (
    "ILLEGAL_CONSTRUCTION",
    "OCCUPIED_GREEN_SPACE",
    "THROWN_FROM_HEIGHT",
    "NOISE",
    "OTHER",
)
STATUSES = ("OPEN", "ACCEPTED", "IN_PROGRESS", "RESOLVED", "REJECTED")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Complaint(SQLModel, table=True):
    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint(_in("category", CATEGORIES), name="category"),
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name="rating"),
        # A rejection always carries its reason.
        CheckConstraint("status <> 'REJECTED' OR reason IS NOT NULL", name="rejected_reason"),
        Index("ix_complaints_queue", "community_id", "status", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id", index=False)
    reporter_id: int = fk("users.id")
    category: str = Field(max_length=24)
    body: str = Field(max_length=2000)
    building_id: int | None = fk("buildings.id", nullable=True, index=False)
    location_text: str | None = Field(default=None, max_length=200)
    status: str = Field(default="OPEN", max_length=12)
    # Why it was rejected, or how it was resolved.
    reason: str | None = Field(default=None, max_length=1000)
    # The city-management channel (e.g. the 12319 hotline) it was forwarded to.
    city_channel: str | None = Field(default=None, max_length=40)
    city_reference: str | None = Field(default=None, max_length=100)
    city_forwarded_at: datetime | None = utc_field()
    # The work order staff opened for it (one at most).
    work_order_id: int | None = Field(
        default=None, foreign_key="work_orders.id", unique=True, nullable=True
    )
    rating: int | None = None
    rating_comment: str | None = Field(default=None, max_length=500)
    rated_at: datetime | None = utc_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
    resolved_at: datetime | None = utc_field()


class ComplaintPhoto(SQLModel, table=True):
    __tablename__ = "complaint_photos"
    __table_args__ = (UniqueConstraint("complaint_id", "position"),)
    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = fk("complaints.id", index=False, ondelete="CASCADE")
    position: int
    # Where the bytes are in the blob storage; the type is what the bytes are (sniffed),
    # not what the client said.
    storage_key: str = Field(max_length=200)
    content_type: str = Field(max_length=40)
    size_bytes: int
    sha256: str = Field(max_length=64)
    created_at: datetime = created_at_field()


class ComplaintEvent(SQLModel, table=True):
    """The complaint's history: filed, each status change, work order, forwarding,
    rating. Shown to the reporter and staff."""

    __tablename__ = "complaint_events"
    id: int | None = Field(default=None, primary_key=True)
    complaint_id: int = fk("complaints.id", ondelete="CASCADE")
    at: datetime = created_at_field()
    actor_id: int | None = fk("users.id", nullable=True, index=False)
    action: str = Field(max_length=24)
    status: str = Field(max_length=12)
    note: str | None = Field(default=None, max_length=1000)
