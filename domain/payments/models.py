"""Payments of any purpose (bills, parking, EV charging), their refunds, the provider's
webhook events we have stored, and what the reconciliation job found."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, json_field, utc_field


class PaymentStatus(enum.StrEnum):
    REQUIRES_ACTION = "REQUIRES_ACTION"  # created; the payer still has to confirm
    PROCESSING = "PROCESSING"  # the provider is working on it
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"  # refunded in full (partial refunds keep SUCCEEDED)


OPEN_STATUSES = (PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING)


class Payment(SQLModel, table=True):
    __tablename__ = "payments"
    __table_args__ = (
        # A retried request (same payer, same key) finds the first payment.
        UniqueConstraint("payer_user_id", "idempotency_key"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refund_bounds"
        ),
        Index("ix_payments_status_created", "status", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    community_id: int = fk("communities.id")
    payer_user_id: int = fk("users.id")
    purpose: str = Field(max_length=30)
    amount_minor: int
    currency: str = Field(max_length=3)
    status: str = Field(default=PaymentStatus.REQUIRES_ACTION, max_length=20)
    provider: str = Field(max_length=20)
    # The provider's object (a Stripe PaymentIntent id); one payment per intent.
    provider_ref: str | None = Field(default=None, max_length=255, unique=True)
    # The PaymentIntent client secret, SM4-GCM encrypted; dropped once settled.
    client_secret_enc: bytes | None = Field(default=None, sa_type=LargeBinary)
    idempotency_key: str = Field(max_length=200)
    # Digest of what was asked for: a key reused for a different request is refused.
    fingerprint: str = Field(max_length=64)
    details: dict[str, Any] = json_field()
    refunded_minor: int = 0
    # Offline payments: the receipt number written on the paper receipt.
    receipt_number: str | None = Field(default=None, max_length=64)
    failure_code: str | None = Field(default=None, max_length=100)
    created_at: datetime = created_at_field()
    updated_at: datetime | None = utc_field()
    settled_at: datetime | None = utc_field()


class PaymentRefund(SQLModel, table=True):
    __tablename__ = "payment_refunds"
    __table_args__ = (
        UniqueConstraint("payment_id", "idempotency_key"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
    )
    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = fk("payments.id")
    amount_minor: int
    status: str = Field(default="PENDING", max_length=20)  # PENDING SUCCEEDED FAILED
    provider_ref: str | None = Field(default=None, max_length=255)
    reason: str | None = Field(default=None, max_length=500)
    idempotency_key: str = Field(max_length=200)
    created_by: int | None = fk("users.id", nullable=True, index=False)
    created_at: datetime = created_at_field()
    failure_code: str | None = Field(default=None, max_length=100)


class WebhookEvent(SQLModel, table=True):
    """Every verified provider event, stored once (its id is unique) before any work."""

    __tablename__ = "payment_webhook_events"
    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=20)
    event_id: str = Field(max_length=255, unique=True)
    type: str = Field(max_length=100)
    intent_ref: str | None = Field(default=None, max_length=255, index=True)
    received_at: datetime = created_at_field()
    processed_at: datetime | None = utc_field(index=True)
    attempts: int = 0
    result: str | None = Field(default=None, max_length=40)
    last_error: str | None = Field(default=None, max_length=500)


class ReconciliationEntry(SQLModel, table=True):
    """One open payment the reconciliation job checked against the provider."""

    __tablename__ = "payment_reconciliations"
    id: int | None = Field(default=None, primary_key=True)
    run_at: datetime = utc_field(nullable=False, index=True)
    community_id: int = fk("communities.id")
    payment_id: int = fk("payments.id")
    status_before: str = Field(max_length=20)
    provider_status: str | None = Field(default=None, max_length=40)
    action: str = Field(max_length=20)  # SETTLED FAILED UNCHANGED ERROR
    detail: str | None = Field(default=None, max_length=500)
