"""Parcel lockers (智能快递柜): compartments of a locker device, and parcels waiting in
them for a unit's residents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, utc_field

LOCKER_KIND = "PARCEL_LOCKER"
STATUSES = ("WAITING", "PICKED_UP", "HANDED_OVER")
_WAITING = text("status = 'WAITING'")


class LockerCompartment(SQLModel, table=True):
    """One door of a locker (the locker itself is a Device of kind PARCEL_LOCKER)."""

    __tablename__ = "locker_compartments"
    __table_args__ = (UniqueConstraint("locker_id", "label"),)
    id: int | None = Field(default=None, primary_key=True)
    locker_id: int = fk("devices.id", index=False)
    label: str = Field(max_length=16)
    size: str = Field(default="M", max_length=2)  # S, M, L


class Parcel(SQLModel, table=True):
    __tablename__ = "parcels"
    __table_args__ = (
        CheckConstraint("status IN ('WAITING', 'PICKED_UP', 'HANDED_OVER')", name="status"),
        # A compartment holds one waiting parcel; a pickup code is unique among the
        # waiting parcels of its locker. Both enforced here, not only in the code.
        Index(
            "uq_parcels_compartment_waiting",
            "compartment_id",
            unique=True,
            sqlite_where=_WAITING,
            postgresql_where=_WAITING,
        ),
        Index(
            "uq_parcels_locker_code_waiting",
            "locker_id",
            "code_digest",
            unique=True,
            sqlite_where=_WAITING,
            postgresql_where=_WAITING,
        ),
        Index("ix_parcels_unit_status", "unit_id", "status"),
        Index("ix_parcels_reminder_due", "status", "deposited_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id", index=False)
    locker_id: int = fk("devices.id", index=False)
    compartment_id: int = fk("locker_compartments.id", index=False)
    unit_id: int = fk("units.id", index=False)
    carrier: str | None = Field(default=None, max_length=40)
    tracking_number: str | None = Field(default=None, max_length=64)
    status: str = Field(default="WAITING", max_length=12)
    # The 6-digit pickup code: a keyed SM3 digest (lookup and uniqueness) and SM4-GCM
    # ciphertext (shown to the unit's residents in the app); never stored in clear.
    code_digest: str = Field(max_length=64)
    code_enc: bytes = Field(sa_type=LargeBinary)
    deposited_at: datetime = created_at_field()
    # Wrong codes for this parcel; at the limit its code entry locks for a while.
    failed_attempts: int = 0
    locked_until: datetime | None = utc_field()
    reminder_sent_at: datetime | None = utc_field()
    collected_at: datetime | None = utc_field()
    # The resident who picked it up in the app, or the staff member at the desk.
    collected_by: int | None = fk("users.id", nullable=True, index=False)
