from __future__ import annotations

from core import i18n
from core.errors import Invalid, NotFound

i18n.register(
    {
        "workorders.not_found": {"zh-CN": "工单不存在。", "en": "The work order does not exist."},
        "workorders.bad_transition": {
            "zh-CN": "工单不能从 {current} 变为 {wanted}。",
            "en": "A work order cannot go from {current} to {wanted}.",
        },
        "workorders.bad_assignee": {
            "zh-CN": "只能指派给本小区的物业人员。",
            "en": "Only property staff of this community can be assigned.",
        },
        "workorders.needs_assignee": {
            "zh-CN": "请先指派处理人。",
            "en": "Assign someone first.",
        },
        "workorders.notify.assigned_title": {
            "zh-CN": "新工单：{title}",
            "en": "New work order: {title}",
        },
        "workorders.notify.assigned_body": {
            "zh-CN": "{location}，请在 {due} 前处理。",
            "en": "{location}; due by {due}.",
        },
        "workorders.notify.unassigned_title": {
            "zh-CN": "工单无人值守：{title}",
            "en": "No one on duty for: {title}",
        },
        "workorders.notify.unassigned_body": {
            "zh-CN": "没有具备相应技能的值班人员，请手动指派。",
            "en": "No on-duty staff has the skill; please assign someone.",
        },
        "workorders.notify.overdue_title": {
            "zh-CN": "工单超时：{title}",
            "en": "Work order overdue: {title}",
        },
        "workorders.notify.overdue_body": {
            "zh-CN": "已超过处理时限（{due}），当前状态 {status}。",
            "en": "It was due at {due} and is still {status}.",
        },
    }
)


class WorkOrderNotFound(NotFound):
    default_key = "workorders.not_found"


class BadTransition(Invalid):
    default_key = "workorders.bad_transition"


class BadAssignee(Invalid):
    default_key = "workorders.bad_assignee"
