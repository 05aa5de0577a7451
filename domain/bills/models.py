"""Utility bills per unit and period, their line items, and the tariffs that price them.

Integer arithmetic throughout: usage in thousandths of a unit (meters read to 0.001),
unit prices in hundredths of a minor unit (阶梯电价 are quoted to 0.0001 yuan), areas in
hundredths of m² (the register), amounts in minor units (fen).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, json_field, utc_field


class BillKind(enum.StrEnum):
    WATER = "WATER"
    ELECTRICITY = "ELECTRICITY"
    GAS = "GAS"
    HEATING = "HEATING"
    PROPERTY_FEE = "PROPERTY_FEE"
    PARKING_MONTHLY = "PARKING_MONTHLY"


METERED = frozenset({BillKind.WATER, BillKind.ELECTRICITY, BillKind.GAS})
BY_AREA = frozenset({BillKind.HEATING, BillKind.PROPERTY_FEE})
USAGE_UNIT = {BillKind.WATER: "m³", BillKind.ELECTRICITY: "kWh", BillKind.GAS: "m³"}


class BillStatus(enum.StrEnum):
    UNPAID = "UNPAID"
    PROCESSING = "PROCESSING"  # locked by one open payment
    PAID = "PAID"
    OVERDUE = "OVERDUE"
    VOID = "VOID"


PAYABLE = (BillStatus.UNPAID, BillStatus.OVERDUE)


class Tariff(SQLModel, table=True):
    """The price of one kind in one community: tiered bands (metered kinds, bands per
    billing period) or a price per m² of the unit's area (property fee, heating)."""

    __tablename__ = "bill_tariffs"
    __table_args__ = (UniqueConstraint("community_id", "kind"),)
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    kind: str = Field(max_length=20)
    currency: str = Field(default="CNY", max_length=3)
    # Hundredths of a minor unit per m² (area kinds).
    per_m2_centi_minor: int | None = None
    updated_at: datetime = created_at_field()
    updated_by: int | None = fk("users.id", nullable=True, index=False)


class TariffBand(SQLModel, table=True):
    __tablename__ = "bill_tariff_bands"
    __table_args__ = (
        UniqueConstraint("tariff_id", "position"),
        CheckConstraint("unit_price_centi_minor >= 0", name="price_not_negative"),
    )
    id: int | None = Field(default=None, primary_key=True)
    tariff_id: int = fk("bill_tariffs.id", ondelete="CASCADE")
    position: int
    # Upper bound of the band in thousandths of a unit per period; NULL = no limit.
    up_to_milli: int | None = Field(default=None, sa_type=BigInteger)
    unit_price_centi_minor: int


class Bill(SQLModel, table=True):
    __tablename__ = "bills"
    __table_args__ = (
        # Issuing is idempotent per unit, kind and period.
        UniqueConstraint("unit_id", "kind", "period"),
        CheckConstraint("amount_minor >= 0", name="amount_not_negative"),
        # A bill is PROCESSING exactly while one payment holds it.
        CheckConstraint(
            "(status = 'PROCESSING') = (locked_payment_id IS NOT NULL)", name="lock_matches"
        ),
        # PAID names the payment that paid it (a zero bill needs none), and only PAID does.
        CheckConstraint(
            "status <> 'PAID' OR paid_payment_id IS NOT NULL OR amount_minor = 0",
            name="paid_has_payment",
        ),
        CheckConstraint("paid_payment_id IS NULL OR status = 'PAID'", name="payment_means_paid"),
        Index("ix_bills_unit_status", "unit_id", "status"),
        Index("ix_bills_status_due", "status", "due_date"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    unit_id: int = fk("units.id", index=False)
    kind: str = Field(max_length=20)
    period: str = Field(max_length=7)  # YYYY-MM in the community's calendar
    amount_minor: int
    currency: str = Field(default="CNY", max_length=3)
    due_date: date
    status: str = Field(default=BillStatus.UNPAID, max_length=20)
    usage_milli: int | None = Field(default=None, sa_type=BigInteger)
    locked_payment_id: int | None = fk("payments.id", nullable=True, index=False)
    paid_payment_id: int | None = fk("payments.id", nullable=True, index=False)
    paid_at: datetime | None = utc_field()
    issued_at: datetime = created_at_field()
    issued_by: int | None = fk("users.id", nullable=True, index=False)
    due_reminded_at: datetime | None = utc_field()
    overdue_reminded_at: datetime | None = utc_field()


class BillLine(SQLModel, table=True):
    __tablename__ = "bill_lines"
    id: int | None = Field(default=None, primary_key=True)
    bill_id: int = fk("bills.id", ondelete="CASCADE")
    position: int
    # An i18n key and its parameters: the line reads in the viewer's language.
    description_key: str = Field(max_length=100)
    params: dict[str, Any] = json_field()
    quantity_milli: int | None = Field(default=None, sa_type=BigInteger)
    unit: str | None = Field(default=None, max_length=10)
    amount_minor: int


class BillPayment(SQLModel, table=True):
    """Which bills a payment was for (every attempt, failed ones included)."""

    __tablename__ = "bill_payments"
    __table_args__ = (UniqueConstraint("payment_id", "bill_id"),)
    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = fk("payments.id")
    bill_id: int = fk("bills.id")
    amount_minor: int
