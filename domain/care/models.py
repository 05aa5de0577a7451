"""Elders living alone and the caregivers they consented to.

The foundation of elder care: booking, bills and alarms ask "may this caregiver act for
this elder?" here. Check-in plans, check-ins and visits build on these tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, utc_field


class Elder(SQLModel, table=True):
    """A resident flagged as an elder (living alone) in one unit."""

    __tablename__ = "elders"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("users.id")
    community_id: int = fk("communities.id")
    unit_id: int = fk("units.id")
    created_at: datetime = created_at_field()


class CaregiverLink(SQLModel, table=True):
    """A caregiver of an elder, in escalation order. Only a consented, not removed link
    gives access; removing it takes effect at once."""

    __tablename__ = "caregiver_links"
    __table_args__ = (UniqueConstraint("elder_id", "caregiver_user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = fk("elders.id")
    caregiver_user_id: int = fk("users.id")
    position: int = 0
    invited_at: datetime = created_at_field()
    # Consent by the elder, or by staff on their behalf (recorded in consented_by).
    consented_at: datetime | None = utc_field()
    consented_by: int | None = fk("users.id", nullable=True, index=False)
    removed_at: datetime | None = utc_field()
