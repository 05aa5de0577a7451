"""Devices, their raw readings, hourly usage roll-ups and commands sent to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, json_field, utc_field

DEFAULT_INACTIVITY_TIMEOUT_S = 600


class Device(SQLModel, table=True):
    __tablename__ = "devices"
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    building_id: int | None = fk("buildings.id", nullable=True)
    # In-unit devices (an elder's smoke and gas detectors, a unit's meters).
    unit_id: int | None = fk("units.id", nullable=True)
    code: str = Field(max_length=64, unique=True)
    # A contract DeviceKind name (SMOKE_DETECTOR, ...); capabilities may add kinds
    # (PARKING_CAMERA, PARCEL_LOCKER) that the API shows as OTHER.
    kind: str = Field(max_length=32, index=True)
    floor: int | None = None
    location: str | None = Field(default=None, max_length=200)
    # argon2id of the device's own credential; never stored in clear.
    credential_hash: str = Field(max_length=255)
    inactivity_timeout_s: int = DEFAULT_INACTIVITY_TIMEOUT_S
    last_seen_at: datetime | None = utc_field()
    online: bool = False
    # Latest value per metric and the reading time it came from ("_ts", epoch ms).
    latest: dict[str, Any] = json_field()
    # Per-device settings, e.g. {"rules": {"OVER_TEMPERATURE": [...]}} overriding the
    # kind's default alarm rules (see domain.alarms.rules).
    config: dict[str, Any] = json_field()
    # Pending breaches of the rules (since/count per rule) between readings, kept with
    # the device so that any bridge process can evaluate its next reading.
    rule_state: dict[str, Any] = json_field()
    bad_payloads: int = 0
    created_at: datetime = created_at_field()


class DeviceReading(SQLModel, table=True):
    """Raw readings, kept for the retention period (see jobs.purge_old_readings). Only
    the time is indexed: each index costs every insert, and reads go to roll-ups."""

    __tablename__ = "device_readings"
    id: int | None = Field(
        default=None,
        primary_key=True,
        # BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER primary key.
        sa_type=BigInteger().with_variant(Integer(), "sqlite"),
    )
    device_id: int = fk("devices.id", index=False)
    ts: datetime = utc_field(nullable=False, index=True)
    values: dict[str, Any] = json_field()


class DeviceUsageHourly(SQLModel, table=True):
    """Per device, metric and hour: min/max/sum/count, folded in as readings arrive."""

    __tablename__ = "device_usage_hourly"
    __table_args__ = (UniqueConstraint("device_id", "metric", "hour"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = fk("devices.id", index=False)
    metric: str = Field(max_length=64)
    hour: datetime = utc_field(nullable=False)
    min_value: float
    max_value: float
    sum_value: float
    count: int


class DeviceCommand(SQLModel, table=True):
    """A command to a device (open the gate): recorded with the change that caused it,
    published after commit, retried until acknowledged or timed out."""

    __tablename__ = "device_commands"
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = fk("devices.id")
    name: str = Field(max_length=64)
    params: dict[str, Any] = json_field()
    # PENDING (not yet published), SENT, ACKED, FAILED (device said no), TIMED_OUT
    status: str = Field(default="PENDING", max_length=16, index=True)
    attempts: int = 0
    created_at: datetime = created_at_field()
    sent_at: datetime | None = utc_field()
    acked_at: datetime | None = utc_field()
    expires_at: datetime = utc_field(nullable=False)
    result: dict[str, Any] = json_field()
