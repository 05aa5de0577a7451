"""Booking errors and texts (zh-CN and en)."""

from __future__ import annotations

from core import i18n
from core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

i18n.register(
    {
        "booking.slot_full": {
            "zh-CN": "该时段已约满，请选择其他时段。",
            "en": "This slot is fully booked; please pick another one.",
        },
        "booking.no_slot": {
            "zh-CN": "近期没有可预约的时段。",
            "en": "There is no slot with room in the coming weeks.",
        },
        "booking.not_a_slot": {
            "zh-CN": "所选时间不是该服务的可预约时段。",
            "en": "The chosen time is not a slot of this offering.",
        },
        "booking.naive_time": {
            "zh-CN": "时间必须带时区偏移（RFC 3339）。",
            "en": "Times must carry a UTC offset (RFC 3339).",
        },
        "booking.slot_past": {
            "zh-CN": "该时段已开始或已过去。",
            "en": "This slot has already started.",
        },
        "booking.offering_not_found": {
            "zh-CN": "找不到该服务项目。",
            "en": "The service offering was not found.",
        },
        "booking.not_found": {"zh-CN": "找不到该预约。", "en": "The booking was not found."},
        "booking.unit_not_yours": {
            "zh-CN": "您只能为自己的房屋预约。",
            "en": "You can only book for your own unit.",
        },
        "booking.not_caregiver": {
            "zh-CN": "您不是该老人的照护人。",
            "en": "You are not a caregiver of this elder.",
        },
        "booking.elder_unit": {
            "zh-CN": "为老人预约时，房屋必须是老人所住的房屋。",
            "en": "A booking for an elder must be for the elder's unit.",
        },
        "booking.other_community": {
            "zh-CN": "该服务不在此房屋所在的小区提供。",
            "en": "This offering is not available in the unit's community.",
        },
        "booking.illegal_transition": {
            "zh-CN": "预约不能从 {from_status} 变为 {to_status}。",
            "en": "A booking cannot go from {from_status} to {to_status}.",
        },
        "booking.too_early": {
            "zh-CN": "服务时段开始前不能标记为未到场。",
            "en": "A booking cannot be marked as a no-show before its slot starts.",
        },
        "booking.cancel_cutoff": {
            "zh-CN": "已超过取消截止时间（服务开始前 {minutes} 分钟）。",
            "en": "Too late to cancel: the cut-off is {minutes} minutes before the slot.",
        },
        "booking.payment_only_on_completion": {
            "zh-CN": "只能在完成服务时登记付款。",
            "en": "A payment can only be recorded when completing the booking.",
        },
        "booking.not_merchant": {
            "zh-CN": "只有该小区的商家可以发布服务。",
            "en": "Only a merchant of this community can publish offerings.",
        },
        "booking.bad_hours": {
            "zh-CN": "营业时间无效：星期为 1–7，时间格式为 HH:MM，开门早于关门且不重叠。",
            "en": "Invalid opening hours: day 1-7, times as HH:MM, open before close, no overlaps.",
        },
        "booking.bad_range": {
            "zh-CN": "取值必须在 {min} 到 {max} 之间。",
            "en": "The value must be between {min} and {max}.",
        },
        "booking.bad_title": {
            "zh-CN": "标题必须为 1 到 100 个字符。",
            "en": "The title must be 1 to 100 characters.",
        },
        "booking.bad_notes": {
            "zh-CN": "备注最多 500 个字符。",
            "en": "Notes can be at most 500 characters.",
        },
        "booking.bad_window": {
            "zh-CN": "时间范围无效（最长 {days} 天，且开始早于结束）。",
            "en": "Invalid time range (at most {days} days, from before to).",
        },
        # Notifications
        "booking.notify.new.title": {"zh-CN": "新预约", "en": "New booking"},
        "booking.notify.new.body": {
            "zh-CN": "{service}：{time}（{unit}）",
            "en": "{service}: {time} ({unit})",
        },
        "booking.notify.status.title": {
            "zh-CN": "预约状态更新",
            "en": "Booking update",
        },
        "booking.notify.status.CONFIRMED": {
            "zh-CN": "{service}（{time}）已确认。",
            "en": "{service} ({time}) is confirmed.",
        },
        "booking.notify.status.IN_PROGRESS": {
            "zh-CN": "{service}（{time}）服务已开始。",
            "en": "{service} ({time}) has started.",
        },
        "booking.notify.status.COMPLETED": {
            "zh-CN": "{service}（{time}）已完成。",
            "en": "{service} ({time}) is completed.",
        },
        "booking.notify.status.CANCELLED": {
            "zh-CN": "{service}（{time}）已取消。",
            "en": "{service} ({time}) was cancelled.",
        },
        "booking.notify.status.NO_SHOW": {
            "zh-CN": "{service}（{time}）被记录为未到场。",
            "en": "{service} ({time}) was recorded as a no-show.",
        },
    }
)


class SlotFull(DomainError):
    code = "SLOT_FULL"
    default_key = "booking.slot_full"


class OfferingNotFound(NotFound):
    default_key = "booking.offering_not_found"


class BookingNotFound(NotFound):
    default_key = "booking.not_found"


class IllegalTransition(Invalid):
    default_key = "booking.illegal_transition"


__all__ = [
    "BookingNotFound",
    "Conflict",
    "Forbidden",
    "IllegalTransition",
    "Invalid",
    "OfferingNotFound",
    "SlotFull",
]
