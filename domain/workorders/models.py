"""Work orders opened by serious alarms, and who is on duty to take them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, json_field, utc_field

WORK_ORDER_STATUSES = ("OPEN", "ASSIGNED", "IN_PROGRESS", "DONE", "CANCELLED")
OPEN_STATUSES = ("OPEN", "ASSIGNED", "IN_PROGRESS")


class WorkOrder(SQLModel, table=True):
    __tablename__ = "work_orders"
    __table_args__ = (
        CheckConstraint(
            "status IN ('OPEN','ASSIGNED','IN_PROGRESS','DONE','CANCELLED')", name="status"
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    # One work order per alarm, however often the alarm repeats.
    alarm_id: int | None = Field(default=None, foreign_key="alarms.id", unique=True)
    building_id: int | None = fk("buildings.id", nullable=True, index=False)
    title: str = Field(max_length=200)
    skill: str | None = Field(default=None, max_length=32)
    severity: str = Field(max_length=16)
    status: str = Field(default="OPEN", max_length=16, index=True)
    assignee_id: int | None = fk("users.id", nullable=True)
    created_at: datetime = created_at_field()
    due_at: datetime | None = utc_field()
    escalated_at: datetime | None = utc_field()
    closed_at: datetime | None = utc_field()
    notes: list[Any] = json_field(list)


class StaffProfile(SQLModel, table=True):
    """A staff member's skills and home building in one community."""

    __tablename__ = "staff_profiles"
    __table_args__ = (UniqueConstraint("user_id", "community_id"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("users.id")
    community_id: int = fk("communities.id")
    skills: list[str] = json_field(list)
    base_building_id: int | None = fk("buildings.id", nullable=True, index=False)


class DutyShift(SQLModel, table=True):
    """A recurring on-duty window in the community's local time. `weekday` 0=Monday,
    None = every day; an end before the start runs past midnight."""

    __tablename__ = "duty_shifts"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("users.id")
    community_id: int = fk("communities.id")
    weekday: int | None = None
    start_minute: int
    end_minute: int
