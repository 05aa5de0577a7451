"""Parking errors and their texts (zh-CN and en)."""

from __future__ import annotations

from core import i18n
from core.errors import Conflict, DomainError, Invalid, NotFound

i18n.register(
    {
        "parking.plate.empty": {"zh-CN": "请输入车牌号。", "en": "Enter a licence plate."},
        "parking.plate.province": {
            "zh-CN": "车牌 {plate} 的省份简称无效。",
            "en": "Plate {plate} does not start with a province abbreviation.",
        },
        "parking.plate.malformed": {
            "zh-CN": "车牌号 {plate} 格式无效（例如 京A7B2C9 或新能源 京AD12345）。",
            "en": "Plate {plate} is malformed (e.g. 京A7B2C9, or 京AD12345 for new-energy).",
        },
        "parking.qr.invalid": {
            "zh-CN": "二维码无效或已被篡改，请扫描出口处的停车缴费码。",
            "en": "This QR code is invalid or has been tampered with; scan the code at the exit.",
        },
        "parking.qr.unknown_lane": {
            "zh-CN": "该二维码对应的出口不存在。",
            "en": "This QR code names an exit lane that does not exist.",
        },
        "parking.quote.args": {
            "zh-CN": "请提供二维码或车牌号（二选一）。",
            "en": "Give either the QR code or the plate, not both.",
        },
        "parking.session.not_found": {
            "zh-CN": "找不到该停车记录。",
            "en": "Parking session not found.",
        },
        "parking.already_paid": {
            "zh-CN": "该停车费已付清，请在 {minutes} 分钟内离场。",
            "en": "Already paid; please leave within {minutes} minutes.",
        },
        "parking.nothing_due": {
            "zh-CN": "当前无需缴费。",
            "en": "Nothing is due.",
        },
        "parking.session.closed": {
            "zh-CN": "该车辆已离场。",
            "en": "This vehicle has already left.",
        },
        "parking.charging.not_found": {
            "zh-CN": "找不到该充电记录。",
            "en": "Charging session not found.",
        },
        "parking.charging.not_finished": {
            "zh-CN": "充电尚未结束。",
            "en": "Charging has not finished yet.",
        },
        "parking.charging.already_paid": {
            "zh-CN": "该充电费已付清。",
            "en": "This charge is already paid.",
        },
        "parking.visitor.hours": {
            "zh-CN": "访客车辆登记时长须为 1 到 {max} 小时。",
            "en": "A visitor's car is registered for 1 to {max} hours.",
        },
        "parking.pass.dates": {
            "zh-CN": "月卡须同时填写起止日期，且开始不晚于结束。",
            "en": "A monthly pass needs both dates, the first not after the last.",
        },
        "parking.vehicle.owner": {
            "zh-CN": "车主须为本小区住户。",
            "en": "The owner must be a resident of this community.",
        },
        "parking.vehicle.unit": {
            "zh-CN": "该房屋不属于本小区。",
            "en": "This unit is not in this community.",
        },
        "parking.vehicle.race": {
            "zh-CN": "该车辆正在被同时登记，请重试。",
            "en": "This car is being registered by someone else at the same time; try again.",
        },
        "parking.tariff.range": {
            "zh-CN": "该值须在 {low} 到 {high} 之间。",
            "en": "This value must be between {low} and {high}.",
        },
        "parking.notify.paid.title": {"zh-CN": "停车费已支付", "en": "Parking paid"},
        "parking.notify.paid.body": {
            "zh-CN": "车辆 {plate} 已支付 {amount} 元，请在 {grace} 分钟内离场。",
            "en": "{plate}: {amount} paid. Please leave within {grace} minutes.",
        },
        "parking.notify.charging_paid.title": {"zh-CN": "充电费已支付", "en": "Charging paid"},
        "parking.notify.charging_paid.body": {
            "zh-CN": "充电桩 {charger} 的充电费 {amount} 元已支付。",
            "en": "Charging at {charger}: {amount} paid.",
        },
    }
)


class InvalidPlate(Invalid):
    default_key = "parking.plate.malformed"


class InvalidQr(Invalid):
    default_key = "parking.qr.invalid"


class SessionNotFound(NotFound):
    default_key = "parking.session.not_found"


class AlreadyPaid(DomainError):
    code = "ALREADY_PAID"
    default_key = "parking.already_paid"


class SessionClosed(Conflict):
    default_key = "parking.session.closed"


class NothingDue(Invalid):
    default_key = "parking.nothing_due"


class ChargingNotFound(NotFound):
    default_key = "parking.charging.not_found"


class IdempotencyKeyOtherTarget(Conflict):
    default_key = "error.idempotency_reuse"
