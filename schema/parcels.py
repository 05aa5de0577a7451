"""Parcel locker types (智能快递柜)."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from core.ids import encode_gid
from domain.parcels import models as m
from schema.accounts import Unit
from schema.base import Node, UserError

Info = strawberry.Info


@strawberry.enum
class ParcelStatus(enum.Enum):
    WAITING = "WAITING"
    PICKED_UP = "PICKED_UP"
    HANDED_OVER = "HANDED_OVER"


@strawberry.type
class ParcelLocation:
    "The locker (its device code and where it stands) and the compartment."

    locker_code: str
    locker_location: str | None
    compartment: str


@strawberry.type
class Parcel(Node):
    status: ParcelStatus
    carrier: str | None
    tracking_number: str | None
    deposited_at: datetime
    collected_at: datetime | None
    reminder_sent_at: datetime | None
    locked_until: datetime | None = strawberry.field(
        description="Set while the code entry is locked after five wrong codes."
    )
    pickup_code: str | None = strawberry.field(
        description="The 6-digit code, for the unit's residents while the parcel waits."
    )
    _pk: strawberry.Private[int]
    _unit_id: strawberry.Private[int]
    _compartment_id: strawberry.Private[int]

    @strawberry.field
    async def unit(self, info: Info) -> Unit | None:
        return await info.context.loaders.unit.load(self._unit_id)

    @strawberry.field
    async def location(self, info: Info) -> ParcelLocation | None:
        return await info.context.loaders.parcel_location.load(self._compartment_id)

    @classmethod
    def from_row(cls, row: m.Parcel, *, pickup_code: str | None) -> Parcel:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Parcel", row.id)),
            status=ParcelStatus(row.status),
            carrier=row.carrier,
            tracking_number=row.tracking_number,
            deposited_at=row.deposited_at,
            collected_at=row.collected_at,
            reminder_sent_at=row.reminder_sent_at,
            locked_until=row.locked_until,
            pickup_code=pickup_code,
            _pk=row.id,
            _unit_id=row.unit_id,
            _compartment_id=row.compartment_id,
        )


@strawberry.input
class CollectParcelInput:
    parcel_id: strawberry.ID
    code: str


@strawberry.type
class ParcelPayload:
    parcel: Parcel | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
