"""Inbox, transactional outbox, push tokens, deliveries and preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from domain.base import created_at_field, fk, json_field, utc_field


class Notification(SQLModel, table=True):
    """One inbox entry per recipient. Texts are message keys rendered in the reader's
    language when read, so a user who switches language sees the inbox in it."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("users.id")
    community_id: int | None = fk("communities.id", nullable=True, index=False)
    category: str = Field(max_length=40)
    severity: str = Field(default="NORMAL", max_length=20)
    title_key: str = Field(max_length=100)
    body_key: str = Field(max_length=100)
    params: dict[str, Any] = json_field()
    data: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()
    read_at: datetime | None = utc_field()


class OutboxMessage(SQLModel, table=True):
    """A push to send, written in the same transaction as the event that caused it."""

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = fk("notifications.id")
    user_id: int = fk("users.id", index=False)
    # PENDING → SENDING (claimed, with a lease) → SENT | FAILED | SKIPPED
    status: str = Field(default="PENDING", max_length=12)
    attempts: int = 0
    next_attempt_at: datetime = created_at_field()
    lease_until: datetime | None = utc_field()
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_at_field()
    sent_at: datetime | None = utc_field()


class PushToken(SQLModel, table=True):
    __tablename__ = "push_tokens"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("users.id")
    token: str = Field(max_length=4096, unique=True)
    platform: str = Field(max_length=10)
    created_at: datetime = created_at_field()
    last_registered_at: datetime = created_at_field()


class Delivery(SQLModel, table=True):
    """What happened to one push to one device token."""

    __tablename__ = "notification_deliveries"
    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = fk("notification_outbox.id")
    token_id: int | None = Field(default=None, index=True)
    status: str = Field(max_length=20)  # DELIVERED | FAILED | UNREGISTERED | INVALID
    provider_message_id: str | None = Field(default=None, max_length=200)
    error: str | None = Field(default=None, max_length=500)
    at: datetime = created_at_field()


class NotificationPreference(SQLModel, table=True):
    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("user_id", "category"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("users.id")
    category: str = Field(max_length=40)
    push_enabled: bool = True


class QuietHours(SQLModel, table=True):
    """Local wall-clock window (in the user's community time zone) without pushes."""

    __tablename__ = "notification_quiet_hours"
    user_id: int = Field(primary_key=True, foreign_key="users.id")
    start: str = Field(max_length=5)  # "22:00"
    end: str = Field(max_length=5)  # "07:00"


class PushWindow(SQLModel, table=True):
    """When a user last got a rate-limited (NORMAL) push. Taken with one conditional
    UPDATE, so concurrent workers cannot both push inside the same hour."""

    __tablename__ = "notification_push_windows"
    user_id: int = Field(primary_key=True, foreign_key="users.id")
    last_push_at: datetime = utc_field(nullable=False)
