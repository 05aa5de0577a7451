"""Bills, tariffs and the staff-side payment types."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from core import i18n
from core.ids import encode_gid
from domain.bills import models as m
from domain.bills import tariff as pricing
from domain.bills.models import BillKind as BillKindValue
from domain.bills.models import BillStatus as BillStatusValue
from domain.payments import models as pm
from schema.accounts import Unit
from schema.base import Money, Node, UserError

BillKind = strawberry.enum(BillKindValue, name="BillKind")
BillStatus = strawberry.enum(BillStatusValue, name="BillStatus")


@strawberry.type
class BillLine:
    description: str
    quantity: float | None
    unit: str | None
    amount: Money

    @classmethod
    def from_row(cls, row: m.BillLine, currency: str, locale: str) -> BillLine:
        params = dict(row.params)
        if "kind" in params:
            params["kind"] = i18n.translate(f"bills.kind.{params['kind']}", locale)
        return cls(
            description=i18n.translate(row.description_key, locale, **params),
            quantity=None if row.quantity_milli is None else row.quantity_milli / 1000,
            unit=row.unit,
            amount=Money.of(row.amount_minor, currency),
        )


@strawberry.type
class Bill(Node):
    kind: BillKind  # type: ignore[valid-type]
    period: str
    amount: Money
    due_date: date
    status: BillStatus  # type: ignore[valid-type]
    usage: float | None
    paid_at: datetime | None
    _pk: strawberry.Private[int]
    _unit_id: strawberry.Private[int]
    _currency: strawberry.Private[str]

    @strawberry.field
    async def unit(self, info: strawberry.Info) -> Unit:
        return await info.context.loaders.unit.load(self._unit_id)

    @strawberry.field
    async def line_items(self, info: strawberry.Info) -> list[BillLine]:
        return await info.context.loaders.bill_lines.load((self._pk, self._currency))

    @classmethod
    def from_row(cls, row: m.Bill) -> Bill:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Bill", row.id)),
            kind=BillKindValue(row.kind),
            period=row.period,
            amount=Money.of(row.amount_minor, row.currency),
            due_date=row.due_date,
            status=BillStatusValue(row.status),
            usage=None if row.usage_milli is None else row.usage_milli / 1000,
            paid_at=row.paid_at,
            _pk=row.id,
            _unit_id=row.unit_id,
            _currency=row.currency,
        )


@strawberry.input
class PayBillsInput:
    bill_ids: list[strawberry.ID]
    idempotency_key: str


@strawberry.input
class IssueBillLineInput:
    unit_id: strawberry.ID
    usage: float | None = None
    amount_minor: int | None = None


@strawberry.input
class IssueBillsInput:
    community_id: strawberry.ID
    kind: BillKind  # type: ignore[valid-type]
    period: str
    due_date: date
    lines: list[IssueBillLineInput] = strawberry.field(
        description="One line per unit; meter-based kinds give usage and the tariff prices it."
    )


@strawberry.type
class IssueBillsPayload:
    issued: int = 0
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TariffBand:
    "Usage up to `upTo` per billing period (null: no limit) costs `unitPrice` per unit."

    up_to: float | None
    unit_price: str


@strawberry.type
class Tariff:
    kind: BillKind  # type: ignore[valid-type]
    currency: str
    bands: list[TariffBand]
    "Property fee and heating: price per m² of the unit's floor area, per period."
    price_per_m2: str | None

    @classmethod
    def from_rows(cls, row: m.Tariff, bands: list[m.TariffBand]) -> Tariff:
        return cls(
            kind=BillKindValue(row.kind),
            currency=row.currency,
            bands=[
                TariffBand(
                    up_to=None if b.up_to_milli is None else b.up_to_milli / 1000,
                    unit_price=pricing.format_price(b.unit_price_centi_minor),
                )
                for b in bands
            ],
            price_per_m2=None
            if row.per_m2_centi_minor is None
            else pricing.format_price(row.per_m2_centi_minor),
        )


@strawberry.input
class TariffBandInput:
    up_to: float | None = None
    'Decimal text in major units, up to four decimals, e.g. "0.4883".'
    unit_price: str


@strawberry.input
class SetTariffInput:
    community_id: strawberry.ID
    kind: BillKind  # type: ignore[valid-type]
    bands: list[TariffBandInput] | None = None
    price_per_m2: str | None = None


@strawberry.type
class TariffPayload:
    tariff: Tariff | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class RecordOfflinePaymentInput:
    bill_ids: list[strawberry.ID]
    receipt_number: str
    idempotency_key: str


@strawberry.input
class RefundPaymentInput:
    payment_id: strawberry.ID
    "Null refunds what is left of the payment."
    amount_minor: int | None = None
    reason: str | None = None
    idempotency_key: str


@strawberry.type
class PaymentReconciliation:
    run_at: datetime
    payment_id: strawberry.ID
    status_before: str
    provider_status: str | None
    action: str
    detail: str | None

    @classmethod
    def from_row(cls, row: pm.ReconciliationEntry) -> PaymentReconciliation:
        return cls(
            run_at=row.run_at,
            payment_id=strawberry.ID(encode_gid("Payment", row.payment_id)),
            status_before=row.status_before,
            provider_status=row.provider_status,
            action=row.action,
            detail=row.detail,
        )


@strawberry.input
class VoidBillInput:
    bill_id: strawberry.ID
    reason: str | None = None


@strawberry.type
class BillPayload:
    bill: Bill | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
