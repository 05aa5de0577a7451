from __future__ import annotations

from core import i18n
from core.errors import Invalid

i18n.register(
    {
        "devices.bad_payload": {
            "zh-CN": "设备数据格式无效：{reason}",
            "en": "The device payload is invalid: {reason}",
        },
        "devices.unknown_device": {
            "zh-CN": "设备不存在。",
            "en": "The device does not exist.",
        },
    }
)


class BadPayload(Invalid):
    """A telemetry payload that is not one of the documented shapes."""

    default_key = "devices.bad_payload"

    def __init__(self, reason: str) -> None:
        super().__init__(reason=reason)
        self.reason = reason


class UnknownDevice(Invalid):
    code = "NOT_FOUND"
    default_key = "devices.unknown_device"
