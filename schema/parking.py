"""Parking types."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from core.ids import encode_gid
from domain.parking.service import Quote
from schema.base import Money, Node, UserError

if TYPE_CHECKING:
    from schema.accounts import User


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


@strawberry.enum
class ChargingStatus(enum.Enum):
    CHARGING = "CHARGING"
    UNPAID = "UNPAID"
    PAID = "PAID"


@strawberry.type
class ChargingSession(Node):
    """One charge at an EV charger: energy × price per kWh plus the service fee."""

    charger_name: str
    plate: str | None
    status: ChargingStatus
    started_at: datetime
    ended_at: datetime | None
    energy_kwh: float = strawberry.field(description="Metered energy (from watt-hours).")
    price_per_kwh: Money
    service_fee: Money
    amount: Money
    paid_at: datetime | None
    _pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any, charger: Any) -> ChargingSession:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("ChargingSession", row.id)),
            charger_name=charger.name,
            plate=row.plate,
            status=ChargingStatus(row.status),
            started_at=row.started_at,
            ended_at=row.ended_at,
            energy_kwh=row.energy_wh / 1000,
            price_per_kwh=Money.of(charger.price_per_kwh_minor, row.currency),
            service_fee=Money.of(charger.service_fee_minor, row.currency),
            amount=Money.of(row.amount_minor, row.currency),
            paid_at=row.paid_at,
            _pk=row.id,
        )


@strawberry.input
class PayChargingInput:
    charging_session_id: strawberry.ID
    idempotency_key: str


@strawberry.type
class VisitorVehicle(Node):
    plate: str
    valid_from: datetime
    valid_until: datetime

    @classmethod
    def from_row(cls, row: Any) -> VisitorVehicle:
        return cls(
            id=strawberry.ID(encode_gid("VisitorVehicle", row.id)),
            plate=row.plate,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
        )


@strawberry.input
class RegisterVisitorVehicleInput:
    community_id: strawberry.ID
    plate: str
    hours: int = strawberry.field(default=24, description="How long the visit lasts (1 to 72).")


@strawberry.type
class VisitorVehiclePayload:
    visitor_vehicle: VisitorVehicle | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ResidentVehicle(Node):
    plate: str
    pass_valid_from: date | None
    pass_valid_until: date | None
    _owner_id: strawberry.Private[int]

    @strawberry.field
    async def owner(
        self, info: strawberry.Info
    ) -> Annotated[User, strawberry.lazy("schema.accounts")] | None:
        return await info.context.loaders.user.load(self._owner_id)

    @classmethod
    def from_row(cls, row: Any) -> ResidentVehicle:
        return cls(
            id=strawberry.ID(encode_gid("ResidentVehicle", row.id)),
            plate=row.plate,
            pass_valid_from=row.pass_valid_from,
            pass_valid_until=row.pass_valid_until,
            _owner_id=row.owner_user_id,
        )


@strawberry.input
class RegisterResidentVehicleInput:
    community_id: strawberry.ID
    plate: str
    owner_id: strawberry.ID
    unit_id: strawberry.ID | None = None
    pass_valid_from: date | None = strawberry.field(
        default=None, description="Monthly pass, first day (community's local date)."
    )
    pass_valid_until: date | None = strawberry.field(
        default=None, description="Monthly pass, last day (inclusive)."
    )


@strawberry.type
class ResidentVehiclePayload:
    resident_vehicle: ResidentVehicle | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class EvCharger(Node):
    name: str
    status: str = strawberry.field(description="AVAILABLE, CHARGING or FAULT, as last reported.")
    status_at: datetime | None
    price_per_kwh: Money
    service_fee: Money

    @classmethod
    def from_row(cls, row: Any) -> EvCharger:
        return cls(
            id=strawberry.ID(encode_gid("EvCharger", row.id)),
            name=row.name,
            status=row.status,
            status_at=row.status_at,
            price_per_kwh=Money.of(row.price_per_kwh_minor, row.currency),
            service_fee=Money.of(row.service_fee_minor, row.currency),
        )


@strawberry.type
class ParkingTariff(Node):
    name: str
    hourly_rate: Money
    free_minutes: int
    daily_cap: Money | None
    forgive_minutes: int
    reentry_minutes: int
    grace_minutes: int

    @classmethod
    def from_row(cls, row: Any) -> ParkingTariff:
        return cls(
            id=strawberry.ID(encode_gid("ParkingTariff", row.id)),
            name=row.name,
            hourly_rate=Money.of(row.hourly_minor, row.currency),
            free_minutes=row.free_minutes,
            daily_cap=(
                Money.of(row.daily_cap_minor, row.currency)
                if row.daily_cap_minor is not None
                else None
            ),
            forgive_minutes=row.forgive_minutes,
            reentry_minutes=row.reentry_minutes,
            grace_minutes=row.grace_minutes,
        )


@strawberry.input
class UpdateParkingTariffInput:
    """Fields left out keep their value; `dailyCapMinor: null` removes the cap."""

    tariff_id: strawberry.ID
    hourly_minor: int | None = strawberry.UNSET
    free_minutes: int | None = strawberry.UNSET
    daily_cap_minor: int | None = strawberry.UNSET
    forgive_minutes: int | None = strawberry.UNSET
    reentry_minutes: int | None = strawberry.UNSET
    grace_minutes: int | None = strawberry.UNSET


@strawberry.type
class ParkingTariffPayload:
    tariff: ParkingTariff | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
