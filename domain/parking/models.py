"""Parking: tariffs, lots, lanes bound to gates and cameras, vehicles, sessions, EV
chargers and charging sessions, and the income they bring in.

Money is integer minor units; times are aware UTC; plates are stored normalised
(domain.parking.plates.normalize_plate).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, utc_field

ENTRY = "ENTRY"
EXIT = "EXIT"

OPEN = "OPEN"
PAID = "PAID"
EXITED = "EXITED"


class ParkingTariff(SQLModel, table=True):
    """The price rules of a lot (see domain.parking.tariff for what each one means)."""

    __tablename__ = "parking_tariffs"
    __table_args__ = (
        CheckConstraint("hourly_minor >= 0", name="hourly_not_negative"),
        CheckConstraint("free_minutes >= 0", name="free_not_negative"),
        CheckConstraint("forgive_minutes >= 0 AND forgive_minutes < 60", name="forgive_range"),
        CheckConstraint("grace_minutes >= 0", name="grace_not_negative"),
        CheckConstraint("reentry_minutes >= 0", name="reentry_not_negative"),
        CheckConstraint("daily_cap_minor IS NULL OR daily_cap_minor >= 0", name="cap_not_negative"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    name: str = Field(max_length=100)
    currency: str = Field(default="CNY", max_length=3)
    hourly_minor: int
    free_minutes: int = 15
    daily_cap_minor: int | None = None
    forgive_minutes: int = 0
    reentry_minutes: int = 60
    grace_minutes: int = 15
    created_at: datetime = created_at_field()


class ParkingLot(SQLModel, table=True):
    __tablename__ = "parking_lots"
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    tariff_id: int = fk("parking_tariffs.id")
    name: str = Field(max_length=100)
    # Spaces on the community's common area: their income belongs to the owners
    # (COMMON_INCOME ledger), not to the property company.
    common_area: bool = True
    created_at: datetime = created_at_field()


class ParkingLane(SQLModel, table=True):
    """An entry or exit lane: its barrier gate and its plate camera are devices."""

    __tablename__ = "parking_lanes"
    __table_args__ = (
        CheckConstraint("direction IN ('ENTRY', 'EXIT')", name="direction"),
        UniqueConstraint("camera_device_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    lot_id: int = fk("parking_lots.id")
    name: str = Field(max_length=100)
    direction: str = Field(max_length=5)
    gate_device_id: int | None = fk("devices.id", nullable=True)
    camera_device_id: int | None = fk("devices.id", nullable=True, index=False)
    # Part of the signed QR token: bumping it voids every printed copy of the old code.
    qr_version: int = 1
    # The vehicle waiting at this exit lane with something to pay: scanning the lane's
    # QR code shows this session. (No foreign key: sessions also point at lanes.)
    waiting_session_id: int | None = None
    waiting_since: datetime | None = utc_field()


class ResidentVehicle(SQLModel, table=True):
    """A resident's registered car; a valid monthly pass lets it leave without paying."""

    __tablename__ = "resident_vehicles"
    __table_args__ = (UniqueConstraint("community_id", "plate"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    plate: str = Field(max_length=12)
    owner_user_id: int = fk("users.id")
    unit_id: int | None = fk("units.id", nullable=True, index=False)
    # Monthly pass validity, inclusive local dates in the community's time zone.
    pass_valid_from: date | None = None
    pass_valid_until: date | None = None
    created_at: datetime = created_at_field()


class VisitorVehicle(SQLModel, table=True):
    """A visitor's car registered by a resident (the host), for a window of time."""

    __tablename__ = "visitor_vehicles"
    __table_args__ = (Index("ix_visitor_vehicles_community_plate", "community_id", "plate"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id", index=False)
    plate: str = Field(max_length=12)
    host_user_id: int = fk("users.id")
    valid_from: datetime = utc_field(nullable=False)
    valid_until: datetime = utc_field(nullable=False)
    created_at: datetime = created_at_field()


class ParkingSession(SQLModel, table=True):
    """One stay of one vehicle in one lot, from the entry camera to the exit camera."""

    __tablename__ = "parking_sessions"
    __table_args__ = (
        CheckConstraint("status IN ('OPEN', 'PAID', 'EXITED')", name="status"),
        CheckConstraint("paid_minor >= 0", name="paid_not_negative"),
        # One stay at a time per vehicle and lot, however often the camera fires.
        Index(
            "uq_parking_sessions_open_plate",
            "lot_id",
            "plate",
            unique=True,
            sqlite_where=text("exited_at IS NULL"),
            postgresql_where=text("exited_at IS NULL"),
        ),
        Index("ix_parking_sessions_plate_exited", "plate", "exited_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    lot_id: int = fk("parking_lots.id", index=False)
    plate: str = Field(max_length=12)
    status: str = Field(default=OPEN, max_length=8)
    entered_at: datetime = utc_field(nullable=False)
    entry_lane_id: int | None = fk("parking_lanes.id", nullable=True, index=False)
    exited_at: datetime | None = utc_field()
    exit_lane_id: int | None = fk("parking_lanes.id", nullable=True, index=False)
    # Free minutes this stay may use: less than the tariff's on a quick re-entry.
    free_allowance_minutes: int
    previous_session_id: int | None = fk("parking_sessions.id", nullable=True, index=False)
    currency: str = Field(default="CNY", max_length=3)
    paid_minor: int = 0
    paid_until: datetime | None = utc_field()
    # A monthly pass let the vehicle out (nothing was charged).
    exited_on_pass: bool = False
    created_at: datetime = created_at_field()


class EvCharger(SQLModel, table=True):
    """A charging point; the device reports its status and its energy meter."""

    __tablename__ = "ev_chargers"
    __table_args__ = (
        UniqueConstraint("device_id"),
        CheckConstraint("price_per_kwh_minor >= 0", name="price_not_negative"),
        CheckConstraint("service_fee_minor >= 0", name="fee_not_negative"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    lot_id: int | None = fk("parking_lots.id", nullable=True, index=False)
    device_id: int = fk("devices.id", index=False)
    name: str = Field(max_length=100)
    currency: str = Field(default="CNY", max_length=3)
    price_per_kwh_minor: int
    # A flat service fee per charging session.
    service_fee_minor: int = 0
    # AVAILABLE, CHARGING, FAULT (as the charger last reported it)
    status: str = Field(default="AVAILABLE", max_length=16)
    status_at: datetime | None = utc_field()


class ChargingSession(SQLModel, table=True):
    """One charge: energy from the charger's meter, priced at kWh × price + service fee."""

    __tablename__ = "charging_sessions"
    __table_args__ = (
        CheckConstraint("status IN ('CHARGING', 'UNPAID', 'PAID')", name="status"),
        # At most one charge in progress per charger.
        Index(
            "uq_charging_sessions_active",
            "charger_id",
            unique=True,
            sqlite_where=text("status = 'CHARGING'"),
            postgresql_where=text("status = 'CHARGING'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    charger_id: int = fk("ev_chargers.id")
    plate: str | None = Field(default=None, max_length=12)
    user_id: int | None = fk("users.id", nullable=True)
    status: str = Field(default="CHARGING", max_length=8)
    started_at: datetime = utc_field(nullable=False)
    ended_at: datetime | None = utc_field()
    # Meter readings in watt-hours (integers: no floats where money follows).
    meter_start_wh: int
    meter_end_wh: int | None = None
    energy_wh: int = 0
    currency: str = Field(default="CNY", max_length=3)
    amount_minor: int = 0
    paid_at: datetime | None = utc_field()
    created_at: datetime = created_at_field()


class ParkingPayment(SQLModel, table=True):
    """Links a payment to the stay or the charge it pays for, with the instant its
    amount was priced at (the stay is paid until then)."""

    __tablename__ = "parking_payments"
    __table_args__ = (
        UniqueConstraint("payment_id"),
        CheckConstraint(
            "(parking_session_id IS NULL) <> (charging_session_id IS NULL)", name="one_target"
        ),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
    )
    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = fk("payments.id", index=False)
    parking_session_id: int | None = fk("parking_sessions.id", nullable=True)
    charging_session_id: int | None = fk("charging_sessions.id", nullable=True)
    payer_user_id: int = fk("users.id", index=False)
    amount_minor: int
    priced_at: datetime = utc_field(nullable=False)
    # What the stay had been paid when this payment was priced: if more has been paid
    # by the time it succeeds, another payment covered the same time (refund this one).
    paid_before_minor: int = 0
    # PENDING, SUCCEEDED, FAILED, REFUNDED (not delivered: the stay was already paid
    # or over, so the payment went back)
    status: str = Field(default="PENDING", max_length=12)
    # The COMMON_INCOME ledger entry this payment's income was posted as.
    ledger_entry_id: int | None = None
    created_at: datetime = created_at_field()
