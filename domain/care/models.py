"""Elders living alone and the caregivers they consented to.

The foundation of elder care: booking, bills and alarms ask "may this caregiver act for
this elder?" here. Check-in plans, check-ins and visits build on these tables.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, json_field, utc_field


class Elder(SQLModel, table=True):
    """A resident flagged as an elder (living alone) in one unit."""

    __tablename__ = "elders"
    __table_args__ = (UniqueConstraint("user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("users.id")
    community_id: int = fk("communities.id")
    unit_id: int = fk("units.id")
    created_at: datetime = created_at_field()
    last_check_in_at: datetime | None = utc_field()
    # Periodic visits (定期寻访): None means no cadence set.
    visit_cadence_days: int | None = None
    last_visit_at: datetime | None = utc_field()
    # Kept in step with the cadence so that the overdue sweep and list use an index.
    next_visit_due_at: datetime | None = utc_field(index=True)
    # The due date a reminder was last sent for: one reminder per overdue visit.
    visit_reminded_for: datetime | None = utc_field()


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
    invited_by: int | None = fk("users.id", nullable=True, index=False)
    removed_by: int | None = fk("users.id", nullable=True, index=False)


class CheckInPlan(SQLModel, table=True):
    """Daily check-in windows of one elder, and who is called on when one is missed.

    `next_window_start`/`next_due_at` describe the next window occurrence to judge
    (due = its end plus grace, in UTC): the sweep finds due plans by an index, and the
    check-in mutation updates `last_check_in_at` under the same row lock the sweep
    takes, so the two never judge a window on stale data."""

    __tablename__ = "check_in_plans"
    __table_args__ = (
        CheckConstraint("grace_minutes >= 0", name="grace_nonnegative"),
        Index("ix_check_in_plans_due", "next_due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = Field(foreign_key="elders.id", unique=True)
    community_id: int = fk("communities.id")
    # [{"start": "08:00", "end": "10:00"}, ...] in the community's time zone.
    windows: list[dict[str, str]] = json_field(list)
    grace_minutes: int = 30
    # Explicit chain (caregivers and staff, in order); on-duty staff come after it.
    escalation_user_ids: list[int] = json_field(list)
    # Minutes to wait for an acknowledgement at each level; the last one repeats.
    ack_timeout_minutes: list[int] = json_field(list)
    paused_until: datetime | None = utc_field()
    pause_reason: str | None = Field(default=None, max_length=200)
    next_window_start: datetime | None = utc_field()
    next_due_at: datetime | None = utc_field()
    last_check_in_at: datetime | None = utc_field()
    updated_at: datetime = created_at_field()
    updated_by: int | None = fk("users.id", nullable=True, index=False)


class CheckIn(SQLModel, table=True):
    """One press of the big button, by the elder or by a caregiver on their behalf."""

    __tablename__ = "check_ins"
    __table_args__ = (Index("ix_check_ins_elder_at", "elder_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = fk("elders.id", index=False)
    kind: str = Field(max_length=20)  # OK | NEED_HELP
    at: datetime = created_at_field()
    note: str | None = Field(default=None, max_length=500)
    by_user_id: int = fk("users.id", index=False)
    on_behalf: bool = False


class Visit(SQLModel, table=True):
    """A periodic home visit (定期寻访) by property staff."""

    __tablename__ = "elder_visits"
    __table_args__ = (Index("ix_elder_visits_elder_at", "elder_id", "visited_at"),)
    id: int | None = Field(default=None, primary_key=True)
    elder_id: int = fk("elders.id", index=False)
    community_id: int = fk("communities.id")
    visited_at: datetime = utc_field(nullable=False)
    visitor_user_id: int = fk("users.id", index=False)
    logged_by: int = fk("users.id", index=False)
    notes: str | None = Field(default=None, max_length=2000)
    # WELL | CONCERN | URGENT
    wellbeing: str = Field(default="WELL", max_length=20)
    created_at: datetime = created_at_field()


class CareEscalation(SQLModel, table=True):
    """Where a care alarm stands in its escalation chain. The sweep finds the ones due
    for the next level by `next_at`; an acknowledgement or a clear sets it to None."""

    __tablename__ = "care_escalations"
    __table_args__ = (Index("ix_care_escalations_next_at", "next_at"),)
    id: int | None = Field(default=None, primary_key=True)
    alarm_id: int = Field(foreign_key="alarms.id", unique=True)
    elder_id: int = fk("elders.id")
    level: int = 0
    next_at: datetime | None = utc_field()
    # Everyone told so far, for the "all clear".
    alerted: list[int] = json_field(list)
