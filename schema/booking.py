"""Booking types: merchants, offerings, derived slots, bookings."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from core.ids import encode_gid
from domain.booking import models as m
from domain.booking.service import SlotSpec
from schema.accounts import Unit, User

if TYPE_CHECKING:
    from schema.care import Elder
from schema.base import Money, Node, UserError

Info = strawberry.Info


@strawberry.enum
class ServiceCategory(enum.Enum):
    HOUSEKEEPING = "HOUSEKEEPING"
    REPAIR = "REPAIR"
    BEAUTY_HAIR = "BEAUTY_HAIR"
    MEAL_ASSIST = "MEAL_ASSIST"
    BATH_ASSIST = "BATH_ASSIST"
    CLEANING = "CLEANING"
    MEDICINE_DELIVERY = "MEDICINE_DELIVERY"
    PARCEL = "PARCEL"
    ERRAND = "ERRAND"
    OTHER = "OTHER"


@strawberry.enum
class BookingStatus(enum.Enum):
    REQUESTED = "REQUESTED"
    CONFIRMED = "CONFIRMED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    NO_SHOW = "NO_SHOW"


@dataclass(frozen=True)
class OfferingRef:
    """DataLoader key for an offering whose row is already loaded (equal by id)."""

    id: int
    spec: SlotSpec = field(compare=False, hash=False)
    merchant_id: int = field(compare=False, hash=False)
    time_zone: str = field(compare=False, hash=False)


@strawberry.type
class Merchant(Node):
    name: str
    rating: float | None
    _pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: m.Merchant) -> Merchant:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Merchant", row.id)),
            name=row.name,
            rating=row.rating,
            _pk=row.id,
        )


@strawberry.type
class Slot:
    start: datetime
    end: datetime
    _remaining: strawberry.Private[int | None] = None
    _offering_id: strawberry.Private[int | None] = None

    @strawberry.field(description="Seats left in this slot.")
    async def remaining(self, info: Info) -> int:
        if self._remaining is not None:
            return self._remaining
        return await info.context.loaders.slot_remaining.load((self._offering_id, self.start))


@strawberry.type(description="Opening hours of one weekday (ISO: Monday = 1), local time.")
class OpeningHours:
    day: int
    open: str
    close: str


@strawberry.type
class ServiceOffering(Node):
    title: str
    category: ServiceCategory
    price: Money
    duration_minutes: int
    capacity_per_slot: int
    cancel_cutoff_minutes: int = strawberry.field(
        description="Residents may cancel until this many minutes before the slot."
    )
    weekly_hours: list[OpeningHours]
    closed_dates: list[date]
    active: bool
    _ref: strawberry.Private[OfferingRef]
    # Filled by list resolvers that fetch them for the whole page in one query each;
    # otherwise the fields go through DataLoaders.
    _merchant: strawberry.Private[Merchant | None] = None
    _next: strawberry.Private[Slot | None] = None
    _next_known: strawberry.Private[bool] = False

    @strawberry.field
    def merchant(self, info: Info) -> Merchant:
        if self._merchant is not None:
            return self._merchant
        return info.context.loaders.merchant_unchecked.load(self._ref.merchant_id)  # type: ignore[no-any-return]

    @strawberry.field(description="The earliest slot with room left, for one-tap booking.")
    def next_available_slot(self, info: Info) -> Slot | None:
        if self._next_known:
            return self._next
        return info.context.loaders.next_slot.load(self._ref)  # type: ignore[no-any-return]

    @classmethod
    def from_row(cls, row: m.ServiceOffering, time_zone: str) -> ServiceOffering:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("ServiceOffering", row.id)),
            title=row.title,
            category=ServiceCategory(row.category),
            price=Money.of(row.price_minor, row.currency),
            duration_minutes=row.duration_minutes,
            capacity_per_slot=row.capacity_per_slot,
            cancel_cutoff_minutes=row.cancel_cutoff_minutes,
            weekly_hours=[
                OpeningHours(day=int(h["day"]), open=str(h["open"]), close=str(h["close"]))  # type: ignore[call-overload]
                for h in row.weekly_hours
            ],
            closed_dates=[date.fromisoformat(d) for d in row.closed_dates],
            active=row.active,
            # A snapshot, not the row: the next-slot loader may run after the session
            # that loaded the row has ended (subscriptions, long-lived contexts).
            _ref=OfferingRef(row.id, SlotSpec.of(row), row.merchant_id, time_zone),
        )


@strawberry.type
class Booking(Node):
    status: BookingStatus
    notes: str | None
    price: Money
    created_at: datetime
    cancel_reason: str | None
    paid_at: datetime | None = strawberry.field(
        description="Set when the merchant recorded payment on completion."
    )
    paid_amount: Money | None
    payment_method: str | None
    _offering_id: strawberry.Private[int]
    _unit_id: strawberry.Private[int]
    _booked_by: strawberry.Private[int]
    _slot_start: strawberry.Private[datetime]
    _slot_end: strawberry.Private[datetime]
    _for_elder_id: strawberry.Private[int | None]
    _remaining: strawberry.Private[int | None] = None

    @strawberry.field
    async def offering(self, info: Info) -> ServiceOffering:
        return await info.context.loaders.booking_offering.load(self._offering_id)

    @strawberry.field
    def slot(self) -> Slot:
        return Slot(
            start=self._slot_start,
            end=self._slot_end,
            _remaining=self._remaining,
            _offering_id=self._offering_id,
        )

    @strawberry.field
    async def unit(self, info: Info) -> Unit:
        return await info.context.loaders.unit.load(self._unit_id)

    @strawberry.field
    async def booked_by(self, info: Info) -> Annotated[User, strawberry.lazy("schema.accounts")]:
        return await info.context.loaders.booker.load(self._booked_by)

    @strawberry.field(
        description="Set when booked for an elder by a caregiver; visible to whoever may "
        "see the elder (the elder, their caregivers, staff), null for the merchant."
    )
    async def for_elder(
        self, info: Info
    ) -> Annotated[Elder, strawberry.lazy("schema.care")] | None:
        if self._for_elder_id is None:
            return None
        return await info.context.loaders.elder.load(self._for_elder_id)

    @classmethod
    def from_row(cls, row: m.Booking, *, remaining: int | None = None) -> Booking:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Booking", row.id)),
            status=BookingStatus(row.status),
            notes=row.notes,
            price=Money.of(row.price_minor, row.currency),
            created_at=row.created_at,
            cancel_reason=row.cancel_reason,
            paid_at=row.paid_at,
            paid_amount=(
                Money.of(row.paid_amount_minor, row.currency)
                if row.paid_amount_minor is not None
                else None
            ),
            payment_method=row.payment_method,
            _offering_id=row.offering_id,
            _unit_id=row.unit_id,
            _booked_by=row.booked_by,
            _slot_start=row.slot_start,
            _slot_end=row.slot_end,
            _for_elder_id=row.for_elder_id,
            _remaining=remaining,
        )


# ---------------------------------------------------------------- inputs and payloads
@strawberry.input
class OpeningHoursInput:
    day: int
    open: str
    close: str


@strawberry.input
class CreateOfferingInput:
    community_id: strawberry.ID
    title: str
    category: ServiceCategory
    price_minor: int
    duration_minutes: int
    capacity_per_slot: int
    weekly_hours: list[OpeningHoursInput] = strawberry.field(
        description="Weekly opening hours in the community's time zone, e.g. "
        '{day: 1, open: "09:00", close: "17:00"}.'
    )
    closed_dates: list[date] | None = strawberry.field(
        default=None, description="Local dates without bookings (holidays)."
    )
    cancel_cutoff_minutes: int | None = strawberry.field(
        default=None, description="Default 120: residents cancel until 2 h before the slot."
    )


@strawberry.input
class UpdateOfferingInput:
    offering_id: strawberry.ID
    title: str | None = None
    price_minor: int | None = None
    duration_minutes: int | None = None
    capacity_per_slot: int | None = None
    weekly_hours: list[OpeningHoursInput] | None = None
    closed_dates: list[date] | None = None
    cancel_cutoff_minutes: int | None = None
    active: bool | None = None


@strawberry.type
class OfferingPayload:
    offering: ServiceOffering | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class BookServiceInput:
    offering_id: strawberry.ID
    unit_id: strawberry.ID
    slot_start: datetime | None = strawberry.field(
        default=None, description="Omitted: the earliest slot with room (one tap)."
    )
    for_elder_id: strawberry.ID | None = None
    notes: str | None = None
    idempotency_key: str


@strawberry.type
class BookingPayload:
    booking: Booking | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class CancelBookingInput:
    booking_id: strawberry.ID
    reason: str | None = None


@strawberry.input
class BookingTransitionInput:
    booking_id: strawberry.ID
    to: BookingStatus
    note: str | None = None
    paid_amount_minor: int | None = strawberry.field(
        default=None,
        description="With to: COMPLETED, records payment on completion (default: the price).",
    )
    payment_method: str | None = strawberry.field(
        default=None, description='With to: COMPLETED, e.g. "CASH", "WECHAT", "TRANSFER".'
    )
