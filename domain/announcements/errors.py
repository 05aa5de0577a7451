from __future__ import annotations

from core import i18n
from core.errors import Invalid

i18n.register(
    {
        "announcements.title_required": {
            "zh-CN": "请至少填写一种语言的标题（不超过 200 字）。",
            "en": "Give a title in at least one language (at most 200 characters).",
        },
        "announcements.body_required": {
            "zh-CN": "请至少填写一种语言的正文（不超过 10000 字）。",
            "en": "Give a body in at least one language (at most 10,000 characters).",
        },
        "announcements.buildings_invalid": {
            "zh-CN": "所选楼栋不属于该小区。",
            "en": "The chosen buildings do not belong to this community.",
        },
        "announcements.emergency_not_scheduled": {
            "zh-CN": "紧急通知须立即发布，不能定时。",
            "en": "An emergency announcement goes out at once; it cannot be scheduled.",
        },
        "announcements.notify.title": {
            "zh-CN": "【公告】{title_zh}",
            "en": "Notice: {title_en}",
        },
        "announcements.notify.title_emergency": {
            "zh-CN": "【紧急通知】{title_zh}",
            "en": "EMERGENCY: {title_en}",
        },
        "announcements.notify.body": {"zh-CN": "{excerpt_zh}", "en": "{excerpt_en}"},
    }
)


class TitleRequired(Invalid):
    default_key = "announcements.title_required"


class BodyRequired(Invalid):
    default_key = "announcements.body_required"


class BuildingsInvalid(Invalid):
    default_key = "announcements.buildings_invalid"
