from __future__ import annotations

from core import i18n
from core.errors import DomainError, Invalid

i18n.register(
    {
        "ledger.insufficient_funds": {
            "zh-CN": "账户余额不足：当前余额 {balance}，本次支出 {amount}。",
            "en": "Insufficient funds: the balance is {balance}, this posting is {amount}.",
        },
        "ledger.proposal_required": {
            "zh-CN": "此项记账需要本小区业主大会表决通过的{matter}议案。",
            "en": "This posting needs a passed {matter} proposal of this community.",
        },
        "ledger.proposal_amount": {
            "zh-CN": "超出议案批准的金额（已记 {used}，批准 {approved}）。",
            "en": "This exceeds the amount the proposal approved ({used} posted of {approved}).",
        },
        "ledger.amount": {
            "zh-CN": "金额必须为非零整数（单位：分）。",
            "en": "The amount must be a non-zero whole number of minor units (fen).",
        },
        "ledger.income_only": {
            "zh-CN": "系统入账只能是收入（正数）。",
            "en": "A system posting must be income (positive).",
        },
        "ledger.text": {
            "zh-CN": "{what}长度无效。",
            "en": "{what} has an invalid length.",
        },
        "ledger.url": {
            "zh-CN": "凭证链接必须是 http(s) 地址。",
            "en": "The evidence link must be an http(s) URL.",
        },
        "ledger.unit": {
            "zh-CN": "房屋不属于该小区。",
            "en": "The unit does not belong to this community.",
        },
        "ledger.reversal": {
            "zh-CN": "冲正必须针对本账户中尚未冲正的记录，且金额相反。",
            "en": "A reversal must name an entry of this account not yet reversed, "
            "with the opposite amount.",
        },
        "ledger.maintenance_unit": {
            "zh-CN": "维修资金的缴存必须指明房屋。",
            "en": "A contribution to the maintenance fund must name its unit.",
        },
        "ledger.statement_title": {
            "zh-CN": "{community} {period} 公共资金月度报告",
            "en": "{community}: fund statement for {period}",
        },
        "ledger.statement_body": {
            "zh-CN": "维修资金余额 {mf_balance}（本月收入 {mf_in}，支出 {mf_out}）；"
            "公共收益余额 {ci_balance}（本月收入 {ci_in}，支出 {ci_out}）。",
            "en": "Maintenance fund balance {mf_balance} (in {mf_in}, out {mf_out}); "
            "common income balance {ci_balance} (in {ci_in}, out {ci_out}).",
        },
    }
)


class InsufficientFunds(DomainError):
    code = "INSUFFICIENT_FUNDS"
    default_key = "ledger.insufficient_funds"


class ProposalRequired(DomainError):
    code = "PROPOSAL_REQUIRED"
    default_key = "ledger.proposal_required"


class BadAmount(Invalid):
    default_key = "ledger.amount"
