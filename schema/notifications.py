"""Inbox, push tokens and notification settings."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from core import i18n
from core.ids import encode_gid
from domain.notifications import models as m
from schema.base import Edge, Node, PageInfo, UserError


@strawberry.enum
class PushPlatform(enum.Enum):
    ANDROID = "ANDROID"
    IOS = "IOS"
    WEB = "WEB"


@strawberry.type
class Notification(Node):
    title: str
    body: str
    category: str
    created_at: datetime
    read_at: datetime | None
    data: JSON | None
    _pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: m.Notification, locale: str) -> Notification:
        """Texts are rendered now, in the reader's language, from the stored keys."""
        assert row.id is not None
        params = row.params or {}
        return cls(
            id=strawberry.ID(encode_gid("Notification", row.id)),
            title=i18n.translate(row.title_key, locale, **params),
            body=i18n.translate(row.body_key, locale, **params),
            category=row.category,
            created_at=row.created_at,
            read_at=row.read_at,
            data=row.data or None,
            _pk=row.id,
        )


@strawberry.type(name="NotificationConnection")
class NotificationConnection:
    edges: list[Edge[Notification]]
    page_info: PageInfo
    total_count: int
    unread_count: int


@strawberry.input
class RegisterPushTokenInput:
    token: str
    platform: PushPlatform


@strawberry.input
class MarkNotificationsReadInput:
    ids: list[strawberry.ID]


@strawberry.type
class NotificationPreference:
    category: str
    push_enabled: bool


@strawberry.type
class QuietHours:
    start: str = strawberry.field(description='Local time "HH:MM" in the community zone.')
    end: str


@strawberry.type
class NotificationSettings:
    preferences: list[NotificationPreference] = strawberry.field(
        description="Categories with an explicit choice; any other category is pushed."
    )
    quiet_hours: QuietHours | None


@strawberry.input
class SetNotificationPreferenceInput:
    category: str
    push_enabled: bool


@strawberry.input
class SetQuietHoursInput:
    start: str | None = strawberry.field(default=None, description="Both null: no quiet hours.")
    end: str | None = None


@strawberry.type
class NotificationSettingsPayload:
    settings: NotificationSettings | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
