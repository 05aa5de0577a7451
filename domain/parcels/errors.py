from __future__ import annotations

from core import i18n
from core.errors import DomainError, Invalid, RateLimited

i18n.register(
    {
        "parcels.wrong_code": {
            "zh-CN": "取件码错误，还可尝试 {left} 次。",
            "en": "Wrong pickup code; {left} attempts left.",
        },
        "parcels.code_locked": {
            "zh-CN": "取件码错误次数过多，请 {minutes} 分钟后再试或到物业前台领取。",
            "en": "Too many wrong codes; try again in {minutes} minutes or ask at the desk.",
        },
        "parcels.not_waiting": {
            "zh-CN": "该快递已被取走。",
            "en": "This parcel has already been collected.",
        },
        "parcels.code_format": {
            "zh-CN": "取件码为 6 位数字。",
            "en": "The pickup code is 6 digits.",
        },
        "parcels.unknown_unit": {
            "zh-CN": "本小区没有房号 {unit}。",
            "en": "There is no unit {unit} in this community.",
        },
        "parcels.unknown_compartment": {
            "zh-CN": "快递柜没有格口 {compartment}。",
            "en": "The locker has no compartment {compartment}.",
        },
        "parcels.compartment_busy": {
            "zh-CN": "格口 {compartment} 里还有未取的快递。",
            "en": "Compartment {compartment} still holds a parcel.",
        },
        "parcels.notify.deposit.title": {
            "zh-CN": "您有快递到了",
            "en": "A parcel has arrived",
        },
        "parcels.notify.deposit.body": {
            "zh-CN": "{carrier}快递已放入{locker}，请在 App 中查看取件码。",
            "en": "Your {carrier} parcel is in {locker}; open the app for the pickup code.",
        },
        "parcels.notify.reminder.title": {
            "zh-CN": "快递待取提醒",
            "en": "Parcel waiting",
        },
        "parcels.notify.reminder.body": {
            "zh-CN": "您在{locker}的快递已存放超过 48 小时，请尽快领取。",
            "en": "Your parcel has been in {locker} for over 48 hours; please collect it.",
        },
        "parcels.notify.collected.title": {
            "zh-CN": "快递已取出",
            "en": "Parcel collected",
        },
        "parcels.notify.collected.body": {
            "zh-CN": "您在{locker}的快递已被领取。",
            "en": "Your parcel from {locker} has been collected.",
        },
    }
)


class WrongCode(Invalid):
    default_key = "parcels.wrong_code"
    # The failed attempt must count even though the request fails.
    keep_changes = True


class CodeLocked(RateLimited):
    default_key = "parcels.code_locked"
    keep_changes = True


class DepositRefused(DomainError):
    """A courier's deposit that cannot be accepted (unknown unit or compartment, busy
    compartment): a 4xx for the locker's HTTP call, a logged skip on MQTT."""

    code = "INVALID"
