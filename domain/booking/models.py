"""Merchants, their offerings, bookings and the per-slot seat counters.

Slots are derived from an offering's weekly hours; only a slot that has been booked
gets a `SlotCounter` row, and that row is where capacity is enforced (a conditional
upsert), so concurrent requests can never overfill a slot.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime
from domain.base import created_at_field, fk, json_field, utc_field


class Merchant(SQLModel, table=True):
    """A merchant account: one user with the MERCHANT role in the communities it serves."""

    __tablename__ = "merchants"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", unique=True)
    name: str = Field(max_length=100)
    # Average of residents' ratings once reviews exist; None until then.
    rating: float | None = None
    created_at: datetime = created_at_field()


class ServiceOffering(SQLModel, table=True):
    __tablename__ = "service_offerings"
    __table_args__ = (
        CheckConstraint("capacity_per_slot >= 1", name="capacity_positive"),
        CheckConstraint("duration_minutes >= 5", name="duration_positive"),
        CheckConstraint("price_minor >= 0", name="price_not_negative"),
        Index("ix_service_offerings_community_category", "community_id", "category"),
    )
    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = fk("merchants.id")
    community_id: int = fk("communities.id", index=False)
    title: str = Field(max_length=100)
    category: str = Field(max_length=30)
    price_minor: int
    currency: str = Field(default="CNY", max_length=3)
    duration_minutes: int
    capacity_per_slot: int
    # Residents may cancel until this many minutes before the slot starts.
    cancel_cutoff_minutes: int = 120
    # [{"day": 1..7 (ISO, Monday = 1), "open": "HH:MM", "close": "HH:MM"}], local time.
    weekly_hours: list[dict[str, object]] = json_field(list)
    # ["YYYY-MM-DD", ...] local dates on which the offering takes no bookings.
    closed_dates: list[str] = json_field(list)
    active: bool = True
    created_at: datetime = created_at_field()


class SlotCounter(SQLModel, table=True):
    """Seats taken in one slot of one offering; exists only for slots someone booked."""

    __tablename__ = "slot_counters"
    __table_args__ = (CheckConstraint("taken >= 0", name="taken_not_negative"),)
    offering_id: int = Field(foreign_key="service_offerings.id", primary_key=True)
    slot_start: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    taken: int = 0


class Booking(SQLModel, table=True):
    __tablename__ = "bookings"
    __table_args__ = (
        # A retried bookService with the same key finds the first booking.
        UniqueConstraint("booked_by", "idempotency_key"),
        CheckConstraint(
            "status IN ('REQUESTED', 'CONFIRMED', 'IN_PROGRESS', 'COMPLETED', 'CANCELLED', "
            "'NO_SHOW')",
            name="status_known",
        ),
        Index("ix_bookings_merchant_slot", "merchant_id", "slot_start"),
        Index("ix_bookings_status_slot", "status", "slot_start"),
    )
    id: int | None = Field(default=None, primary_key=True)
    offering_id: int = fk("service_offerings.id")
    merchant_id: int = fk("merchants.id", index=False)
    community_id: int = fk("communities.id", index=False)
    unit_id: int = fk("units.id")
    booked_by: int = fk("users.id")
    for_elder_id: int | None = fk("elders.id", nullable=True)
    slot_start: datetime = Field(sa_type=UTCDateTime, nullable=False)
    slot_end: datetime = Field(sa_type=UTCDateTime, nullable=False)
    status: str = Field(default="REQUESTED", max_length=20)
    notes: str | None = Field(default=None, max_length=500)
    # Price at the time of booking: later price changes do not touch it.
    price_minor: int
    currency: str = Field(default="CNY", max_length=3)
    idempotency_key: str = Field(max_length=100)
    cancel_reason: str | None = Field(default=None, max_length=500)
    # Pay-on-completion, recorded by the merchant (cash, transfer, ...).
    paid_at: datetime | None = utc_field()
    paid_amount_minor: int | None = None
    payment_method: str | None = Field(default=None, max_length=30)
    reminded_at: datetime | None = utc_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = created_at_field()
