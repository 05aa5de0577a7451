from __future__ import annotations

from core import i18n
from core.errors import NotFound

i18n.register(
    {
        "alarms.not_found": {"zh-CN": "告警不存在。", "en": "The alarm does not exist."},
        "alarms.not_allowed": {
            "zh-CN": "您无权处理此告警。",
            "en": "You may not act on this alarm.",
        },
    }
)


class AlarmNotFound(NotFound):
    default_key = "alarms.not_found"
