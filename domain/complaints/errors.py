from __future__ import annotations

from core import i18n
from core.errors import Conflict, Invalid

i18n.register(
    {
        "complaints.category": {"zh-CN": "请选择投诉类别。", "en": "Choose a category."},
        "complaints.body": {
            "zh-CN": "请描述问题（1 到 2000 字）。",
            "en": "Describe the problem (1 to 2,000 characters).",
        },
        "complaints.location": {
            "zh-CN": "位置描述不能超过 200 字。",
            "en": "The location text must be at most 200 characters.",
        },
        "complaints.building": {
            "zh-CN": "该楼栋不属于此小区。",
            "en": "That building is not in this community.",
        },
        "complaints.not_resident": {
            "zh-CN": "只有本小区住户可以投诉举报。",
            "en": "Only residents of this community can file a complaint.",
        },
        "complaints.too_many_photos": {
            "zh-CN": "最多上传 {max} 张照片。",
            "en": "At most {max} photos.",
        },
        "complaints.photo_not_file": {
            "zh-CN": "第 {n} 张照片不是上传的文件。",
            "en": "Photo {n} is not an uploaded file.",
        },
        "complaints.photo_too_large": {
            "zh-CN": "第 {n} 张照片超过 {mb} MB。",
            "en": "Photo {n} is larger than {mb} MB.",
        },
        "complaints.photo_type": {
            "zh-CN": "第 {n} 张照片不是 JPEG、PNG、WebP 或 HEIC 图片。",
            "en": "Photo {n} is not a JPEG, PNG, WebP or HEIC image.",
        },
        "complaints.transition": {
            "zh-CN": "投诉当前为「{status_zh}」，不能改为「{to_zh}」。",
            "en": "The complaint is {status_en}; it cannot become {to_en}.",
        },
        "complaints.reason_required": {
            "zh-CN": "驳回时请填写理由（不超过 1000 字）。",
            "en": "A rejection needs a reason (at most 1,000 characters).",
        },
        "complaints.reference_required": {
            "zh-CN": "请填写城市管理渠道的受理编号（1 到 100 字）。",
            "en": "Give the city-management channel's reference (1 to 100 characters).",
        },
        "complaints.nothing_to_do": {
            "zh-CN": "请指定新状态、转工单或转城管。",
            "en": "Give a new status, a work order or a city forwarding.",
        },
        "complaints.not_resolved": {
            "zh-CN": "投诉办结后才能评价。",
            "en": "A complaint can be rated once it is resolved.",
        },
        "complaints.already_rated": {
            "zh-CN": "您已评价过该投诉。",
            "en": "You have already rated this complaint.",
        },
        "complaints.already_forwarded": {
            "zh-CN": "该投诉已转交。",
            "en": "This complaint has already been handed over.",
        },
        "complaints.already_has_work_order": {
            "zh-CN": "该投诉已有工单。",
            "en": "This complaint already has a work order.",
        },
        "complaints.rating": {"zh-CN": "评分须为 1 到 5。", "en": "The rating must be 1 to 5."},
        "complaints.notify.filed.title": {
            "zh-CN": "新的投诉举报",
            "en": "New complaint",
        },
        "complaints.notify.filed.body": {
            "zh-CN": "类别：{category_zh}",
            "en": "Category: {category_en}",
        },
        "complaints.notify.status.title": {
            "zh-CN": "您的投诉有新进展",
            "en": "Your complaint has moved on",
        },
        "complaints.notify.status.body": {
            "zh-CN": "当前状态：{status_zh}",
            "en": "Status: {status_en}",
        },
    }
)

CATEGORY_NAMES = {
    "ILLEGAL_CONSTRUCTION": ("违章搭建", "illegal construction"),
    "OCCUPIED_GREEN_SPACE": ("侵占绿地", "occupied green space"),
    "THROWN_FROM_HEIGHT": ("高空抛物", "thrown from height"),
    "NOISE": ("噪音扰民", "noise"),
    "OTHER": ("其他", "other"),
}
STATUS_NAMES = {
    "OPEN": ("待受理", "open"),
    "ACCEPTED": ("已受理", "accepted"),
    "IN_PROGRESS": ("处理中", "in progress"),
    "RESOLVED": ("已办结", "resolved"),
    "REJECTED": ("已驳回", "rejected"),
}


class BadTransition(Conflict):
    default_key = "complaints.transition"


class PhotoInvalid(Invalid):
    default_key = "complaints.photo_type"
