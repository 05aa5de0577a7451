from __future__ import annotations

from core import i18n
from core.errors import Conflict, DomainError, Invalid, NotFound

i18n.register(
    {
        "payments.unavailable": {
            "zh-CN": "暂不支持在线支付，请到物业服务中心缴费。",
            "en": "Online payment is not available; please pay at the property office.",
        },
        "payments.failed": {
            "zh-CN": "支付失败，请稍后重试。",
            "en": "The payment failed; please try again later.",
        },
        "payments.key_reused": {
            "zh-CN": "该幂等键已用于另一笔不同的支付请求。",
            "en": "This idempotency key was already used for a different payment request.",
        },
        "payments.key_invalid": {
            "zh-CN": "幂等键须为 8 到 200 个字符。",
            "en": "The idempotency key must be 8 to 200 characters.",
        },
        "payments.amount_invalid": {
            "zh-CN": "金额必须大于零。",
            "en": "The amount must be greater than zero.",
        },
        "payments.reason_too_long": {
            "zh-CN": "退款原因最多 500 个字符。",
            "en": "The refund reason can be at most 500 characters.",
        },
        "payments.not_found": {"zh-CN": "未找到该支付。", "en": "Payment not found."},
        "payments.refund_too_much": {
            "zh-CN": "退款金额超过可退金额。",
            "en": "The refund exceeds the amount that can still be refunded.",
        },
        "payments.not_refundable": {
            "zh-CN": "只有已成功的支付可以退款。",
            "en": "Only a succeeded payment can be refunded.",
        },
        "payments.receipt_required": {
            "zh-CN": "请填写收据编号。",
            "en": "A receipt number is required.",
        },
        "payments.receipt_paid": {
            "zh-CN": "您的缴费已成功：{amount} 元。",
            "en": "Your payment of {amount} went through.",
        },
        "payments.receipt_title": {"zh-CN": "缴费成功", "en": "Payment received"},
        "payments.refund_title": {"zh-CN": "退款通知", "en": "Refund"},
        "payments.refund_body": {
            "zh-CN": "已向您退款 {amount} 元。",
            "en": "{amount} has been refunded to you.",
        },
    }
)


class PaymentUnavailable(DomainError):
    code = "PAYMENT_FAILED"
    default_key = "payments.unavailable"


class PaymentFailed(DomainError):
    code = "PAYMENT_FAILED"
    default_key = "payments.failed"


class IdempotencyKeyReused(Conflict):
    default_key = "payments.key_reused"


class BadIdempotencyKey(Invalid):
    default_key = "payments.key_invalid"


class PaymentNotFound(NotFound):
    default_key = "payments.not_found"


class RefundTooLarge(Invalid):
    default_key = "payments.refund_too_much"


class NotRefundable(Conflict):
    default_key = "payments.not_refundable"


class AmountInvalid(Invalid):
    default_key = "payments.amount_invalid"


class RefundReasonTooLong(Invalid):
    default_key = "payments.reason_too_long"
