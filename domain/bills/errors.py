from __future__ import annotations

from core import i18n
from core.errors import Conflict, DomainError, Invalid, NotFound

i18n.register(
    {
        "bills.not_found": {
            "zh-CN": "未找到账单。",
            "en": "Bill not found.",
        },
        "bills.already_paid": {
            "zh-CN": "账单已缴清，无需重复缴费。",
            "en": "The bill has already been paid.",
        },
        "bills.being_paid": {
            "zh-CN": "账单正在支付中，请稍后再试。",
            "en": "The bill is being paid by another payment; try again later.",
        },
        "bills.void": {"zh-CN": "账单已作废。", "en": "The bill is void."},
        "bills.mixed": {
            "zh-CN": "一次只能支付同一小区、同一币种的账单。",
            "en": "Bills paid together must belong to one community and currency.",
        },
        "bills.too_many": {
            "zh-CN": "一次最多支付 {max} 张账单。",
            "en": "At most {max} bills can be paid at once.",
        },
        "bills.period": {
            "zh-CN": "账期格式应为 YYYY-MM。",
            "en": "The period must look like YYYY-MM.",
        },
        "bills.no_tariff": {
            "zh-CN": "该小区尚未设置此类费用的价格。",
            "en": "No tariff is set for this kind in this community.",
        },
        "bills.line_amount": {
            "zh-CN": "请填写用量或金额（二选一）。",
            "en": "Give either the usage or the amount.",
        },
        "bills.usage_invalid": {
            "zh-CN": "用量须为非负数，最多三位小数。",
            "en": "The usage must be a non-negative number with at most three decimals.",
        },
        "bills.amount_required": {
            "zh-CN": "该类费用须填写金额。",
            "en": "This kind of bill needs an amount.",
        },
        "bills.unit_invalid": {
            "zh-CN": "房屋不属于该小区，或重复出现。",
            "en": "The unit is not in this community, or appears twice.",
        },
        "bills.lines_count": {
            "zh-CN": "每次开单 1 到 {max} 户。",
            "en": "Issue bills for 1 to {max} units at a time.",
        },
        "bills.bands_invalid": {
            "zh-CN": "阶梯设置无效：{reason}",
            "en": "The bands are invalid: {reason}",
        },
        "bills.price_invalid": {
            "zh-CN": "单价格式无效（最多保留四位小数）。",
            "en": "The price is invalid (at most four decimals).",
        },
        "bills.amount_too_large": {
            "zh-CN": "单张账单金额不能超过 200000 元。",
            "en": "A bill cannot exceed 200,000.",
        },
        "bills.receipt_required": {
            "zh-CN": "请填写收据编号。",
            "en": "A receipt number is required.",
        },
        # Line items
        "bills.line.band": {
            "zh-CN": "第{band}阶 {from_}–{to} {unit}，单价 {price} 元",
            "en": "Band {band}: {from_}–{to} {unit} at {price}",
        },
        "bills.line.band_top": {
            "zh-CN": "第{band}阶 {from_} {unit} 以上，单价 {price} 元",
            "en": "Band {band}: above {from_} {unit} at {price}",
        },
        "bills.line.area": {
            "zh-CN": "建筑面积 {area} m²，单价 {price} 元/m²",
            "en": "Floor area {area} m² at {price} per m²",
        },
        "bills.line.amount": {
            "zh-CN": "{kind} {period}",
            "en": "{kind} {period}",
        },
        # Kinds (for texts)
        "bills.kind.WATER": {"zh-CN": "水费", "en": "Water"},
        "bills.kind.ELECTRICITY": {"zh-CN": "电费", "en": "Electricity"},
        "bills.kind.GAS": {"zh-CN": "燃气费", "en": "Gas"},
        "bills.kind.HEATING": {"zh-CN": "采暖费", "en": "Heating"},
        "bills.kind.PROPERTY_FEE": {"zh-CN": "物业费", "en": "Property fee"},
        "bills.kind.PARKING_MONTHLY": {"zh-CN": "月租车位费", "en": "Monthly parking"},
        # Notifications
        "bills.notice.due_title": {"zh-CN": "账单即将到期", "en": "Bill due soon"},
        "bills.notice.due_body": {
            "zh-CN": "{unit} 的{period}{kind_zh} {amount} 元将于 {due} 到期。",
            "en": "{kind_en} {period} for {unit}, {amount}, is due on {due}.",
        },
        "bills.notice.overdue_title": {"zh-CN": "账单已逾期", "en": "Bill overdue"},
        "bills.notice.overdue_body": {
            "zh-CN": "{unit} 的{period}{kind_zh} {amount} 元已逾期（到期日 {due}）。",
            "en": "{kind_en} {period} for {unit}, {amount}, is overdue (due {due}).",
        },
        "bills.notice.paid_title": {"zh-CN": "缴费成功", "en": "Payment received"},
        "bills.notice.paid_body": {
            "zh-CN": "已收到 {count} 张账单的缴费，共 {amount} 元。",
            "en": "We received {amount} for {count} bill(s).",
        },
        "bills.notice.refund_title": {"zh-CN": "退款通知", "en": "Refund"},
        "bills.notice.refund_body": {
            "zh-CN": "您的缴费已全额退款 {amount} 元，相关账单恢复为待缴。",
            "en": "Your payment of {amount} was refunded in full; its bills are unpaid again.",
        },
    }
)


class BillNotFound(NotFound):
    default_key = "bills.not_found"


class AlreadyPaid(DomainError):
    code = "ALREADY_PAID"
    default_key = "bills.already_paid"


class BeingPaid(Conflict):
    default_key = "bills.being_paid"


class BillVoid(Invalid):
    default_key = "bills.void"


class BadRequest(Invalid):
    """Invalid bill input; the key says which rule."""
