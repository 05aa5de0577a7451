"""Elder-care errors and texts (zh-CN and en)."""

from __future__ import annotations

from core import i18n
from core.errors import Conflict, Forbidden, Invalid, NotFound

i18n.register(
    {
        "care.elder_not_found": {"zh-CN": "找不到该老人。", "en": "Elder not found."},
        "care.not_elder": {
            "zh-CN": "您不是登记的独居老人，请指定老人。",
            "en": "You are not registered as an elder; name the elder.",
        },
        "care.not_allowed": {
            "zh-CN": "您无权为该老人执行此操作。",
            "en": "You may not do this for this elder.",
        },
        "care.link_not_found": {
            "zh-CN": "找不到该看护人邀请。",
            "en": "Caregiver invitation not found.",
        },
        "care.link_removed": {
            "zh-CN": "该看护关系已解除。",
            "en": "This caregiver was removed.",
        },
        "care.already_linked": {
            "zh-CN": "此人已是该老人的看护人或已被邀请。",
            "en": "This person is already a caregiver of the elder or invited.",
        },
        "care.caregiver_not_member": {
            "zh-CN": "看护人须是本小区的注册用户。",
            "en": "The caregiver must be a member of the community.",
        },
        "care.self_caregiver": {
            "zh-CN": "老人不能成为自己的看护人。",
            "en": "An elder cannot be their own caregiver.",
        },
        "care.already_elder": {
            "zh-CN": "此人已登记为老人。",
            "en": "This person is already registered as an elder.",
        },
        "care.not_resident_of_unit": {
            "zh-CN": "此人不是该房屋的业主或住户。",
            "en": "This person does not live in that unit.",
        },
        "care.windows_required": {
            "zh-CN": "至少需要一个签到时段，最多 {max} 个。",
            "en": "Give at least one check-in window and at most {max}.",
        },
        "care.window_format": {
            "zh-CN": "时段格式应为 HH:MM，且开始与结束不能相同。",
            "en": "Windows are HH:MM and must not start and end at the same time.",
        },
        "care.windows_overlap": {
            "zh-CN": "签到时段不能重叠。",
            "en": "Check-in windows must not overlap.",
        },
        "care.grace_range": {
            "zh-CN": "宽限时间须在 0 到 {max} 分钟之间。",
            "en": "Grace must be between 0 and {max} minutes.",
        },
        "care.ack_timeout_range": {
            "zh-CN": "确认超时须在 {min} 到 {max} 分钟之间。",
            "en": "Acknowledgement timeouts must be between {min} and {max} minutes.",
        },
        "care.escalation_member": {
            "zh-CN": "升级链中的人必须是该老人同意的看护人或物业员工。",
            "en": "The escalation chain may only name the elder's consented caregivers "
            "or property staff.",
        },
        "care.escalation_duplicate": {
            "zh-CN": "升级链中不能重复同一人。",
            "en": "The escalation chain names someone twice.",
        },
        "care.pause_range": {
            "zh-CN": "暂停须在将来结束，且不超过 {days} 天。",
            "en": "A pause must end in the future and within {days} days.",
        },
        "care.no_plan": {
            "zh-CN": "该老人还没有签到计划。",
            "en": "The elder has no check-in plan yet.",
        },
        "care.note_too_long": {
            "zh-CN": "备注不能超过 {max} 个字符。",
            "en": "The note may have at most {max} characters.",
        },
        "care.visit_time": {
            "zh-CN": "寻访时间不能在将来。",
            "en": "A visit cannot be in the future.",
        },
        "care.visitor_not_staff": {
            "zh-CN": "寻访人必须是本小区的物业员工。",
            "en": "The visitor must be property staff of the community.",
        },
        # notifications
        "care.missed.title": {"zh-CN": "未按时签到", "en": "Check-in missed"},
        "care.missed.body": {
            "zh-CN": "{elder} 未在 {window} 时段内签到，请尽快联系确认。",
            "en": "{elder} did not check in during {window}. Please check on them.",
        },
        "care.help.title": {"zh-CN": "紧急求助", "en": "Help requested"},
        "care.help.body": {
            "zh-CN": "{elder} 按下了求助按钮，请立即联系！",
            "en": "{elder} asked for help. Please respond now!",
        },
        "care.allclear.title": {"zh-CN": "已签到，解除提醒", "en": "All clear"},
        "care.allclear.body": {
            "zh-CN": "{elder} 已签到，之前的提醒已解除。",
            "en": "{elder} has checked in; the earlier alert is cleared.",
        },
        "care.device.title": {"zh-CN": "老人家中报警", "en": "Alarm at an elder's home"},
        "care.device.body": {
            "zh-CN": "{elder} 家中的设备报警：{type}。",
            "en": "A device at {elder}'s home raised {type}.",
        },
        "care.visit_due.title": {"zh-CN": "寻访逾期", "en": "Visit overdue"},
        "care.visit_due.body": {
            "zh-CN": "{elder}（{unit}）的定期寻访已逾期。",
            "en": "The periodic visit to {elder} ({unit}) is overdue.",
        },
        "care.visit_concern.title": {"zh-CN": "寻访发现情况", "en": "Visit raised a concern"},
        "care.visit_concern.body": {
            "zh-CN": "物业寻访 {elder} 时记录了需关注的情况。",
            "en": "Staff visiting {elder} noted a concern.",
        },
        "care.invited.title": {"zh-CN": "看护人邀请", "en": "Caregiver invitation"},
        "care.invited.body": {
            "zh-CN": "{caregiver} 希望成为您的看护人，请确认是否同意。",
            "en": "{caregiver} would like to be your caregiver. Do you agree?",
        },
    }
)


class ElderNotFound(NotFound):
    default_key = "care.elder_not_found"


class NotAllowed(Forbidden):
    default_key = "care.not_allowed"


class LinkNotFound(NotFound):
    default_key = "care.link_not_found"


class AlreadyLinked(Conflict):
    default_key = "care.already_linked"


class InvalidPlan(Invalid):
    default_key = "error.invalid"
