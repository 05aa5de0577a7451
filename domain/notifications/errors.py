"""Notification errors and texts (zh-CN and en)."""

from __future__ import annotations

from core import i18n
from core.errors import Invalid

i18n.register(
    {
        "notifications.error.bad_token": {
            "zh-CN": "推送令牌无效。",
            "en": "The push token is invalid.",
        },
        "notifications.error.too_many_ids": {
            "zh-CN": "一次最多标记 {max} 条通知。",
            "en": "At most {max} notifications can be marked at once.",
        },
        "notifications.error.bad_category": {
            "zh-CN": "通知类别无效。",
            "en": "The notification category is invalid.",
        },
        "notifications.error.bad_time": {
            "zh-CN": "时间格式应为 HH:MM（00:00–23:59）。",
            "en": "Times must be HH:MM (00:00–23:59).",
        },
        # A generic notice other capabilities and tests can send with their own texts
        # in params (e.g. staff broadcasts).
        "notifications.notice.title": {"zh-CN": "{title}", "en": "{title}"},
        "notifications.notice.body": {"zh-CN": "{body}", "en": "{body}"},
    }
)


class BadPushToken(Invalid):
    default_key = "notifications.error.bad_token"


class TooManyIds(Invalid):
    default_key = "notifications.error.too_many_ids"


class BadCategory(Invalid):
    default_key = "notifications.error.bad_category"


class BadTime(Invalid):
    default_key = "notifications.error.bad_time"
