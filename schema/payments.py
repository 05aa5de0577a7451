"""Payment types shared by every capability that takes money (bills, parking)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from core.ids import encode_gid
from domain.payments import models as m
from domain.payments import service
from domain.payments.models import PaymentStatus as PaymentStatusValue
from schema.base import Money, Node, UserError

PaymentStatus = strawberry.enum(PaymentStatusValue, name="PaymentStatus")


@strawberry.type
class Payment(Node):
    amount: Money
    status: PaymentStatus  # type: ignore[valid-type]
    provider: str
    client_secret: str | None = strawberry.field(
        description="Stripe PaymentIntent client secret for the app's payment sheet; "
        "null once settled."
    )
    created_at: datetime
    purpose: str
    refunded: Money
    receipt_number: str | None
    _pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: m.Payment, *, viewer_id: int | None) -> Payment:
        assert row.id is not None
        # The secret completes the payment: only the payer's app gets it.
        secret = service.client_secret(row) if viewer_id == row.payer_user_id else None
        return cls(
            id=strawberry.ID(encode_gid("Payment", row.id)),
            amount=Money.of(row.amount_minor, row.currency),
            status=PaymentStatusValue(row.status),
            provider=row.provider,
            client_secret=secret,
            created_at=row.created_at,
            purpose=row.purpose,
            refunded=Money.of(row.refunded_minor, row.currency),
            receipt_number=row.receipt_number,
            _pk=row.id,
        )


@strawberry.type
class PaymentPayload:
    payment: Payment | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
