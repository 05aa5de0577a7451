"""Parking types."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from core.ids import encode_gid
from domain.parking.service import Quote
from schema.base import Money, Node


@strawberry.enum
class ParkingStatus(enum.Enum):
    OPEN = "OPEN"
    PAID = "PAID"
    EXITED = "EXITED"


@strawberry.type
class ParkingSession(Node):
    plate: str
    entered_at: datetime
    exited_at: datetime | None
    amount_due: Money
    paid_until: datetime | None
    status: ParkingStatus
    _pk: strawberry.Private[int]

    @classmethod
    def from_quote(cls, quote: Quote) -> ParkingSession:
        row = quote.session
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("ParkingSession", row.id)),
            plate=row.plate,
            entered_at=row.entered_at,
            exited_at=row.exited_at,
            amount_due=Money.of(quote.due_minor, quote.currency),
            paid_until=row.paid_until,
            status=ParkingStatus(quote.status),
            _pk=row.id,
        )


@strawberry.type
class ParkingQuote:
    session: ParkingSession
    amount_due: Money
    grace_minutes: int = strawberry.field(description="Minutes to reach the gate after paying.")

    @classmethod
    def from_quote(cls, quote: Quote) -> ParkingQuote:
        return cls(
            session=ParkingSession.from_quote(quote),
            amount_due=Money.of(quote.due_minor, quote.currency),
            grace_minutes=quote.tariff.grace_minutes,
        )


@strawberry.input
class PayParkingInput:
    session_id: strawberry.ID
    idempotency_key: str
