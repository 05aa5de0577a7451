"""Alarms (ThingsBoard's lifecycle): one open alarm per originator and type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, text
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, json_field, utc_field

SEVERITIES = ("CRITICAL", "MAJOR", "MINOR", "WARNING", "INDETERMINATE")
SEVERITY_RANK = {s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)}
STATUSES = ("ACTIVE_UNACK", "ACTIVE_ACK", "CLEARED_UNACK", "CLEARED_ACK")
ACTIVE_STATUSES = ("ACTIVE_UNACK", "ACTIVE_ACK")


class Alarm(SQLModel, table=True):
    __tablename__ = "alarms"
    __table_args__ = (
        # The database keeps "one open alarm per (originator, type)" even when two
        # bridge processes raise the same alarm at the same moment.
        Index(
            "uq_alarms_open_originator_type",
            "originator",
            "type",
            unique=True,
            sqlite_where=text("cleared_at IS NULL"),
            postgresql_where=text("cleared_at IS NULL"),
        ),
        CheckConstraint(
            "severity IN ('CRITICAL','MAJOR','MINOR','WARNING','INDETERMINATE')", name="severity"
        ),
        CheckConstraint(
            "status IN ('ACTIVE_UNACK','ACTIVE_ACK','CLEARED_UNACK','CLEARED_ACK')", name="status"
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    device_id: int | None = fk("devices.id", nullable=True)
    elder_id: int | None = fk("elders.id", nullable=True)
    unit_id: int | None = fk("units.id", nullable=True)
    # "device:<id>", "elder:<id>" or "unit:<id>": what the alarm is about.
    originator: str = Field(max_length=64)
    type: str = Field(max_length=64)
    severity: str = Field(max_length=16)
    status: str = Field(default="ACTIVE_UNACK", max_length=16, index=True)
    escalation_level: int = 0
    started_at: datetime = utc_field(nullable=False)
    last_seen_at: datetime = utc_field(nullable=False)
    cleared_at: datetime | None = utc_field()
    cleared_by: int | None = fk("users.id", nullable=True, index=False)
    acknowledged_at: datetime | None = utc_field()
    acknowledged_by: int | None = fk("users.id", nullable=True, index=False)
    occurrences: int = 1
    details: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()
