from __future__ import annotations

from core import i18n
from core.errors import DomainError

i18n.register(
    {
        "council.voting_closed": {
            "zh-CN": "该议案不在投票期内（投票时间 {opens} 至 {closes}）。",
            "en": "This proposal is not open for voting (voting runs {opens} to {closes}).",
        },
        "council.not_eligible": {
            "zh-CN": "只有该房屋的业主可以为其投票。",
            "en": "Only an owner of this unit may vote for it.",
        },
        "council.discussion_closed": {
            "zh-CN": "议案已结束，讨论已关闭。",
            "en": "The proposal is closed; so is its discussion.",
        },
        "council.window": {
            "zh-CN": "截止时间必须晚于开始时间，且晚于现在。",
            "en": "The closing time must be after the opening time and in the future.",
        },
        "council.text": {
            "zh-CN": "{what}长度无效。",
            "en": "{what} has an invalid length.",
        },
        "council.attachment": {
            "zh-CN": "附件必须是 http(s) 链接，最多 20 个。",
            "en": "Attachments must be http(s) links, at most 20.",
        },
        "council.amount": {
            "zh-CN": "批准金额只适用于维修资金议案，且必须为正数。",
            "en": "An approved amount applies to fund proposals only and must be positive.",
        },
        "council.announced_title": {
            "zh-CN": "业主大会表决：{title}",
            "en": "Owners' vote: {title}",
        },
        "council.announced_body": {
            "zh-CN": "投票时间：{opens} 至 {closes}。请在议事厅查看并投票。",
            "en": "Voting runs {opens} to {closes}. See the council page to vote.",
        },
        "council.closed_title": {
            "zh-CN": "表决结果：{title}",
            "en": "Vote result: {title}",
        },
        "council.closed_passed": {
            "zh-CN": "议案已通过。",
            "en": "The proposal passed.",
        },
        "council.closed_failed": {
            "zh-CN": "议案未通过。",
            "en": "The proposal did not pass.",
        },
    }
)


class VotingClosed(DomainError):
    code = "VOTING_CLOSED"
    default_key = "council.voting_closed"


class NotEligible(DomainError):
    code = "NOT_ELIGIBLE"
    default_key = "council.not_eligible"
