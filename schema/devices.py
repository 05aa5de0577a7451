"""Devices, alarms, alert events and work orders."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from core.ids import encode_gid
from domain.alarms import models as am
from domain.devices import models as dm
from domain.workorders import models as wm
from schema.base import Node, UserError

Info = strawberry.Info


@strawberry.enum
class DeviceKind(enum.Enum):
    SMOKE_DETECTOR = "SMOKE_DETECTOR"
    GAS_DETECTOR = "GAS_DETECTOR"
    ELEVATOR = "ELEVATOR"
    WATER_PUMP = "WATER_PUMP"
    TRANSFORMER = "TRANSFORMER"
    MANHOLE_COVER = "MANHOLE_COVER"
    WATER_METER = "WATER_METER"
    POWER_METER = "POWER_METER"
    PARKING_GATE = "PARKING_GATE"
    EV_CHARGER = "EV_CHARGER"
    DOOR_ACCESS = "DOOR_ACCESS"
    CAMERA = "CAMERA"
    OTHER = "OTHER"


KNOWN_KINDS = {k.value for k in DeviceKind}


@strawberry.enum
class Severity(enum.Enum):
    CRITICAL = "CRITICAL"
    MAJOR = "MAJOR"
    MINOR = "MINOR"
    WARNING = "WARNING"
    INDETERMINATE = "INDETERMINATE"


@strawberry.enum
class AlarmStatus(enum.Enum):
    ACTIVE_UNACK = "ACTIVE_UNACK"
    ACTIVE_ACK = "ACTIVE_ACK"
    CLEARED_UNACK = "CLEARED_UNACK"
    CLEARED_ACK = "CLEARED_ACK"


@strawberry.enum
class AlertEventKind(enum.Enum):
    RAISED = "RAISED"
    UPDATED = "UPDATED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    CLEARED = "CLEARED"


@strawberry.enum
class WorkOrderStatus(enum.Enum):
    OPEN = "OPEN"
    ASSIGNED = "ASSIGNED"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


def _public_latest(latest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in latest.items() if not k.startswith("_")}


@strawberry.type
class Device(Node):
    code: str
    kind: DeviceKind
    location: str | None
    floor: int | None
    online: bool
    last_seen_at: datetime | None
    latest: JSON | None = strawberry.field(description="Latest value per metric.")
    _pk: strawberry.Private[int]
    _building_id: strawberry.Private[int | None]
    _unit_id: strawberry.Private[int | None]

    @strawberry.field
    async def building(
        self, info: Info
    ) -> Annotated[Building, strawberry.lazy("schema.accounts")] | None:  # type: ignore[name-defined]  # noqa: F821
        if self._building_id is None:
            return None
        return await info.context.loaders.building.load(self._building_id)

    @strawberry.field
    async def unit(self, info: Info) -> Annotated[Unit, strawberry.lazy("schema.accounts")] | None:  # type: ignore[name-defined]  # noqa: F821
        if self._unit_id is None:
            return None
        return await info.context.loaders.unit.load(self._unit_id)

    @classmethod
    def from_row(cls, row: dm.Device) -> Device:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Device", row.id)),
            code=row.code,
            kind=DeviceKind(row.kind) if row.kind in KNOWN_KINDS else DeviceKind.OTHER,
            location=row.location,
            floor=row.floor,
            online=row.online,
            last_seen_at=row.last_seen_at,
            latest=_public_latest(row.latest or {}),
            _pk=row.id,
            _building_id=row.building_id,
            _unit_id=row.unit_id,
        )


@strawberry.type
class Alarm(Node):
    type: str = strawberry.field(
        description="e.g. SMOKE, GAS_LEAK, OVER_TEMPERATURE, DEVICE_OFFLINE, "
        "CHECK_IN_MISSED, HELP_REQUESTED."
    )
    severity: Severity
    status: AlarmStatus
    escalation_level: int = strawberry.field(
        description="0 while with the first person in the escalation chain, then 1, 2, ..."
    )
    started_at: datetime
    last_seen_at: datetime
    cleared_at: datetime | None
    acknowledged_at: datetime | None
    occurrences: int = strawberry.field(
        description="Breaches folded into this alarm since it was raised."
    )
    details: JSON | None
    _pk: strawberry.Private[int]
    _community_id: strawberry.Private[int]
    _device_id: strawberry.Private[int | None]
    _elder_id: strawberry.Private[int | None]
    _unit_id: strawberry.Private[int | None]
    # Alert fan-out preloads these so that a thousand subscribers cost no queries.
    _device: strawberry.Private[Device | None] = None
    _work_order: strawberry.Private[WorkOrder | None] = None
    _preloaded: strawberry.Private[bool] = False

    @strawberry.field(description="The originator when it is a device.")
    async def device(self, info: Info) -> Device | None:
        if self._preloaded or self._device_id is None:
            return self._device
        return await info.context.loaders.device.load(self._device_id)

    @strawberry.field
    async def unit(self, info: Info) -> Annotated[Unit, strawberry.lazy("schema.accounts")] | None:  # type: ignore[name-defined]  # noqa: F821
        if self._unit_id is None:
            return None
        return await info.context.loaders.unit.load(self._unit_id)

    @strawberry.field(description="The originator when it is an elder (care alarms).")
    async def elder(self, info: Info) -> Annotated[Elder, strawberry.lazy("schema.care")] | None:  # type: ignore[name-defined]  # noqa: F821
        if self._elder_id is None:
            return None
        return await info.context.loaders.elder.load(self._elder_id)

    @strawberry.field
    async def work_order(self, info: Info) -> WorkOrder | None:
        if self._preloaded:
            return self._work_order
        return await info.context.loaders.work_order_of_alarm.load(self._pk)

    @classmethod
    def from_row(cls, row: am.Alarm) -> Alarm:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("Alarm", row.id)),
            type=row.type,
            severity=Severity(row.severity),
            status=AlarmStatus(row.status),
            escalation_level=row.escalation_level,
            started_at=row.started_at,
            last_seen_at=row.last_seen_at,
            cleared_at=row.cleared_at,
            acknowledged_at=row.acknowledged_at,
            occurrences=row.occurrences,
            details=dict(row.details or {}),
            _pk=row.id,
            _community_id=row.community_id,
            _device_id=row.device_id,
            _elder_id=row.elder_id,
            _unit_id=row.unit_id,
        )


@strawberry.type
class AlertEvent:
    kind: AlertEventKind
    alarm: Alarm
    at: datetime


@strawberry.type
class WorkOrder(Node):
    title: str
    status: WorkOrderStatus
    severity: Severity
    skill: str | None
    created_at: datetime
    due_at: datetime | None
    escalated_at: datetime | None
    closed_at: datetime | None
    notes: JSON
    _pk: strawberry.Private[int]
    _alarm_id: strawberry.Private[int | None]
    _assignee_id: strawberry.Private[int | None]

    @strawberry.field
    async def assignee(
        self, info: Info
    ) -> Annotated[User, strawberry.lazy("schema.accounts")] | None:  # type: ignore[name-defined]  # noqa: F821
        if self._assignee_id is None:
            return None
        return await info.context.loaders.user.load(self._assignee_id)

    @strawberry.field
    async def alarm(self, info: Info) -> Alarm | None:
        if self._alarm_id is None:
            return None
        return await info.context.loaders.alarm.load(self._alarm_id)

    @classmethod
    def from_row(cls, row: wm.WorkOrder) -> WorkOrder:
        assert row.id is not None
        return cls(
            id=strawberry.ID(encode_gid("WorkOrder", row.id)),
            title=row.title,
            status=WorkOrderStatus(row.status),
            severity=Severity(row.severity),
            skill=row.skill,
            created_at=row.created_at,
            due_at=row.due_at,
            escalated_at=row.escalated_at,
            closed_at=row.closed_at,
            notes=list(row.notes or []),
            _pk=row.id,
            _alarm_id=row.alarm_id,
            _assignee_id=row.assignee_id,
        )


@strawberry.type(description="One hour of one metric: for peak and valley analysis.")
class UsageHour:
    hour: datetime
    min: float
    max: float
    avg: float
    count: int


@strawberry.type
class DeviceUsage:
    metric: str
    hours: list[UsageHour]
    "The hour with the highest average (None without data)."
    peak: UsageHour | None
    "The hour with the lowest average."
    valley: UsageHour | None
    "For cumulative meters (`total`): consumption in the range, last minus first."
    consumption: float | None


@strawberry.input
class AlarmActionInput:
    alarm_id: strawberry.ID
    note: str | None = None


@strawberry.type
class AlarmPayload:
    alarm: Alarm | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateWorkOrderInput:
    work_order_id: strawberry.ID
    status: WorkOrderStatus | None = None
    assignee_id: strawberry.ID | None = None
    note: str | None = None


@strawberry.type
class WorkOrderPayload:
    work_order: WorkOrder | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)
